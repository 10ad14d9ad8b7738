"""A resolved source: the media URLs ffmpeg reads, and what a person sees of it.

Built from yt-dlp's info dict once its format selection has run; plain values that
cross the resolver worker's pipe as JSON.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from tuner.core.search import pick_thumbnail

#: ``Stream #0:1(und): Audio: aac ...`` lines of ``ffmpeg -i``.
_STREAM_LINE = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio): (\S+)", re.MULTILINE)
_DURATION = re.compile(r"^\s*Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", re.MULTILINE)
#: Cover art is a "video" stream of one picture: it does not make a file a video.
_ATTACHED_PICTURE = "(attached pic)"


class SourceError(ValueError):
    """yt-dlp's answer has nothing ffmpeg can play; the message says why."""


@attrs.frozen
class MediaInput:
    """One URL for ffmpeg to read, with the HTTP headers the site expects.

    ``has_video``/``has_audio`` are ``None`` while unknown (a plain file URL, before it
    is probed).

    ``local`` marks a file of the daemon's own download cache: ``url`` is then an
    absolute path, and ffmpeg may read it as a file. Only the cache makes such
    inputs; :meth:`Source.from_json` (what crosses a worker's pipe) never does, and
    a user's query can never name a local file (:mod:`tuner.core.query`).

    ``hls`` marks an HLS playlist (yt-dlp's ``m3u8`` protocols): a live one has a
    window that a session reads (:mod:`tuner.play.live`).
    """

    url: str
    headers: tuple[tuple[str, str], ...] = ()
    has_video: bool | None = None
    has_audio: bool | None = None
    local: bool = False
    hls: bool = False

    @property
    def known(self) -> bool:
        """Whether both stream kinds are known."""
        return self.has_video is not None and self.has_audio is not None


@attrs.frozen
class Source:
    """What to play: one input (audio and video together) or two (video, then audio)."""

    title: str
    inputs: tuple[MediaInput, ...]
    is_live: bool = False
    duration: float | None = None
    webpage_url: str | None = None
    extractor: str | None = None
    #: The site's thumbnail URL (shown same-origin, see tuner.core.thumbnails).
    thumbnail: str | None = None
    #: Who published it (the channel, else the uploader).
    channel: str | None = None

    @property
    def has_video(self) -> bool:
        """Whether any input has a video stream."""
        return any(i.has_video for i in self.inputs)

    @property
    def has_audio(self) -> bool:
        """Whether any input has an audio stream."""
        return any(i.has_audio for i in self.inputs)

    @property
    def is_local(self) -> bool:
        """Whether it plays from the download cache (no network, no expiry)."""
        return any(i.local for i in self.inputs)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (the worker's answer)."""
        return attrs.asdict(self, recurse=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Source:
        """The inverse of :meth:`to_json`, except that no input comes back ``local``:
        a worker's answer never makes ffmpeg read a local file. ``thumbnail`` and
        ``channel`` may be absent (an answer from before they existed).

        Raises:
            SourceError: the data is not a source.
        """
        try:
            inputs = tuple(
                MediaInput(
                    url=str(i["url"]),
                    headers=tuple((str(k), str(v)) for k, v in i["headers"]),
                    has_video=i["has_video"],
                    has_audio=i["has_audio"],
                    # Absent from answers of older versions.
                    hls=i.get("hls") is True,
                )
                for i in data["inputs"]
            )
            return cls(
                title=str(data["title"]),
                inputs=inputs,
                is_live=bool(data["is_live"]),
                duration=None if data["duration"] is None else float(data["duration"]),
                webpage_url=data["webpage_url"],
                extractor=data["extractor"],
                # Absent from answers of older versions.
                thumbnail=_optional_str(data.get("thumbnail")),
                channel=_optional_str(data.get("channel")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(f"not a source: {exc!r}") from None


def source_from_info(info: dict[str, Any]) -> Source:
    """The source yt-dlp selected, from an info dict after format selection.

    A merged selection (``requested_formats``) gives one input per format, video
    first; a single format gives one input.

    Raises:
        SourceError: no format has a URL (nothing playable was selected).
    """
    formats = info.get("requested_formats") or [info]
    inputs = tuple(_input(f) for f in formats if f.get("url"))
    if not inputs:
        raise SourceError("no playable format was found")
    inputs = tuple(sorted(inputs, key=lambda i: not i.has_video))
    title = info.get("title") or info.get("webpage_url") or "untitled"
    duration = info.get("duration")
    return Source(
        title=str(title),
        inputs=inputs,
        is_live=bool(info.get("is_live")) or info.get("live_status") == "is_live",
        duration=float(duration) if isinstance(duration, int | float) and duration > 0 else None,
        webpage_url=info.get("webpage_url"),
        extractor=info.get("extractor_key") or info.get("extractor"),
        thumbnail=pick_thumbnail(info),
        channel=_optional_str(info.get("channel")) or _optional_str(info.get("uploader")),
    )


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _input(fmt: dict[str, Any]) -> MediaInput:
    headers = fmt.get("http_headers") or {}
    return MediaInput(
        url=str(fmt["url"]),
        headers=tuple((str(k), str(v)) for k, v in headers.items()),
        has_video=_has(fmt.get("vcodec")),
        has_audio=_has(fmt.get("acodec")),
        hls=str(fmt.get("protocol") or "").startswith("m3u8"),
    )


def _has(codec: object) -> bool | None:
    if codec is None:
        return None
    return codec != "none"


def duration_from_probe(stderr: str) -> float | None:
    """The input's duration in seconds from ``ffmpeg -i URL``'s output (``None`` for a
    live stream, which says ``Duration: N/A``)."""
    match = _DURATION.search(stderr)
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds) or None


def streams_from_probe(stderr: str) -> tuple[bool, bool]:
    """``(has_video, has_audio)`` from what ``ffmpeg -i URL`` printed about the input."""
    has_video = has_audio = False
    for line in stderr.splitlines():
        match = _STREAM_LINE.match(line)
        if not match:
            continue
        if match.group(1) == "Audio":
            has_audio = True
        elif _ATTACHED_PICTURE not in line:
            has_video = True
    return has_video, has_audio
