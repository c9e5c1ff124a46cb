"""nbgrader plug-ins for feedback: students see what failed, never the hidden tests' code, and the page's math renders
offline.

nbgrader 0.9 writes feedback from the autograded notebook, whose test cells hold the hidden tests
(nbgrader #1363). ``nbgrader_config.py`` therefore runs ``ClearHiddenTests`` on feedback, and this
preprocessor cuts each test cell's traceback (which quotes the lines around the failing one, hidden ones
included) down to the error itself: the checks' message names the call, the expected and the returned value.
"""

import re
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor

from softcap_course.grading.classroom import nbgrader_meta


class ShortTestTracebacks(NbGraderPreprocessor):
    """Replace the traceback of every error in a test cell by ``ErrorName: message``."""

    def preprocess_cell(self, cell, resources, index):
        if nbgrader_meta(cell).get("grade"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output['ename']}: {output['evalue']}"]
        return cell, resources


# ------------------------------------------------------------------------------------------------ math, offline

_MATHML = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac", "msqrt",
           "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom",
           "menclose", "semantics", "annotation", "mfenced", "merror"}
# Inline math may wrap onto the next line of the paragraph (a soft line break), never across a blank line.
_MATH = re.compile(r"(?<![\\$])\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)((?:[^$\n]|\n(?![ \t]*\n))+?)(?<!\s)\$", re.S)


def mathml(tex, display):
    """``tex`` as MathML (the browser draws it: no MathJax, no network), or None when the converter cannot, or gives
    anything but MathML elements."""
    from bs4 import BeautifulSoup
    from latex2mathml.converter import convert

    try:
        markup = convert(tex, display="block" if display else "inline")
    except Exception:  # noqa: BLE001 (a macro it does not know: keep the TeX)
        return None
    for element in BeautifulSoup(markup, "html.parser").find_all(True):
        if element.name not in _MATHML or any(name.startswith("on") or name == "href" for name in element.attrs):
            return None
    return markup


def math_to_mathml(markdown):
    """Every $...$ and $$...$$ of a markdown text as MathML, outside code spans and fences."""
    parts = re.split(r"(```.*?```|`[^`\n]*`)", markdown, flags=re.S)
    for index in range(0, len(parts), 2):
        def replace(match):
            display = match.group(1) is not None
            converted = mathml(match.group(1) if display else match.group(2), display)
            return converted if converted else match.group(0)

        parts[index] = _MATH.sub(replace, parts[index])
    return "".join(parts)


class MathAsMathML(NbGraderPreprocessor):
    """The math of the instructor's markdown cells as MathML, so that the feedback page shows it offline. (What a
    student wrote stays as they wrote it, made inert by ``SanitiseOutputs``.)"""

    def preprocess_cell(self, cell, resources, index):
        meta = nbgrader_meta(cell)
        if cell.cell_type == "markdown" and meta.get("locked") and not meta.get("solution") and "$" in cell.source:
            cell.source = math_to_mathml(cell.source)
        return cell, resources


_MATHJAX = re.compile(r'<script[^>]*src="https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[^"]*"[^>]*>\s*</script>\s*'
                      r'(<!-- MathJax configuration -->\s*)?<script type="text/x-mathjax-config">.*?</script>', re.S)


def offline_feedback_pages(assignment, student, notebooks, **kwargs):
    """nbgrader's post-convert hook for generate_feedback: the pages load nothing from another site (nbgrader's template
    asks a CDN for MathJax; the math is MathML already)."""
    import os
    import stat

    # nbgrader passes its own patterns: "*" for every student of the command.
    for page in (Path.cwd() / "feedback").glob(f"{student or '*'}/{assignment or '*'}/*.html"):
        text = page.read_text()
        cleaned = _MATHJAX.sub("", text)
        if cleaned != text:
            mode = page.stat().st_mode
            os.chmod(page, mode | stat.S_IWUSR)
            page.write_text(cleaned)
            os.chmod(page, mode)
