"""What the queue's preparation is worth, and what a queue edit costs.

Run from the repository root::

    PYTHONPATH=. python bench/bench_queue.py             # 10 runs of each, 1,000 edits
    PYTHONPATH=. python bench/bench_queue.py --runs 5    # quicker

time to first frame: prepared vs unprepared
    A real ``tuner serve`` subprocess (bench_play's), one WebSocket viewer, and the
    test suite's 4 s 1280x720 H.264/AAC clip served by ``python -m http.server`` on
    loopback. *Unprepared*: ``POST /api/play {"query": URL}`` with a new query string
    each run (so yt-dlp resolves it afresh and the resolver's cache never answers),
    timed from sending the request to the arrival of that session's first frame.
    *Prepared*: the same clip (its own query string) is queued with ``POST /api/queue``
    and left to its job until it is downloaded into the cache (not timed), then
    ``POST /api/play {"item_id"}`` is timed the same way. Before every run the daemon
    is stopped and has no ffmpeg left, so both are cold starts of ffmpeg; the two kinds
    alternate, so drift on the machine affects both alike. The ratio is of the medians.

cost of 1,000 queue edits
    The same mix three ways: adds until 50 items are queued, then moves, removes and
    adds in turn, 1,000 edits in all, each committed before the next starts.
    *store*: :class:`tuner.jobs.Store` alone, blocking calls on a fresh file in the
    temporary directory (each edit one transaction in WAL mode): the per-edit latency's
    median and p99 say whether an edit could run on the event loop.
    *queue service*: :class:`tuner.jobs.Queue` in a trio run, each edit awaited, its
    database calls in the database thread, its items' jobs running beside (the test
    card: ready at once, which is one more write per add).
    *HTTP*: the daemon's ``/api/queue`` routes from one client on loopback, what the
    web client and ``tuner queue`` pay.

Results
=======

2026-11-23, on the day's final code (#4's v2 sessions and #6), this 2-CPU VM, load
average 0.9 before the run, ``PYTHONPATH=. python bench/bench_queue.py``::

                              median      p95      min      max  (ms)
    first frame: unprepared    578.0    626.4    535.6    643.6
    first frame: prepared      276.2    352.9    261.3    405.2

    10 runs each. unprepared / prepared, ratio of the medians: 2.09

    1,000 queue edits (50 adds, then move, remove, add in turn):
      store            0.290 s in all,  0.290 ms an edit (median  0.273, p99  0.519, max  7.931 ms)
      queue service    2.133 s in all,  2.133 ms an edit (median  1.838, p99  5.551, max  9.585 ms)
      HTTP             7.108 s in all,  7.108 ms an edit (median  6.715, p99 13.711, max 54.369 ms)

(just after the merge, at load 1.6: 570.3 / 282.8 ms, ratio 2.02; store 0.278,
service 1.608, HTTP 7.276 ms an edit. Before the merge, on the queue branch at load
3.0: 589.1 / 289.3 ms, ratio 2.04; store 0.297, service 2.132, HTTP 6.018 ms an edit)

What it says:

* A prepared item starts in half the time: what is left is ffmpeg's own start on a
  local file (bench_play's "ffmpeg alone" for this clip over HTTP is ~260 ms), with
  no yt-dlp and no probe. Unprepared, resolving is about 300 ms of the 590 here, on
  loopback; from a real site it is seconds, and the download makes the item play
  with no network at all, so on the road the gap is wider than this ratio.
* A store edit is a quarter of a millisecond, but not always: the slowest took 6 ms
  (a WAL checkpoint writing pages back). That is why the queue runs its database
  calls in a thread rather than on the event loop. The service's 1.6-2.1 ms an edit is
  that thread's hop, the job's own state write that an add brings, and the queue
  event's JSON; through HTTP an edit costs 6-7 ms, far below a tap.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio
from trio_websocket import open_websocket_url

from bench.bench_play import (
    Daemon,
    Viewer,
    clip_server,
    login,
    machine,
    running_daemon,
    stop_and_wait_idle,
    table,
)
from tuner.config import QueueSettings
from tuner.events import EventHub
from tuner.jobs import Queue, QueueItem, Store
from tuner.play.ffmpeg import find_ffmpeg
from tuner.play.supervisor import Supervisor

EDITS = 1000
QUEUED = 50
PREPARE_TIMEOUT = 60.0


@attrs.define
class FirstFrames:
    unprepared: list[float] = attrs.field(factory=list)
    prepared: list[float] = attrs.field(factory=list)


# -- time to first frame -------------------------------------------------------------


async def first_frames(daemon: Daemon, clip_url: str, runs: int) -> FirstFrames:
    results = FirstFrames()
    async with httpx.AsyncClient(base_url=daemon.url, timeout=30) as client:
        cookie = await login(client)
        async with (
            open_websocket_url(
                daemon.ws_url + "/ws/video", extra_headers=[("Cookie", cookie)]
            ) as ws,
            trio.open_nursery() as nursery,
        ):
            viewer = Viewer(ws)
            nursery.start_soon(viewer.pump)
            for run in range(runs + 1):  # the first of each is a warm-up
                unprepared = await timed_play(
                    client, daemon, viewer, {"query": f"{clip_url}?unprepared={run}"}
                )
                item_id = await prepared_item(client, f"{clip_url}?prepared={run}")
                prepared = await timed_play(client, daemon, viewer, {"item_id": item_id})
                if run:
                    results.unprepared.append(unprepared)
                    results.prepared.append(prepared)
                    print(f"  first frames: {run} runs done", file=sys.stderr, flush=True)
            await stop_and_wait_idle(client, daemon)
            nursery.cancel_scope.cancel()
    return results


async def timed_play(
    client: httpx.AsyncClient, daemon: Daemon, viewer: Viewer, body: dict[str, str]
) -> float:
    """Seconds from sending ``POST /api/play`` to that session's first frame."""
    await stop_and_wait_idle(client, daemon)
    viewer.discard_pending()
    sent = time.perf_counter()
    response = await client.post("/api/play", json={**body, "preset": "low"})
    if response.status_code != 202:
        raise RuntimeError(f"play answered {response.status_code}: {response.text}")
    return await viewer.first_frame_of(response.json()["session_id"]) - sent


async def prepared_item(client: httpx.AsyncClient, url: str) -> str:
    """Queue ``url`` and wait until its download is in the cache; its item id."""
    item_id: str = (await client.post("/api/queue", json={"query": url})).json()["id"]
    with trio.fail_after(PREPARE_TIMEOUT):
        while True:
            items = {i["id"]: i for i in (await client.get("/api/queue")).json()["items"]}
            item = items[item_id]
            if item["state"] == "ready" and item["cached"]:
                return item_id
            if item["state"] in ("failed", "cancelled") or item["state"] == "ready":
                raise RuntimeError(f"the item was not downloaded: {item}")
            await trio.sleep(0.05)


# -- 1,000 edits ---------------------------------------------------------------------


def edit_plan() -> list[str]:
    """The mix: adds up to :data:`QUEUED` items, then move, remove, add in turn."""
    plan = ["add"] * QUEUED
    kinds = ("move", "remove", "add")
    plan += [kinds[n % 3] for n in range(EDITS - QUEUED)]
    return plan


async def run_plan(
    add: Callable[[], Awaitable[str]],
    move: Callable[[str, int], Awaitable[None]],
    remove: Callable[[str], Awaitable[None]],
) -> list[float]:
    """Run :func:`edit_plan` with these edits; each edit's seconds."""
    ids: list[str] = []
    took = []
    for n, kind in enumerate(edit_plan()):
        started = time.perf_counter()
        if kind == "add":
            ids.append(await add())
        elif kind == "move":
            # The newest item to somewhere along the queue (``ids`` tracks which items
            # exist, not their order).
            await move(ids[-1], n % len(ids))
        else:
            await remove(ids.pop(0))
        took.append(time.perf_counter() - started)
    return took


async def store_edits(directory: Path) -> list[float]:
    store = Store.open(directory / "store-only.db")
    ids: list[str] = []
    counter = iter(range(10**9))

    async def add() -> str:
        item = QueueItem(f"i{next(counter)}", "testcard", time.time())
        ids.append(item.id)
        store.add(item, ids)
        return item.id

    async def move(item_id: str, position: int) -> None:
        ids.remove(item_id)
        ids.insert(position, item_id)
        store.reorder(ids)

    async def remove(item_id: str) -> None:
        ids.remove(item_id)
        store.remove([item_id], ids)

    try:
        return await run_plan(add, move, remove)
    finally:
        store.close()


class NoSources:
    """The service's preparer: never asked (the test card needs no resolving)."""

    async def resolve(self, query: Any, *, fresh: bool) -> Any:
        raise AssertionError("not used")

    async def download(self, *args: Any) -> Any:
        raise AssertionError("not used")


async def service_edits(directory: Path) -> list[float]:
    supervisor = Supervisor(None, "no playback in this benchmark", 8)
    state = directory / "service"
    queue = Queue(QueueSettings(max_items=10_000), state, supervisor, EventHub(), NoSources())
    async with trio.open_nursery() as nursery:
        await nursery.start(queue.run)

        async def add() -> str:
            return (await queue.add("testcard")).id

        took = await run_plan(add, queue.move, queue.remove)
        nursery.cancel_scope.cancel()
    return took


async def http_edits(daemon: Daemon) -> list[float]:
    async with httpx.AsyncClient(base_url=daemon.url, timeout=30) as client:
        await login(client)
        await client.delete("/api/queue")

        async def add() -> str:
            response = await client.post("/api/queue", json={"query": "testcard"})
            item_id: str = response.json()["id"]
            return item_id

        async def move(item_id: str, position: int) -> None:
            await client.post(f"/api/queue/{item_id}/move", json={"position": position})

        async def remove(item_id: str) -> None:
            await client.delete(f"/api/queue/{item_id}")

        took = await run_plan(add, move, remove)
        await client.delete("/api/queue")
    return took


# -- reporting -----------------------------------------------------------------------


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[-1]


def edits_line(name: str, took: list[float]) -> str:
    return (
        f"  {name:<14} {sum(took):7.3f} s in all, {1000 * sum(took) / len(took):6.3f} ms an edit"
        f" (median {1000 * statistics.median(took):6.3f}, p99 {1000 * p99(took):6.3f},"
        f" max {1000 * max(took):6.3f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10, help="runs of each (default 10)")
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    started = time.monotonic()
    with (
        clip_server() as clip_url,
        tempfile.TemporaryDirectory(prefix="tuner-bench-queue-") as tmp,
        running_daemon(Path(tmp)) as daemon,
    ):
        print(machine(daemon.ffmpeg_path() or find_ffmpeg(None).path), flush=True)
        frames = trio.run(first_frames, daemon, clip_url, args.runs)
        by_store = trio.run(store_edits, Path(tmp))
        by_service = trio.run(service_edits, Path(tmp))
        by_http = trio.run(http_edits, daemon)
    ratio = statistics.median(frames.unprepared) / statistics.median(frames.prepared)
    print()
    print(
        table(
            [
                ("first frame: unprepared", frames.unprepared),
                ("first frame: prepared", frames.prepared),
            ]
        )
    )
    print(f"\n{args.runs} runs each. unprepared / prepared, ratio of the medians: {ratio:.2f}")
    print(f"\n{EDITS:,} queue edits ({QUEUED} adds, then move, remove, add in turn):")
    print(edits_line("store", by_store))
    print(edits_line("queue service", by_service))
    print(edits_line("HTTP", by_http))
    print(f"(benchmark took {time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
