"""The Spanish edition (_build/html/es, built by `make book` beside the English one): every page is Spanish, its prose
from the catalogs and its code's printed words and figures from softcap_course/words.py, and a switch on every page of
both editions leads to the same page in the other language. The checks that hold in both editions (every page built and
executed, links resolve, tables render, lines fit) are in tests/test_book.py; the layout and the Try-it boxes in a
browser in tests/test_browser.py."""

import hashlib
import html
import re

from bs4 import BeautifulSoup

from conftest import BUILD, toc_pages
from softcap_course.book import editions
from softcap_course.words import SPANISH


def _soup(page_html):
    return BeautifulSoup(page_html, "html.parser")


def test_every_spanish_page_says_it_is_spanish(spanish_book):
    for page, text in spanish_book.items():
        soup = _soup(text)
        assert soup.html.get("lang") == "es", f"{page}: <html lang={soup.html.get('lang')!r}>"
        assert editions.SITE["es"]["title"] in soup.title.get_text(), f"{page}: title {soup.title.get_text()!r}"
        assert editions.SITE["es"]["search"] in text, f"{page} does not offer its search in Spanish"
        assert "Del −max al softcap" in text


def test_the_switch_on_every_page_leads_to_the_same_page_in_the_other_edition(book, spanish_book):
    for language, root, pages in (("en", BUILD, book), ("es", BUILD / "es", spanish_book)):
        other = "es" if language == "en" else "en"
        for page, text in pages.items():
            switches = _soup(text).select("nav.softcap-languages")
            assert len(switches) == 1, f"{language} {page}: {len(switches)} language switches"
            current = switches[0].select_one("[aria-current]").get_text()
            assert current == editions.LANGUAGES[language], f"{language} {page} marks {current!r} as current"
            link = switches[0].select_one(f'a[hreflang="{other}"]')
            assert link is not None and not re.match(r"[a-z]+:|/", link["href"]), f"{language} {page}: {link}"
            target = ((root / page).parent / link["href"]).resolve()
            expected = ((BUILD / "es") if other == "es" else BUILD) / f"{page}.html"
            assert target == expected.resolve(), f"{language} {page}: the switch leads to {target}"


# What MyST leaves on a page when a translation broke its markup: a role, a fence, emphasis or a link not parsed.
RAW_MARKUP = re.compile(r"\{(term|glue|glue:text|ref|numref|doc|cite|cite:p|math|eq)\}`|```|^:::|\*\*\S|\]\(", re.M)


def _prose(soup):
    """The page's article without code cells, code, math and the bibliography: the text a translation wrote."""
    article = soup.select_one("article.bd-article")
    for junk in article.select("div.cell, pre, code, span.math, div.math, .MathJax, script, textarea, "
                               "[data-exercise], div.citation, dl.citation, .bibliography, nav.softcap-languages"):
        junk.decompose()
    return article


def test_no_markup_is_left_raw(edition):
    _, pages = edition
    for page, text in pages.items():
        prose = _prose(_soup(text)).get_text(" ")
        assert not RAW_MARKUP.search(prose), f"{page} shows raw markup: ...{prose[max(0, RAW_MARKUP.search(prose).start() - 60):][:140]}"


def _blocks(page_html):
    """Every paragraph, list item, heading, term, caption and table cell of the prose, whitespace collapsed."""
    article = _prose(_soup(page_html))
    for block in article.select("p, li, h1, h2, h3, h4, dt, dd, caption, th, td, figcaption, .admonition-title"):
        text = re.sub(r"\s+", " ", block.get_text(" ")).strip()
        if len(re.findall(r"[A-Za-zÁÉÍÓÚáéíóúñÑü]{3,}", text)) >= 4:
            yield text


def test_no_english_paragraph_is_left(book, spanish_book):
    """A block of prose of four words or more that reads the same on the Spanish page as on the English one was not
    translated."""
    left = []
    for page in toc_pages():
        english = set(_blocks(book[page]))
        left += [f"{page}: {text[:100]}" for text in _blocks(spanish_book[page]) if text in english]
    assert not left, "English text on the Spanish pages:\n" + "\n".join(left)


def _outputs(page_html):
    soup = _soup(page_html)
    return html.unescape(" ".join(div.get_text(" ") for div in soup.select("div.cell_output")))


def _phrases(template):
    """The literal pieces of a ``tr`` template of two words or more (what a reader would recognise as English)."""
    return [piece.strip() for piece in re.split(r"\{[^{}]*\}", template)
            if len(re.findall(r"[A-Za-z]{2,}", piece)) >= 2]


def test_the_code_prints_its_words_in_spanish(book, spanish_book):
    """Every English phrase of softcap_course/words.py that an English page's outputs show is gone from the Spanish
    page's outputs (where its translation differs), and each page with such phrases shows their translations."""
    problems = []
    for page in toc_pages():
        english, spanish = _outputs(book[page]), _outputs(spanish_book[page])
        shown = [(phrase, key) for key, translation in SPANISH.items() for phrase in _phrases(key)
                 if phrase in english and phrase not in translation]
        problems += [f"{page}: {phrase!r} (of {key!r})" for phrase, key in shown if phrase in spanish]
    assert not problems, "English words in the Spanish pages' outputs:\n" + "\n".join(problems)


def _figures(root, page_html):
    """The SHA-256 of every image a code cell of the page drew (a file, or inline data: an explorer's frames), in page
    order."""
    import base64

    def picture(src):
        if src.startswith("data:"):
            return base64.b64decode(src.partition(",")[2])
        return (root / "book" / src).resolve().read_bytes()

    return [hashlib.sha256(picture(img["src"])).hexdigest() for img in _soup(page_html).select("div.cell_output img")]


def test_every_figure_of_the_code_is_drawn_again_in_spanish(book, spanish_book):
    """The Spanish pages show as many figures as the English ones, each different (its words are Spanish)."""
    for page in toc_pages():
        english, spanish = _figures(BUILD, book[page]), _figures(BUILD / "es", spanish_book[page])
        assert len(english) == len(spanish), f"{page}: {len(english)} figures in English, {len(spanish)} in Spanish"
        same = [index for index, (a, b) in enumerate(zip(english, spanish)) if a == b]
        assert not same, f"{page}: figures {same} (0-based, in page order) are the English pictures"


def test_the_offline_copy_holds_both_editions(book):
    import zipfile

    with zipfile.ZipFile(BUILD / "softcap-course-site.zip") as bundle:
        names = set(bundle.namelist())
    for page in toc_pages():
        for folder in ("softcap-course/", "softcap-course/es/"):
            assert f"{folder}{page}.html" in names, f"the offline copy has no {folder}{page}.html"
