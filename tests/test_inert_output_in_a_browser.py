"""Feedback and student output opened where an instructor and a student open it, in headless Chromium: the feedback page, and the
formgrader's view of the submission (served by a Jupyter server with nbgrader's formgrader, as an instructor runs
it). A submission that displays scripts (a <script>, an onerror handler, a Javascript output, Markdown with both)
runs none of them there, and the page fetches nothing but its own server's files.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import grading
from softcap_course.grading import classroom
from test_browser import driver  # noqa: F401 (the fixture)
from test_hostile_submissions import ASSIGNMENT, DISPLAYS_A_SCRIPT, SCRIPT_MARKER


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = grading.make_course(tmp_path_factory.mktemp("inert"), [ASSIGNMENT])
    grading.enrol(root, ["scripted"])
    reference = grading.solution_sources(ASSIGNMENT)
    grading.autograde(root, ASSIGNMENT, {"scripted": grading.submission(ASSIGNMENT, {**reference,
                                                                                     "naive_softmax": DISPLAYS_A_SCRIPT})})
    classroom.run_nbgrader(root, "generate_feedback", ASSIGNMENT, "--force")
    return root


def _requests(browser):
    """Every URL the page asked for since the last call (Chromium's performance log)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_the_feedback_page_runs_no_student_script(graded, driver):  # noqa: F811
    page = graded / "feedback" / "scripted" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    driver.get_log("performance")
    driver.get(page.as_uri())
    time.sleep(2)
    assert SCRIPT_MARKER not in driver.title
    assert "look" in driver.page_source  # the harmless part is shown
    fetched = [url for url in _requests(driver) if not url.startswith(("data:", "chrome://", page.as_uri()))]
    assert fetched == [], fetched
    # The notebook's math is drawn offline (MathML), not left as raw $...$ waiting for a MathJax from the network.
    drawn = driver.execute_script("return Array.from(document.querySelectorAll('math'))"
                                  ".filter(m => m.getBoundingClientRect().width > 0).length")
    assert drawn >= 3, drawn


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def formgrader(graded):
    """A Jupyter server with nbgrader's formgrader in the course, as an instructor starts it."""
    port, token = _free_port(), secrets.token_hex(16)
    server = subprocess.Popen([str(grading.BIN / "jupyter"), "server", "--no-browser", f"--port={port}",
                               "--ServerApp.ip=127.0.0.1", "--allow-root", f"--IdentityProvider.token={token}",
                               f"--ServerApp.root_dir={graded}",
                               "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}"],
                              cwd=graded, env=dict(classroom.tool_env(), HOME=str(graded)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                time.sleep(0.5)
        else:
            server.kill()
            pytest.fail(f"the Jupyter server did not start: {server.stderr.read()[-3000:]}")
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_the_formgrader_view_of_the_submission_runs_no_student_script(graded, formgrader, driver):  # noqa: F811
    base, token = formgrader
    with classroom.gradebook(graded) as book:
        notebook_id = book.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "scripted").id
    driver.get(f"{base}/?token={token}")  # logs in (a cookie for the server)
    driver.get_log("performance")
    driver.get(f"{base}/formgrader/submissions/{notebook_id}/")
    time.sleep(3)
    assert "look" in driver.page_source, driver.page_source[:2000]  # the submission is shown
    assert SCRIPT_MARKER not in driver.title, driver.title
    fetched = [url for url in _requests(driver) if not url.startswith((base, "data:"))]
    # The formgrader's own page asks for MathJax on its CDN (nbgrader's template; this browser resolves no host):
    # nothing else leaves the server, and nothing the student wrote is fetched.
    assert all("/mathjax/" in url.lower() for url in fetched), fetched
