"""What extractors find: stream records, and the errors they report."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs


class StreamKind(enum.Enum):
    """How a stream's URL is played."""

    #: An HLS playlist (``.m3u8``): ffmpeg plays it directly.
    HLS = "hls"
    #: A web page that yt-dlp knows how to resolve.
    PAGE = "page"
    #: A YouTube watch URL (resolved by yt-dlp when played).
    YOUTUBE = "youtube"


class ExtractorError(Exception):
    """An extractor's expected failure; the message says what a person can do about it."""


class PartialResultsError(ExtractorError):
    """Some of an extractor's sources failed, others did not.

    Raised instead of returning, so that the run keeps ``records`` as a success and
    still shows ``problems`` in the log and in ``/api/extractors``.
    """

    def __init__(self, records: Sequence[StreamRecord], problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.records = tuple(records)
        self.problems = tuple(problems)


def iso(timestamp: float | None) -> str | None:
    """A UNIX time as ISO 8601 in UTC, to the second (``None`` stays ``None``)."""
    if timestamp is None:
        return None
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _http_url(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a stream's URL must be http(s), got {value!r}")


def _non_empty(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.strip():
        raise ValueError(f"a stream's {attribute.name} must not be empty")


@attrs.frozen
class StreamRecord:
    """One stream an extractor found.

    Attributes:
        title: what to show in the list.
        url: what ``POST /api/play`` gets as its query.
        kind: how the URL plays.
        extractor: the key of the extractor that found it.
        found_at: when it was found (UNIX time).
        is_live: a live broadcast (rather than a recording).
        quality: the best quality known (``"1080p"``), if known.
    """

    title: str = attrs.field(validator=[attrs.validators.instance_of(str), _non_empty])
    url: str = attrs.field(validator=[attrs.validators.instance_of(str), _http_url])
    kind: StreamKind = attrs.field(validator=attrs.validators.instance_of(StreamKind))
    extractor: str = attrs.field(validator=attrs.validators.instance_of(str))
    found_at: float = attrs.field(validator=attrs.validators.instance_of((int, float)))
    is_live: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    quality: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str))
    )

    def to_json(self) -> dict[str, Any]:
        """The record as ``/api/streams`` lists it (before its age is added)."""
        return {
            "title": self.title,
            "url": self.url,
            "kind": self.kind.value,
            "quality": self.quality,
            "is_live": self.is_live,
            "extractor": self.extractor,
            "found_at": iso(self.found_at),
        }
