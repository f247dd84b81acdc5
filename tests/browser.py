"""Browser tests' helpers: headless Chromium (the distribution's) driven by Playwright.

``.ci/run`` installs Chromium when it is missing and sets ``PIPL_REQUIRE_BROWSER=1``, so
there a missing browser fails the tests instead of skipping them.
Set ``PIPL_SCREENSHOTS=1`` to refresh the screenshots in ``docs/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        if os.environ.get("PIPL_REQUIRE_BROWSER"):
            pytest.fail("no Chromium on this machine: install the 'chromium' package")
        pytest.skip("no Chromium on this machine (install the 'chromium' package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield chrome
        chrome.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page, 1280x800."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def screenshot(tab: Any, name: str) -> None:
    """Keep a picture of the page in docs/screenshots when PIPL_SCREENSHOTS=1."""
    if os.environ.get("PIPL_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(tab: Any, url: str, user: str, password: str) -> None:
    tab.goto(f"{url}/login")
    tab.fill("input[name=user]", user)
    tab.fill("input[name=password]", password)
    tab.click("button[type=submit]")
    tab.wait_for_selector("#user")
