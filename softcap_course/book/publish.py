"""Sphinx extension: what a published book needs besides its pages.

* **Where it lives.** The repository, its branch and the site's address come from ``_config.yml`` (``repository:``,
  ``html.baseurl``); the publishing workflow overrides them with ``SOFTCAP_REPOSITORY``, ``SOFTCAP_BRANCH`` and
  ``SOFTCAP_BASEURL``, so that a fork publishes links to itself. The theme's repository, source and edit buttons,
  the sitemap (sphinx-sitemap) and the link cards (sphinxext-opengraph) all follow them.
* **The graded notebook of each chapter**, in a header menu of the chapter's page: open it in Colab (a free GPU for
  chapters 6-8), launch it on Binder, or download it.
* **The link card's picture**, drawn here: the softcap curve with its cap.
* **An offline copy**: the whole site, Pyodide included, zipped into ``softcap-course-site.zip`` beside the pages
  (and into ``_build/``), for a reader without a network.
"""

import os
import shutil
import zipfile
from pathlib import Path

SITE_ZIP = "softcap-course-site.zip"
CARD = "_static/softcap-card.png"


def repository(config):
    """(url, branch) of the book's repository: the environment's, else ``_config.yml``'s."""
    options = config.html_theme_options
    url = os.environ.get("SOFTCAP_REPOSITORY") or options.get("repository_url", "")
    branch = os.environ.get("SOFTCAP_BRANCH") or options.get("repository_branch", "") or "main"
    return url.rstrip("/"), branch


def _apply_location(app, config):
    url, branch = repository(config)
    config.html_theme_options = {**config.html_theme_options, "repository_url": url, "repository_branch": branch}
    baseurl = os.environ.get("SOFTCAP_BASEURL") or config.html_baseurl
    config.html_baseurl = baseurl.rstrip("/") + "/" if baseurl else ""
    language = getattr(config, "language", None) or "en"
    if config.html_baseurl and language != "en":  # a translated edition lives in its folder of the English site
        config.html_baseurl += f"{language}/"
    config.ogp_site_url = config.html_baseurl
    config.ogp_image = config.html_baseurl + CARD if config.html_baseurl else CARD


def graded_notebook(pagename, srcdir):
    """``notebooks/<assignment>/<assignment>.ipynb`` for a chapter page (``book/01-softmax`` -> ``01-softmax``), or
    None for the other pages."""
    assignment = pagename.rpartition("/")[2]
    path = Path(srcdir) / "notebooks" / assignment / f"{assignment}.ipynb"
    return f"notebooks/{assignment}/{assignment}.ipynb" if path.is_file() else None


# The menu's words in each edition of the book.
MENU_TEXTS = {
    "en": {"colab": "Open in Colab (free GPU)", "binder": "Launch on Binder", "download": "Download the notebook",
           "repository": "The notebook in the repository", "menu": "This chapter's graded notebook"},
    "es": {"colab": "Abrir en Colab (GPU gratuita)", "binder": "Abrir en Binder", "download": "Descargar el notebook",
           "repository": "El notebook en el repositorio", "menu": "El notebook evaluable de este capítulo"},
}


def notebook_links(url, branch, notebook, language="en"):
    """(label, address) of each way to open a chapter's graded notebook from the repository at ``url``."""
    texts = MENU_TEXTS[language]
    owner_and_name = url.split("github.com/", 1)[1] if "github.com/" in url else ""
    links = []
    if owner_and_name:
        links.append((texts["colab"],
                      f"https://colab.research.google.com/github/{owner_and_name}/blob/{branch}/{notebook}"))
        links.append((texts["binder"],
                      f"https://mybinder.org/v2/gh/{owner_and_name}/{branch}?urlpath=lab/tree/{notebook}"))
        links.append((texts["download"],
                      f"https://raw.githubusercontent.com/{owner_and_name}/{branch}/{notebook}"))
    if url:
        links.append((texts["repository"], f"{url}/blob/{branch}/{notebook}"))
    return links


def _add_notebook_menu(app, pagename, templatename, context, doctree):
    notebook = graded_notebook(pagename, app.srcdir)
    if notebook is None or "header_buttons" not in context:
        return
    url, branch = repository(app.config)
    language = app.config.language or "en"
    buttons = [{"type": "link", "text": label, "tooltip": label, "icon": "fas fa-book-open", "url": address}
               for label, address in notebook_links(url, branch, notebook, language)]
    if buttons:
        context["header_buttons"].append({"type": "group", "tooltip": MENU_TEXTS[language]["menu"],
                                          "icon": "fas fa-rocket", "buttons": buttons,
                                          "label": "graded-notebook-buttons"})


CARD_TEXTS = {
    "en": {"plain": "no cap: s = x", "softcap": "softcap: s = 30 tanh(x / 30)", "x": "logit x", "y": "capped logit s",
           "title": "From −max to softcap: the numerics of a language model's last layer"},
    "es": {"plain": "sin tope: s = x", "softcap": "softcap: s = 30 tanh(x / 30)", "x": "logit x",
           "y": "logit con tope s", "title": "Del −max al softcap: la numérica de la última capa de un modelo de lenguaje"},
}


def draw_card(path, language="en"):
    """The link card: s = cap * tanh(x / cap) for cap = 30, beside the identity it follows until it bends."""
    texts = CARD_TEXTS[language]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.linspace(-90, 90, 721)
    figure, axes = plt.subplots(figsize=(12, 6.3), dpi=100)  # 1200 x 630, the size link previews use
    axes.plot(x, x, color="0.75", linewidth=2, label=texts["plain"])
    axes.plot(x, 30 * np.tanh(x / 30), color="tab:blue", linewidth=5, label=texts["softcap"])
    for level in (30, -30):
        axes.axhline(level, color="tab:red", linestyle="--", linewidth=1.5)
    axes.set_ylim(-60, 60)
    axes.set_xlabel(texts["x"], fontsize=18)
    axes.set_ylabel(texts["y"], fontsize=18)
    axes.set_title(texts["title"], fontsize=22)
    axes.legend(fontsize=16, loc="upper left")
    axes.tick_params(labelsize=14)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def zip_site(out):
    """The offline copy of the site in ``out``: every file, written beside it first, then into it (so that the
    introduction's link works on the site too)."""
    out = Path(out)
    archive = out.parent / SITE_ZIP
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(out.rglob("*")):
            if path.is_file() and path.name != SITE_ZIP:
                bundle.write(path, Path("softcap-course") / path.relative_to(out))
    shutil.copyfile(archive, out / SITE_ZIP)


def _finish(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    draw_card(out / CARD, app.config.language or "en")
    # A translated edition goes inside the English site (softcap_course/book/editions.py), which zips them together.
    if (app.config.language or "en") == "en":
        zip_site(out)


def setup(app):
    app.connect("config-inited", _apply_location)
    app.connect("html-page-context", _add_notebook_menu, priority=502)  # after the theme's own buttons
    app.connect("build-finished", _finish, priority=900)  # after the Try-it runtime is copied in
    return {"parallel_read_safe": True, "parallel_write_safe": True}
