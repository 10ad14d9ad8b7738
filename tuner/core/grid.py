"""The cell grid: what a render mode produces and what the v2 codec carries.

A grid is a stack of byte *planes*, each ``rows x cols``. Which planes a mode has,
and what their bytes mean, is fixed per mode (:data:`LAYOUTS`):

========  ====================  ==========================================
mode      planes                a cell is drawn as
========  ====================  ==========================================
mono      symbol                the ASCII character ``symbol``
color     symbol, color         ``symbol`` in ``color``
blocks    color, color          "▀" in the first colour on the second
braille   symbol, color         ``chr(0x2800 + symbol)`` in ``color``
========  ====================  ==========================================

Colours are RGB332 codes (:mod:`tuner.core.color`). Keeping planes apart, rather than
interleaving a cell's bytes, is what lets the codec compare and copy a whole plane
with one numpy operation and lets DEFLATE find the runs of equal symbols.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from tuner.core.color import expand
from tuner.core.presets import Mode

#: Upper half block: drawn in the foreground colour over the background colour.
UPPER_HALF_BLOCK = "\u2580"
#: The first braille pattern (no dots); a pattern's bits are added to it.
BRAILLE_BASE = 0x2800


class PlaneKind(enum.Enum):
    """How the codec treats a plane's bytes."""

    #: A character (or braille dots): always sent exactly.
    SYMBOL = "symbol"
    #: An RGB332 colour: may drift within the encoder's tolerance before it is resent.
    COLOR = "color"


LAYOUTS: Mapping[Mode, tuple[PlaneKind, ...]] = {
    Mode.MONO: (PlaneKind.SYMBOL,),
    Mode.COLOR: (PlaneKind.SYMBOL, PlaneKind.COLOR),
    Mode.BLOCKS: (PlaneKind.COLOR, PlaneKind.COLOR),
    Mode.BRAILLE: (PlaneKind.SYMBOL, PlaneKind.COLOR),
}


def _check_planes(instance: Grid, attribute: Any, planes: npt.NDArray[np.uint8]) -> None:
    expected = len(LAYOUTS[instance.mode])
    if planes.dtype != np.uint8 or planes.ndim != 3 or planes.shape[0] != expected:
        raise ValueError(
            f"a {instance.mode} grid needs uint8 planes shaped ({expected}, rows, cols), "
            f"got {planes.dtype} {planes.shape}"
        )
    if planes.shape[1] < 1 or planes.shape[2] < 1:
        raise ValueError(f"a grid needs at least one cell, got {planes.shape[1:]}")


@attrs.frozen(eq=False)
class Grid:
    """A frame as character cells: a mode and its planes.

    Grids compare equal when their modes and every byte of their planes are equal.
    The planes are not copied; whoever makes a grid gives up writing to them.
    """

    mode: Mode
    #: ``(len(LAYOUTS[mode]), rows, cols)`` bytes.
    planes: npt.NDArray[np.uint8] = attrs.field(validator=_check_planes)

    @property
    def rows(self) -> int:
        """Grid height in cells."""
        return int(self.planes.shape[1])

    @property
    def cols(self) -> int:
        """Grid width in cells."""
        return int(self.planes.shape[2])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        return self.mode is other.mode and np.array_equal(self.planes, other.planes)

    __hash__ = None  # type: ignore[assignment]  # equal grids may be mutated

    def text(self) -> list[str]:
        """The grid's characters, one string per row (what a terminal would print)."""
        if self.mode is Mode.BLOCKS:
            return [UPPER_HALF_BLOCK * self.cols] * self.rows
        symbols = self.planes[0]
        if self.mode is Mode.BRAILLE:
            return ["".join(chr(BRAILLE_BASE + int(b)) for b in row) for row in symbols]
        return [row.tobytes().decode("latin-1") for row in symbols]

    def colors(self) -> npt.NDArray[np.uint8]:
        """The RGB of every colour plane: ``(n_colours, rows, cols, 3)``.

        ``n_colours`` is 0 for mono, 2 for blocks (foreground, background), else 1.
        """
        kinds = LAYOUTS[self.mode]
        index = [i for i, kind in enumerate(kinds) if kind is PlaneKind.COLOR]
        if not index:
            return np.empty((0, self.rows, self.cols, 3), dtype=np.uint8)
        return expand(self.planes[index])
