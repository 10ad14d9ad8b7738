"""What ``tuner watch`` was asked for: the daemon, the PIN, the colours and what to play.

:func:`options_from` finds them from the settings and the command line, asking for the
PIN on the terminal when none is configured; nothing here touches the terminal's modes.
"""

from __future__ import annotations

import getpass
import ssl
import sys

import attrs

from tuner.client import local_url, own_certificate, pin_for
from tuner.config import Settings
from tuner.term._draw import ColorDepth

__all__ = ["WatchOptions", "options_from"]


@attrs.frozen
class WatchOptions:
    """What ``tuner watch`` was asked for.

    Attributes:
        base_url: the daemon, ``http(s)://host:port``.
        pin: the PIN to log in (and in again after a ``1008``) with.
        depth: the terminal's colours.
        query: play this first, if given.
        preset: with ``query``: the preset to play it at.
        mode: with ``query``: the mode to play it in.
        verify: what httpx checks the daemon's certificate with.
    """

    base_url: str
    pin: str = attrs.field(repr=False)
    depth: ColorDepth
    query: str | None = None
    preset: str | None = None
    mode: str | None = None
    verify: ssl.SSLContext | bool = True


def options_from(
    settings: Settings,
    url: str | None,
    depth: ColorDepth,
    query: str | None = None,
    preset: str | None = None,
    mode: str | None = None,
) -> WatchOptions:
    """The options for a daemon found from the settings; asks for the PIN on the
    terminal when none is configured.

    Raises:
        CommandError: no PIN, and no terminal to ask it on.
    """
    prompt = None
    if sys.stdin.isatty():

        def prompt() -> str:
            return getpass.getpass("tuner PIN: ")

    base_url = url or local_url(settings)
    verify = own_certificate(settings) if base_url.startswith("https:") else True
    return WatchOptions(
        base_url=base_url,
        pin=pin_for(settings, prompt),
        depth=depth,
        query=query,
        preset=preset,
        mode=mode,
        verify=verify,
    )
