"""Search and thumbnails (#8) through the real daemon, real yt-dlp and a stub site.

The site is a loopback server searched by a test-only yt-dlp plugin
(``tests/stub_plugins``; see :mod:`tests.stub_search`), with ``search_prefix`` set to
its search key. Loopback and port 0 only; ``fetch_allow`` names the stub site and the
media server alone, so the egress proxy refuses anything else.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio

from tests.conftest import Media
from tests.integration.conftest import RunningDaemon, settings_for, start_daemon
from tests.integration.helpers import parse_metrics, wait_for_state
from tests.loopback import LoopbackServer
from tests.stub_search import PREFIX, add_search, entry, png, search_path, stub_site


def _authority(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc


@asynccontextmanager
async def searching_daemon(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, media: Media, **settings: object
) -> AsyncIterator[tuple[RunningDaemon, LoopbackServer, httpx.AsyncClient]]:
    """The stub site, a daemon that searches it, and a logged-in client."""
    async with stub_site(monkeypatch) as site, trio.open_nursery() as nursery:
        allowed = (_authority(site.base), _authority(media.url))
        running = await start_daemon(
            nursery,
            settings_for(tmp_path, search_prefix=PREFIX, fetch_allow=allowed, **settings),
        )
        try:
            async with running.client() as client:
                await running.login(client)
                yield running, site, client
        finally:
            running.shutdown.set()
            with trio.fail_after(10):
                await running.stopped.wait()


async def test_search_results_their_thumbnails_the_cache_and_playing_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, media: Media
) -> None:
    async with searching_daemon(monkeypatch, tmp_path, media) as (daemon, site, client):
        live = entry(site, "live1", live_status="is_live", duration=None, channel=None)
        live["uploader"] = "An Uploader"
        path = add_search(site, "cats: the movie", [entry(site, "a1"), live])
        site.add("/thumb/a1.png", png(), content_type="image/png")

        async with daemon.client() as stranger:
            response = await stranger.get("/api/search", params={"q": "cats: the movie"})
            assert response.status_code == 401
        assert site.hits == {}

        response = await client.get("/api/search", params={"q": "cats: the movie"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["query"] == "cats: the movie"
        first, second = body["results"]
        assert {k: v for k, v in first.items() if k != "thumbnail"} == {
            "id": "a1",
            "title": "Title a1",
            "channel": "Channel a1",
            "duration": 61.0,
            "is_live": False,
            "url": site.url("/stubvideo/a1"),
        }
        assert (second["channel"], second["duration"], second["is_live"]) == (
            "An Uploader",
            None,
            True,
        )
        assert first["thumbnail"].startswith("/api/thumbnail/")
        assert second["thumbnail"].startswith("/api/thumbnail/")

        # The thumbnail, same-origin: the stub's bytes (the small one), its type.
        image = await client.get(first["thumbnail"])
        assert image.status_code == 200
        assert image.content == png()
        assert image.headers["content-type"] == "image/png"
        assert image.headers["cache-control"] == "private, max-age=86400"
        assert "img-src 'self'" in image.headers["content-security-policy"]
        assert site.hits["/thumb/a1.png"] == 1
        # Kept: asked again, the site is not asked again.
        assert (await client.get(first["thumbnail"])).content == png()
        assert site.hits["/thumb/a1.png"] == 1
        # The site has no image for the live one: a sentence, not the site's page.
        missing = await client.get(second["thumbnail"])
        assert missing.status_code == 502
        assert "HTTP 404" in missing.json()["detail"]

        # A token the daemon never issued, or a URL in its place: nothing is fetched.
        hits = sum(site.hits.values())
        for bogus in ("nope", first["thumbnail"].rsplit("/", 1)[1][:-1] + "A"):
            response = await client.get(f"/api/thumbnail/{bogus}")
            assert response.status_code == 404, bogus
        quoted = urllib.parse.quote(site.url("/thumb/a1.png"), safe="")
        assert (await client.get(f"/api/thumbnail/{quoted}")).status_code == 404
        assert sum(site.hits.values()) == hits

        # The same words again: from the cache, yt-dlp is not run, the site not asked.
        again = await client.get("/api/search", params={"q": "cats: the movie"})
        assert again.json() == body
        assert site.hits[path] == 1
        # Another limit is another search, and the limit reaches the site's search.
        one = await client.get("/api/search", params={"q": "cats: the movie", "limit": "1"})
        assert [r["id"] for r in one.json()["results"]] == ["a1"]
        assert site.hits[path] == 2
        metrics = parse_metrics((await client.get("/metrics")).text)
        assert metrics["tuner_searches_total"][""] == 2
        assert metrics["tuner_search_cache_hits_total"][""] == 1
        assert metrics["tuner_search_failures_total"][""] == 0

        # A result plays, and the status shows its channel and artwork (the same
        # thumbnail URL as in the search: the same path).
        add_search(site, "bars", [entry(site, "v1")])
        video = {
            "title": "The Bars",
            "channel": "Bar Channel",
            "thumbnail": site.url("/thumb/v1.png"),
            "media": media.url_of("clip720.mp4"),
        }
        site.add("/stubvideo/v1", json.dumps(video), content_type="application/json")
        site.add("/thumb/v1.png", png(3, 2), content_type="image/png")
        [result] = (await client.get("/api/search", params={"q": "bars"})).json()["results"]

        response = await client.post("/api/play", json={"query": result["url"]})
        assert response.status_code == 202, response.text
        status = await wait_for_state(client, "playing", timeout=20)
        assert (status["title"], status["channel"]) == ("The Bars", "Bar Channel")
        assert status["thumbnail"] == result["thumbnail"]
        artwork = await client.get(status["thumbnail"])
        assert (artwork.status_code, artwork.content) == (200, png(3, 2))
        assert (await client.post("/api/stop")).status_code == 204


async def test_bad_searches_are_refused_with_sentences_and_the_daemon_keeps_serving(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, media: Media
) -> None:
    # The default timeout: a loopback search takes about 1 s, but a busy machine can
    # take longer to start the yt-dlp worker that the search runs in.
    async with searching_daemon(monkeypatch, tmp_path, media) as (_, site, client):
        for params, says in [
            ({}, "'q' is required"),
            ({"q": "  "}, "empty"),
            ({"q": "x" * 2001}, "longer than 2000"),
            ({"q": "cats\x01"}, "control characters"),
            ({"q": "--exec rm -rf ~"}, "cannot start with '-'"),
            ({"q": "cats", "limit": "0"}, "from 1 to 20"),
            ({"q": "cats", "limit": "21"}, "from 1 to 20"),
            ({"q": "cats", "limit": "eight"}, "from 1 to 20"),
        ]:
            response = await client.get("/api/search", params=params)
            assert response.status_code == 400, (params, response.text)
            assert says in response.json()["detail"], params
        assert site.hits == {}

        # A URL or the test card typed into search: one result naming it, no search.
        for typed, title in [(media.url_of("clip720.mp4"), media.url_of("clip720.mp4")),
                             ("testcard", "Test card")]:  # fmt: skip
            [named] = (await client.get("/api/search", params={"q": typed})).json()["results"]
            assert (named["url"], named["title"], named["thumbnail"]) == (typed, title, None)
        assert site.hits == {}

        site.add(search_path("broken"), "oops", status=500)
        response = await client.get("/api/search", params={"q": "broken"})
        assert response.status_code == 502
        assert response.json()["detail"] == "the site has a server error: try later"

        # The site sends yt-dlp elsewhere: the egress proxy's sentence, not "HTTP 403".
        site.add(
            search_path("elsewhere"),
            "",
            status=302,
            headers={"Location": "http://127.0.0.2:9/search"},
        )
        response = await client.get("/api/search", params={"q": "elsewhere"})
        assert response.status_code == 502
        detail = response.json()["detail"]
        assert detail.startswith("refused: 127.0.0.2:9 is a private address"), detail
        assert "fetch_allow" in detail

        # Still serving, and searching.
        add_search(site, "dogs", [entry(site, "d1")])
        response = await client.get("/api/search", params={"q": "dogs"})
        assert [r["title"] for r in response.json()["results"]] == ["Title d1"]
        assert (await client.get("/api/status")).json()["problems"] == []


async def test_a_search_that_takes_too_long_is_a_504_and_the_daemon_keeps_serving(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, media: Media
) -> None:
    # A short timeout, so that the slow site's 504 comes quickly.
    daemon = searching_daemon(monkeypatch, tmp_path, media, resolve_timeout=3)
    async with daemon as (_, site, client):
        site.add(search_path("slow"), "[]", content_type="application/json", delay=30)
        with trio.fail_after(10):
            response = await client.get("/api/search", params={"q": "slow"})
        assert response.status_code == 504
        assert "3 s" in response.json()["detail"] or "in time" in response.json()["detail"]
        assert (await client.get("/healthz")).status_code == 200
