"""The queue service with fake sources: per-source limits and delays, the cancel race,
bad input, a restart. No network, no process: the fakes only sleep, so the tests that
measure time run on an autojump clock.

The database is real (a file in ``tmp_path``). On the autojump clock its calls run
inline (``db_in_thread=False``): while a worker thread runs every task looks blocked,
and the clock would jump hours ahead during one commit.
"""

from __future__ import annotations

import collections
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from tuner.config import QueueSettings, SourceRule
from tuner.core.jobs import JobState, Progress
from tuner.core.query import Query
from tuner.core.source import MediaInput, Source
from tuner.events import EventHub
from tuner.jobs import (
    OnProgress,
    Queue,
    QueueConflictError,
    QueueError,
    QueueUnavailableError,
    Store,
    UnknownItemError,
    site_of,
)
from tuner.play.resolver import ResolveError
from tuner.play.supervisor import Supervisor


class FakeSources:
    """A :class:`tuner.jobs.Preparer` that resolves by sleeping, per site; records when
    each resolution started and how many ran at once."""

    def __init__(self, seconds: dict[str, float] | None = None) -> None:
        self.seconds = seconds or {}
        self.started: dict[str, list[float]] = collections.defaultdict(list)
        self.running: collections.Counter[str] = collections.Counter()
        self.most: collections.Counter[str] = collections.Counter()
        #: Sites whose resolutions wait for this event (a site that hangs).
        self.hold: dict[str, trio.Event] = {}
        #: Download: what it reports, then the file it writes.
        self.download_total: int | None = 10
        #: Progress reports in a burst, before the last one.
        self.burst = 0
        self.at_finish = trio.Event()
        self.finish: trio.Event | None = None

    async def resolve(self, query: Query, *, fresh: bool) -> Source:
        site = site_of(query)
        self.started[site].append(trio.current_time())
        self.running[site] += 1
        self.most[site] = max(self.most[site], self.running[site])
        try:
            if site in self.hold:
                await self.hold[site].wait()
            await trio.sleep(self.seconds.get(site, 1.0))
        finally:
            self.running[site] -= 1
        if "missing" in query.target:
            raise ResolveError("video unavailable", "HTTP Error 404")
        is_live = "live" in query.target
        return Source(query.text, (MediaInput(query.target, has_video=True),), is_live=is_live)

    async def download(
        self, query: Query, directory: Path, max_bytes: int, on_progress: OnProgress
    ) -> Path:
        await on_progress(Progress(0, self.download_total))
        for done in range(self.burst):
            await on_progress(Progress(done, self.download_total))
        await trio.Path(directory).mkdir(parents=True, exist_ok=True)
        await trio.Path(directory / "media.mp4").write_bytes(b"\0" * 10)
        if self.finish is not None:
            self.at_finish.set()
            await self.finish.wait()
        await on_progress(Progress(10, self.download_total))
        return directory / "media.mp4"


@asynccontextmanager
async def running_queue(
    state_dir: Path,
    fakes: FakeSources,
    events: EventHub | None = None,
    *,
    db_in_thread: bool = True,
    **settings: Any,
) -> AsyncIterator[Queue]:
    """A queue run in a nursery of the test, with a supervisor that plays nothing."""
    supervisor = Supervisor(None, "no ffmpeg in these tests", 8)
    queue = Queue(
        QueueSettings(**settings),
        state_dir,
        supervisor,
        events or EventHub(),
        fakes,
        db_in_thread=db_in_thread,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(queue.run)
        yield queue
        nursery.cancel_scope.cancel()


async def wait_until(queue: Queue, item_id: str, *states: JobState) -> None:
    with trio.fail_after(60):
        while queue.item(item_id).job.state not in states:
            await trio.sleep(0.01)


async def test_per_source_limits_and_delays_hold(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    sources = FakeSources({"youtube": 2.0, "a.example": 0.5})
    async with running_queue(
        tmp_path,
        sources,
        db_in_thread=False,
        download=False,
        per_source_limit=2,
        per_source_delay_seconds=0.25,
        sources={"youtube": SourceRule(1, 3.0)},
    ) as queue:
        ids = []
        for n in range(4):
            ids.append((await queue.add(f"dQw4w9WgX{n}Q")).id)
            ids.append((await queue.add(f"http://a.example/{n}")).id)
        for item_id in ids:
            await wait_until(queue, item_id, JobState.READY)

    youtube, other = sources.started["youtube"], sources.started["a.example"]
    assert (len(youtube), len(other)) == (4, 4)
    assert sources.most["youtube"] == 1
    assert sources.most["a.example"] == 2
    # Starts at least the delay apart (bookings are exact; the clock may overshoot).
    assert min(b - a for a, b in itertools.pairwise(youtube)) >= 3.0
    assert min(b - a for a, b in itertools.pairwise(other)) >= 0.25


async def test_a_slow_source_holds_back_only_its_own_items(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    sources = FakeSources()
    sources.hold["slow.example"] = trio.Event()
    async with running_queue(
        tmp_path, sources, db_in_thread=False, download=False, per_source_limit=1
    ) as queue:
        slow = [(await queue.add(f"http://slow.example/{n}")).id for n in range(3)]
        fast = [(await queue.add(f"http://fast.example/{n}")).id for n in range(3)]
        for item_id in fast:
            await wait_until(queue, item_id, JobState.READY)
        # Every fast item is ready while the slow site has not answered its first.
        assert [queue.item(i).job.state for i in slow] == [
            JobState.RESOLVING,
            JobState.PENDING,
            JobState.PENDING,
        ]
        sources.hold["slow.example"].set()
        for item_id in slow:
            await wait_until(queue, item_id, JobState.READY)


async def test_a_cancel_that_lands_while_the_worker_finishes_stays_cancelled(
    tmp_path: Path,
) -> None:
    sources = FakeSources({"a.example": 0})
    sources.finish = trio.Event()
    events = EventHub()
    subscriber = events.subscribe()
    async with running_queue(tmp_path, sources, events, per_source_delay_seconds=0) as queue:
        item = await queue.add("http://a.example/video")
        await sources.at_finish.wait()
        await trio.testing.wait_all_tasks_blocked()
        assert queue.item(item.id).job.state is JobState.DOWNLOADING

        # The download completes, and before its worker runs again, the cancel lands.
        sources.finish.set()
        cancelled = await queue.cancel(item.id)
        assert cancelled.job.state is JobState.CANCELLED
        with trio.fail_after(10):
            while queue._runner.running(item.id):  # the worker has run to its end
                await trio.sleep(0.01)
        await trio.testing.wait_all_tasks_blocked()
        assert queue.item(item.id).job.state is JobState.CANCELLED
        assert not (tmp_path / "cache" / "partial" / item.id).exists()

    saved = Store.open(tmp_path / "queue.db").load(True, 1).items
    assert [(i.id, i.job.state) for i in saved] == [(item.id, JobState.CANCELLED)]
    events.publish("end of test", None)
    states = []
    while (event := json.loads(str(await subscriber.get())))["type"] != "end of test":
        if event["type"] == "job":
            states.append(event["data"]["state"])
    assert states[-1] == "cancelled" and "ready" not in states, states


async def test_bad_input_gets_clear_errors(tmp_path: Path) -> None:
    sources = FakeSources({"a.example": 0})
    sources.download_total = 5_000_000
    async with running_queue(
        tmp_path, sources, max_items=2, cache_max_mb=1, per_source_delay_seconds=0
    ) as queue:
        for refused in ("/etc/passwd", "file:///etc/passwd", "   "):
            with pytest.raises(QueueError):
                await queue.add(refused)
        big = await queue.add("http://a.example/big")
        missing = await queue.add("http://a.example/missing")
        with pytest.raises(QueueConflictError, match="the queue is full"):
            await queue.add("testcard")
        for edit in (queue.remove, queue.cancel, queue.retry):
            with pytest.raises(UnknownItemError, match="nope"):
                await edit("nope")
        with pytest.raises(UnknownItemError):
            await queue.move("nope", 0)

        await wait_until(queue, big.id, JobState.READY)
        note = queue.item(big.id).job.note or ""
        assert "5.0 MB, larger than the whole cache (1.0 MB" in note
        assert "stream from the site" in note
        await wait_until(queue, missing.id, JobState.FAILED)
        assert queue.item(missing.id).job.error == "video unavailable"
        with pytest.raises(QueueConflictError, match="nothing to cancel"):
            await queue.cancel(missing.id)
        assert (await queue.retry(missing.id)).job.state is JobState.PENDING


async def test_a_restart_keeps_the_order_the_states_and_the_switch(tmp_path: Path) -> None:
    sources = FakeSources({"a.example": 0, "live.example": 0})
    async with running_queue(tmp_path, sources, per_source_delay_seconds=0) as queue:
        first = await queue.add("http://a.example/1")
        live = await queue.add("http://live.example/live")
        await queue.add("testcard", position=0)
        await queue.move(first.id, 2)
        await wait_until(queue, first.id, JobState.READY)
        await wait_until(queue, live.id, JobState.READY)
        await queue.cancel(live.id)
        await queue.set_autoplay(False)
        before = [(i.id, i.query, i.job.state, i.job.cached) for i in queue.items()]

    async with running_queue(tmp_path, FakeSources(), per_source_delay_seconds=0) as queue:
        assert [(i.id, i.query) for i in queue.items()] == [b[:2] for b in before]
        # A download is kept across restarts; a cancel too; the test card (prepared
        # in memory only) is prepared again.
        after = [(i.job.state, i.job.cached) for i in queue.items()]
        assert after[1:] == [(JobState.CANCELLED, False), (JobState.READY, True)]
        await wait_until(queue, before[0][0], JobState.READY)
        assert queue.snapshot_json()["autoplay"] is False


async def test_progress_goes_out_a_few_times_a_second_and_every_state_change(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    sources = FakeSources({"a.example": 0})
    sources.burst = 100  # all at one instant
    events = EventHub()
    subscriber = events.subscribe()
    async with running_queue(
        tmp_path, sources, events, db_in_thread=False, per_source_delay_seconds=0
    ) as queue:
        item = await queue.add("http://a.example/video")
        await wait_until(queue, item.id, JobState.READY)
    events.publish("end of test", None)
    jobs = []
    while (event := json.loads(str(await subscriber.get())))["type"] != "end of test":
        if event["type"] == "job":
            jobs.append((event["data"]["state"], event["data"]["progress"]))
    states = [state for state, _ in jobs]
    assert states[0] == "resolving" and states[-1] == "ready"
    assert states.count("downloading") <= 2, jobs  # started, and at most one more
    assert states.index("downloading") < states.index("ready")


async def test_a_storage_fault_refuses_edits_until_a_write_works_again(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_queue(tmp_path, FakeSources(), db_in_thread=False) as queue:
        first = await queue.add("testcard")
        store = queue._db.store
        assert store is not None
        store._db.execute("PRAGMA query_only = ON")  # as a read-only file system would
        with pytest.raises(QueueUnavailableError, match="read-only: make it writable"):
            await queue.add("lofi")
        assert [i.id for i in queue.items()] == [first.id]
        assert queue.storage_fault == "read-only"
        assert queue.snapshot_json()["notice"] == queue.storage_problem
        # Nothing writes meanwhile: the queue's own check sees the fault go away.
        store._db.execute("PRAGMA query_only = OFF")
        with trio.fail_after(10):
            while queue.storage_fault is not None:
                await trio.sleep(0.1)
        assert queue.storage_problem is None
        await queue.add("lofi")
        assert len(queue.items()) == 2
