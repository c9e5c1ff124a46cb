"""The book in a real browser: headless Chromium opens the built pages (served by a local http.server, no kernel).
It moves every slider of the explorers and checks that the picture on the screen changed, it lays out every
page at several window widths and checks that nothing is cut off or pushed sideways: no equation wider than the
text column, no horizontal scrollbar except in code cells, and it runs the "Try it here" exercises of chapters 1-5
in Pyodide: typed answers pass or fail with their message, an endless loop is stopped, nothing comes from another
site (Chromium resolves no host but 127.0.0.1), and the time from page load to the first result is measured.

Screenshots go to _build/screenshots/. Without /usr/bin/chromium and /usr/bin/chromedriver the test is skipped
locally, and fails in CI (CI=true), where `.ci/run` installs Debian's chromium and chromium-driver first.
"""

import functools
import http.server
import json
import os
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import BUILD, toc_pages

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = BUILD.parent / "screenshots"

PAGES = [("book/04-temperature", ["temperature T"]), ("book/05-softcap", ["cap", "logit scale"])]


@pytest.fixture(scope="module")
def driver():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        message = (f"{' and '.join(missing)} not found: install Debian's chromium and chromium-driver "
                   "(`apt-get install -y chromium chromium-driver`, as .ci/run does) to run the browser tests")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", f"--user-data-dir={profile.name}",
                 # No other site exists for this browser: a request anywhere but the local server fails.
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield browser
    browser.quit()
    profile.cleanup()


@pytest.fixture(scope="module")
def site(book):
    """The built book served on localhost by a thread of this test (the explorers need no server logic)."""
    handler = functools.partial(QuietHandler, directory=str(BUILD))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _image_state(browser, image):
    """The picture as the browser shows it: its data URL, whether it decoded, and its pixels as a PNG."""
    loaded = browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0;", image)
    return image.get_attribute("src"), loaded, image.screenshot_as_png


@pytest.mark.parametrize(("page", "slider_names"), PAGES, ids=[p for p, _ in PAGES])
def test_moving_each_slider_changes_the_picture(driver, site, page, slider_names):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = page.split("/")[-1]
    driver.get(f"{site}/{page}.html")
    explorer = WebDriverWait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "div.static-explorer"))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", explorer)
    image = explorer.find_element(By.CSS_SELECTOR, "img.explorer-frame")
    WebDriverWait(driver, 30).until(lambda d: _image_state(d, image)[1])
    sliders = explorer.find_elements(By.CSS_SELECTOR, "input.explorer-slider")
    values = explorer.find_elements(By.CSS_SELECTOR, "output.explorer-value")
    assert [s.get_attribute("aria-label") for s in sliders] == slider_names
    driver.save_screenshot(str(SCREENSHOTS / f"{name}-initial.png"))

    for index, slider in enumerate(sliders):
        src_before, _, pixels_before = _image_state(driver, image)
        position_before, label_before = slider.get_attribute("value"), values[index].text
        # Keyboard, as a reader would: focus the slider and step it towards whichever end is further away.
        driver.execute_script("arguments[0].focus();", slider)
        key = Keys.ARROW_LEFT if int(position_before) > int(slider.get_attribute("max")) // 2 else Keys.ARROW_RIGHT
        slider.send_keys(key, key, key)
        WebDriverWait(driver, 10).until(lambda d: image.get_attribute("src") != src_before)
        src_after, loaded, pixels_after = _image_state(driver, image)
        assert slider.get_attribute("value") != position_before, f"{name}: slider {slider_names[index]} did not move"
        assert values[index].text != label_before, f"{name}: the value shown next to {slider_names[index]} did not change"
        assert loaded, f"{name}: the new frame did not decode"
        assert pixels_after != pixels_before, f"{name}: moving {slider_names[index]} left the picture on screen unchanged"
        driver.save_screenshot(str(SCREENSHOTS / f"{name}-after-{slider_names[index].replace(' ', '-')}.png"))

    # The theme's own noise is not ours: Jupyter Book 1 declares THEBE_JS_URL twice on every page, and
    # http.server has no favicon. MathJax 2's HTML-CSS output probes font loading with a "MathJax_Blank" font at
    # about:blank, which Chromium reports as a CORS error. Anything else (an error in the explorer's script) fails.
    theme_noise = ("THEBE_JS_URL", "Failed to load resource", "theme mode", "Access to font at 'about:blank'")
    errors = [entry["message"] for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE" and not any(noise in entry["message"] for noise in theme_noise)]
    assert not errors, f"{name}: JavaScript errors in the page: {errors}"


# Window widths every page must fit: a laptop with the sidebars open, and a narrow window where the theme collapses
# the left sidebar (below 960 px).
WIDTHS = (1280, 800)

# Everything that is wrong with the layout of the page on the screen, as a JSON list of sentences. The text column is
# the content box of the theme's <article class="bd-article">. MathJax 2's HTML-CSS output puts each formula in a
# span.MathJax (inside a div.MathJax_Display for display math, inside Sphinx's div.math); the formula's own width is
# the scrollWidth of those boxes, which counts what a box with overflow: hidden cuts off. A horizontal scrollbar is a
# box with overflow-x auto/scroll whose content is wider than the box. In code cells (div.cell) a wide table of
# numbers may scroll, but a line of code or of printed output (a <pre>) must fit: its end would be cut off at the
# column's edge, and the book keeps those lines within 80 characters (tests/test_book.py) for that reason.
LAYOUT_PROBLEMS_JS = r"""
const problems = [];
const text = el => Array.from((el.textContent || "").trim().replace(/\s+/g, " ")).slice(0, 60).join("");
const name = el => `<${el.tagName.toLowerCase()} class="${el.getAttribute("class") || ""}">`;
const page = document.documentElement;
if (page.scrollWidth > page.clientWidth + 1) {
  problems.push(`the whole page scrolls sideways: ${page.scrollWidth} px of content in ${page.clientWidth} px`);
}
const article = document.querySelector("article.bd-article");
if (!article) return JSON.stringify(["no <article class='bd-article'> on the page"]);
const box = article.getBoundingClientRect(), style = getComputedStyle(article);
const left = box.left + parseFloat(style.paddingLeft), right = box.right - parseFloat(style.paddingRight);
const column = right - left;
const reported = [];  // one message per formula, for its outermost box
for (const el of article.querySelectorAll("div.math, .MathJax_Display, .MathJax, .MathJax span.math")) {
  if (!el.getClientRects().length || reported.some(outer => outer.contains(el))) continue;  // hidden, or told already
  const r = el.getBoundingClientRect();
  const width = Math.max(r.width, el.scrollWidth);
  if (width > column + 1) {
    problems.push(`math ${Math.round(width)} px wide in a ${Math.round(column)} px column (${name(el)}): ${text(el)}`);
    reported.push(el);
  } else if (!el.closest("div.cell") && (r.left < left - 1 || r.left + width > right + 1)) {
    problems.push(`math sticks out of the column, ${Math.round(r.left - left)} to ${Math.round(r.left + width - left)} px `
                  + `of ${Math.round(column)} (${name(el)}): ${text(el)}`);
    reported.push(el);
  }
}
for (const pre of article.querySelectorAll("div.cell pre")) {
  if (pre.getClientRects().length && pre.scrollWidth > pre.clientWidth + 1) {
    const longest = (pre.textContent || "").split("\n").reduce((a, b) => (b.length > a.length ? b : a), "");
    problems.push(`a code or output line is cut off (${pre.scrollWidth} px in ${pre.clientWidth} px): ${longest.slice(0, 90)}`);
  }
}
for (const el of document.body.querySelectorAll("*")) {
  const overflow = getComputedStyle(el).overflowX;
  const scrolls = overflow === "scroll" || (["auto", "overlay"].includes(overflow) && el.scrollWidth > el.clientWidth + 1);
  if (scrolls && !el.closest("div.cell") && !reported.includes(el)) {
    problems.push(`horizontal scrollbar on ${name(el)} (${el.scrollWidth} px of content in ${el.clientWidth} px): ${text(el)}`);
  }
}
return JSON.stringify(problems);
"""


def _wait_for_mathjax(browser):
    """Block until MathJax 2 has typeset the page (formulas have their final size only then)."""
    from selenium.webdriver.support.ui import WebDriverWait

    has_math = browser.execute_script("return document.querySelector('script[src*=\"MathJax.js\"]') !== null;")
    if not has_math:
        return
    WebDriverWait(browser, 60).until(lambda d: d.execute_script("return !!(window.MathJax && MathJax.Hub);"))
    browser.set_script_timeout(120)
    browser.execute_async_script("const done = arguments[arguments.length - 1]; MathJax.Hub.Queue(() => done(true));")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", toc_pages() + [f"es/{page}" for page in toc_pages()])
def test_every_page_fits_the_window(driver, site, page, width):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = ("es-" if page.startswith("es/") else "") + page.split("/")[-1]
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(width, 1000)
    try:
        # Headless Chromium resizes asynchronously: the new width can take a moment to reach the page.
        try:
            WebDriverWait(driver, 10).until(lambda d: d.execute_script("return window.innerWidth;") == width)
        except TimeoutException:
            pytest.fail(f"the window did not take the width asked for: {width} px asked, "
                        f"{driver.execute_script('return window.innerWidth;')} px after 10 s")
        driver.get(f"{site}/{page}.html")
        _wait_for_mathjax(driver)
        problems = json.loads(driver.execute_script(LAYOUT_PROBLEMS_JS))
        driver.save_screenshot(str(SCREENSHOTS / f"layout-{name}-{width}px.png"))
    finally:
        driver.set_window_size(1400, 1000)
    assert not problems, f"{name} at {width} px:\n" + "\n".join(problems)



# ------------------------------------------------------------------------------------------- "Try it here" exercises

EXERCISE_PAGES = {f"book/0{chapter}-{slug}": chapter for chapter, slug in
                  [(1, "softmax"), (2, "logsumexp"), (3, "cross-entropy"), (4, "temperature"), (5, "softcap")]}
TIMINGS = BUILD.parent / "browser-timings.json"


def _type_and_run(driver, box, code, timeout=120, verdicts=("passed", "failed")):
    """Set the textarea's value and dispatch ``input`` (the DOM contract), click Run, wait for passed/failed (the
    words of the page's language: ``verdicts``)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    textarea = box.find_element(By.TAG_NAME, "textarea")
    driver.execute_script("arguments[0].value = arguments[1];"
                          "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));", textarea, code)
    box.find_element(By.CSS_SELECTOR, "button").click()  # the first button runs
    result = box.find_element(By.CSS_SELECTOR, '[data-role="result"]')
    WebDriverWait(driver, timeout).until(lambda d: result.text.startswith(verdicts))
    return result.text


def _fresh(driver, url):
    """``url`` as a first-time reader gets it: what its site kept in the browser (the exercises' code) is cleared
    first, through the DevTools protocol (no page load: each costs a few CPU-seconds of MathJax)."""
    from urllib.parse import urlsplit

    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "local_storage"})
    driver.get(url)


def _requests(driver):
    """Every URL the page and its workers asked for since the last call (Chromium's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


@pytest.mark.parametrize("page", sorted(EXERCISE_PAGES))
def test_every_exercise_passes_a_right_answer_and_fails_a_wrong_one_in_the_browser(driver, site, page):
    """Each box of the page, in Pyodide: the first right answer of tests/test_exercises.py passes, the first wrong
    one fails with the same call and hint as in CPython. The first result's time from page load is recorded."""
    from selenium.webdriver.common.by import By

    from softcap_course.exercises import EXERCISES
    from test_exercises import CORRECT, WRONG

    _requests(driver)  # forget the requests of earlier tests
    _fresh(driver, f"{site}/{page}.html")
    boxes = driver.find_elements(By.CSS_SELECTOR, "[data-exercise]")
    names = [box.get_attribute("data-exercise") for box in boxes]
    assert sorted(names) == sorted(n for n, t in EXERCISES.items() if t.chapter == EXERCISE_PAGES[page])
    first = None
    for box, name in zip(boxes, names):
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
        assert box.find_element(By.TAG_NAME, "textarea").get_attribute("value") == EXERCISES[name].stub
        verdict = _type_and_run(driver, box, CORRECT[name][0])
        if first is None:
            first = driver.execute_script("return performance.now();")  # ms since this page's navigation began
        assert verdict.startswith("passed"), f"{page} {name}: {verdict}"
        label, code, call, hint = WRONG[name][0]
        verdict = _type_and_run(driver, box, code)
        assert verdict.startswith("failed") and call in verdict and hint in verdict, f"{page} {name} {label}: {verdict}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"exercises-{page.split('/')[-1]}.png"))
    timings = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    timings[page] = {"page_load_to_first_result_s": round(first / 1000, 2)}
    TIMINGS.write_text(json.dumps(timings, indent=2) + "\n")
    print(f"{page}: page load to first exercise result {first / 1000:.2f} s")
    # The browser's own pages (chrome://) are not the network; every http(s) or ws(s) request must be to the book.
    foreign = [url for url in _requests(driver) if url.startswith(("http", "ws")) and not url.startswith(site)]
    assert not foreign, f"{page} asked another site for {foreign}"


def test_a_spanish_page_runs_its_exercises_in_spanish_and_its_switch_goes_both_ways(driver, site):
    """Chapter 1 in Spanish: the box shows the Spanish stub and buttons, a right answer is "correcto", a wrong one
    "incorrecto" with the Spanish hint; the switch leads to the English page and back."""
    from selenium.webdriver.common.by import By

    from softcap_course.exercises import exercise_stub, run_exercise
    from test_exercises import CORRECT, WRONG

    _fresh(driver, f"{site}/es/book/01-softmax.html")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    box = driver.find_element(By.CSS_SELECTOR, '[data-exercise="softmax"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    assert box.find_element(By.TAG_NAME, "textarea").get_attribute("value") == exercise_stub("softmax", "es")
    assert box.find_element(By.CSS_SELECTOR, "button").text == "Ejecutar"
    spanish = ("correcto", "incorrecto")
    verdict = _type_and_run(driver, box, CORRECT["softmax"][0], verdicts=spanish)
    assert verdict.startswith("correcto"), verdict
    label, code, call, hint = WRONG["softmax"][0]
    verdict = _type_and_run(driver, box, code, verdicts=spanish)
    # The same call and the same Spanish hint as in CPython (tests/test_exercises.py checks those words there).
    expected_hint = run_exercise("softmax", code, language="es").split("\n  pista: ", 1)[1]
    assert verdict.startswith("incorrecto") and call in verdict and f"pista: {expected_hint}" in verdict, \
        f"{label}: {verdict}"
    for language, url in (("en", f"{site}/book/01-softmax.html"), ("es", f"{site}/es/book/01-softmax.html")):
        link = driver.find_element(By.CSS_SELECTOR, f'nav.softcap-languages a[hreflang="{language}"]')
        driver.execute_script("window.scrollTo(0, 0);")  # where a reader finds the switch, below the header
        link.click()
        assert driver.current_url == url, driver.current_url
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == language


def test_an_endless_loop_is_stopped_with_a_message_and_the_next_run_works(driver, site):
    from selenium.webdriver.common.by import By

    from test_exercises import CORRECT

    _fresh(driver, f"{site}/book/01-softmax.html")
    box = driver.find_element(By.CSS_SELECTOR, '[data-exercise="softmax"]')
    verdict = _type_and_run(driver, box, "def softmax(logits):\n    while True:\n        pass\n")
    assert verdict.startswith("failed: stopped after 5 s") and "endless loop" in verdict, verdict
    assert _type_and_run(driver, box, CORRECT["softmax"][0]).startswith("passed")


def test_the_code_is_kept_in_the_browser_and_reset_brings_the_stub_back(driver, site):
    from selenium.webdriver.common.by import By

    from softcap_course.exercises import EXERCISES

    url = f"{site}/book/02-logsumexp.html"
    _fresh(driver, url)
    box = driver.find_element(By.CSS_SELECTOR, '[data-exercise="logsumexp"]')
    _type_and_run(driver, box, "def logsumexp(logits):\n    return 0.0  # my attempt\n")
    driver.get(url)
    box = driver.find_element(By.CSS_SELECTOR, '[data-exercise="logsumexp"]')
    textarea = box.find_element(By.TAG_NAME, "textarea")
    assert "# my attempt" in textarea.get_attribute("value")
    box.find_element(By.CSS_SELECTOR, 'button[data-role="reset"]').click()
    assert textarea.get_attribute("value") == EXERCISES["logsumexp"].stub
    driver.get(url)
    assert driver.find_element(By.CSS_SELECTOR, '[data-exercise="logsumexp"] textarea').get_attribute("value") == \
        EXERCISES["logsumexp"].stub


class ProjectSiteHandler(QuietHandler):
    """The site as GitHub Pages serves a project site: under /softcap-course/ (https://<owner>.github.io/<repo>/),
    nothing at the server's root, and Pyodide's files with the types Pages sends for them."""

    PREFIX = "/softcap-course/"
    extensions_map = {**QuietHandler.extensions_map, ".wasm": "application/wasm", ".mjs": "text/javascript"}

    def translate_path(self, path):
        if not path.startswith(self.PREFIX):
            return str(BUILD / "does-not-exist")  # a 404: a link that assumed the site is at the root
        return super().translate_path("/" + path[len(self.PREFIX):])


def test_the_site_works_under_a_sub_path_as_github_pages_serves_it(driver, book):
    """Every page loads with all its files from under the sub-path (no 404), and a Try-it box runs in Pyodide."""
    from selenium.webdriver.common.by import By

    from test_exercises import CORRECT

    handler = functools.partial(ProjectSiteHandler, directory=str(BUILD))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/softcap-course"
    try:
        driver.get_log("performance")  # forget earlier tests' requests
        for page in toc_pages():
            driver.get(f"{base}/{page}.html")
        driver.get(f"{base}/")  # the site's front door redirects to the introduction
        assert driver.current_url.endswith("/softcap-course/book/intro.html"), driver.current_url
        _fresh(driver, f"{base}/book/01-softmax.html")
        box = driver.find_element(By.CSS_SELECTOR, '[data-exercise="softmax"]')
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
        assert _type_and_run(driver, box, CORRECT["softmax"][0]).startswith("passed")
        failed = []
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.responseReceived":
                response = message["params"]["response"]
                # (Chromium asks every host for /favicon.ico by itself: not a link of the site.)
                if response["status"] >= 400 and not response["url"].endswith(f"{server.server_address[1]}/favicon.ico"):
                    failed.append(f"{response['status']} {response['url']}")
        assert not failed, "not found under the sub-path:\n" + "\n".join(failed)
        # Pyodide's runtime came with the types a browser requires of a module and of WebAssembly (the worker that
        # loaded them ran the box above).
        types = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "Promise.all(['pyodide.asm.wasm', 'pyodide.mjs'].map(name => fetch('../_static/pyodide/' + name)"
            ".then(r => r.headers.get('content-type')))).then(done);")
        assert types == ["application/wasm", "text/javascript"], types
    finally:
        server.shutdown()
        server.server_close()
