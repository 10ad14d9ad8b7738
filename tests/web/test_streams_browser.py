"""The stream list (streams.js) in headless Chromium against a real ``tuner serve``,
whose ``demo`` extractor checks playlists served on loopback by a thread here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_process import DaemonProcess
from tests.loopback import serve_threaded
from tests.web.chromium import wait_for
from tests.web.test_client_browser import ARTIFACTS, PIN, browser, new_page, text

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the fixture, shared with the client's browser test

PLAYLISTS = {
    "/live.m3u8": "#EXTM3U\n#EXTINF:4.0,\ns1.ts\n",
    "/vod.m3u8": "#EXTM3U\n#EXTINF:4.0,\ns1.ts\n#EXT-X-ENDLIST\n",
}


class _Playlists(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PLAYLISTS.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/vnd.apple.mpegurl")
        self.end_headers()
        self.wfile.write((body or "not found").encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def playlists() -> Iterator[str]:
    """A loopback server of two playlists (one live); yields its base URL."""
    with serve_threaded(_Playlists) as url:
        yield url


def test_the_list_shows_live_streams_first_and_a_tap_plays_one(
    browser: Any, playlists: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[extract]
per_source_delay_seconds = 0

[extract.demo]
enabled = true
streams = [
  {{ title = "A recording", url = "{playlists}/vod.m3u8" }},
  {{ title = "Gone", url = "{playlists}/gone.m3u8" }},
  {{ title = "On air now", url = "{playlists}/live.m3u8" }},
]
"""
    )
    errors: list[str] = []
    with DaemonProcess.start(tmp_path, pin=PIN, args=("--config", str(config))) as daemon:
        page = new_page(browser, errors)
        posted: list[tuple[str, Any]] = []
        page.on(
            "request",
            lambda r: posted.append((r.url, r.post_data)) if r.method == "POST" else None,
        )
        page.goto(daemon.base_url + "/")
        page.fill("#pin", PIN)
        page.click("#login-button")
        page.wait_for_selector("body[data-state=home]")
        page.wait_for_selector("#streams:not([hidden])")
        wait_for(page, "document.querySelectorAll('#streams-list .stream').length === 2")
        assert text(page, "#streams-summary") == "Streams: 1 live of 2"
        texts = "els => els.map(e => e.textContent)"
        titles = page.eval_on_selector_all("#streams-list .title", texts)
        assert titles == ["On air now", "A recording"]
        assert page.eval_on_selector_all("#streams-list .badge", texts) == ["LIVE", "HLS"]
        wait_for(page, "document.getElementById('streams-status').textContent !== ''")
        assert "Looked just now" in text(page, "#streams-status")
        page.screenshot(path=str(ARTIFACTS / "browser-streams.png"))

        with page.expect_response("**/api/play") as played:
            page.click("#streams-list .stream.live")
        assert played.value.status == 202
        plays = [json.loads(body) for url, body in posted if url.endswith("/api/play")]
        assert plays == [{"query": f"{playlists}/live.m3u8", "preset": "low", "mode": "mono"}]
        # Played: the player takes the screen.
        page.wait_for_selector("body[data-state=player]", state="attached")
        assert text(page, "#streams-message") == ""
        # (Its segments are not real video: the session's own outcome is app.js's.)
        page.evaluate("fetch('/api/stop', {method: 'POST', credentials: 'same-origin'})")

        page.click("#back")

        page.click("#streams-refresh")
        wait_for(page, "document.getElementById('streams-status').textContent !== ''")
        assert any(url.endswith("/api/extract") for url, _ in posted)
        page.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
