"""Just enough of an HLS playlist (RFC 8216) to tell whether a URL plays, and how.

Sans-IO: the extractors' stream check and a live session's window
(:mod:`tuner.core.live_window`) fetch the text and ask this module what it is. A
master playlist lists variants (their resolutions give the quality); a media playlist
without ``#EXT-X-ENDLIST`` is live, and lists its segments from its media sequence on.
"""

from __future__ import annotations

import re

import attrs

_RESOLUTION = re.compile(r"RESOLUTION=(\d+)x(\d+)")
_NUMBER = re.compile(r"\s*(\d+(?:\.\d*)?)")


class NotAPlaylistError(ValueError):
    """The text is not an HLS playlist (it does not start with ``#EXTM3U``)."""


@attrs.frozen
class Playlist:
    """What a playlist says about its stream.

    Attributes:
        is_master: it lists variants rather than segments.
        variants: the variants' URIs as written (relative ones are relative to it).
        height: the tallest variant's height in pixels, if the playlist says.
        ended: a media playlist with ``#EXT-X-ENDLIST`` (not live).
        segments: how many media segments a media playlist lists.
        media_sequence: the first segment's sequence number (``#EXT-X-MEDIA-SEQUENCE``).
        durations: each segment's length in seconds (``#EXTINF``), in order.
        target_duration: ``#EXT-X-TARGETDURATION`` (seconds), when given.
        event: ``#EXT-X-PLAYLIST-TYPE:EVENT``: segments are only ever added (the
            window keeps its start), not slid off.
    """

    is_master: bool
    variants: tuple[str, ...] = ()
    height: int | None = None
    ended: bool = False
    segments: int = 0
    media_sequence: int = 0
    durations: tuple[float, ...] = ()
    target_duration: float | None = None
    event: bool = False

    @property
    def quality(self) -> str | None:
        """``"1080p"`` from the tallest variant, when known."""
        return f"{self.height}p" if self.height else None


def parse_playlist(text: str) -> Playlist:
    """Read an HLS playlist.

    Raises:
        NotAPlaylistError: the text does not start with ``#EXTM3U``.
    """
    lines = [line.strip() for line in text.lstrip("\ufeff").splitlines()]
    if not lines or lines[0] != "#EXTM3U":
        raise NotAPlaylistError("not an HLS playlist: it does not start with #EXTM3U")
    variants: list[str] = []
    heights: list[int] = []
    ended = event = False
    durations: list[float] = []
    media_sequence = 0
    target_duration: float | None = None
    expect_variant_uri = False
    for line in lines[1:]:
        if not line:
            continue
        if line.startswith("#EXT-X-STREAM-INF:"):
            expect_variant_uri = True
            match = _RESOLUTION.search(line)
            if match:
                heights.append(int(match.group(2)))
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line.startswith("#EXTINF:"):
            durations.append(_number(line[len("#EXTINF:") :]) or 0.0)
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            media_sequence = int(_number(line[len("#EXT-X-MEDIA-SEQUENCE:") :]) or 0)
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            target_duration = _number(line[len("#EXT-X-TARGETDURATION:") :])
        elif line.startswith("#EXT-X-PLAYLIST-TYPE:"):
            event = line.partition(":")[2].strip().upper() == "EVENT"
        elif not line.startswith("#") and expect_variant_uri:
            variants.append(line)
            expect_variant_uri = False
    return Playlist(
        is_master=bool(variants),
        variants=tuple(variants),
        height=max(heights, default=None),
        ended=ended,
        segments=len(durations),
        media_sequence=media_sequence,
        durations=tuple(durations),
        target_duration=target_duration,
        event=event,
    )


def _number(text: str) -> float | None:
    """The decimal number a tag's value starts with (``6.006,title`` is 6.006)."""
    match = _NUMBER.match(text)
    return float(match.group(1)) if match else None
