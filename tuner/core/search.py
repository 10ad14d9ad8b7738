"""Search: what a person may search for, and what a result is.

A search asks yt-dlp's search extractor (``<prefix><limit>:<words>``, by default
``ytsearch8:words``) for a flat list of entries: one request to the site, no
resolution of each result. Each entry becomes a :class:`SearchResult`, whose ``url``
is what the client then plays or queues.

Words typed into search follow the play query's rules (:mod:`tuner.core.query`):
empty, too long, control characters and a leading ``-`` are refused. A URL, a
YouTube video ID or ``testcard`` typed into search is answered, without running
yt-dlp, by one result that names it (:func:`named_result`): the person sees it in
the list and plays it as they would any result.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from tuner.core.query import Query, QueryError, QueryKind, check_text, parse_query

DEFAULT_PREFIX = "ytsearch"
DEFAULT_LIMIT = 8
MAX_LIMIT = 20
#: Titles and channel names longer than this are cut (a hostile or broken site).
MAX_TEXT = 300
_PREFIX = re.compile(r"[a-z]{1,40}")
#: A thumbnail at most this wide is enough for a list row or the media session's
#: artwork on a car's screen; wider ones cost LTE bytes for nothing.
THUMBNAIL_WIDTH = 480


def check_prefix(text: str) -> str:
    """A yt-dlp search key (``ytsearch``, ``scsearch``): lowercase letters only.

    Raises:
        ValueError: anything else (a digit would run into the result count).
    """
    prefix = text.strip().lower()
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"must be a yt-dlp search key of letters, like 'ytsearch', got {text!r}")
    return prefix


def search_target(prefix: str, limit: int, words: str) -> str:
    """What yt-dlp extracts: ``<prefix><limit>:<words>``."""
    return f"{prefix}{limit}:{words}"


def parse_search(text: str) -> Query:
    """Check what was typed into search.

    Returns:
        A :class:`Query` of kind ``SEARCH`` (its ``text`` is the words to search),
        or of another kind (a URL, a video ID, the test card) that is answered by
        :func:`named_result` instead of a search.

    Raises:
        QueryError: empty, too long, control characters, or a leading ``-``.
    """
    words = check_text(text)
    try:
        query = parse_query(words)
    except QueryError:
        # What play refuses beyond the shared rules (a path, an ftp: URL) is only
        # words to a search: they go to the site as its search box's text.
        return Query(QueryKind.SEARCH, words, words)
    if query.kind is QueryKind.SEARCH:
        return Query(QueryKind.SEARCH, words, words)
    return query


@attrs.frozen
class SearchResult:
    """One result, as the worker answers it; ``thumbnail`` is the site's URL (the API
    shows a same-origin path for it instead)."""

    id: str
    title: str
    url: str
    channel: str | None = None
    duration: float | None = None
    is_live: bool = False
    thumbnail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (the worker's answer)."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchResult:
        """The inverse of :meth:`to_json`, checked as :func:`result_from_entry` checks.

        Raises:
            ValueError: not a result (or one whose URL cannot be played).
        """
        if not isinstance(data, dict):
            raise ValueError(f"not a search result: {data!r}")
        result = result_from_entry(
            {
                "id": data.get("id"),
                "title": data.get("title"),
                "url": data.get("url"),
                "channel": data.get("channel"),
                "duration": data.get("duration"),
                "live_status": "is_live" if data.get("is_live") is True else None,
                "thumbnail": data.get("thumbnail"),
            }
        )
        if result is None:
            raise ValueError(f"not a search result: {data!r}")
        return result


def named_result(query: Query) -> SearchResult:
    """The one result that answers a URL, video ID or ``testcard`` typed into search."""
    title = "Test card" if query.kind is QueryKind.TESTCARD else query.text
    return SearchResult(id=query.text, title=title, url=query.text, is_live=False)


def result_from_entry(entry: dict[str, Any]) -> SearchResult | None:
    """The result for one entry of yt-dlp's flat search answer (shaped like YouTube's:
    ``id``, ``title``, ``url``, ``channel``/``uploader``, ``duration``,
    ``live_status``, ``thumbnails``), or ``None`` for an entry that cannot be played
    (no http(s) URL, a channel or playlist rather than a video)."""
    url = _playable_url(entry)
    if url is None:
        return None
    title = _text(entry.get("title")) or url
    duration = entry.get("duration")
    live_status = entry.get("live_status")
    return SearchResult(
        id=_text(entry.get("id")) or url,
        title=title,
        url=url,
        channel=_text(entry.get("channel")) or _text(entry.get("uploader")),
        duration=(
            float(duration)
            if isinstance(duration, int | float) and not isinstance(duration, bool) and duration > 0
            else None
        ),
        is_live=live_status == "is_live" or entry.get("is_live") is True,
        thumbnail=pick_thumbnail(entry),
    )


def pick_thumbnail(entry: dict[str, Any]) -> str | None:
    """The http(s) thumbnail to show: the widest at most :data:`THUMBNAIL_WIDTH`
    wide, else the narrowest wider one; with no widths known, yt-dlp's preference
    (the last of ``thumbnails``, else ``thumbnail``)."""
    candidates = [
        t for t in entry.get("thumbnails") or [] if isinstance(t, dict) and _is_http(t.get("url"))
    ]
    sized = [t for t in candidates if isinstance(t.get("width"), int) and t["width"] > 0]
    if sized:
        small = [t for t in sized if t["width"] <= THUMBNAIL_WIDTH]
        best = (
            max(small, key=lambda t: t["width"]) if small else min(sized, key=lambda t: t["width"])
        )
        return str(best["url"])
    if candidates:
        return str(candidates[-1]["url"])
    single = entry.get("thumbnail")
    return single if isinstance(single, str) and _is_http(single) else None


def _playable_url(entry: dict[str, Any]) -> str | None:
    for key in ("url", "webpage_url"):
        url = entry.get(key)
        if not isinstance(url, str) or not _is_http(url):
            continue
        try:
            query = parse_query(url)
        except QueryError:
            continue
        if query.kind is QueryKind.URL:
            return url
    return None


def _is_http(value: object) -> bool:
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    # One line, no control characters, bounded.
    text = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return text[:MAX_TEXT] or None
