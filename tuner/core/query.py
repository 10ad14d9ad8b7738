"""What a play query is: the test card, a video ID, a URL, or words to search for.

A query is always data: it becomes one argument to yt-dlp's ``extract_info``, never a
command-line option. Still, a query that looks like one (``--exec ...``, ``-o x``) is
refused rather than searched for: whoever typed it meant something else. Only
``http`` and ``https`` URLs are fetched; local paths and every other scheme are
refused here, before anything runs. Where a URL may lead is checked later, on every
connection (:mod:`tuner.core.egress`).
"""

from __future__ import annotations

import enum
import re
import urllib.parse

import attrs

TESTCARD = "testcard"
MAX_QUERY_LENGTH = 2000

_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_WINDOWS_DRIVE = re.compile(r"[A-Za-z]:[\\/]")


class QueryError(ValueError):
    """A query that cannot be played; the message says why and what to do."""


class QueryKind(enum.StrEnum):
    """How a query is resolved."""

    TESTCARD = "testcard"
    VIDEO_ID = "video_id"
    URL = "url"
    SEARCH = "search"


@attrs.frozen
class Query:
    """A checked query: its kind, and the one string yt-dlp is asked to extract."""

    kind: QueryKind
    text: str
    target: str


def parse_query(text: str) -> Query:
    """Check and classify a query.

    An 11-character word of YouTube's ID alphabet is a video ID when it has a digit,
    a capital, ``-`` or ``_`` (so that an ordinary 11-letter word is searched for).

    Raises:
        QueryError: empty, too long, like a command-line option, a local path, or a
            URL of another scheme.
    """
    text = check_text(text)
    if text.lower() == TESTCARD:
        return Query(QueryKind.TESTCARD, text, TESTCARD)
    if text.startswith(("/", "./", "../", "~", "\\")) or _WINDOWS_DRIVE.match(text):
        raise QueryError("local files are not played: give an http(s) URL")
    scheme = _SCHEME.match(text)
    # Words with a colon ("Interview: part 2") are a search; one token is a URL.
    if scheme and not any(c.isspace() for c in text):
        return Query(QueryKind.URL, text, _check_url(text, scheme.group(1).lower()))
    if _is_video_id(text):
        return Query(QueryKind.VIDEO_ID, text, f"https://www.youtube.com/watch?v={text}")
    return Query(QueryKind.SEARCH, text, f"ytsearch1:{text}")


def check_text(text: str) -> str:
    """The rules every query follows, whatever its kind (play, queue or search):
    returns it without surrounding spaces.

    Raises:
        QueryError: empty, too long, control characters, or like a command-line
            option (a leading ``-``, unless the whole is a video ID).
    """
    text = text.strip()
    if not text:
        raise QueryError("the query is empty: give a URL, a YouTube video ID or words to search")
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise QueryError("the query contains control characters")
    if text.startswith("-") and not _is_video_id(text):
        # A video ID may start with "-"; it becomes a watch URL, never an option.
        raise QueryError(
            "a query cannot start with '-': tuner takes no yt-dlp options; "
            "give a URL, a YouTube video ID or words to search"
        )
    return text


def _is_video_id(text: str) -> bool:
    if not _VIDEO_ID.fullmatch(text):
        return False
    if text.isalpha():
        # IDs are random: an all-lowercase (or all-capitals) word is a word.
        return not (text.islower() or text.isupper())
    return True


def _check_url(text: str, scheme: str) -> str:
    if scheme not in ("http", "https"):
        raise QueryError(f"{scheme}: URLs are not played: only http and https")
    parts = urllib.parse.urlsplit(text)
    if not parts.hostname:
        raise QueryError(f"the URL {text!r} has no host")
    return text
