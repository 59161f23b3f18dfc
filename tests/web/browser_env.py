"""Headless Debian Chromium for the browser tests (one set of options; a phone via mobile emulation)."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PHONE = {"width": 390, "height": 844, "pixelRatio": 2}
HAVE_CHROMIUM = Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


def chrome(profile: Path, *, phone: bool = False, window: str = "1280,1600"):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--window-size={window}", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    if phone:
        opts.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.implicitly_wait(5)
    return driver


def submit_and_wait(driver, action, *, timeout: float = 15) -> None:
    """Run ``action`` (a click or a key press that submits a form) and wait for the page it loads.

    Waiting for an element of the new page alone races the old one: the old page's notice still
    matches until the browser swaps documents, and reading it then raises StaleElementReference
    (seen in CI on PostgreSQL, where the POST takes longer). The old document going stale is the
    one signal that the new page has replaced it.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    action()
    WebDriverWait(driver, timeout).until(EC.staleness_of(old))
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return document.readyState") == "complete")
