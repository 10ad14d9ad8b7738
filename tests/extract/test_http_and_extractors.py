"""The HTTP client, the stream check, and the ``page`` and ``demo`` extractors, against
pages and playlists served on loopback (see ``conftest.py``)."""

from __future__ import annotations

import itertools

import pytest
import trio

from tests.loopback import LoopbackServer
from tuner.config import PageSite, StreamSpec
from tuner.extract import (
    ExtractorError,
    FetchError,
    HttpClient,
    PartialResultsError,
    Registry,
    SourceLimits,
    StreamChecker,
    run_extractors,
)
from tuner.extract.demo import DemoExtractor
from tuner.extract.page import PageExtractor, find_links, page_title

MASTER = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1280000,RESOLUTION=1280x720
live/720.m3u8
"""
LIVE_MEDIA = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\ns1.ts\n#EXTINF:4.0,\ns2.ts\n"
VOD_MEDIA = LIVE_MEDIA + "#EXT-X-ENDLIST\n"
M3U8 = "application/vnd.apple.mpegurl"


def serve_playlists(server: LoopbackServer) -> dict[str, str]:
    return {
        "live_master": server.add("/live/master.m3u8", MASTER, content_type=M3U8),
        "live_variant": server.add("/live/live/720.m3u8", LIVE_MEDIA, content_type=M3U8),
        "vod": server.add("/vod.m3u8", VOD_MEDIA, content_type=M3U8),
        "html": server.add("/fake.m3u8", "<html>moved</html>", content_type="text/html"),
        "missing": server.url("/gone.m3u8"),
    }


def fast_client(timeout: float = 5.0) -> HttpClient:
    return HttpClient(timeout, SourceLimits(limit=4, min_delay=0.0))


async def test_demo_lists_only_the_streams_that_answer_with_a_playlist(
    loopback: LoopbackServer,
) -> None:
    urls = serve_playlists(loopback)
    specs = [
        StreamSpec("Live", urls["live_master"]),
        StreamSpec("Recording", urls["vod"]),
        StreamSpec("Not a playlist", urls["html"]),
        StreamSpec("Gone", urls["missing"]),
    ]
    http = fast_client()
    try:
        with trio.fail_after(10):
            [outcome] = await run_extractors(
                Registry.of([DemoExtractor(specs)]),
                checker=StreamChecker(http),
                clock=trio.current_time,
            )
    finally:
        await http.aclose()
    assert outcome.ok
    found = {r.title: r for r in outcome.records}
    assert set(found) == {"Live", "Recording"}
    assert (found["Live"].is_live, found["Live"].quality) == (True, "720p")
    assert (found["Recording"].is_live, found["Recording"].quality) == (False, None)
    assert outcome.dropped == 2
    notes = "\n".join(outcome.notes)
    assert f"{urls['html']} is not an HLS playlist (no #EXTM3U)" in notes
    assert "answered HTTP 404 Not Found for " + urls["missing"] in notes
    assert loopback.hits["/live/live/720.m3u8"] == 1, "the master's first variant was read"


PAGE = """<html><head><title>Channel &amp; Co live</title></head><body>
<video src="https://cdn.example/a/index.m3u8?token=1&amp;x=2"></video>
<script>var config = {"hls": "https:\\/\\/cdn.example\\/b\\/index.m3u8"};</script>
<a href="https://cdn.example/a/index.m3u8?token=1&amp;x=2">again</a>
<source data-src="/relative/live.m3u8">
</body></html>"""


def test_find_links_handles_html_json_escapes_and_site_patterns() -> None:
    base = "https://site.example/watch"
    assert find_links(PAGE, base) == [
        "https://cdn.example/a/index.m3u8?token=1&x=2",
        "https://cdn.example/b/index.m3u8",
    ]
    assert find_links(PAGE, base, r'data-src="([^"]+\.m3u8)"') == [
        "https://site.example/relative/live.m3u8"
    ]
    assert page_title(PAGE) == "Channel & Co live"


async def test_page_scans_pages_on_loopback_and_checks_what_it_finds(
    loopback: LoopbackServer,
) -> None:
    urls = serve_playlists(loopback)
    page = loopback.add(
        "/watch",
        f"<title>Loopback TV</title><p>{urls['live_master']}</p><p>{urls['missing']}</p>"
        '<i data-stream="/vod.m3u8"></i>',
        content_type="text/html; charset=utf-8",
    )
    sites = [
        PageSite(page),
        PageSite(page, pattern=r'data-stream="([^"]+)"', title="Recorded"),
        PageSite(loopback.url("/no-such-page")),
    ]
    http = fast_client()
    try:
        extractor = PageExtractor(sites, http, clock=trio.current_time)
        with pytest.raises(PartialResultsError) as partial:
            await extractor.extract()
        assert len(partial.value.records) == 3
        assert partial.value.problems == (
            f"127.0.0.1:{loopback.base.rsplit(':', 1)[1]} answered HTTP 404 Not Found for "
            + loopback.url("/no-such-page"),
        )
        with trio.fail_after(10):
            [outcome] = await run_extractors(
                Registry.of([extractor]), checker=StreamChecker(http), clock=trio.current_time
            )
    finally:
        await http.aclose()
    assert outcome.ok and outcome.dropped == 1, "the 404 link was dropped by the check"
    titles = {(r.title, r.url, r.is_live) for r in outcome.records}
    assert titles == {("Loopback TV", urls["live_master"], True), ("Recorded", urls["vod"], False)}


async def test_page_fails_when_every_page_fails(loopback: LoopbackServer) -> None:
    http = fast_client()
    try:
        extractor = PageExtractor([PageSite(loopback.url("/nothing"))], http)
        with pytest.raises(ExtractorError, match="answered HTTP 404"):
            await extractor.extract()
    finally:
        await http.aclose()


async def test_the_client_bounds_time_and_size_and_explains(loopback: LoopbackServer) -> None:
    slow = loopback.add("/slow", "x", delay=5)
    big = loopback.add("/big", "x" * 5000)
    http = HttpClient(0.3, SourceLimits(min_delay=0.0))
    try:
        with pytest.raises(FetchError, match=r"did not answer within 0\.3 s"):
            await http.get_text(slow)
        with pytest.raises(FetchError, match="more than 1000 bytes"):
            await http.get_text(big, max_bytes=1000)
        closed = "http://127.0.0.1:9/x.m3u8"
        with pytest.raises(FetchError, match=r"cannot connect to 127\.0\.0\.1:9"):
            await http.get_text(closed)
    finally:
        await http.aclose()


async def test_per_source_limit_and_delay() -> None:
    limits = SourceLimits(limit=2, min_delay=0.05)
    starts: list[float] = []
    running = [0]
    peak = [0]

    async def request() -> None:
        async with limits.slot("example.com"):
            starts.append(trio.current_time())
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            await trio.sleep(0.2)
            running[0] -= 1

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(request)
            async with limits.slot("other.example"):
                other = trio.current_time()
    assert peak[0] == 2
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.05 - 0.005 for gap in gaps), gaps
    assert other - starts[0] < 0.05, "another source does not wait for this one"
