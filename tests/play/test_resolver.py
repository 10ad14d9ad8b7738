"""The resolver's worker processes: answers, the cache, and that a cancelled or slow
resolution leaves no process behind (a thread could not promise that)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import psutil
import pytest
import trio

from tests.conftest import Media
from tests.integration.helpers import running_with
from tests.stub_search import PREFIX, add_search, entry, search_path, stub_site
from tuner.core.query import parse_query
from tuner.play.resolver import ResolveError, Resolver, SearchError

WORKER = "tuner.ytdlp.resolve"


def workers() -> list[psutil.Process]:
    """Live resolver workers among this process's children."""
    return running_with(WORKER)


async def wait_for_workers(count: int, timeout: float = 5) -> None:
    with trio.fail_after(timeout):
        while len(workers()) != count:
            await trio.sleep(0.02)


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A server that accepts connections and never says a word: its URL."""

    async def hold(stream: trio.SocketStream) -> None:
        async with stream:
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, hold, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        yield f"http://127.0.0.1:{port}/slow.mp4"
        nursery.cancel_scope.cancel()


def make_resolver(timeout: float = 10) -> Resolver:
    return Resolver(max_height=480, timeout=timeout, ffmpeg="ffmpeg", cache_dir=None)


async def test_a_clip_is_resolved_once_then_served_from_the_cache(media: Media) -> None:
    resolver = make_resolver()
    query = parse_query(media.url_of("clip720.mp4"))
    async with trio.open_nursery() as nursery:
        await nursery.start(resolver.run)
        first = await resolver.resolve(query)
        second = await resolver.resolve(query)
        nursery.cancel_scope.cancel()
    assert first == second
    assert first.title == "clip720"
    assert first.duration == pytest.approx(4, abs=0.1)
    assert [(i.has_video, i.has_audio) for i in first.inputs] == [(True, True)]
    assert (resolver.resolutions, resolver.cache_hits) == (1, 1)
    await wait_for_workers(0)


async def test_a_cancelled_resolution_kills_its_worker(silent_server: str) -> None:
    resolver = make_resolver()
    async with trio.open_nursery() as nursery:
        await nursery.start(resolver.run)
        await wait_for_workers(1)
        [spare] = workers()
        with trio.move_on_after(1.0) as cancelled:
            await resolver.resolve(parse_query(silent_server))
        assert cancelled.cancelled_caught
        # The worker that was stuck on the silent server is gone; a new spare waits.
        with trio.fail_after(2):
            while spare.is_running() and spare.status() != psutil.STATUS_ZOMBIE:
                await trio.sleep(0.02)
        await wait_for_workers(1)
        nursery.cancel_scope.cancel()
    await wait_for_workers(0)


async def test_a_silent_server_times_out_with_a_sentence(silent_server: str) -> None:
    # yt-dlp's own 3 s socket timeout ends it, well within the resolver's outer 11 s
    # (which also covers the worker's start: importing yt-dlp takes seconds on a busy
    # machine, and with a 1 s timeout the outer one came first there).
    resolver = make_resolver(timeout=3)
    async with trio.open_nursery() as nursery:
        await nursery.start(resolver.run)
        with trio.fail_after(30), pytest.raises(ResolveError) as error:
            await resolver.resolve(parse_query(silent_server))
        nursery.cancel_scope.cancel()
    assert error.value.message == "no network: the server did not answer in time"
    assert resolver.failures == 1
    await wait_for_workers(0)


async def test_concurrent_resolutions_leave_exactly_one_spare(media: Media) -> None:
    resolver = make_resolver()
    async with trio.open_nursery() as nursery:
        await nursery.start(resolver.run)
        async with trio.open_nursery() as burst:
            for n in range(4):
                query = parse_query(media.url_of(f"clip720.mp4?burst={n}"))
                burst.start_soon(resolver.resolve, query)
        # Each resolution took a worker and asked for a new spare: one spare is left.
        await wait_for_workers(1)
        await trio.sleep(0.5)
        assert len(workers()) == 1
        nursery.cancel_scope.cancel()
    assert resolver.resolutions == 4
    await wait_for_workers(0)


async def test_a_search_runs_yt_dlp_once_then_comes_from_the_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with stub_site(monkeypatch) as site:
        path = add_search(site, "cats: the movie", [entry(site, "a1"), entry(site, "b2")])
        resolver = make_resolver()
        resolver.search_prefix = PREFIX
        async with trio.open_nursery() as nursery:
            await nursery.start(resolver.run)
            first = await resolver.search("cats: the movie", 8)
            second = await resolver.search("cats: the movie", 8)
            nursery.cancel_scope.cancel()
    assert first == second
    assert [(r.id, r.title, r.channel, r.url) for r in first] == [
        ("a1", "Title a1", "Channel a1", site.url("/stubvideo/a1")),
        ("b2", "Title b2", "Channel b2", site.url("/stubvideo/b2")),
    ]
    assert first[0].thumbnail == site.url("/thumb/a1.png")
    # One flat request for the whole search, and none for the second.
    assert site.hits == {path: 1}
    assert (resolver.searches, resolver.search_cache_hits) == (1, 1)
    await wait_for_workers(0)


async def test_a_search_is_bounded_by_the_timeout_and_leaves_no_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with stub_site(monkeypatch) as site:
        site.add(search_path("slow"), "[]", content_type="application/json", delay=30)
        resolver = make_resolver(timeout=1)
        resolver.search_prefix = PREFIX
        async with trio.open_nursery() as nursery:
            await nursery.start(resolver.run)
            with trio.fail_after(5), pytest.raises(SearchError) as error:
                await resolver.search("slow", 8)
            nursery.cancel_scope.cancel()
    assert error.value.timed_out
    assert "did not answer" in error.value.message or "longer than" in error.value.message
    assert resolver.search_failures == 1
    await wait_for_workers(0)
