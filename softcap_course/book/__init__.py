"""The book's Sphinx extensions (named in ``_config.yml``) and the static files they ship into the site."""
