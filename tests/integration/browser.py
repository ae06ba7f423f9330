"""A real browser for the tests: Debian's headless Chromium driven by selenium through
Debian's chromium-driver (no driver download: this machine has no internet)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"


@contextlib.contextmanager
def chromium(lang: str = "zh-CN") -> Iterator[WebDriver]:
    if not (shutil.which(CHROMIUM) and shutil.which(DRIVER)):
        pytest.fail("Debian's chromium and chromium-driver are needed (.ci/run installs them)")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--lang={lang}",
    ):
        options.add_argument(argument)
    # --lang alone no longer sets Accept-Language in headless Chromium (156): the pages
    # pick their language from that header
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    # the platform's own CA signs the hub's certificate; the browser is not told of it
    options.accept_insecure_certs = True
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(driver: WebDriver, hub_url: str, username: str, password: str) -> None:
    """The hub's sign-in form, as a person fills it; waits for where it leads."""
    # the last person's cookies go, all of them: WebDriver's delete_all_cookies only
    # reaches those the current page sees, and the hub's (/hub/) and the service's
    # (/services/shuyu/) live under their own paths
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get(f"{hub_url}/hub/login")
    driver.find_element(By.ID, "username_input").send_keys(username)
    driver.find_element(By.ID, "password_input").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
    WebDriverWait(driver, 60).until(
        lambda d: (
            "/hub/login" not in d.current_url
            and d.execute_script("return document.readyState") == "complete"
        )
    )


def wait_for_text(driver: WebDriver, text: str, seconds: float = 60) -> None:
    """Wait for `text` on the page; if it never comes, say what the page was instead."""
    try:
        WebDriverWait(driver, seconds).until(
            expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "body"), text)
        )
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body").text[:1500]
        pytest.fail(f"{text!r} not on {driver.current_url} within {seconds} s; it shows:\n{body}")
