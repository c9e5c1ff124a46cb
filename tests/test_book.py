"""The book builds with warnings as errors, every page executes, and nothing graded leaks into it."""

import html
import re

import numpy as np
import pytest

import grading
from conftest import BUILD, toc_pages

# The text column holds 80 characters of code at the widths the book is checked at (1280 and 800 px; book/_static/
# softcap.css sets the code's size, tests/test_browser.py checks that nothing is cut off): code and output keep to it.
CODE_WIDTH = 80


def code_text(page_html):
    """The text of every code block and output on a page, tags stripped."""
    blocks = re.findall(r"<pre[^>]*>(.*?)</pre>", page_html, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", "\n".join(blocks)))


def test_every_page_of_the_toc_is_built(edition):
    root, book = edition
    assert (root / "index.html").exists()
    for page, text in book.items():
        assert "<h1" in text, f"{page} has no title"


def test_chapter_pages_executed_their_code(edition):
    _, book = edition
    for page, text in book.items():
        if not re.match(r"book/\d\d-", page):  # the introduction and the closing summary are mostly prose
            continue
        assert text.count("cell_output") >= 5, f"{page} shows fewer than 5 cell outputs: did it execute?"
        assert "Traceback" not in text and "ERROR" not in code_text(text), f"{page} shows an error"


def test_no_solution_code_and_no_hidden_test_in_the_book(book):
    everything = "\n".join(code_text(text) for text in book.values())
    lines_on_pages = {line.strip() for line in everything.splitlines()}
    for assignment in grading.assignments():
        notebook = grading.read_notebook(grading.notebook_path("solutions", assignment))
        for cell in notebook.cells:
            hidden = re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", cell.source, flags=re.S)
            solution = re.findall(r"### BEGIN SOLUTION(.*?)### END SOLUTION", cell.source, flags=re.S)
            for block in hidden + solution:
                significant = [line.strip() for line in block.splitlines()
                               if len(line.strip()) > 20 and not line.strip().startswith("#")]
                leaked = [line for line in significant if line in lines_on_pages]
                assert not leaked, f"{assignment} leaks into the book: {leaked}"
    assert "BEGIN SOLUTION" not in everything and "HIDDEN TESTS" not in everything


def test_the_book_loads_nothing_from_other_sites(edition):
    _, book = edition
    for page, text in book.items():
        # (<link rel="canonical"> names the page's published address for search engines: nothing is loaded from it.)
        remote = re.findall(r"""<(?:script|link(?! rel="canonical")|img)[^>]+(?:src|href)=["'](https?:)?//[^"']+""",
                            text)
        assert not remote, f"{page} loads {remote} from another site: the book must work offline"


def test_chapter_1_threshold_table_matches_finfo(edition):
    _, book = edition
    text = code_text(book["book/01-softmax"]) + html.unescape(re.sub(r"<[^>]+>", " ", book["book/01-softmax"]))
    for dtype in (np.float16, np.float32, np.float64):
        threshold = np.log(float(np.finfo(dtype).max))
        assert f"{threshold:.5g}" in text, f"the overflow threshold of {dtype.__name__} is not on the page"
    assert "nan" in code_text(book["book/01-softmax"]), "the overflow failure must be shown live"


GLOSSARY = ["logit", "softmax", "probability distribution", "numerical stability", "overflow", "underflow",
            "subnormal", "log-sum-exp"]


def test_the_glossary_is_in_chapter_1_and_linked_from_the_later_chapters(edition):
    _, book = edition
    chapter_1 = book["book/01-softmax"]
    for term in GLOSSARY:
        anchor = "term-" + term.replace(" ", "-")
        assert f'id="{anchor}"' in chapter_1, f"the glossary of chapter 1 does not define {term!r}"
    for page in toc_pages()[2:]:
        linked = set(re.findall(r'href="01-softmax\.html#term-([a-z-]+)"', book[page]))
        assert linked, f"{page} links to no term of chapter 1's glossary"


def _cells(page_html):
    """(kind, text) of every code cell's source ("input") and printed output ("output") on a page."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page_html, "html.parser")
    return [(kind, pre.get_text()) for kind in ("input", "output")
            for div in soup.select(f"div.cell_{kind}") for pre in div.find_all("pre")]


def test_no_code_line_and_no_printed_line_is_wider_than_the_column(edition):
    _, book = edition
    too_wide = []
    for page, text in book.items():
        for kind, block in _cells(text):
            too_wide += [f"{page} ({kind}, {len(line)} characters): {line}" for line in block.splitlines()
                         if len(line.rstrip()) > CODE_WIDTH]
    assert not too_wide, f"lines wider than {CODE_WIDTH} characters are cut off at 1280 px:\n" + "\n".join(too_wide)


def test_no_page_prints_a_numpy_scalar_repr(edition):
    _, book = edition
    for page, text in book.items():
        shown = [block for kind, block in _cells(text) if kind == "output"]
        reprs = re.findall(r"np\.(?:float|int|bool|complex)\w*\([^)]*\)", "\n".join(shown))
        assert not reprs, f"{page} prints {reprs[:3]}: format the number (f'{{x:.3g}}') or convert it (float(x))"


def test_every_table_renders_as_a_table(edition):
    """A table whose Markdown did not parse (a bare | in a cell) is shown as a paragraph of | ... | text."""
    _, book = edition
    for page, text in book.items():
        paragraphs = [html.unescape(re.sub(r"<[^>]+>", "", p)) for p in re.findall(r"<p>(.*?)</p>", text, flags=re.S)]
        raw = [p[:120] for p in paragraphs if re.search(r"\|\s*[-—–]{1,}\s*\|", p) or p.strip().startswith("| ")]
        assert not raw, f"{page} shows table source as text: {raw}"


def test_every_link_inside_the_book_resolves(edition):
    """Every relative link goes to a built file and, with a #fragment, to an id on that page; every citation resolves.
    (The Spanish edition's language switch leads into the English one, which is checked the same way.)"""
    root, book = edition
    ids = {}

    def ids_of(path):
        if path not in ids:
            if not path.is_file():
                ids[path] = None
            else:
                ids[path] = set(re.findall(r'\sid="([^"]+)"', path.read_text())) if path.suffix == ".html" else set()
        return ids[path]

    broken = []
    for page, text in book.items():
        here = (root / page).parent
        for href in re.findall(r'href="([^"]+)"', text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", href) or href.startswith("//"):
                continue  # another site (the bibliography's links) or mailto:
            path, _, fragment = html.unescape(href).partition("#")
            path = path.split("?")[0]  # ../_static/theme.css?digest=...
            target = (here / path).resolve() if path else root / f"{page}.html"
            found = ids_of(target)
            if found is None or (fragment and fragment not in found):
                broken.append(f"{page}: {href}")
        assert "bibtex key" not in text and "??" not in re.sub(r"<[^>]+>", "", text), f"{page} has an unresolved citation"
    assert not broken, "links to nothing:\n" + "\n".join(broken)


def test_the_closing_page_lists_every_reference_with_a_link(edition):
    """Every entry of book/references.bib is cited somewhere (sphinxcontrib-bibtex lists only cited ones) and shows
    on the closing page with a link a reader can follow."""
    import pybtex.database

    _, book = edition
    entries = pybtex.database.parse_file(str(grading.REPO / "book" / "references.bib")).entries
    summary = html.unescape(book["book/summary"])
    for key, entry in entries.items():
        url = entry.fields.get("url", "")
        assert url.startswith("https://"), f"{key} has no link a reader can follow"
        assert f'href="{url}"' in summary, f"{key} is not in the closing page's references (is it cited?)"
    cited = [page for page, text in book.items() if page != "book/summary" and "summary.html#id" in text]
    assert len(cited) >= 6, f"only {cited} cite a reference"
