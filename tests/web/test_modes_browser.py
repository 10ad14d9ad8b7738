"""Every render mode, end to end, in a real headless Chromium: a clip of colour bars
goes through yt-dlp, ffmpeg, the mode's renderer, the codec, the socket, the
browser's decoder and its canvas renderer, and each bar must land in its columns in
its colour. The mode is changed from the page's picker during one session, which
also checks that a retune reaches the screen. Screenshots: ``test-artifacts/``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.conftest import Media
from tests.daemon_process import DaemonProcess
from tests.media import BAR_COLOURS
from tests.web.chromium import chromium, wait_for
from tests.web.test_client_browser import ARTIFACTS, PIN

pytestmark = pytest.mark.browser

#: A channel of a bar's ink is "on" above this share of its strongest channel's mean,
#: "off" below the other: thin glyphs are mostly antialiased edges, so the hue is
#: checked, not the strength.
ON, OFF = 0.6, 0.3
#: A pixel with a channel above this is ink, not background.
INK = 64


def canvas_rgb(page: Any, name: str) -> npt.NDArray[np.int32]:
    from PIL import Image

    png = page.locator("#screen").screenshot()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int32)


def bar_regions(rgb: npt.NDArray[np.int32]) -> list[npt.NDArray[np.int32]]:
    """The pixels of the middle of each bar: the picture is letterboxed (16:9 in a
    1.44:1 grid), so only the middle rows; and not the bars' edges."""
    height, width = rgb.shape[:2]
    rows = slice(int(height * 0.35), int(height * 0.65))
    regions = []
    for bar in range(len(BAR_COLOURS)):
        left, right = width * bar / len(BAR_COLOURS), width * (bar + 1) / len(BAR_COLOURS)
        margin = (right - left) * 0.25
        regions.append(rgb[rows, int(left + margin) : int(right - margin)].reshape(-1, 3))
    return regions


def check_colours(mode: str, regions: list[npt.NDArray[np.int32]]) -> None:
    """Each bar's ink is its colour: every channel on or off as the bar's is."""
    for (r, g, b), pixels in zip(BAR_COLOURS, regions, strict=True):
        ink = pixels[pixels.max(axis=1) > INK]
        if (r, g, b) == (0, 0, 0):
            assert len(ink) < 0.01 * len(pixels), f"{mode}: the black bar has ink"
            continue
        assert len(ink) > 0, f"{mode}: nothing drawn in the bar {(r, g, b)}"
        mean = ink.mean(axis=0)
        share = mean / mean.max()
        assert mean.max() > 100, f"{mode}: the bar {(r, g, b)} is drawn dark: {mean}"
        for channel, want in zip(share, (r, g, b), strict=True):
            assert (channel > ON) if want else (channel < OFF), f"{mode}: {(r, g, b)} drawn {mean}"


def check_mono(regions: list[npt.NDArray[np.int32]]) -> None:
    """Mono has no colour: brighter bars get denser characters."""
    brightness = [float(pixels.mean()) for pixels in regions]
    white, _, _, green, _, red, blue, black = brightness
    assert white > green > red > black, brightness
    assert blue > black and black < 1, brightness


def test_each_mode_draws_the_colour_bars_in_their_columns(media: Media, tmp_path: Path) -> None:
    errors: list[str] = []
    with DaemonProcess.start(tmp_path, pin=PIN) as daemon, chromium() as browser:
        page: Any = browser.new_page(viewport={"width": 1280, "height": 720})
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(daemon.base_url + "/")
        page.fill("#pin", PIN)
        page.click("#login-button")
        wait_for(page, "document.getElementById('mode').options.length === 4")
        page.fill("#query", media.url_of("bars.mp4"))
        page.click("#play")
        # The pickers are the player's: mono first (a retune if another was remembered).
        page.wait_for_selector("body[data-state=player]", state="attached")
        page.select_option("#mode", "mono")
        for mode in ("mono", "color", "blocks", "braille"):
            if mode != "mono":
                # During the session: the page asks for a retune.
                page.select_option("#mode", mode)
            # The renderer drew the new mode's keyframe: with still bars, the picture.
            wait_for(
                page,
                f"window.tunerStats.renderer.mode === '{mode}'"
                f" && document.getElementById('quality').textContent.indexOf('{mode}') > 0",
                timeout=30_000,
            )
            regions = bar_regions(canvas_rgb(page, f"browser-mode-{mode}.png"))
            if mode == "mono":
                check_mono(regions)
            else:
                check_colours(mode, regions)
        page.screenshot(path=str(ARTIFACTS / "browser-mode-page.png"))
    assert not errors, f"JavaScript errors on the page: {errors}"
