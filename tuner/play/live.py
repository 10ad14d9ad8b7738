"""Reading a live HLS stream's playlist for its DVR window (the trio shell of
:mod:`tuner.core.live_window`).

A session playing a live HLS stream reads its playlist before each ffmpeg run: to
know how far back the stream can be played (a window long enough makes it seekable),
and in which segment a run should start. The read goes where ffmpeg's fetches go
(the egress proxy, with the input's own headers), is small and bounded in time, and
when it fails the stream simply plays at its edge, as any live stream does.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin, urlsplit

import httpx
import trio

from tuner.core.hls import NotAPlaylistError, Playlist, parse_playlist
from tuner.core.live_window import LiveWindow
from tuner.core.source import MediaInput, Source

log = logging.getLogger(__name__)

#: A playlist is text of a few kilobytes; a long event's may be a few hundred.
MAX_PLAYLIST_BYTES = 4 * 1024 * 1024
READ_TIMEOUT_SECONDS = 5.0


class WindowReadError(Exception):
    """The playlist could not be read; the message says why, for the log."""


def hls_input(source: Source) -> MediaInput | None:
    """The input whose playlist says the window: the picture's, else the first HLS one."""
    inputs = [i for i in source.inputs if i.hls]
    return next((i for i in inputs if i.has_video), inputs[0] if inputs else None)


async def read_window(
    window: LiveWindow,
    media: MediaInput,
    proxy: str | None,
    *,
    patience: float = READ_TIMEOUT_SECONDS,
) -> None:
    """Read ``media``'s playlist (a master playlist's first variant) into ``window``,
    each request answered within ``patience`` seconds.

    Raises:
        WindowReadError: no answer in time, an HTTP error, or not a media playlist.
    """
    headers = {name: value for name, value in media.headers if "\n" not in name + value}
    async with httpx.AsyncClient(
        proxy=proxy,
        # Never a proxy (or a way around one) that the environment names.
        trust_env=False,
        follow_redirects=True,
        max_redirects=5,
        timeout=httpx.Timeout(patience),
        headers=headers,
    ) as client:
        with trio.move_on_after(patience * 2) as deadline:
            url, playlist = await _read(client, media.url, patience)
            if playlist.is_master:
                variant = urljoin(url, playlist.variants[0])
                url, playlist = await _read(client, variant, patience)
        if deadline.cancelled_caught:
            raise WindowReadError(f"no playlist within {patience * 2:g} s")
    if playlist.is_master:
        raise WindowReadError("a master playlist whose first variant is a master playlist")
    window.update(playlist, trio.current_time())


async def _read(client: httpx.AsyncClient, url: str, patience: float) -> tuple[str, Playlist]:
    if urlsplit(url).scheme not in ("http", "https"):
        raise WindowReadError(f"not an http(s) playlist: {url[:80]!r}")
    try:
        async with client.stream("GET", url) as response:
            if "tuner-egress" in response.headers:
                raise WindowReadError(f"refused by the egress proxy: {response.reason_phrase}")
            if response.status_code >= 400:
                raise WindowReadError(f"HTTP {response.status_code} for the playlist")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_PLAYLIST_BYTES:
                    raise WindowReadError(f"a playlist of more than {MAX_PLAYLIST_BYTES} bytes")
            final = str(response.url)
    except httpx.TimeoutException:
        raise WindowReadError(f"no answer within {patience:g} s") from None
    except httpx.HTTPError as exc:
        raise WindowReadError(f"{type(exc).__name__}: {exc}") from None
    try:
        return final, parse_playlist(body.decode("utf-8", errors="replace"))
    except NotAPlaylistError as exc:
        raise WindowReadError(str(exc)) from None
