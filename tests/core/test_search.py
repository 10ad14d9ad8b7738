"""Search's sans-IO part: what may be searched, and how yt-dlp's flat entries become
results."""

from __future__ import annotations

import pytest

from tuner.core.query import QueryError, QueryKind
from tuner.core.search import (
    MAX_TEXT,
    SearchResult,
    check_prefix,
    named_result,
    parse_search,
    pick_thumbnail,
    result_from_entry,
    search_target,
)

#: An entry as yt-dlp's YouTube search gives it with extract_flat (trimmed).
YOUTUBE_ENTRY = {
    "_type": "url",
    "ie_key": "Youtube",
    "id": "dQw4w9WgXcQ",
    "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "title": "Never Gonna Give You Up",
    "channel": "Rick Astley",
    "uploader": "Rick Astley",
    "duration": 213.0,
    "live_status": None,
    "thumbnails": [
        {"url": "https://i.ytimg.com/vi/dQw4w9WgXcQ/hq720.jpg?sqp=a", "height": 202, "width": 360},
        {"url": "https://i.ytimg.com/vi/dQw4w9WgXcQ/hq720.jpg?sqp=b", "height": 404, "width": 720},
    ],
}


def test_a_youtube_flat_entry_becomes_a_result() -> None:
    assert result_from_entry(YOUTUBE_ENTRY) == SearchResult(
        id="dQw4w9WgXcQ",
        title="Never Gonna Give You Up",
        url="https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        channel="Rick Astley",
        duration=213.0,
        is_live=False,
        # The 360-wide one: enough for a car's screen, half the bytes.
        thumbnail="https://i.ytimg.com/vi/dQw4w9WgXcQ/hq720.jpg?sqp=a",
    )


def test_a_live_entry_has_no_duration_and_says_live() -> None:
    entry = {**YOUTUBE_ENTRY, "live_status": "is_live", "duration": None}
    result = result_from_entry(entry)
    assert result is not None
    assert (result.is_live, result.duration) == (True, None)
    was_live = result_from_entry({**YOUTUBE_ENTRY, "live_status": "was_live"})
    assert was_live is not None and not was_live.is_live


@pytest.mark.parametrize(
    "changes",
    [
        {"url": None, "webpage_url": None},
        {"url": "file:///etc/passwd"},
        {"url": "/local/path"},
        {"url": "ftp://example.com/x"},
        {"url": "https://" + "a" * 3000 + ".com/"},
    ],
)
def test_an_entry_without_a_playable_url_is_dropped(changes: dict[str, object]) -> None:
    assert result_from_entry({**YOUTUBE_ENTRY, **changes}) is None


def test_webpage_url_serves_when_url_does_not() -> None:
    entry = {**YOUTUBE_ENTRY, "url": "yt:junk", "webpage_url": "https://example.com/v"}
    result = result_from_entry(entry)
    assert result is not None and result.url == "https://example.com/v"


def test_odd_fields_are_cleaned_not_trusted() -> None:
    entry = {
        "url": "https://example.com/v",
        "title": "two\nlines\x00and  spaces" + "x" * 1000,
        "channel": 42,
        "uploader": "Someone",
        "duration": True,
        "thumbnails": "not a list",
    }
    result = result_from_entry(entry)
    assert result is not None
    assert result.title.startswith("two lines and spaces")
    assert len(result.title) == MAX_TEXT
    assert result.id == "https://example.com/v"
    assert result.channel == "Someone"
    assert result.duration is None
    assert result.thumbnail is None


@pytest.mark.parametrize(
    ("entry", "chosen"),
    [
        # None small enough: the smallest.
        ({"thumbnails": [{"url": "https://a/1", "width": 1280},
                         {"url": "https://a/2", "width": 640}]}, "https://a/2"),
        ({"thumbnails": [{"url": "https://a/1"}, {"url": "https://a/2"}]}, "https://a/2"),
        ({"thumbnails": [{"url": "data:x"}], "thumbnail": "https://a/3"}, "https://a/3"),
        ({"thumbnail": "javascript:alert(1)"}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_the_thumbnail_is_small_and_http(entry: dict[str, object], chosen: str | None) -> None:
    assert pick_thumbnail(entry) == chosen


def test_results_cross_the_pipe_unchanged() -> None:
    result = result_from_entry(YOUTUBE_ENTRY)
    assert result is not None
    assert SearchResult.from_json(result.to_json()) == result
    live = SearchResult("x", "X", "https://example.com/x", is_live=True)
    assert SearchResult.from_json(live.to_json()) == live
    with pytest.raises(ValueError, match="not a search result"):
        SearchResult.from_json({"title": "no url"})


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 2001, "longer than"),
        ("cats\x00", "control characters"),
        ("--exec rm", "cannot start with '-'"),
        ("-o x", "cannot start with '-'"),
    ],
)
def test_bad_words_are_refused(text: str, says: str) -> None:
    with pytest.raises(QueryError, match=says):
        parse_search(text)


@pytest.mark.parametrize(
    ("text", "kind", "words"),
    [
        ("lofi hip hop ", QueryKind.SEARCH, "lofi hip hop"),
        ("Interview: part 2", QueryKind.SEARCH, "Interview: part 2"),
        # Play refuses these; to a search they are just text for the site.
        ("/etc/passwd", QueryKind.SEARCH, "/etc/passwd"),
        ("c:\\windows", QueryKind.SEARCH, "c:\\windows"),
        ("https://example.com/v.mp4", QueryKind.URL, "https://example.com/v.mp4"),
        ("dQw4w9WgXcQ", QueryKind.VIDEO_ID, "dQw4w9WgXcQ"),
        ("testcard", QueryKind.TESTCARD, "testcard"),
    ],
)
def test_what_is_searched_and_what_is_named(text: str, kind: QueryKind, words: str) -> None:
    query = parse_search(text)
    assert (query.kind, query.text) == (kind, words)


def test_a_named_query_is_one_result_that_plays_it() -> None:
    url = named_result(parse_search("https://example.com/v.mp4"))
    assert (url.url, url.title, url.thumbnail, url.is_live) == (
        "https://example.com/v.mp4",
        "https://example.com/v.mp4",
        None,
        False,
    )
    assert named_result(parse_search("TestCard")).title == "Test card"


def test_the_target_and_the_prefix() -> None:
    assert search_target("ytsearch", 8, "a: b") == "ytsearch8:a: b"
    assert check_prefix(" YTSearch ") == "ytsearch"
    for bad in ("", "yt search", "ytsearch1", "yt:", "-o"):
        with pytest.raises(ValueError, match="search key"):
            check_prefix(bad)
