"""``tuner watch``: logs in, plays what was asked for, and runs the
:class:`~tuner.term._viewer.Viewer` with the terminal in raw mode.

The terminal is put back (its modes, the main screen, the cursor) on every way out,
exceptions and Ctrl-C included; a SIGINT from elsewhere exits with status 130.
"""

from __future__ import annotations

import contextlib
import os
import termios
import tty
from collections.abc import Iterator

import httpx
import trio

from tuner.client import LIMITS, TIMEOUT, CommandError, acall, alogin
from tuner.term._draw import ENTER_SCREEN, LEAVE_SCREEN
from tuner.term._options import WatchOptions
from tuner.term._viewer import Viewer

__all__ = ["watch"]


def watch(options: WatchOptions) -> int:
    """Watch the daemon in this terminal until ``q``; returns the exit status.

    Raises:
        CommandError: the daemon cannot be reached or refused the PIN (before the
            terminal is touched), or watching had to stop.
    """
    if not (os.isatty(0) and os.isatty(1)):
        raise CommandError("tuner watch draws in a terminal: run it with a terminal as stdin/out")
    try:
        interrupted = trio.run(_watch, options)
    except BaseException as exc:
        # SIGINT from elsewhere before or after watching (a Ctrl-C key is a plain quit).
        if _is_interrupt(exc):
            return 130
        raise
    return 130 if interrupted else 0


async def _watch(options: WatchOptions) -> bool:
    """Log in, play, watch; returns whether a SIGINT ended it."""
    async with httpx.AsyncClient(
        base_url=options.base_url, timeout=TIMEOUT, verify=options.verify, limits=LIMITS
    ) as http:
        await alogin(http, options.pin)
        if options.query is not None:
            body = {"query": options.query}
            if options.preset:
                body["preset"] = options.preset
            if options.mode:
                body["mode"] = options.mode
            await acall(http, "POST", "/api/play", json=body)
        choices = await acall(http, "GET", "/api/presets")
        viewer = Viewer(options, http, choices)
        with _raw_terminal() as out:
            await viewer.run(out)
    if viewer.fatal is not None:
        raise CommandError(viewer.fatal)
    return viewer.interrupted


@contextlib.contextmanager
def _raw_terminal() -> Iterator[trio.lowlevel.FdStream]:
    """Raw mode, the alternate screen and no cursor, all undone on the way out.

    Yields a stream for writing to the terminal through an open file of its own (so
    that making it non-blocking for trio leaves stdin and stdout as they were).
    """
    saved = termios.tcgetattr(0)
    out = trio.lowlevel.FdStream(os.open(os.ttyname(1), os.O_WRONLY | os.O_NOCTTY))
    try:
        tty.setraw(0, termios.TCSANOW)
        os.write(1, ENTER_SCREEN.encode())
        yield out
    finally:
        out.close()
        os.write(1, LEAVE_SCREEN.encode())
        termios.tcsetattr(0, termios.TCSADRAIN, saved)


def _is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is a KeyboardInterrupt, alone or in (nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_interrupt(inner) for inner in exc.exceptions)
    return isinstance(exc, KeyboardInterrupt)
