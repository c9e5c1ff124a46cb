"""The Spanish edition's catalogs stay in step with the English pages (softcap_course/book/editions.py).

An English edit that is not carried into book/locales/es fails here: the messages are extracted again and
``sphinx-intl update`` must leave every catalog as it is; no entry may be untranslated or fuzzy
(``sphinx-intl stat`` and our own count); and a translation keeps the markup of its English (roles with their
targets, math, inline code, links), so that the Spanish build has the same references and formulas.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from softcap_course.book import editions

REPO = Path(__file__).resolve().parents[1]
CATALOGS = REPO / editions.LOCALES / "es" / "LC_MESSAGES" / "book"


def toc_pages():
    import yaml

    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    return [toc["root"]] + [entry["file"] for entry in toc.get("chapters", [])]


def test_every_page_has_a_spanish_catalog():
    assert sorted(p.stem for p in CATALOGS.glob("*.po")) == sorted(Path(page).name for page in toc_pages())


def test_the_catalogs_are_in_step_with_the_english_pages():
    changed = editions.catalog_changes("es")
    assert not changed, (f"the English text of {changed} changed and the Spanish catalogs were not updated: run "
                         "`python -m softcap_course.book.editions --update-catalogs` and translate the new entries")


def test_no_entry_is_untranslated_or_fuzzy():
    result = subprocess.run([str(Path(sys.executable).parent / "sphinx-intl"), "stat", "-d",
                             str(REPO / editions.LOCALES), "-l", "es"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in result.stdout.splitlines():
        assert re.search(r": \d+ translated, 0 fuzzy, 0 untranslated\.$", line), line
    for path in CATALOGS.glob("*.po"):
        with open(path, "rb") as handle:
            messages = [m for m in read_po(handle) if m.id]
        assert messages and all(m.string and not m.fuzzy for m in messages), path.name


def test_every_translation_keeps_the_markup_of_its_english():
    problems = [problem for path in sorted(CATALOGS.glob("*.po")) for problem in editions.catalog_problems(path)]
    assert not problems, "\n".join(problems[:20])


def _catalog(tmp_path, entries):
    text = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n' + "".join(
        f'{"#, fuzzy" + chr(10) if fuzzy else ""}msgid "{english}"\nmsgstr "{spanish}"\n\n'
        for english, spanish, fuzzy in entries)
    path = tmp_path / "page.po"
    path.write_text(text, encoding="utf8")
    return path


@pytest.mark.parametrize("spanish, kind", [
    ("Un {term}`logit` con $x_i$ y `exp`.", None),
    ("Un {term}`logit <logit>` con $x_i$ y `exp`.", None),
    ("Un logit con $x_i$ y `exp`.", "roles"),  # the glossary reference lost
    ("Un {term}`logit <softmax>` con $x_i$ y `exp`.", "roles"),  # another target
    ("Un {term}`logit` con $x_j$ y `exp`.", "math"),
    ("Un {term}`logit` con $x_i$ y `exponencial`.", "code"),
    ("", "untranslated"),
])
def test_the_markup_check_names_what_a_translation_lost(tmp_path, spanish, kind):
    path = _catalog(tmp_path, [("A {term}`logit` with $x_i$ and `exp`.", spanish, False)])
    problems = editions.catalog_problems(path)
    if kind is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(kind), problems


def test_a_fuzzy_entry_is_a_problem(tmp_path):
    assert editions.catalog_problems(_catalog(tmp_path, [("Recap", "Resumen", True)]))[0].startswith("fuzzy")


def test_an_english_edit_is_caught(tmp_path):
    """A copy of the book with one English sentence changed: its catalogs are no longer in step."""
    copy = tmp_path / "book-copy"
    copy.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, copy / name)
    shutil.copytree(REPO / "book", copy / "book")
    page = copy / "book" / "intro.md"
    page.write_text(page.read_text(encoding="utf8").replace("Every language model ends the same way",
                                                            "Every language model ends alike", 1), encoding="utf8")
    assert editions.catalog_changes("es", root=copy) == ["es/LC_MESSAGES/book/intro.po"]


# ------------------------------------------------------------------------- the words the pages' code prints and draws


def _tr_texts(source):
    """The literal first argument of every ``tr("...")`` call in Python ``source``."""
    import ast

    texts = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "tr" \
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            texts.append(node.args[0].value)
    return texts


def _code_cells(page):
    """The source of every code cell of a MyST page (its option lines and YAML block left out)."""
    cells = re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```$", page.read_text(encoding="utf8"), flags=re.S | re.M)
    return [re.sub(r"\A(---\n.*?\n---\n|(:[a-z_-]+:[^\n]*\n)+)", "", cell, flags=re.S) for cell in cells]


def _sources():
    """(name, Python source) of every page's code cells and of every package module that writes through ``tr``."""
    for page in toc_pages():
        for index, cell in enumerate(_code_cells(REPO / f"{page}.md")):
            yield f"{page} cell {index + 1}", cell
    for module in sorted((REPO / "softcap_course").rglob("*.py")):
        if module.name != "words.py":
            yield str(module.relative_to(REPO)), module.read_text(encoding="utf8")


def test_every_word_the_code_writes_has_its_spanish():
    """Each ``tr("...")`` of the pages and the package has an entry (the Spanish build would stop at it), with the
    same format fields, and no entry is left that no source writes any more."""
    from softcap_course.words import SPANISH

    fields = re.compile(r"\{[^{}]*\}")
    written, missing = set(), []
    for name, source in _sources():
        for text in _tr_texts(source):
            written.add(text)
            if text not in SPANISH:
                missing.append(f"{name}: {text!r}")
            elif fields.findall(text) != fields.findall(SPANISH[text]):
                missing.append(f"{name}: {text!r} -> {SPANISH[text]!r} has other format fields")
    assert not missing, "softcap_course/words.py lacks:\n" + "\n".join(missing)
    everything = "\n".join(source for _, source in _sources()) + (REPO / "softcap_course" / "examples.py").read_text()
    unused = [text for text in SPANISH if text not in written and text not in everything]
    assert not unused, f"entries of softcap_course/words.py that no code writes: {unused}"


def test_tr_is_english_as_written_and_spanish_from_the_table(monkeypatch):
    from softcap_course import words

    text = next(iter(words.SPANISH))
    monkeypatch.setattr(words, "LANGUAGE", "en")
    assert words.tr("anything at all {}", 3) == "anything at all 3"
    monkeypatch.setattr(words, "LANGUAGE", "es")
    assert words.tr(text) == words.SPANISH[text]
    with pytest.raises(KeyError, match="no 'es' translation of 'a sentence nobody wrote'"):
        words.tr("a sentence nobody wrote")
    monkeypatch.setattr(words, "LANGUAGE", "fr")
    with pytest.raises(ValueError, match="no words in language 'fr'"):
        words.tr(text)
