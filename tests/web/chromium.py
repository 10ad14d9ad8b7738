"""Debian's headless Chromium, driven by Playwright: shared by the browser tests and
the benchmarks that use a browser.

Playwright cannot download its own Chromium here, so the system one is used
(``executable_path``); ``.ci/install-web-test-deps.sh`` installs what is needed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "run .ci/install-web-test-deps.sh"


@contextmanager
def chromium(extra_args: Sequence[str] = ()) -> Iterator[Any]:
    """A launched headless Chromium (a Playwright ``Browser``), closed on the way out.

    Fails the test (``pytest.fail``) with how to install what is missing.
    """
    try:
        import PIL  # noqa: F401  (the screenshots are measured with it)
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"{exc.name} is not installed: {INSTALL_HINT}")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: {INSTALL_HINT}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args], timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


def wait_for(page: Any, expression: str, timeout: float = 30_000) -> None:
    """Wait until a JavaScript expression is truthy in ``page`` (``timeout`` in ms).

    Polled from here rather than with Playwright's ``wait_for_function``, whose
    in-page polling calls ``eval``, which the page's Content-Security-Policy forbids
    (as it should).
    """
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout / 1000:.0f} s: {expression}")
        page.wait_for_timeout(50)
