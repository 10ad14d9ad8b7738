"""The terminal client's sans-IO core: known grids give known escape sequences."""

from __future__ import annotations

import numpy as np
import pyte
import pytest

from tuner.core.color import PALETTE
from tuner.core.grid import Grid
from tuner.core.presets import Mode
from tuner.term import (
    Action,
    ColorDepth,
    Painter,
    actions_of,
    cells_of,
    color_keys,
    cycle,
    detect_color_depth,
    fit_size,
    status_text,
    xterm_256_index,
)

RED, GREEN, BLUE, WHITE = 0xE0, 0x1C, 0x03, 0xFF


def _color_grid() -> Grid:
    symbols = np.array([[ord(" "), ord("@")], [ord("#"), ord(".")]], dtype=np.uint8)
    colours = np.array([[0, RED], [GREEN, GREEN]], dtype=np.uint8)
    return Grid(Mode.COLOR, np.stack((symbols, colours)))


def _screen(width: int, height: int, *texts: str) -> pyte.Screen:
    screen = pyte.Screen(width, height)
    stream = pyte.Stream(screen)
    for text in texts:
        stream.feed(text)
    return screen


def test_a_known_colour_grid_gives_known_escape_sequences() -> None:
    painter = Painter(ColorDepth.TRUE, 6, 3)
    out = painter.paint(_color_grid(), "st".ljust(6))
    # Cleared, then each row from its first cell (centred: rows 1-2, columns 3-4),
    # a colour where it changes along the row, and the status line in reverse video.
    assert out == (
        "\x1b[0m\x1b[2J"
        "\x1b[1;3H\x1b[38;2;0;0;0;49m \x1b[38;2;255;0;0;49m@"
        "\x1b[2;3H\x1b[38;2;0;255;0;49m#."
        "\x1b[0m"
        "\x1b[3;1H\x1b[0;7mst    \x1b[0m"
    )
    # The same picture again: nothing to write.
    assert painter.paint(_color_grid(), "st".ljust(6)) == ""


def test_only_the_changed_cells_are_redrawn() -> None:
    painter = Painter(ColorDepth.C256, 40, 3)
    symbols = np.full((2, 40), ord("x"), dtype=np.uint8)
    colours = np.full((2, 40), WHITE, dtype=np.uint8)
    first = painter.paint(Grid(Mode.COLOR, np.stack((symbols, colours))), " " * 40)
    symbols[1, 5] = ord("@")
    symbols[1, 30] = ord("#")  # far from the first change: a span of its own
    second = painter.paint(Grid(Mode.COLOR, np.stack((symbols, colours))), " " * 40)
    assert second == "\x1b[2;6H\x1b[38;5;231;49m@\x1b[2;31H\x1b[38;5;231;49m#\x1b[0m"
    screen = _screen(40, 3, first, second)
    assert screen.display[1][5] == "@" and screen.display[1][30] == "#"
    assert screen.display[0] == "x" * 40


@pytest.mark.parametrize(
    ("mode", "planes", "glyph"),
    [
        (Mode.MONO, [[[ord("@")]]], "@"),
        (Mode.BRAILLE, [[[0xFF]], [[RED]]], "\u28ff"),
        (Mode.BLOCKS, [[[RED]], [[BLUE]]], "\u2580"),
    ],
)
def test_each_mode_draws_its_glyph_and_colours(
    mode: Mode, planes: list[list[list[int]]], glyph: str
) -> None:
    grid = Grid(mode, np.array(planes, dtype=np.uint8))
    screen = _screen(1, 2, Painter(ColorDepth.TRUE, 1, 2).paint(grid, " "))
    cell = screen.buffer[0][0]
    assert cell.data == glyph
    if mode is Mode.MONO:
        assert (cell.fg, cell.bg) == ("default", "default")
    elif mode is Mode.BRAILLE:
        assert (cell.fg, cell.bg) == ("ff0000", "default")
    else:
        assert (cell.fg, cell.bg) == ("ff0000", "0000ff")


def test_blocks_without_colour_become_ramp_characters() -> None:
    white = Grid(Mode.BLOCKS, np.full((2, 1, 1), WHITE, dtype=np.uint8))
    black = Grid(Mode.BLOCKS, np.zeros((2, 1, 1), dtype=np.uint8))
    assert chr(cells_of(white, ColorDepth.MONO).glyphs[0, 0]) == "@"
    assert chr(cells_of(black, ColorDepth.MONO).glyphs[0, 0]) == " "
    assert (cells_of(white, ColorDepth.MONO).fg == -1).all()


def test_256_colour_mapping() -> None:
    rgb = np.array(
        [[255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 0], [255, 255, 255], [128, 128, 128]],
        dtype=np.uint8,
    )
    # Cube corners, and a mid grey on the grey ramp (232 + (128 - 8) / 10).
    assert xterm_256_index(rgb).tolist() == [196, 46, 21, 16, 231, 244]
    keys = color_keys(ColorDepth.C256)
    assert keys.shape == (256,) and keys.min() >= 16 and keys.max() <= 255
    # Every RGB332 colour lands near its own: no channel off by more than a cube step.
    cube = np.array([0, 95, 135, 175, 215, 255])
    drawn = np.array(
        [
            (cube[(k - 16) // 36], cube[(k - 16) // 6 % 6], cube[(k - 16) % 6])
            if k < 232
            else (8 + 10 * (k - 232),) * 3
            for k in keys.tolist()
        ]
    )
    assert np.abs(drawn - PALETTE.astype(int)).max() <= 48


def test_16_colours_and_none() -> None:
    keys = color_keys(ColorDepth.C16)
    assert [int(keys[c]) for c in (0, RED, GREEN, WHITE)] == [0, 9, 10, 15]
    out = Painter(ColorDepth.C16, 2, 3).paint(_color_grid(), "  ")
    assert "\x1b[91;49m@" in out and "\x1b[92;49m#." in out
    plain = Painter(ColorDepth.MONO, 2, 3).paint(_color_grid(), "  ")
    assert "38;" not in plain and "\x1b[39;49m @" in plain


def test_colour_depth_from_the_environment() -> None:
    assert detect_color_depth({"COLORTERM": "truecolor", "TERM": "xterm"}) is ColorDepth.TRUE
    assert detect_color_depth({"COLORTERM": "24bit"}) is ColorDepth.TRUE
    assert detect_color_depth({"TERM": "screen-256color"}) is ColorDepth.C256
    assert detect_color_depth({"TERM": "xterm"}) is ColorDepth.C16
    assert detect_color_depth({"TERM": "dumb"}) is ColorDepth.MONO
    assert detect_color_depth({}) is ColorDepth.MONO
    assert detect_color_depth({"COLORTERM": "truecolor", "NO_COLOR": "1"}) is ColorDepth.MONO


def test_fitting_keeps_the_shape_and_never_enlarges() -> None:
    assert fit_size(120, 50, 80, 23) == (55, 23)
    assert fit_size(120, 50, 240, 23) == (55, 23)
    assert fit_size(120, 50, 60, 100) == (60, 25)
    assert fit_size(120, 50, 300, 200) == (120, 50)
    assert fit_size(120, 50, 1, 1) == (1, 1)


def test_a_resize_redraws_the_picture_at_the_new_size_centred() -> None:
    planes = np.full((1, 50, 120), ord("#"), dtype=np.uint8)
    grid = Grid(Mode.MONO, planes)
    painter = Painter(ColorDepth.MONO, 80, 24)
    screen = _screen(80, 24, painter.paint(grid, " " * 80))
    assert painter.picture_size == (55, 23)
    assert screen.display[0] == " " * 12 + "#" * 55 + " " * 13
    painter.resize(100, 31)
    screen = _screen(100, 31, painter.paint(grid, " " * 100))
    assert painter.picture_size == (72, 30)
    assert screen.display[29].strip() == "#" * 72


def test_no_picture_shows_the_message_in_the_middle() -> None:
    painter = Painter(ColorDepth.TRUE, 30, 5)
    screen = _screen(30, 5, painter.paint(None, "x" * 30, "idle\nwaiting"))
    assert screen.display[1].strip() == "idle" and screen.display[2].strip() == "waiting"
    assert painter.paint(None, "x" * 30, "idle\nwaiting") == ""
    # A picture replaces it whole (the screen is cleared first).
    assert painter.paint(_color_grid(), "x" * 30).startswith("\x1b[0m\x1b[2J")


def test_status_text_is_cut_and_padded_to_the_width() -> None:
    line = status_text(60, title="Test card", state="playing", preset="low", mode="color", fps=24)
    assert line == " Test card | playing | low/color | 24 fps | q quit  m mode  "
    assert len(status_text(200, title=None, state="idle")) == 200
    noted = status_text(30, title="Test card", state="playing", note="reconnecting")
    assert noted == " ! reconnecting | Test card | "
    # A title is the video's: it cannot move the cursor or clear the screen.
    assert status_text(9, title="a\x1b[2J\rb", state="x") == " a [2J b "


def test_keys() -> None:
    assert actions_of(b"qmpsn") == [
        Action.QUIT,
        Action.MODE,
        Action.PRESET,
        Action.STOP,
        Action.NEXT,
    ]
    assert actions_of(b"\x03") == [Action.QUIT]
    # An arrow key and a function key are not the letters inside them.
    assert actions_of(b"\x1b[A\x1bOP\x1b[1;5m") == []
    assert actions_of(b"xyz") == []
    # ← and → seek (both cursor key modes); a modified arrow (Ctrl-←) is not one.
    assert actions_of(b"\x1b[D\x1b[C\x1bOD\x1bOC") == [
        Action.BACK,
        Action.FORWARD,
        Action.BACK,
        Action.FORWARD,
    ]
    assert actions_of(b"s\x1b[Cq\x1b[1;5D\x1b[B") == [Action.STOP, Action.FORWARD, Action.QUIT]
    assert cycle(["mono", "color", "blocks"], "color") == "blocks"
    assert cycle(["mono", "color", "blocks"], "blocks") == "mono"
    assert cycle(["low", "med"], None) == "low"
