"""Publishing the book: the workflow is valid for GitHub Actions, every page links to its source, every chapter to its
graded notebook, the site has a sitemap and link cards, the offline copy holds the whole site, and `make publish`'s
ghp-import writes a gh-pages branch. (That the site works under a sub-path is tested in a browser: test_browser.py.)"""

import html
import os
import re
import struct
import subprocess
import zipfile

import yaml

import grading
from conftest import BUILD, toc_pages

WORKFLOW = grading.REPO / ".github" / "workflows" / "publish.yml"


def test_the_publish_workflow_is_valid_for_github_actions():
    """Validated offline against GitHub's workflow schema (the copy check-jsonschema ships with)."""
    result = subprocess.run([str(grading.BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_builds_with_make_book_and_deploys_that_folder_to_pages():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    build = workflow["jobs"]["build"]["steps"]
    assert any(step.get("run") == "make book" for step in build), "the site must be built as `make book` builds it"
    upload = next(step for step in build if str(step.get("uses", "")).startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads the key `on` as True


def test_the_repository_and_the_site_address_follow_the_environment(monkeypatch):
    """The workflow's SOFTCAP_REPOSITORY / SOFTCAP_BRANCH / SOFTCAP_BASEURL replace _config.yml's: a fork links to
    itself."""
    from types import SimpleNamespace

    from softcap_course.book import publish

    config = SimpleNamespace(html_theme_options={"repository_url": "https://github.com/a/b", "repository_branch": "main"},
                             html_baseurl="https://a.github.io/b")
    monkeypatch.setenv("SOFTCAP_REPOSITORY", "https://github.com/fork/course")
    monkeypatch.setenv("SOFTCAP_BRANCH", "spring")
    monkeypatch.setenv("SOFTCAP_BASEURL", "https://fork.github.io/course")
    publish._apply_location(None, config)
    assert config.html_theme_options["repository_url"] == "https://github.com/fork/course"
    assert config.html_theme_options["repository_branch"] == "spring"
    assert config.html_baseurl == config.ogp_site_url == "https://fork.github.io/course/"
    links = dict(publish.notebook_links("https://github.com/fork/course", "spring", "notebooks/01-softmax/01-softmax.ipynb"))
    assert links["Open in Colab (free GPU)"] == ("https://colab.research.google.com/github/fork/course/blob/spring/"
                                                 "notebooks/01-softmax/01-softmax.ipynb")


def _config():
    return yaml.safe_load((grading.REPO / "_config.yml").read_text())


def test_every_page_links_to_its_source_and_every_chapter_to_its_graded_notebook(book):
    repository = _config()["repository"]["url"]
    chapters = 0
    for page, text in book.items():
        links = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', text)]
        assert repository in links, f"{page} has no link to the repository"
        assert f"{repository}/edit/main/{page}.md" in links, f"{page} has no 'edit this page' link"
        assignment = page.rpartition("/")[2]
        if (grading.REPO / "notebooks" / assignment).is_dir():
            chapters += 1
            owner_and_name = repository.split("github.com/")[1]
            notebook = f"notebooks/{assignment}/{assignment}.ipynb"
            assert (f"https://colab.research.google.com/github/{owner_and_name}/blob/main/{notebook}" in links), (
                f"{page} does not offer its graded notebook in Colab")
            assert f"{repository}/blob/main/{notebook}" in links
    assert chapters == len(grading.assignments())


def test_the_sitemap_lists_every_page_under_the_sites_address_and_pages_carry_a_link_card(book):
    baseurl = _config()["html"]["baseurl"]
    sitemap = (BUILD / "sitemap.xml").read_text()
    listed = set(re.findall(r"<loc>([^<]+)</loc>", sitemap))
    for page in toc_pages():
        assert f"{baseurl}{page}.html" in listed, f"{page} is not in the sitemap"
        text = book[page]
        assert f'<meta property="og:image" content="{baseurl}_static/softcap-card.png"' in text, page
        assert re.search(r'<meta property="og:title" content="[^"]+"', text), page
    card = (BUILD / "_static" / "softcap-card.png").read_bytes()
    assert card[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", card[16:24]) == (1200, 630)


def test_the_offline_copy_holds_the_whole_site_and_the_introduction_links_to_it(book):
    archive = BUILD.parent / "softcap-course-site.zip"
    with zipfile.ZipFile(archive) as bundle:
        names = set(bundle.namelist())
    site = {f"softcap-course/{p.relative_to(BUILD)}" for p in BUILD.rglob("*")
            if p.is_file() and p.name != archive.name}
    assert site == names, f"missing {sorted(site - names)[:5]}, extra {sorted(names - site)[:5]}"
    assert any(name.endswith("pyodide.asm.wasm") for name in names)
    assert (BUILD / archive.name).read_bytes() == archive.read_bytes()
    assert f'href="{archive.name}"' in book["book/intro"] or f'href="../{archive.name}"' in book["book/intro"]
    print(f"offline copy: {archive.stat().st_size / 2**20:.1f} MiB, {len(names)} files")


def test_make_publish_writes_the_site_to_a_gh_pages_branch(tmp_path):
    """ghp-import as `make publish` calls it, without --push: the branch holds the site and .nojekyll (so that
    _static/ and _sources/ are served)."""
    site = tmp_path / "html"
    (site / "_static").mkdir(parents=True)
    (site / "index.html").write_text("<p>the book</p>")
    (site / "_static" / "pyodide.asm.wasm").write_bytes(b"\0asm")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True, env=env)
    subprocess.run([str(grading.BIN / "ghp-import"), "--no-jekyll", "--no-history", "--force", "--message", "book",
                    str(site)], cwd=tmp_path, check=True, env=env, timeout=60)
    files = subprocess.run(["git", "ls-tree", "-r", "--name-only", "gh-pages"], cwd=tmp_path, capture_output=True,
                           text=True, check=True).stdout.split()
    assert sorted(files) == [".nojekyll", "_static/pyodide.asm.wasm", "index.html"]
    makefile = (grading.REPO / "Makefile").read_text()
    assert re.search(r"^publish: book\n\t\$\(BIN\)/ghp-import --no-jekyll .*--push .*_build/html$", makefile, re.M)


def _colab_cells():
    cells = {}
    for assignment in grading.assignments():
        for step in ("solutions", "notebooks"):
            notebook = grading.read_notebook(grading.notebook_path(step, assignment))
            code = [cell for cell in notebook.cells if cell.cell_type == "code"]
            assert grading.nbgrader_meta(code[0]).get("grade_id") == "colab_setup", f"{step}/{assignment}"
            cells[f"{step}/{assignment}"] = code[0].source
    return cells


def test_every_notebooks_first_code_cell_is_the_same_colab_set_up_naming_the_books_repository():
    cells = _colab_cells()
    assert len(set(cells.values())) == 1, "the set-up cells differ"
    source = next(iter(cells.values()))
    assert f'"git+{_config()["repository"]["url"]}"' in source, "the cell installs from another repository"


def test_the_colab_cell_installs_the_helper_package_into_a_clean_python(tmp_path):
    """The cell run as Colab runs it (google.colab imported), in a fresh virtual environment holding only NumPy (Colab
    has it, and PyTorch), against a local copy of the repository: afterwards the checks import from the installed
    package and work. Without google.colab it installs nothing."""
    import sys

    import numpy

    source = next(iter(_colab_cells().values()))
    copy = tmp_path / "course"
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", f"file://{grading.REPO}", str(copy)], check=True,
                   timeout=120)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", f"numpy=={numpy.__version__}"], check=True,
                   timeout=600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["SOFTCAP_COURSE_SOURCE"] = str(copy)
    probe = ("import importlib.util, sys; print(importlib.util.find_spec('softcap_course') is not None)")

    def run(code):
        return subprocess.run([python, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)

    elsewhere = run(source + "\n" + probe)
    assert elsewhere.returncode == 0 and elsewhere.stdout.strip() == "False", elsewhere.stderr
    in_colab = run("import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n" + source)
    assert in_colab.returncode == 0, in_colab.stdout + in_colab.stderr
    check = run("import softcap_course, softcap_course.checks as checks\n"
                "checks.expect_call(lambda x: x * 2, 1.5, expected=3.0)\n"
                "print(softcap_course.__file__)")
    assert check.returncode == 0 and str(venv) in check.stdout, check.stdout + check.stderr
