"""Just enough of an HLS playlist (RFC 8216) to tell whether a URL plays, and how.

Sans-IO: the extractors' stream check fetches the text and asks this module what it
is. A master playlist lists variants (their resolutions give the quality); a media
playlist without ``#EXT-X-ENDLIST`` is live.
"""

from __future__ import annotations

import re

import attrs

_RESOLUTION = re.compile(r"RESOLUTION=(\d+)x(\d+)")


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
    """

    is_master: bool
    variants: tuple[str, ...] = ()
    height: int | None = None
    ended: bool = False
    segments: int = 0

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
    ended = False
    segments = 0
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
            segments += 1
        elif not line.startswith("#") and expect_variant_uri:
            variants.append(line)
            expect_variant_uri = False
    return Playlist(
        is_master=bool(variants),
        variants=tuple(variants),
        height=max(heights, default=None),
        ended=ended,
        segments=segments,
    )
