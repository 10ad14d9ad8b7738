"""A/V sync in a real headless Chromium: a clip flashes and beeps every second; the
flash must reach the canvas when the beep reaches the speakers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Media
from tests.daemon_process import DaemonProcess
from tests.web.avsync import AUTOPLAY_ARGS, measure
from tests.web.chromium import chromium
from tests.web.test_client_browser import PIN

pytestmark = pytest.mark.browser


def test_flashes_are_drawn_when_their_beeps_are_heard(media: Media, tmp_path: Path) -> None:
    with DaemonProcess.start(tmp_path, pin=PIN) as daemon, chromium(AUTOPLAY_ARGS) as browser:
        page: Any = browser.new_page(viewport={"width": 1280, "height": 720})
        result = measure(page, daemon.base_url, PIN, media.url_of("avsync.mp4"), 10)
    print(f"A/V offsets (flash - beep, ms): {result.offsets_ms}")
    assert result.clock_source == "audio"
    assert len(result.offsets_ms) >= 5, "too few flash/beep pairs were seen"
    # A frame lasts 42 ms at 24 fps; the draw loop ticks every 16 ms.
    assert result.median_abs() < 80, result.offsets_ms
    assert max(abs(o) for o in result.offsets_ms) < 150, result.offsets_ms
    # The client's own view: each shown frame is within a frame of the audio clock.
    shown = result.client_offsets_ms[-100:]
    assert max(abs(o) for o in shown) < 100, shown
