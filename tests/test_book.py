"""The book builds with warnings as errors, every page executes, and nothing graded leaks into it."""

import html
import re

import numpy as np
import pytest

import grading
from conftest import BUILD, toc_pages


def code_text(page_html):
    """The text of every code block and output on a page, tags stripped."""
    blocks = re.findall(r"<pre[^>]*>(.*?)</pre>", page_html, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", "\n".join(blocks)))


def test_every_page_of_the_toc_is_built(book):
    assert (BUILD / "index.html").exists()
    for page, text in book.items():
        assert "<h1" in text, f"{page} has no title"


def test_chapter_pages_executed_their_code(book):
    for page, text in book.items():
        if page == toc_pages()[0]:
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


def test_the_book_loads_nothing_from_other_sites(book):
    for page, text in book.items():
        remote = re.findall(r"""<(?:script|link|img)[^>]+(?:src|href)=["'](https?:)?//[^"']+""", text)
        assert not remote, f"{page} loads {remote} from another site: the book must work offline"


def test_chapter_1_threshold_table_matches_finfo(book):
    text = code_text(book["book/01-softmax"]) + html.unescape(re.sub(r"<[^>]+>", " ", book["book/01-softmax"]))
    for dtype in (np.float16, np.float32, np.float64):
        threshold = np.log(float(np.finfo(dtype).max))
        assert f"{threshold:.5g}" in text, f"the overflow threshold of {dtype.__name__} is not on the page"
    assert "nan" in code_text(book["book/01-softmax"]), "the overflow failure must be shown live"


GLOSSARY = ["logit", "softmax", "probability distribution", "numerical stability", "overflow", "underflow",
            "subnormal", "log-sum-exp"]


def test_the_glossary_is_in_chapter_1_and_linked_from_the_later_chapters(book):
    chapter_1 = book["book/01-softmax"]
    for term in GLOSSARY:
        anchor = "term-" + term.replace(" ", "-")
        assert f'id="{anchor}"' in chapter_1, f"the glossary of chapter 1 does not define {term!r}"
    for page in toc_pages()[2:]:
        linked = set(re.findall(r'href="01-softmax\.html#term-([a-z-]+)"', book[page]))
        assert linked, f"{page} links to no term of chapter 1's glossary"
