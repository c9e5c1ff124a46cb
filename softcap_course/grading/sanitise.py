"""Student output is inert wherever an instructor or a student looks at it.

What a submission prints or displays is kept in the autograded notebook, and from there reaches the feedback HTML
(``nbgrader generate_feedback``), nbgrader's formgrader (served by the instructor's own Jupyter server, with its API
at hand) and JupyterLab. Any of them would run a ``<script>``, an ``onerror=`` handler or a JavaScript output as the
viewer. So, in every cell a student could write (solution cells, cells they added) and in every output:

* HTML (``text/html``, ``text/markdown``, raw HTML in a markdown cell) keeps only an allow-list of tags and
  attributes (nbconvert's ``clean_html``, which uses bleach): no script, no event handler, no ``javascript:`` link,
  no frame, no form;
* JavaScript outputs, SVG (which can hold scripts) and every other MIME type but plain text, LaTeX (escaped) and
  PNG/JPEG/GIF images (valid base64 only) are replaced by a line of text saying what was removed;
* an output's metadata (which can name a file for the page to fetch) keeps only an image's numeric width and height,
  and the notebook keeps no widget state.

``SanitiseOutputs`` does it in ``nbgrader autograde`` (so the formgrader shows the cleaned notebook) and again in
``nbgrader generate_feedback`` (for notebooks autograded before it existed).
"""

import base64
import binascii
import html

from nbgrader.preprocessors import NbGraderPreprocessor

from softcap_course.grading.classroom import nbgrader_meta

KEPT = ("text/plain", "text/html", "text/markdown", "text/latex", "image/png", "image/jpeg", "image/gif")


def clean_html(text):
    from nbconvert.filters.strings import clean_html as nbconvert_clean

    return nbconvert_clean(text)


def _image(data):
    try:
        base64.b64decode("".join(str(data).split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return "".join(str(data).split())


def _text(value):
    return "".join(value) if isinstance(value, list) else str(value)


def sanitise_output(output):
    """Make one output inert, in place."""
    kind = output.get("output_type")
    if kind not in ("display_data", "execute_result", "update_display_data"):
        return output
    data, removed = dict(output.get("data", {})), []
    clean = {}
    for mime, value in data.items():
        if mime not in KEPT:
            removed.append(mime)
        elif mime in ("text/html", "text/markdown"):
            clean[mime] = clean_html(_text(value))
        elif mime == "text/latex":
            clean[mime] = html.escape(_text(value))
        elif mime.startswith("image/"):
            image = _image(_text(value))
            if image is None:
                removed.append(f"{mime} (not base64)")
            else:
                clean[mime] = image
        else:
            clean[mime] = _text(value)
    if removed:
        note = f"[an output of type {', '.join(removed)} was removed by the grader: it could run code in a browser]"
        clean["text/plain"] = (clean.get("text/plain", "") + "\n" + note).strip()
    output["data"] = clean
    metadata = {}
    for mime, values in dict(output.get("metadata", {})).items():
        if mime.startswith("image/") and isinstance(values, dict):
            sizes = {k: v for k, v in values.items() if k in ("width", "height") and isinstance(v, (int, float))}
            if sizes:
                metadata[mime] = sizes
    output["metadata"] = metadata
    return output


def sanitise_notebook(nb):
    """Every output, and every markdown cell a student could have written, made inert (in place)."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "markdown" and (meta.get("solution") or not meta.get("locked")):
            if "<" in cell.source:
                cell.source = clean_html(cell.source)
            if not _attachments_are_images(cell):
                cell.pop("attachments", None)
        for output in cell.get("outputs", []):
            sanitise_output(output)
    return nb


def _attachments_are_images(cell):
    for bundle in dict(cell.get("attachments", {})).values():
        for mime, value in dict(bundle).items():
            if mime not in ("image/png", "image/jpeg", "image/gif") or _image(_text(value)) is None:
                return False
    return True


class SanitiseOutputs(NbGraderPreprocessor):
    """nbgrader preprocessor: ``sanitise_notebook``."""

    def preprocess(self, nb, resources):
        return sanitise_notebook(nb), resources
