"""Each mode's ffmpeg filter delivers what its renderer assumes (one real ffmpeg each).

The renderers are pure and tested on hand-made arrays elsewhere; this checks the
contract between :data:`MODE_SPECS` and them: pixel format, geometry, and for
``braille`` the colour matrix and range it converts back from.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from tuner.core.color import PALETTE, quantize
from tuner.core.modes import MODE_SPECS, frame_view, render
from tuner.core.presets import Mode

from .test_modes import BARS, bars

COLS, ROWS = 16, 4  # two cells per bar


@pytest.mark.parametrize("mode", list(Mode))
def test_colour_bars_through_ffmpeg_land_in_their_cells(ffmpeg: str, mode: Mode) -> None:
    source = bars(40, 240)  # 320x240, bars 40 pixels wide: cell edges fall on bar edges
    spec = MODE_SPECS[mode]
    command = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "320x240", "-i", "pipe:0",
        "-vf", spec.video_filter(COLS, ROWS), "-f", "rawvideo", "pipe:1",
    ]  # fmt: skip
    done = subprocess.run(
        command, input=source.tobytes(), capture_output=True, timeout=30, check=True
    )
    grid = render(mode, frame_view(mode, done.stdout, COLS, ROWS))
    expected = PALETTE[quantize(np.array(BARS, dtype=np.uint8))]

    text = grid.text()
    if mode in (Mode.MONO, Mode.COLOR):
        assert all(row.startswith("@@") and row.endswith("  ") for row in text), text
    # Braille dots follow luma (white full, black blank, the rest dithered); colour
    # only counts where a dot is drawn.
    drawn = np.ones((ROWS, COLS), dtype=np.bool_)
    if mode is Mode.BRAILLE:
        assert all(row[:2] == "\u28ff" * 2 and row[14:] == "\u2800" * 2 for row in text), text
        drawn = grid.planes[0] != 0
        assert drawn[:, :12].all(), "every bar but blue and black shows dots"
    for plane in grid.colors():  # color: one plane; blocks: both; braille: one; mono: none
        for bar, rgb in enumerate(expected):
            cells = np.s_[:, 2 * bar : 2 * bar + 2]
            assert (plane[cells][drawn[cells]] == rgb).all(), (mode, BARS[bar])
