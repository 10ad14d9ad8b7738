"""Presets (grid size and frame rate) and render modes."""

from __future__ import annotations

import enum

import attrs

#: A character cell's width over its height, as the clients draw it (monospace glyphs
#: are about 0.6 em wide). The server scales pictures for it, so circles stay round.
CELL_ASPECT = 0.6


class Mode(enum.StrEnum):
    """How a frame becomes character cells."""

    #: A character ramp, dark to bright.
    MONO = "mono"
    #: The ramp, plus a colour per cell.
    COLOR = "color"
    #: Upper half blocks with a foreground and a background colour: two pixels a cell.
    BLOCKS = "blocks"
    #: Braille patterns: 2x4 dots a cell, with a colour per cell.
    BRAILLE = "braille"


@attrs.frozen
class Preset:
    """A character grid and the frame rate it is played at."""

    name: str
    cols: int
    rows: int
    fps: int
    description: str

    def to_json(self) -> dict[str, object]:
        """The preset as the API shows it."""
        return {
            "name": self.name,
            "cols": self.cols,
            "rows": self.rows,
            "fps": self.fps,
            "description": self.description,
        }


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("low", 120, 50, 24, "the car: light on LTE"),
        Preset("med", 160, 68, 30, "a tablet"),
        Preset("high", 200, 84, 30, "a laptop"),
        Preset("ultra", 240, 100, 30, "a big screen on a good link"),
    )
}

DEFAULT_PRESET = "low"
DEFAULT_MODE = Mode.MONO


class UnknownChoiceError(ValueError):
    """A preset or mode name that does not exist."""


def get_preset(name: str) -> Preset:
    """Look a preset up by name.

    Raises:
        UnknownChoiceError: the name is not a preset; the message lists the valid ones.
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownChoiceError(
            f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None


def get_mode(name: str) -> Mode:
    """Look a render mode up by name.

    Raises:
        UnknownChoiceError: the name is not a mode; the message lists the valid ones.
    """
    try:
        return Mode(name)
    except ValueError:
        raise UnknownChoiceError(
            f"unknown mode {name!r}; choose one of {', '.join(m.value for m in Mode)}"
        ) from None
