"""The book in English and in Spanish, from the same sources (``make book``).

    python -m softcap_course.book.editions                 # both editions: _build/html and _build/html/es
    python -m softcap_course.book.editions --language es   # one of them

The English edition is what ``jupyter-book build`` makes. The Spanish one is the same pages with their text replaced by
the translations in ``book/locales/es/LC_MESSAGES/book/<page>.po`` (Sphinx's gettext machinery): ``jupyter-book``
cannot pass ``language`` to Sphinx, so this module builds it with Jupyter Book's own configuration plus the language,
into ``_build/es/html`` (myst-nb writes its executed pages beside that folder), and copies it to ``_build/html/es``.
Every warning is an error in both builds.

The pages' code prints and draws its words through ``softcap_course.words.tr``: the Spanish build runs it with
``SOFTCAP_BOOK_LANGUAGE=es``, so its tables and figures are Spanish too (every page is executed again for it).

As a Sphinx extension (listed in ``_config.yml``) it puts the switch "English · Español" at the top of every page: a
relative link to the same page in the other edition, so it works offline and from ``file://``. The switch lists the
editions built together (``SOFTCAP_BOOK_EDITIONS``, set by this module); a one-language build has none.
"""

import argparse
import html
import os
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

LANGUAGES = {"en": "English", "es": "Español"}
ROOT = Path(__file__).resolve().parents[2]
LOCALES = "book/locales"
# What changes in the site around the translated pages.
SITE = {"es": {"title": "Del −max al softcap", "search": "Buscar en este libro..."}}


def switch_html(pagename, language):
    """The language switch of page ``pagename`` (e.g. ``book/01-softmax``) in the edition ``language``."""
    up = "../" * pagename.count("/")
    links = []
    for code, name in LANGUAGES.items():
        if code == language:
            links.append(f'<span class="softcap-language-current" aria-current="true">{name}</span>')
            continue
        base = up if language == "en" else "../" + up  # the Spanish edition lives in es/ inside the English one
        path = base + ("" if code == "en" else f"{code}/") + pagename + ".html"
        links.append(f'<a class="softcap-language-link" href="{html.escape(path)}" hreflang="{code}" lang="{code}">'
                     f'{name}</a>')
    return f'<nav class="softcap-languages" aria-label="Language / Idioma">{" · ".join(links)}</nav>\n'


def editions_built():
    """The editions of the build in progress: ``SOFTCAP_BOOK_EDITIONS`` ("en,es"), English alone when unset."""
    return [code for code in os.environ.get("SOFTCAP_BOOK_EDITIONS", "en").split(",") if code in LANGUAGES]


def _add_switch(app, pagename, templatename, context, doctree):
    if "body" in context and len(editions_built()) > 1:
        context["body"] = switch_html(pagename, app.config.language or "en") + context["body"]


def _glue_of_the_page_translated(app, config):
    """In a translated edition, let a ``{glue:text}`` role of a translated paragraph find its value.

    myst-nb looks a glued value up in the notebook it is parsing. Sphinx's i18n transform parses each translated
    paragraph on its own, as a document of one paragraph ("<page>:<line>:<translated>") with no glue data, so every
    value would be missing. The values are those of the page being translated, which myst-nb has just executed and
    written to ``jupyter_execute/<page>.glue.json`` beside the output folder: look them up there."""
    if (config.language or "en") == "en":
        return
    import json

    from myst_nb.core.variables import RetrievalError, VariableOutput
    from myst_nb.ext.glue import directives, roles, utils

    looked_up = utils.retrieve_glue_data

    def retrieve_glue_data(document, key):
        try:
            return looked_up(document, key)
        except RetrievalError:
            if not str(document.get("source", "")).endswith(":<translated>"):
                raise
            env = document.settings.env
            path = Path(env.app.outdir).parent / "jupyter_execute" / f"{env.docname}.glue.json"
            glued = json.loads(path.read_text(encoding="utf8")) if path.is_file() else {}
            if key not in glued:
                raise
            # (The book glues text only, {glue:text}, which reads the data alone: no renderer is needed.)
            return VariableOutput(data=glued[key]["data"], metadata=glued[key].get("metadata", {}),
                                  nb_renderer=None, vtype="glue")

    roles.retrieve_glue_data = directives.retrieve_glue_data = retrieve_glue_data


def setup(app):
    app.connect("html-page-context", _add_switch)
    app.connect("config-inited", _glue_of_the_page_translated)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def spanish_overrides(sphinx_config):
    """Sphinx settings of the Spanish edition on top of the English ones."""
    options = dict(sphinx_config.get("html_theme_options", {}))
    options["search_bar_text"] = SITE["es"]["search"]
    return {"language": "es", "locale_dirs": [LOCALES], "gettext_compact": False,
            "html_title": SITE["es"]["title"], "html_theme_options": options}


def build_english(root=ROOT):
    """``jupyter-book build`` (what a one-language book is), into _build/html; the other editions' folders in it go."""
    import subprocess

    for code in LANGUAGES:
        if code != "en":
            shutil.rmtree(Path(root) / "_build" / "html" / code, ignore_errors=True)
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(root), "--all", "--warningiserror",
               "--nitpick", "--keep-going"]
    return subprocess.run(command, cwd=root, env=dict(os.environ, SOFTCAP_BOOK_LANGUAGE="en")).returncode


def build_translation(language, root=ROOT):
    """Build the edition ``language`` into _build/<language>/html (every page executed again, its code's words in
    ``language``) and copy it to _build/html/<language>."""
    from jupyter_book.config import get_final_config
    from jupyter_book.sphinx import build_sphinx

    root = Path(root)
    english, _ = get_final_config(user_yaml=root / "_config.yml", sourcedir=root,
                                  cli_config={"latex_individualpages": False})
    output = root / "_build" / language / "html"
    overrides = {"nitpicky": True, "latex_individualpages": False, **spanish_overrides(english)}
    before = os.environ.get("SOFTCAP_BOOK_LANGUAGE")
    os.environ["SOFTCAP_BOOK_LANGUAGE"] = language  # the kernels that execute the pages inherit it
    try:
        result = build_sphinx(root, output, noconfig=True, path_config=str(root / "_config.yml"),
                              confoverrides=overrides, builder="html", warningiserror=True, keep_going=True,
                              freshenv=True, force_all=True)
    finally:
        if before is None:
            del os.environ["SOFTCAP_BOOK_LANGUAGE"]
        else:
            os.environ["SOFTCAP_BOOK_LANGUAGE"] = before
    if result:
        return 1
    published = root / "_build" / "html" / language
    shutil.rmtree(published, ignore_errors=True)
    shutil.copytree(output, published)
    return 0


# ------------------------------------------------------------------------------------------ the translation catalogs


def extract_messages(out, root=ROOT):
    """Write the English messages of every page to ``out/book/<page>.pot`` (execution off: code cells are not
    translated; no source locations, so that an edit that moves a paragraph changes no catalog)."""
    import subprocess

    command = [str(Path(sys.executable).parent / "sphinx-build"), "-b", "gettext", "-q", "-D", "nb_execution_mode=off",
               "-D", "gettext_compact=0", "-D", "gettext_location=0", "-d", str(Path(out) / ".doctrees"), "-c",
               str(out), str(root), str(out)]
    _write_conf(out, root)
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"extracting the messages failed:\n{result.stderr[-4000:]}")
    return Path(out)


def _write_conf(folder, root):
    """A conf.py in ``folder`` equal to Jupyter Book's configuration of ``root`` (what `jupyter-book config sphinx`
    writes), its paths made absolute so that it works from outside the book's folder."""
    from jupyter_book.config import get_final_config

    config, _ = get_final_config(user_yaml=Path(root) / "_config.yml", sourcedir=Path(root),
                                 cli_config={"latex_individualpages": False})
    config["html_static_path"] = [str(Path(root) / p) for p in config.get("html_static_path", [])]
    config["external_toc_path"] = str(Path(root) / config.get("external_toc_path", "_toc.yml"))
    lines = [f"{key} = {config[key]!r}" for key in sorted(config)]
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / "conf.py").write_text("\n".join(lines) + "\n", encoding="utf8")


def update_catalogs(templates, language, locales):
    """``sphinx-intl update``: bring the .po files of ``language`` under ``locales`` in line with the templates (new
    English text becomes an empty or fuzzy entry, text that is gone is dropped)."""
    import subprocess

    command = [str(Path(sys.executable).parent / "sphinx-intl"), "update", "-p", str(templates), "-l", language, "-d",
               str(locales), "-w", "0"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"sphinx-intl update failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.stdout


def catalog_changes(language="es", root=ROOT):
    """The catalogs of ``language`` that ``sphinx-intl update`` would change after extracting today's English text
    (an English edit not yet carried into the translation): [relative path, ...]."""
    import filecmp
    import tempfile

    locales = Path(root) / LOCALES
    with tempfile.TemporaryDirectory() as scratch:
        templates = extract_messages(Path(scratch) / "pot", root)
        copy = Path(scratch) / "locales"
        shutil.copytree(locales, copy)
        update_catalogs(templates, language, copy)
        before = {p.relative_to(locales) for p in locales.rglob("*.po")}
        after = {p.relative_to(copy) for p in copy.rglob("*.po")}
        return sorted(str(p) for p in before ^ after) + sorted(
            str(p) for p in before & after if not filecmp.cmp(locales / p, copy / p, shallow=False))


_ROLE = re.compile(r"\{([a-z:]+)\}`([^`]*)`")
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+\$", re.S)
_CODE = re.compile(r"(?<![`}])``?([^`]+)``?")
_URL = re.compile(r"https?://[^\s)>]+")


def _markup(text):
    """What a translation must keep of a message: its roles (a glossary term or reference by its target; glue, cite
    and the like whole), its math, its inline code and its links."""
    roles = []
    for name, body in _ROLE.findall(text):
        target = re.search(r"<([^<>]+)>\s*$", body)
        if name in ("term", "ref", "doc", "numref", "download"):
            roles.append((name, target[1] if target else body.strip().lower() if name == "term" else body))
        else:
            roles.append((name, body))
    rest = _ROLE.sub("", text)
    return {"roles": Counter(roles), "math": Counter(_MATH.findall(rest)),
            "code": Counter(_CODE.findall(_MATH.sub("", rest))), "links": Counter(_URL.findall(text))}


def catalog_problems(path):
    """What is wrong with a translated catalog: entries untranslated or fuzzy, and translations whose markup differs
    from their English (a lost role, a changed formula or piece of code)."""
    from babel.messages.pofile import read_po

    with open(path, "rb") as handle:
        catalog = read_po(handle)
    problems = []
    for message in catalog:
        if not message.id:
            continue
        where = f"{Path(path).name}: {message.id[:60]!r}"
        if not message.string:
            problems.append(f"untranslated {where}")
            continue
        if message.fuzzy:
            problems.append(f"fuzzy {where}")
        english, translated = _markup(message.id), _markup(message.string)
        for kind in english:
            if english[kind] != translated[kind]:
                problems.append(f"{kind} differ in {where}: English {dict(english[kind])}, "
                                f"translation {dict(translated[kind])}")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--language", choices=[*LANGUAGES, "all"], default="all")
    parser.add_argument("--update-catalogs", action="store_true",
                        help="after an English edit: extract the messages again and update the translations' .po files "
                             "(new text comes in empty or fuzzy), then list what is left to translate; builds nothing")
    args = parser.parse_args(argv)
    if args.update_catalogs:
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            templates = extract_messages(Path(scratch) / "pot")
            for language in LANGUAGES:
                if language != "en" and args.language in (language, "all"):
                    update_catalogs(templates, language, ROOT / LOCALES)
        left = [problem for path in sorted((ROOT / LOCALES).rglob("*.po")) for problem in catalog_problems(path)]
        print("\n".join(left) if left else "every entry is translated")
        return 1 if left else 0
    editions = list(LANGUAGES) if args.language == "all" else [args.language]
    os.environ["SOFTCAP_BOOK_EDITIONS"] = ",".join(editions)
    failed = 0
    if "en" in editions:
        failed |= build_english()
    for language in editions:
        if language != "en" and not failed:
            failed |= build_translation(language)
    if not failed and len(editions) > 1:
        from softcap_course.book.publish import zip_site

        zip_site(ROOT / "_build" / "html")  # the offline copy holds every edition
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
