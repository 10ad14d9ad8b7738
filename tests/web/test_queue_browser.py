"""The up-next queue (queue.js) in headless Chromium against a real ``tuner serve``:
items queued by a tap, their state and a progress bar, reordering, cancelling and
removing by touch, what plays next. A throttled loopback server makes a download
last long enough to watch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Media
from tests.daemon_process import DaemonProcess
from tests.media import throttled_server
from tests.web.chromium import wait_for
from tests.web.test_client_browser import ARTIFACTS, PIN, browser, new_page, text

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the fixture, shared with the client's browser test

ORDER = "Array.from(document.querySelectorAll('#queue-list .queue-item .queue-title'))"


def titles(page: Any) -> list[str]:
    found: list[str] = page.evaluate(f"{ORDER}.map(b => b.textContent)")
    return found


def server_order(page: Any) -> list[str]:
    """The queue's titles as the daemon has them (not as the page shows them)."""
    body = page.evaluate("fetch('/api/queue', {credentials: 'same-origin'}).then(r => r.json())")
    return [item["title"] for item in body["items"]]


def add(page: Any, query: str, count: int) -> None:
    page.fill("#query", query)
    page.click("#queue-add")
    wait_for(page, f"{ORDER}.length === {count}")


def test_the_queue_is_shown_and_edited_by_touch(browser: Any, media: Media, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[queue]\nper_source_delay_seconds = 0\n\n[extract]\nenabled = false\n")
    errors: list[str] = []
    with (
        throttled_server(media.directory, 250_000) as served,
        DaemonProcess.start(tmp_path, pin=PIN, args=("--config", str(config))) as daemon,
    ):
        page = new_page(browser, errors)
        posted: list[tuple[str, Any]] = []
        page.on("request", lambda r: posted.append((r.url, r.post_data)))
        page.goto(daemon.base_url + "/")
        page.fill("#pin", PIN)
        page.click("#login-button")
        page.wait_for_selector("#queue:not([hidden])")
        # Once the events' snapshot has arrived.
        wait_for(
            page,
            "document.getElementById('queue-summary').textContent === 'Up next: nothing queued'",
        )

        add(page, "testcard", 1)
        page.wait_for_selector("#queue-list .queue-item[data-state=ready]")
        add(page, served.url_of("clip720.mp4"), 2)
        # The download shows its state and a progress bar that fills.
        wait_for(
            page,
            "(() => { const f = document.querySelector("
            "'#queue-list .queue-item[data-state=downloading] .queue-fill');"
            " return f && parseFloat(f.style.width) > 0; })()",
        )
        badge = text(page, "#queue-list .queue-item[data-state=downloading] .badge")
        assert badge.startswith("downloading ") and "% of 3.8 MB" in badge, badge
        page.screenshot(path=str(ARTIFACTS / "browser-queue.png"))
        add(page, "testcard", 3)
        assert titles(page)[:2] == ["Test card", "clip720"]
        assert text(page, "#queue-summary") == "Up next: Test card (+2)"
        assert "Plays next when this ends: Test card" in text(page, "#queue-next")

        # Every target can be hit by a finger.
        sizes = page.evaluate(
            "Array.from(document.querySelectorAll('#queue button, #queue-add'))"
            ".filter(b => b.offsetParent).map(b => { const r = b.getBoundingClientRect();"
            " return [b.textContent, r.width, r.height]; })"
        )
        small = [s for s in sizes if s[1] < 48 or s[2] < 48]
        assert sizes and not small, small

        # Cancel the download: it stops, and says so.
        page.click("#queue-list .queue-item[data-state=downloading] .queue-cancel")
        page.wait_for_selector("#queue-list .queue-item[data-state=cancelled] .queue-retry")
        # Move the video up: first on the page and on the daemon; it plays next.
        page.click("#queue-list .queue-item:nth-child(2) [aria-label='Move up']")
        wait_for(page, f"{ORDER}[0].textContent === 'clip720'")
        assert server_order(page) == titles(page) == ["clip720", "Test card", "Test card"]
        assert text(page, "#queue-summary") == "Up next: clip720 (+2)"
        # Remove it.
        page.click("#queue-list .queue-item:nth-child(1) .queue-remove")
        wait_for(page, f"{ORDER}.length === 2")
        assert server_order(page) == ["Test card", "Test card"]

        # A tap on a title plays it now (the player comes up); it leaves the queue,
        # then is in the history, back on the home screen.
        with page.expect_response("**/api/play") as played:
            page.click("#queue-list .queue-item:nth-child(1) .queue-title")
        assert played.value.status == 202
        page.wait_for_selector("body[data-state=player]", state="attached")
        plays = [json.loads(body) for url, body in posted if url.endswith("/api/play")]
        assert plays[-1]["item_id"] and plays[-1]["preset"] == "low"
        wait_for(page, f"{ORDER}.length === 1")
        page.click("#back")
        page.wait_for_selector("#queue-history .queue-replay")
        assert text(page, "#queue-history .queue-replay") == "↺ Test card"
        page.evaluate("fetch('/api/stop', {method: 'POST', credentials: 'same-origin'})")
        page.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
