"""Render modes: known pictures give known cells; specs and raw frames agree."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.core.color import PALETTE, quantize
from tuner.core.grid import BRAILLE_BASE, UPPER_HALF_BLOCK, Grid
from tuner.core.modes import (
    MODE_SPECS,
    MONO_RAMP,
    STRETCH_MIN_SPAN,
    contrast_levels,
    frame_view,
    i420_from_rgb,
    render,
    render_blocks,
    render_braille,
    render_color,
    render_mono,
)
from tuner.core.presets import PRESETS, Mode

Pixels = npt.NDArray[np.uint8]

#: The classic bars, left to right, and what RGB332 makes of them.
BARS = [
    (255, 255, 255),
    (255, 255, 0),
    (0, 255, 255),
    (0, 255, 0),
    (255, 0, 255),
    (255, 0, 0),
    (0, 0, 255),
    (0, 0, 0),
]


def bars(width_per_bar: int, height: int) -> Pixels:
    """A ``height x 8*width_per_bar`` RGB picture of :data:`BARS`."""
    row = np.repeat(np.array(BARS, dtype=np.uint8), width_per_bar, axis=0)
    return np.ascontiguousarray(np.broadcast_to(row, (height, *row.shape)))


def ranks(grid: Grid) -> npt.NDArray[np.intp]:
    """Each cell's position in the ramp."""
    lookup = np.full(256, -1, dtype=np.intp)
    lookup[np.frombuffer(MONO_RAMP, dtype=np.uint8)] = np.arange(len(MONO_RAMP))
    return lookup[grid.planes[0]]


# --- mono ---------------------------------------------------------------------------


def test_mono_left_dark_right_bright() -> None:
    gray = np.zeros((4, 10), dtype=np.uint8)
    gray[:, 5:] = 255
    text = render_mono(gray).text()
    assert text == [" " * 5 + "@" * 5] * 4


def test_mono_black_frame_stays_spaces() -> None:
    assert render_mono(np.zeros((3, 7), dtype=np.uint8)).text() == [" " * 7] * 3


def test_mono_white_frame_is_full() -> None:
    assert render_mono(np.full((3, 7), 255, dtype=np.uint8)).text() == ["@" * 7] * 3


def test_contrast_stretch_makes_a_dim_gradient_span_the_ramp() -> None:
    dim = np.tile(np.arange(64, dtype=np.uint8), (2, 1))  # a dark video: 0..63 of 255
    stretched = ranks(render_mono(dim))
    assert set(stretched[0]) == set(range(len(MONO_RAMP))), "every character is used"
    assert list(stretched[0]) == sorted(stretched[0]), "and in order"
    # Without the stretch, the same frame would use only the darkest few characters.
    plain = [MONO_RAMP[int(v) * len(MONO_RAMP) // 256] for v in dim.reshape(-1)]
    assert max(MONO_RAMP.index(c) for c in plain) <= 3


def test_contrast_stretch_does_not_blow_up_faint_noise() -> None:
    noise = np.random.default_rng(7).integers(0, 9, size=(50, 120), dtype=np.uint8)
    assert ranks(render_mono(noise)).max() <= 2


def test_contrast_stretch_ignores_a_few_specks() -> None:
    gray = np.tile(np.arange(0, 128, 2, dtype=np.uint8), (10, 1))
    gray[0, 0] = 255  # one hot pixel must not set the white point
    assert contrast_levels(gray)[1] <= 128


@given(st.binary(min_size=1, max_size=400))
def test_contrast_levels_are_ordered_and_wide_enough(data: bytes) -> None:
    low, high = contrast_levels(np.frombuffer(data, dtype=np.uint8).reshape(1, -1))
    assert 0 <= low < high <= 255
    assert high - low >= STRETCH_MIN_SPAN


# --- color --------------------------------------------------------------------------


def test_color_bars_keep_their_colours() -> None:
    grid = render_color(bars(3, 2))
    expected = PALETTE[quantize(np.array(BARS, dtype=np.uint8))]
    colors = grid.colors()[0]  # (rows, cols, 3)
    for bar, rgb in enumerate(expected):
        assert (colors[:, 3 * bar : 3 * bar + 3] == rgb).all(), f"bar {bar}: {BARS[bar]}"
    # The primaries and white survive RGB332 exactly.
    assert tuple(colors[0, 0]) == (255, 255, 255)
    assert tuple(colors[0, 15]) == (255, 0, 0)
    assert tuple(colors[0, 18]) == (0, 0, 255)


def test_color_characters_follow_brightness_and_black_is_a_colourless_space() -> None:
    grid = render_color(bars(1, 1))
    text = grid.text()[0]
    assert text[0] == "@", "white is the densest character"
    assert text[-1] == " ", "black is a space"
    assert grid.planes[1, 0, -1] == 0
    # Blue is darker than green, in luma and so in the ramp.
    assert MONO_RAMP.index(text[6].encode()) < MONO_RAMP.index(text[3].encode())


# --- blocks -------------------------------------------------------------------------


def test_blocks_take_the_top_pixel_as_foreground_and_the_bottom_as_background() -> None:
    rgb = np.zeros((4, 3, 3), dtype=np.uint8)  # 2 rows of cells
    rgb[0::2] = (255, 0, 0)  # top pixel of each cell red
    rgb[1::2] = (0, 0, 255)  # bottom blue
    grid = render_blocks(rgb)
    assert (grid.cols, grid.rows) == (3, 2)
    assert grid.text() == [UPPER_HALF_BLOCK * 3] * 2
    fg, bg = grid.colors()
    assert (fg == (255, 0, 0)).all() and (bg == (0, 0, 255)).all()


def test_blocks_colour_bars_land_in_their_columns() -> None:
    grid = render_blocks(bars(2, 4))
    fg, bg = grid.colors()
    expected = PALETTE[quantize(np.array(BARS, dtype=np.uint8))]
    for bar, rgb in enumerate(expected):
        assert (fg[:, 2 * bar : 2 * bar + 2] == rgb).all()
        assert (bg[:, 2 * bar : 2 * bar + 2] == rgb).all()


# --- braille ------------------------------------------------------------------------


def braille_of(rgb: Pixels) -> Grid:
    return render_braille(i420_from_rgb(rgb))


def test_braille_full_white_cell_is_all_dots() -> None:
    grid = braille_of(np.full((8, 4, 3), 255, dtype=np.uint8))
    assert grid.text() == ["\u28ff\u28ff"] * 2
    assert (grid.colors()[0] == 255).all()


def test_braille_black_frame_is_blank_and_colourless() -> None:
    grid = braille_of(np.zeros((8, 4, 3), dtype=np.uint8))
    assert grid.text() == ["\u2800\u2800"] * 2
    assert (grid.planes[1] == 0).all()


def test_braille_dots_are_numbered_as_unicode_numbers_them() -> None:
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[:, 0] = 255  # first cell: the left column lit (dots 1, 2, 3, 7)
    rgb[3, 2:] = 255  # second cell: the bottom row lit (dots 7, 8)
    assert braille_of(rgb).text() == [chr(BRAILLE_BASE + 0x47) + chr(BRAILLE_BASE + 0xC0)]


def test_braille_colour_is_the_colour_of_the_lit_dots() -> None:
    rgb = np.zeros((4, 2, 3), dtype=np.uint8)
    rgb[:2] = (255, 0, 0)  # the upper half red and lit, the lower half black
    grid = braille_of(rgb)
    assert grid.text() == [chr(BRAILLE_BASE + 0x1B)]
    assert tuple(grid.colors()[0, 0, 0]) == (255, 0, 0), "red, not the cell's dark mean"


def test_braille_colour_bars_keep_their_colours() -> None:
    grid = braille_of(bars(2, 4))  # one cell per bar
    expected = PALETTE[quantize(np.array(BARS[:-1], dtype=np.uint8))]
    for bar, rgb in enumerate(expected):
        assert tuple(grid.colors()[0, 0, bar]) == tuple(rgb), BARS[bar]


def test_braille_dithers_brightness_into_dot_density() -> None:
    # A horizontal gradient: the share of lit dots grows left to right.
    ramp = np.linspace(0, 255, 64, dtype=np.float32).astype(np.uint8)
    rgb = np.repeat(np.tile(ramp, (16, 1))[..., None], 3, axis=2)
    dots = braille_of(rgb).planes[0]
    # Lit dots per 4-pixel-wide band (two cells): the period of the Bayer matrix.
    lit = np.unpackbits(dots[..., None], axis=2).sum(axis=(0, 2)).reshape(-1, 2).sum(axis=1)
    assert lit[0] == 0 and lit[-1] >= 0.9 * 16 * dots.shape[0]
    assert list(lit) == sorted(lit)
    assert len(set(lit)) > 8, "many shades, not a threshold's two"
    # A flat mid grey lights half of the dots: ordered dithering, not a threshold.
    grey = braille_of(np.full((16, 16, 3), 128, dtype=np.uint8)).planes[0]
    assert np.unpackbits(grey).mean() == pytest.approx(0.5, abs=0.07)


# --- specs and raw frames -----------------------------------------------------------


def test_specs_ask_ffmpeg_for_the_pixels_each_mode_needs() -> None:
    geometry = {m: (s.pix_fmt, s.pixel_size(120, 50)) for m, s in MODE_SPECS.items()}
    assert geometry == {
        Mode.MONO: ("gray", (120, 50)),
        Mode.COLOR: ("rgb24", (120, 50)),
        Mode.BLOCKS: ("rgb24", (120, 100)),
        Mode.BRAILLE: ("yuv420p", (240, 200)),
    }
    assert MODE_SPECS[Mode.BRAILLE].frame_bytes(120, 50) == 240 * 200 * 3 // 2
    assert MODE_SPECS[Mode.BLOCKS].video_filter(120, 50) == (
        "scale=120:100:flags=area,format=rgb24"
    )
    assert "out_range=full" in MODE_SPECS[Mode.BRAILLE].video_filter(120, 50)


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("preset", ["low", "ultra"])
def test_a_raw_frame_is_viewed_without_a_copy_and_renders_to_the_grid(
    mode: Mode, preset: str
) -> None:
    p = PRESETS[preset]
    raw = bytearray(MODE_SPECS[mode].frame_bytes(p.cols, p.rows))
    view = frame_view(mode, raw, p.cols, p.rows)
    assert np.shares_memory(view, np.frombuffer(raw, dtype=np.uint8))
    grid = render(mode, view)
    assert (grid.mode, grid.cols, grid.rows) == (mode, p.cols, p.rows)


def test_frame_view_checks_the_size() -> None:
    with pytest.raises(ValueError, match="braille frame for a 4x2 grid has 96 bytes, got 95"):
        frame_view(Mode.BRAILLE, bytes(95), 4, 2)


@pytest.mark.parametrize(
    ("mode", "shape"),
    [
        (Mode.MONO, (2, 2, 3)),
        (Mode.COLOR, (2, 2)),
        (Mode.BLOCKS, (3, 2, 3)),
        (Mode.BRAILLE, (8, 4)),
        (Mode.BRAILLE, (0, 2)),
    ],
)
def test_a_frame_of_the_wrong_shape_is_refused(mode: Mode, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=f"{mode} needs"):
        render(mode, np.zeros(shape, dtype=np.uint8))


@pytest.mark.parametrize("mode", list(Mode))
def test_rendering_is_pure(mode: Mode) -> None:
    spec = MODE_SPECS[mode]
    raw = np.random.default_rng(3).integers(0, 256, spec.frame_bytes(8, 4), dtype=np.uint8)
    frame = frame_view(mode, raw.tobytes(), 8, 4)
    before = frame.copy()
    assert render(mode, frame) == render(mode, frame)
    assert np.array_equal(frame, before), "the frame is not written to"
