"""Fixtures the browser tests share: one headless Chromium per module and the screenshot dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from tests.ui.test_browser import DRIVER

    opts = webdriver.ChromeOptions()
    # Its own profile directory: Chromium's default one would be left in $TMPDIR.
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    d = webdriver.Chrome(service=webdriver.ChromeService(DRIVER), options=opts)
    d.implicitly_wait(0)
    yield d
    d.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = Path(os.environ.get("UI_SCREENSHOT_DIR") or tmp_path_factory.mktemp("ui-screens"))
    out.mkdir(parents=True, exist_ok=True)
    return out
