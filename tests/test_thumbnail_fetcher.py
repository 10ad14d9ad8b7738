"""The thumbnail fetcher against a real loopback server: one fetch per token however
many ask at once, only raster images, a size cap, and a sentence for each failure."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from tests.loopback import LoopbackServer, serve_loopback
from tests.stub_search import png
from tuner.core.thumbnails import Image, ThumbnailTokens
from tuner.thumbnail_fetcher import ThumbnailError, Thumbnails, UnknownThumbnailError


@pytest.fixture
async def site() -> AsyncIterator[LoopbackServer]:
    async with serve_loopback() as server:
        yield server


async def test_concurrent_requests_for_one_token_fetch_once(site: LoopbackServer) -> None:
    url = site.add("/t.png", png(), content_type="image/png", delay=0.3)
    thumbnails = Thumbnails(ThumbnailTokens())
    token = thumbnails.tokens.issue(url)
    got: list[Image] = []

    async def get() -> None:
        got.append(await thumbnails.get(token))

    async with trio.open_nursery() as nursery:
        await nursery.start(thumbnails.run)
        with trio.fail_after(10):
            async with trio.open_nursery() as requests:
                for _ in range(5):
                    requests.start_soon(get)
            # Later ones come from the cache.
            got.append(await thumbnails.get(token))
        nursery.cancel_scope.cancel()
    assert got == [Image("image/png", png())] * 6
    assert site.hits == {"/t.png": 1}
    assert thumbnails.fetches == 1


async def test_an_abandoned_fetch_is_taken_over_by_the_next_request(
    site: LoopbackServer,
) -> None:
    url = site.add("/t.png", png(), content_type="image/png", delay=0.3)
    thumbnails = Thumbnails(ThumbnailTokens())
    token = thumbnails.tokens.issue(url)
    async with trio.open_nursery() as nursery:
        await nursery.start(thumbnails.run)
        with trio.move_on_after(0.1):
            await thumbnails.get(token)  # its requester went away
        with trio.fail_after(10):
            assert (await thumbnails.get(token)).data == png()
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("route", "says"),
    [
        ({"body": "<html>", "content_type": "text/html"}, r"AVIF image \(text/html\)"),
        ({"body": "<svg/>", "content_type": "image/svg+xml"}, r"AVIF image \(image/svg\+xml\)"),
        ({"body": b"x" * 2048, "content_type": "image/jpeg"}, "larger than 1 KiB"),
        ({"body": "gone", "status": 404}, "HTTP 404"),
        ({"body": png(), "content_type": "image/png", "delay": 3}, "within 0.5 s"),
    ],
)
async def test_what_is_not_served(
    site: LoopbackServer, route: dict[str, object], says: str
) -> None:
    url = site.add("/t", **route)  # type: ignore[arg-type]
    thumbnails = Thumbnails(ThumbnailTokens(), timeout=0.5, max_bytes=1024)
    token = thumbnails.tokens.issue(url)
    async with trio.open_nursery() as nursery:
        await nursery.start(thumbnails.run)
        with trio.fail_after(10), pytest.raises(ThumbnailError, match=says):
            await thumbnails.get(token)
        with pytest.raises(UnknownThumbnailError):
            await thumbnails.get("never-issued")
        nursery.cancel_scope.cancel()
    assert len(thumbnails.cache) == 0
