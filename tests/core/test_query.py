"""Query parsing: what is searched, what is fetched, what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.core.query import QueryError, QueryKind, parse_query


@pytest.mark.parametrize(
    ("text", "kind", "target"),
    [
        ("testcard", QueryKind.TESTCARD, "testcard"),
        (" TestCard ", QueryKind.TESTCARD, "testcard"),
        ("dQw4w9WgXcQ", QueryKind.VIDEO_ID, "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
        ("a_b-c1234XY", QueryKind.VIDEO_ID, "https://www.youtube.com/watch?v=a_b-c1234XY"),
        ("https://example.com/v.mp4", QueryKind.URL, "https://example.com/v.mp4"),
        ("HTTP://Example.com/live.m3u8", QueryKind.URL, "HTTP://Example.com/live.m3u8"),
        # An ordinary 11-letter word is a word.
        ("programming", QueryKind.SEARCH, "ytsearch1:programming"),
        ("lofi hip hop", QueryKind.SEARCH, "ytsearch1:lofi hip hop"),
        # A video ID may start with "-": it becomes a URL, never an option.
        ("-a_b-c1234X", QueryKind.VIDEO_ID, "https://www.youtube.com/watch?v=-a_b-c1234X"),
        # Words with a colon are words.
        ("Interview: part 2", QueryKind.SEARCH, "ytsearch1:Interview: part 2"),
    ],
)
def test_queries_are_classified(text: str, kind: QueryKind, target: str) -> None:
    query = parse_query(text)
    assert (query.kind, query.target) == (kind, target)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        # What looks like a yt-dlp option is refused, not searched for.
        ("--exec rm -rf ~", "cannot start with '-'"),
        ("  --exec 'touch /tmp/x'", "cannot start with '-'"),
        ("-o /tmp/x", "cannot start with '-'"),
        ("--exec", "cannot start with '-'"),
        ("-", "cannot start with '-'"),
        ("   ", "empty"),
        ("file:///etc/passwd", "only http and https"),
        ("FILE:/etc/passwd", "only http and https"),
        ("ftp://example.com/a.mp4", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("data:video/mp4;base64,AAAA", "only http and https"),
        ("rtmp://example.com/live", "only http and https"),
        ("/etc/passwd", "local files"),
        ("./video.mp4", "local files"),
        ("../video.mp4", "local files"),
        ("~/video.mp4", "local files"),
        ("C:\\videos\\a.mp4", "local files"),
        ("http:///path-only", "no host"),
        ("x" * 2001, "longer than"),
        ("a\nb", "control characters"),
    ],
)
def test_bad_queries_are_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(QueryError, match=says):
        parse_query(text)


@given(st.text(max_size=200))
def test_any_text_is_refused_or_becomes_one_safe_target(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError:
        return
    target = query.target.lower()
    assert not target.startswith("-")
    if query.kind is QueryKind.TESTCARD:
        assert target == "testcard"
    else:
        assert target.startswith(("ytsearch1:", "https://www.youtube.com/", "http://", "https://"))
