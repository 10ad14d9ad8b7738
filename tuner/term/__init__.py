"""The terminal client: ``tuner watch`` draws a running daemon's frames in a terminal.

:mod:`tuner.term._draw` is the sans-IO part (grids to ANSI text, colour depths,
fitting, keys); the trio shell around it is :mod:`tuner.term._options` (what was asked
for, the PIN), :mod:`tuner.term._watch` (logging in, the terminal's modes and restoring
them) and :mod:`tuner.term._viewer` (the tasks: the WebSocket, drawing, the keyboard,
signals, the status).
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
