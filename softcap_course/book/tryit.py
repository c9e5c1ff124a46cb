"""Sphinx extension: "Try it here" exercises that run and check themselves in the reader's browser, offline.

In a page (MyST)::

    ```{try-it} softmax
    ```

writes a box with the exercise's stub in a ``<textarea>``, a Run and a Reset button and a result line (the DOM
contract in tryit.js). The exercises and their checks are ``softcap_course/exercises.py`` (pure Python, tested by
pytest); this extension ships that file and ``autograd.py`` into the site, with Pyodide's runtime, vendored by
``make book`` into ``.vendor/pyodide-<version>/`` (see the Makefile), never fetched from another site.

The box speaks the book's language (Sphinx's ``language``: "es" for the Spanish edition, English otherwise); the
title and stub come from exercises.py in that language, and tryit.js reads the page's ``<html lang>`` for the rest.
"""

import html
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective

from softcap_course.exercises import EXERCISES, LANGUAGES, check_language, exercise_stub, exercise_title

PYODIDE_VERSION = "314.0.7"
# What the runtime needs (from the npm package): the module loader, the interpreter, the standard library, the lock file.
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
PACKAGE = Path(__file__).resolve().parents[1]  # softcap_course: exercises.py and autograd.py
STATIC = Path(__file__).resolve().parent / "static"

# The box's own words, per language (the exercise's title and stub come from exercises.py).
BOX_TEXTS = {
    "en": {"try": "Try it here:", "code": "Python code for the exercise", "run": "Run", "reset": "Reset",
           "note": "Python runs in your browser (Pyodide); your code stays in this browser. Ctrl+Enter runs."},
    "es": {"try": "Pruébalo aquí:", "code": "Código Python del ejercicio", "run": "Ejecutar", "reset": "Restablecer",
           "note": "Python se ejecuta en tu navegador (Pyodide); tu código se queda en este navegador. "
                   "Ctrl+Enter lo ejecuta."},
}


def pyodide_folder(srcdir):
    return Path(srcdir) / ".vendor" / f"pyodide-{PYODIDE_VERSION}"


def box_language(sphinx_language):
    """The boxes' language for a book built with Sphinx's ``language``: English unless the exercises speak it."""
    return sphinx_language if sphinx_language in LANGUAGES else "en"


def box_html(name, language="en"):
    """The HTML of exercise ``name``'s box in ``language`` (the DOM contract: see tryit.js)."""
    check_language(language)
    words = BOX_TEXTS[language]
    title, stub = html.escape(exercise_title(name, language)), exercise_stub(name, language)
    rows = stub.count("\n") + 3
    return (f'<div class="tryit" data-exercise="{html.escape(name)}">\n'
            f'<p class="tryit-title"><strong>{words["try"]}</strong> {title}</p>\n'
            f'<textarea class="tryit-code" rows="{rows}" spellcheck="false" autocapitalize="off" '
            f'aria-label="{words["code"]} {title}">{html.escape(stub)}</textarea>\n'
            f'<div class="tryit-buttons"><button type="button" data-role="run">{words["run"]}</button>'
            f'<button type="button" data-role="reset">{words["reset"]}</button>'
            f'<span class="tryit-note">{words["note"]}</span></div>\n'
            '<pre class="tryit-result" data-role="result" aria-live="polite"></pre>\n</div>\n')


class TryIt(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self):
        name = self.arguments[0]
        if name not in EXERCISES:
            raise self.error(f"try-it: no exercise named {name!r} in softcap_course/exercises.py "
                             f"(there are: {', '.join(sorted(EXERCISES))})")
        return [nodes.raw("", box_html(name, box_language(self.config.language)), format="html")]


def _check_runtime(app):
    if app.builder.format != "html":
        return
    folder = pyodide_folder(app.srcdir)
    missing = [name for name in PYODIDE_FILES if not (folder / name).is_file()]
    if missing:
        raise ExtensionError(f"the in-browser exercises need Pyodide {PYODIDE_VERSION} in {folder} (missing: "
                             f"{', '.join(missing)}). `make book` fetches it with npm (Node.js and npm must be "
                             "installed: sudo apt-get install nodejs npm).")


def copy_runtime(srcdir, static):
    """Pyodide's runtime into ``static``/pyodide/, the exercises' Python into ``static``/tryit/."""
    static = Path(static)
    (static / "pyodide").mkdir(parents=True, exist_ok=True)
    for name in PYODIDE_FILES:
        shutil.copy2(pyodide_folder(srcdir) / name, static / "pyodide" / name)
    (static / "tryit").mkdir(exist_ok=True)
    for name in ("exercises.py", "autograd.py"):
        shutil.copy2(PACKAGE / name, static / "tryit" / name)


def _copy_runtime(app, exception):
    if exception is None and app.builder.format == "html":
        copy_runtime(app.srcdir, Path(app.outdir) / "_static")


def _add_static(app, config):
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def setup(app):
    app.add_directive("try-it", TryIt)
    app.connect("config-inited", _add_static)
    app.connect("builder-inited", _check_runtime)
    app.connect("build-finished", _copy_runtime)
    app.add_js_file("tryit.js")
    app.add_css_file("tryit.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
