"""Sans-IO core of the terminal client: grids to ANSI text, keys to actions.

No trio and no file descriptors here: a :class:`Painter` is given the latest grid, the
terminal's size and a status line, and answers the text to write, in one string, that
brings the screen from what it drew last to that. It fits the grid into the terminal
(nearest cell, keeping the grid's shape, never larger than the grid), draws only the
rows and the runs of cells that changed, and sets a colour only where it changes
along a row.

Colours come as RGB332 codes (:mod:`tuner.core.color`) and are written in the
terminal's depth (:class:`ColorDepth`): 24-bit, the 256-colour palette (its 6x6x6
cube and grey ramp), the 16 ANSI colours, or none. Each depth is a 256-entry table
made once, so a frame costs lookups, not arithmetic.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping, Sequence

import attrs
import numpy as np
import numpy.typing as npt

from tuner.core.color import PALETTE
from tuner.core.grid import BRAILLE_BASE, UPPER_HALF_BLOCK, Grid
from tuner.core.modes import MONO_RAMP
from tuner.core.presets import Mode

#: The alternate screen, cursor hidden, screen cleared.
ENTER_SCREEN = "\x1b[?1049h\x1b[?25l\x1b[0m\x1b[2J"
#: Back: attributes reset, cursor shown, the main screen as it was.
LEAVE_SCREEN = "\x1b[0m\x1b[?25h\x1b[?1049l"

#: Runs of changed cells closer than this are drawn as one: moving the cursor costs
#: about as many bytes as redrawing a few unchanged cells.
_SPAN_GAP = 8


class ColorDepth(enum.StrEnum):
    """How many colours the terminal shows."""

    TRUE = "truecolor"
    C256 = "256"
    C16 = "16"
    MONO = "mono"


def detect_color_depth(environ: Mapping[str, str]) -> ColorDepth:
    """The colour depth a terminal's environment announces.

    ``NO_COLOR`` (set and not empty) means none; ``COLORTERM`` of ``truecolor`` or
    ``24bit`` means 24-bit; a ``TERM`` naming ``256color`` means 256; a ``TERM`` of
    ``dumb`` (or none) means none; anything else gets the 16 ANSI colours.
    """
    if environ.get("NO_COLOR"):
        return ColorDepth.MONO
    if environ.get("COLORTERM", "").strip().lower() in ("truecolor", "24bit"):
        return ColorDepth.TRUE
    term = environ.get("TERM", "")
    if "256color" in term:
        return ColorDepth.C256
    if term in ("", "dumb"):
        return ColorDepth.MONO
    return ColorDepth.C16


# --- colour tables ------------------------------------------------------------------

_CUBE_LEVELS = np.array([0, 95, 135, 175, 215, 255], dtype=np.int32)
_GREY_LEVELS = np.arange(24, dtype=np.int32) * 10 + 8

#: The 16 ANSI colours as xterm draws them by default.
ANSI_16 = np.array(
    [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0),
        (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
        (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
    ],
    dtype=np.int32,
)  # fmt: skip


def _nearest(rgb: npt.NDArray[np.int32], candidates: npt.NDArray[np.int32]) -> npt.NDArray[np.intp]:
    distance = ((rgb[:, None, :] - candidates[None, :, :]) ** 2).sum(axis=2)
    nearest: npt.NDArray[np.intp] = np.argmin(distance, axis=1)
    return nearest


def xterm_256_index(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.intp]:
    """The nearest colour of xterm's 256-colour palette beyond the first 16.

    The 6x6x6 cube (16-231) or the grey ramp (232-255), whichever is nearer.

    Args:
        rgb: ``(n, 3)`` colours.
    """
    values = rgb.astype(np.int32)
    levels = _nearest(values.reshape(-1, 1), _CUBE_LEVELS.reshape(-1, 1)).reshape(-1, 3)
    cube = _CUBE_LEVELS[levels]
    cube_index = 16 + 36 * levels[:, 0] + 6 * levels[:, 1] + levels[:, 2]
    grey = _nearest(
        values.mean(axis=1, keepdims=True).round().astype(np.int32), _GREY_LEVELS[:, None]
    )
    grey_rgb = np.repeat(_GREY_LEVELS[grey][:, None], 3, axis=1)
    cube_far = ((values - cube) ** 2).sum(axis=1)
    grey_far = ((values - grey_rgb) ** 2).sum(axis=1)
    out: npt.NDArray[np.intp] = np.where(grey_far < cube_far, 232 + grey, cube_index)
    return out


@functools.cache
def color_keys(depth: ColorDepth) -> npt.NDArray[np.int16]:
    """For each RGB332 code, the colour the terminal draws, as a number.

    Codes that a depth draws alike get the same number, so comparing numbers tells
    whether a cell must be redrawn. -1 is the terminal's default colour.
    """
    if depth is ColorDepth.TRUE:
        keys = np.arange(256)
    elif depth is ColorDepth.C256:
        keys = xterm_256_index(PALETTE)
    elif depth is ColorDepth.C16:
        keys = _nearest(PALETTE.astype(np.int32), ANSI_16)
    else:
        keys = np.full(256, -1)
    out = keys.astype(np.int16)
    out.flags.writeable = False
    return out


@functools.cache
def _sgr_params(depth: ColorDepth) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Foreground and background SGR parameters, indexed by colour key + 1."""
    if depth is ColorDepth.TRUE:
        fg = [f"38;2;{r};{g};{b}" for r, g, b in PALETTE.tolist()]
        bg = [f"48;2;{r};{g};{b}" for r, g, b in PALETTE.tolist()]
    elif depth is ColorDepth.C256:
        fg = [f"38;5;{i}" for i in range(256)]
        bg = [f"48;5;{i}" for i in range(256)]
    elif depth is ColorDepth.C16:
        fg = [str(30 + i if i < 8 else 82 + i) for i in range(16)]
        bg = [str(40 + i if i < 8 else 92 + i) for i in range(16)]
    else:
        fg, bg = [], []
    return ("39", *fg), ("49", *bg)


# --- what to draw -------------------------------------------------------------------


@attrs.frozen(eq=False)
class Cells:
    """A grid as the terminal draws it: a character and two colour keys a cell.

    Attributes:
        glyphs: ``(rows, cols)`` Unicode code points.
        fg: ``(rows, cols)`` foreground colour keys (:func:`color_keys`; -1 default).
        bg: ``(rows, cols)`` background colour keys.
    """

    glyphs: npt.NDArray[np.uint32]
    fg: npt.NDArray[np.int16]
    bg: npt.NDArray[np.int16]

    @property
    def rows(self) -> int:
        """Height in cells."""
        return int(self.glyphs.shape[0])

    @property
    def cols(self) -> int:
        """Width in cells."""
        return int(self.glyphs.shape[1])


_BLOCK = ord(UPPER_HALF_BLOCK)
_RAMP = np.frombuffer(MONO_RAMP, dtype=np.uint8)
# RGB332 code to a ramp character by its luma, for blocks on a terminal with no colour.
_LUMA_OF_CODE = (PALETTE.astype(np.uint32) @ np.array([77, 150, 29], dtype=np.uint32)) >> 8


def cells_of(grid: Grid, depth: ColorDepth) -> Cells:
    """What a terminal of ``depth`` draws for each cell of ``grid``.

    ``mono`` and ``color`` draw their ramp character, ``braille`` its pattern,
    ``blocks`` an upper half block in the top colour on the bottom one; on a terminal
    without colours, ``blocks`` becomes the ramp character of the cell's mean luma.
    """
    keys = color_keys(depth)
    planes = grid.planes
    shape = planes.shape[1:]
    default = np.full(shape, -1, dtype=np.int16)
    if grid.mode is Mode.BLOCKS:
        if depth is ColorDepth.MONO:
            luma = (_LUMA_OF_CODE[planes[0]] + _LUMA_OF_CODE[planes[1]]) // 2
            ramp = _RAMP[luma * len(MONO_RAMP) // 256].astype(np.uint32)
            return Cells(ramp, default, default.copy())
        glyphs = np.full(shape, _BLOCK, dtype=np.uint32)
        return Cells(glyphs, np.take(keys, planes[0]), np.take(keys, planes[1]))
    glyphs = planes[0].astype(np.uint32)
    if grid.mode is Mode.BRAILLE:
        glyphs += BRAILLE_BASE
    fg = default if grid.mode is Mode.MONO else np.take(keys, planes[1])
    return Cells(glyphs, fg, default)


def fit_size(cols: int, rows: int, width: int, height: int) -> tuple[int, int]:
    """The size to draw a ``cols x rows`` grid at in ``width x height`` cells.

    The grid keeps its shape (a grid cell and a terminal cell have the same aspect)
    and is never drawn larger than it is; at least one cell.
    """
    scale = min(width / cols, height / rows, 1.0)
    return (
        max(1, min(width, round(cols * scale))) if width > 0 else 0,
        max(1, min(height, round(rows * scale))) if height > 0 else 0,
    )


def _fit(cells: Cells, cols: int, rows: int) -> Cells:
    if (cols, rows) == (cells.cols, cells.rows):
        return cells
    # Nearest cell, taken at the middle of each target cell.
    ys = ((np.arange(rows) + 0.5) * cells.rows / rows).astype(np.intp)[:, None]
    xs = ((np.arange(cols) + 0.5) * cells.cols / cols).astype(np.intp)[None, :]
    return Cells(cells.glyphs[ys, xs], cells.fg[ys, xs], cells.bg[ys, xs])


# --- the status line ----------------------------------------------------------------

#: What the keys do, as the status line says it.
KEYS_HELP = "q quit  m mode  p preset  s stop  n next  \u2190\u2192 10 s"


def status_text(
    width: int,
    *,
    title: str | None,
    state: str,
    preset: str | None = None,
    mode: str | None = None,
    fps: float | None = None,
    note: str | None = None,
) -> str:
    """The bottom line, cut or padded to ``width``: title, state, preset/mode and
    frames drawn a second, then the keys; a note (a key's error, a reconnect) comes
    first, so that a narrow terminal still shows it."""
    parts = [title or "tuner", state]
    if preset or mode:
        parts.append(f"{preset or '?'}/{mode or '?'}")
    if fps is not None:
        parts.append(f"{fps:.0f} fps")
    if note:
        parts.insert(0, f"! {note}")
    else:
        parts.append(KEYS_HELP)
    text = " " + " | ".join(parts)
    text = "".join(c if c.isprintable() else " " for c in text)
    return text[:width].ljust(width)


# --- the painter --------------------------------------------------------------------


@attrs.define
class Painter:
    """Turns what should be on screen into the text that puts it there.

    One per terminal. :meth:`paint` remembers what it drew, so each call answers
    only what changed since the last: the changed runs of cells of the picture, and
    the status line when its text changed. :meth:`resize` (or a change of the
    picture's drawn size) makes the next call clear the screen and draw it all.

    Attributes:
        depth: the terminal's colours.
        width: the terminal's width in cells.
        height: the terminal's height in cells (the last row is the status line).
    """

    depth: ColorDepth
    width: int
    height: int
    _shown: Cells | None = attrs.field(default=None, init=False)
    _origin: tuple[int, int] = attrs.field(default=(0, 0), init=False)
    _message: str | None = attrs.field(default=None, init=False)
    _status: str | None = attrs.field(default=None, init=False)
    _clear: bool = attrs.field(default=True, init=False)

    def resize(self, width: int, height: int) -> None:
        """The terminal's new size: the next :meth:`paint` redraws everything."""
        self.width, self.height = width, height
        self.invalidate()

    def invalidate(self) -> None:
        """Forget what is on screen: the next :meth:`paint` redraws everything."""
        self._shown, self._message, self._status, self._clear = None, None, None, True

    @property
    def picture_size(self) -> tuple[int, int]:
        """``(cols, rows)`` the last picture was drawn at; ``(0, 0)`` for none."""
        return (self._shown.cols, self._shown.rows) if self._shown is not None else (0, 0)

    def paint(self, grid: Grid | None, status: str, message: str | None = None) -> str:
        """The text that shows ``grid`` (or, when None, ``message`` in the middle) above
        ``status``; empty when the screen shows that already."""
        out: list[str] = []
        area_rows = max(0, self.height - 1)
        if grid is None:
            if self._shown is not None or message != self._message or self._clear:
                out.append("\x1b[0m\x1b[2J")
                self._shown, self._clear, self._status = None, False, None
                self._message = message
                if message and area_rows:
                    self._draw_message(out, message, area_rows)
        else:
            cells = cells_of(grid, self.depth)
            cols, rows = fit_size(cells.cols, cells.rows, self.width, area_rows)
            if cols and rows:
                self._draw_cells(out, _fit(cells, cols, rows), area_rows)
        if status != self._status and self.height > 0:
            self._status = status
            out.append(f"\x1b[{self.height};1H\x1b[0;7m{status}\x1b[0m")
        return "".join(out)

    def _draw_message(self, out: list[str], message: str, area_rows: int) -> None:
        lines = message.splitlines()[:area_rows]
        top = max(0, (area_rows - len(lines)) // 2)
        for number, line in enumerate(lines):
            line = line[: self.width]
            left = max(0, (self.width - len(line)) // 2)
            out.append(f"\x1b[{top + number + 1};{left + 1}H{line}")

    def _draw_cells(self, out: list[str], cells: Cells, area_rows: int) -> None:
        shown = self._shown
        if (
            self._clear
            or self._message is not None
            or shown is None
            or (shown.cols, shown.rows) != (cells.cols, cells.rows)
        ):
            shown = None
        if shown is None:
            out.append("\x1b[0m\x1b[2J")
            self._status, self._message, self._clear = None, None, False
            self._origin = ((area_rows - cells.rows) // 2, (self.width - cells.cols) // 2)
            changed = np.ones(cells.glyphs.shape, dtype=np.bool_)
        else:
            changed = (
                (cells.glyphs != shown.glyphs) | (cells.fg != shown.fg) | (cells.bg != shown.bg)
            )
        self._shown = cells
        top, left = self._origin
        fg_params, bg_params = _sgr_params(self.depth)
        rows = np.flatnonzero(changed.any(axis=1)).tolist()
        for row in rows:
            where = np.flatnonzero(changed[row])
            breaks = np.flatnonzero(np.diff(where) > _SPAN_GAP)
            starts = where[np.concatenate(([0], breaks + 1))].tolist()
            ends = (where[np.concatenate((breaks, [len(where) - 1]))] + 1).tolist()
            glyphs, fg, bg = cells.glyphs[row], cells.fg[row], cells.bg[row]
            for start, end in zip(starts, ends, strict=True):
                out.append(f"\x1b[{top + row + 1};{left + start + 1}H")
                _span(out, glyphs[start:end], fg[start:end], bg[start:end], fg_params, bg_params)
        if rows:
            out.append("\x1b[0m")


def _span(
    out: list[str],
    glyphs: npt.NDArray[np.uint32],
    fg: npt.NDArray[np.int16],
    bg: npt.NDArray[np.int16],
    fg_params: Sequence[str],
    bg_params: Sequence[str],
) -> None:
    """Cells of one row: a colour wherever it changes, then the characters up to the next."""
    text = glyphs.astype("<u4").tobytes().decode("utf-32-le")
    cuts = (np.flatnonzero((fg[1:] != fg[:-1]) | (bg[1:] != bg[:-1])) + 1).tolist()
    bounds = [0, *cuts, len(text)]
    fgs, bgs = fg[bounds[:-1]].tolist(), bg[bounds[:-1]].tolist()
    for index in range(len(bounds) - 1):
        out.append(f"\x1b[{fg_params[fgs[index] + 1]};{bg_params[bgs[index] + 1]}m")
        out.append(text[bounds[index] : bounds[index + 1]])


# --- keys ---------------------------------------------------------------------------


class Action(enum.Enum):
    """What a key asks for."""

    QUIT = "quit"
    MODE = "mode"
    PRESET = "preset"
    STOP = "stop"
    NEXT = "next"
    BACK = "back"
    FORWARD = "forward"


_KEYS = {
    "q": Action.QUIT,
    "Q": Action.QUIT,
    "\x03": Action.QUIT,  # Ctrl-C: raw mode delivers it as a byte, not a signal
    "\x04": Action.QUIT,  # Ctrl-D
    "m": Action.MODE,
    "p": Action.PRESET,
    "s": Action.STOP,
    "n": Action.NEXT,
}
#: The arrow keys that are actions: ← and → (CSI or SS3 form, as the terminal's cursor
#: key mode says), with no modifier.
_ARROWS = {
    "\x1b[D": Action.BACK,
    "\x1bOD": Action.BACK,
    "\x1b[C": Action.FORWARD,
    "\x1bOC": Action.FORWARD,
}
# An escape sequence (an arrow key, a focus report): its letters are not keys.
_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|O.|.)?", re.DOTALL)


def actions_of(typed: bytes) -> list[Action]:
    """The actions of the keys in what was read from a terminal in raw mode."""
    text = typed.decode("utf-8", "replace")
    actions: list[Action] = []
    position = 0
    for escape in _ESCAPE.finditer(text):
        actions.extend(_KEYS[key] for key in text[position : escape.start()] if key in _KEYS)
        arrow = _ARROWS.get(escape.group())
        if arrow is not None:
            actions.append(arrow)
        position = escape.end()
    actions.extend(_KEYS[key] for key in text[position:] if key in _KEYS)
    return actions


def cycle(options: Sequence[str], current: str | None) -> str:
    """The option after ``current`` (the first when ``current`` is not one of them)."""
    if not options:
        raise ValueError("nothing to choose from")
    try:
        return options[(list(options).index(current) + 1) % len(options)]  # type: ignore[arg-type]
    except ValueError:
        return options[0]
