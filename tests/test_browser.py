"""The explorers in a real browser: headless Chromium opens the built chapter pages (served by a local
http.server, no kernel), moves every slider, and checks that the picture on the screen changed.

Screenshots go to _build/screenshots/. Without /usr/bin/chromium and /usr/bin/chromedriver the test is skipped
locally, and fails in CI (CI=true), where `.ci/run` installs Debian's chromium and chromium-driver first.
"""

import functools
import http.server
import os
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import BUILD

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
                 "--window-size=1400,1000", f"--user-data-dir={profile.name}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
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
