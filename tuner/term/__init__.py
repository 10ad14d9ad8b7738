"""The terminal client: ``tuner watch`` draws a running daemon's frames in a terminal.

:mod:`tuner.term._draw` is the sans-IO part (grids to ANSI text, colour depths,
fitting, keys); :mod:`tuner.term._watch` is the trio shell around it (the
WebSocket, the keyboard, the terminal's modes and size).
"""

from tuner.term._draw import (
    ENTER_SCREEN,
    LEAVE_SCREEN,
    Action,
    Cells,
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

__all__ = [
    "ENTER_SCREEN",
    "LEAVE_SCREEN",
    "Action",
    "Cells",
    "ColorDepth",
    "Painter",
    "actions_of",
    "cells_of",
    "color_keys",
    "cycle",
    "detect_color_depth",
    "fit_size",
    "status_text",
    "xterm_256_index",
]
