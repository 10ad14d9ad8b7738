"""The timecode clip (tests.media's ``timecode.mp4``) and its readers (tests.timecode),
through tuner's real path: real ffmpeg with tuner's own video filter (or sound graph)
on the generated clip at known ``-ss`` positions, each raw frame rendered as the
session's video reader renders it.

Frames are read at a rate of the preset's own, so a frame shows the source frame
nearest its time: the time read is checked to within one source frame (1/24 s),
finer than the 0.1 s the timeline's tests need.
"""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.media import CLIPS, make_clip
from tests.timecode import FPS, SAMPLE_RATE, audio_time_of, brightness_of, media_time_of
from tuner.core.grid import LAYOUTS, Grid
from tuner.core.modes import MODE_SPECS, MONO_RAMP, frame_view, render
from tuner.core.presets import PRESETS, Mode, Preset
from tuner.play.command import audio_graph, video_filter

#: Every preset and mode, each read from its own position in the clip (spread over
#: it, on and off frame boundaries, so that every bit of the frame number shows both
#: ways).
POSITIONS = (
    0.0, 1.9, 3.77, 5.5, 7.3, 9.1, 10.96, 12.5,
    14.2, 16.04, 17.9, 19.6, 21.33, 23.1, 25.0, 29.2,
)  # fmt: skip
CASES = [
    (preset, mode, position)
    for (preset, mode), position in zip(
        itertools.product(PRESETS, Mode), itertools.cycle(POSITIONS), strict=False
    )
]
#: Seconds of frames read at each position.
SPAN = 0.5


@pytest.fixture(scope="module")
def clip(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The timecode clip, made for this module alone (not every clip of the suite)."""
    return make_clip(ffmpeg, CLIPS["timecode.mp4"], tmp_path_factory.mktemp("timecode"))


def render_at(ffmpeg: str, clip: Path, preset: Preset, mode: Mode, position: float) -> list[Grid]:
    """The grids tuner renders from ``SPAN`` seconds of the clip from ``position``."""
    raw = subprocess.run(
        [
            ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
            "-ss", f"{position:.3f}", "-i", str(clip), "-t", str(SPAN),
            "-map", "0:v:0", "-vf", video_filter(preset, mode), "-f", "rawvideo", "pipe:1",
        ],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    cols, rows = preset.cols, preset.rows
    size = MODE_SPECS[mode].frame_bytes(cols, rows)
    assert len(raw) % size == 0
    return [
        render(mode, frame_view(mode, raw[at : at + size], cols, rows))
        for at in range(0, len(raw), size)
    ]


@pytest.mark.parametrize(("preset_name", "mode", "position"), CASES)
def test_the_time_is_read_from_every_rendered_frame(
    ffmpeg: str, clip: Path, preset_name: str, mode: Mode, position: float
) -> None:
    preset = PRESETS[preset_name]
    grids = render_at(ffmpeg, clip, preset, mode, position)
    assert len(grids) >= SPAN * preset.fps - 1
    for i, grid in enumerate(grids):
        expected = position + i / preset.fps
        got = media_time_of(grid)
        assert got is not None, f"frame {i} at {expected:.3f} s not read"
        assert abs(got - expected) <= 1 / FPS + 1e-9, f"frame {i}: {got:.3f} s, not {expected:.3f}"


def test_a_blurred_bit_is_not_read(ffmpeg: str, clip: Path) -> None:
    """A frame whose bit is neither clearly on nor off gives None, never a wrong time."""
    preset = PRESETS["low"]
    grid = render_at(ffmpeg, clip, preset, Mode.MONO, 10.0)[0]
    assert media_time_of(grid) == 10.0
    picture = brightness_of(grid)
    # The picture's rows and columns: the bars are the first and last full rows.
    full = np.flatnonzero(picture.mean(axis=1) > 0.9)
    top, bottom = int(full[0]), int(full[-1]) + 1
    planes = grid.planes.copy()
    # The middle of bit 3's two blocks, both set to the middle of the ramp.
    col = round((64 * 3 + 32) / 640 * preset.cols)
    for y in (112, 248):
        row = top + round(y / 360 * (bottom - top))
        planes[0, row - 1 : row + 2, col - 2 : col + 3] = MONO_RAMP[len(MONO_RAMP) // 2]
    assert media_time_of(Grid(Mode.MONO, planes)) is None


@pytest.mark.parametrize("mode", list(Mode))
def test_pictures_that_are_not_the_clip_are_not_read(mode: Mode) -> None:
    rows, cols = 50, 120
    planes = len(LAYOUTS[mode])
    black = Grid(mode, np.zeros((planes, rows, cols), dtype=np.uint8))
    white = Grid(mode, np.full((planes, rows, cols), 255, dtype=np.uint8))
    if mode in (Mode.MONO, Mode.COLOR):
        white.planes[0] = MONO_RAMP[-1]
    noise = Grid(
        mode,
        np.random.default_rng(17).integers(0, 256, (planes, rows, cols), dtype=np.uint8),
    )
    if mode in (Mode.MONO, Mode.COLOR):
        noise.planes[0] = np.frombuffer(MONO_RAMP, np.uint8)[noise.planes[0] % len(MONO_RAMP)]
    for grid in (black, white, noise):
        assert media_time_of(grid) is None


@pytest.mark.parametrize("position", [0.0, 7.3, 12.999, 28.2])
def test_the_time_is_read_from_the_sound(ffmpeg: str, clip: Path, position: float) -> None:
    """Through tuner's own sound graph; to a sample or so (an ADTS frame is 21 ms)."""
    raw = subprocess.run(
        [
            ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
            "-ss", f"{position:.3f}", "-i", str(clip), "-t", "1.5",
            "-filter_complex", audio_graph("[0:a:0]"), "-map", "[a]",
            "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1",
        ],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    got = audio_time_of(np.frombuffer(raw, dtype=np.float32))
    assert got is not None
    assert abs(got - position) < 0.002


def test_sound_without_a_whole_beep_is_not_read() -> None:
    t = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
    assert audio_time_of(np.zeros(SAMPLE_RATE * 2, dtype=np.float32)) is None
    # A tone from the first sample on: no onset after a silence.
    assert audio_time_of((0.8 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)) is None
    # A beep whose pitch is not one of the clip's.
    beep = np.where((t > 0.5) & (t < 0.6), 0.8 * np.sin(2 * np.pi * 1450 * t), 0.0)
    assert audio_time_of(beep.astype(np.float32)) is None
