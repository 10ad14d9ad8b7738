"""The poller against fake extractors under an autojump MockClock: a simulated week.

Rules: no IO at all here (fakes only), so the autojump clock is safe; every sleep is
trio's, so a week passes in well under a second.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import trio
import trio.testing

from tests.extract.fakes import EPOCH, FakeExtractor, failing, mock_now
from tuner.core.schedule import Event, Timing
from tuner.extract import Poller, PollerUnavailableError, Registry

MIN = 60.0
HOUR = 60 * MIN
DAY = 24 * HOUR
WEEK = 7 * DAY
TIMING = Timing(live_interval=5 * MIN, idle_interval=30 * MIN, lead=15 * MIN, overrun=30 * MIN)


def at(day: int, hour: float, minute: float = 0) -> float:
    """Seconds from EPOCH (Monday 00:00 UTC) to day ``day`` at ``hour:minute``."""
    return day * DAY + hour * HOUR + minute * MIN


def event(title: str, start: float, end: float) -> Event:
    return Event(title, EPOCH + start, EPOCH + end, "test")


WEEK_EVENTS = [
    event("Practice", at(0, 14), at(0, 16)),  # Monday afternoon
    event("Qualifying", at(2, 10, 7), at(2, 11)),  # Wednesday, odd minutes
    event("Race", at(5, 20), at(6, 1)),  # Saturday night into Sunday
    event("Race 2", at(6, 1, 40), at(6, 2)),  # its lead starts inside Race's overrun
]
ADDED_AT = at(3, 6, 5)  # Thursday 06:05, while the poller sleeps
ADDED = event("Sprint", at(3, 6, 35), at(3, 7, 35))  # lead edge at 06:20


def expected_polls(
    events: Sequence[tuple[float, Event]], timing: Timing, until: float
) -> list[float]:
    """A brute-force model: each minute, poll if the interval in force has passed.

    Independent of :class:`Schedule`: it never computes a boundary, it just looks at
    every minute (all the edges here fall on whole minutes, and runs take no time).
    """
    polls: list[float] = []
    for minute in range(int(until // MIN) + 1):
        t = minute * MIN
        known = [e for added, e in events if added <= t]
        live = any(
            e.start - EPOCH - timing.lead <= t < e.end - EPOCH + timing.overrun for e in known
        )
        interval = timing.live_interval if live else timing.idle_interval
        if not polls or t - polls[-1] >= interval:
            polls.append(t)
    return polls


async def _run_poller(
    poller: Poller, until: float, during: Callable[[], object] | None = None
) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(poller.run)
        if during is not None:
            nursery.start_soon(during)
        await trio.sleep(until - trio.current_time())
        nursery.cancel_scope.cancel()


async def test_poll_instants_over_a_week(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeExtractor("fake")
    # No sleep cap here: only the schedule and set_events may wake the poller, so the
    # instants below prove that it wakes for them (and not by chance, every minute).
    poller = Poller(Registry.of([fake]), TIMING, events=WEEK_EVENTS, now=mock_now, max_sleep=WEEK)

    due_when_added: list[float] = []

    async def add_an_event_while_it_sleeps() -> None:
        await trio.sleep(ADDED_AT)
        assert poller.running is None, "the poller is asleep, not running"
        due_when_added.append(poller.plan().due - EPOCH)
        poller.set_events("later", [ADDED])

    await _run_poller(poller, WEEK, add_an_event_while_it_sleeps)
    polls = [t - EPOCH for t in fake.calls]
    model = [(0.0, e) for e in WEEK_EVENTS] + [(ADDED_AT, ADDED)]
    assert polls == expected_polls(model, TIMING, WEEK - 1)

    def between(lo: float, hi: float) -> list[float]:
        return [t for t in polls if lo <= t < hi]

    # Idle: every 30 min. Lead: at 13:45 exactly, mid-way through an idle interval.
    assert between(at(0, 12), at(0, 14)) == [
        at(0, 12), at(0, 12, 30), at(0, 13), at(0, 13, 30),
        at(0, 13, 45), at(0, 13, 50), at(0, 13, 55),
    ]  # fmt: skip
    # Live and overrun: every 5 min until 16:30, then idle again from the last live run.
    assert between(at(0, 16, 15), at(0, 17, 30)) == [
        at(0, 16, 15), at(0, 16, 20), at(0, 16, 25), at(0, 16, 55), at(0, 17, 25)
    ]  # fmt: skip
    # The odd-minute event: its lead edge (09:52) is where fast polling starts.
    assert at(2, 9, 52) in polls and at(2, 9, 47) not in polls
    # The event added at 06:05 while asleep, due to sleep until 06:27: it woke and
    # polled at the new event's lead edge, 06:20, and every 5 min from there.
    assert due_when_added == [at(3, 6, 27)]
    assert between(ADDED_AT, at(3, 6, 35)) == [at(3, 6, 20), at(3, 6, 25), at(3, 6, 30)]
    # Overlapping windows (Race's overrun, Race 2's lead) are one stretch of fast polls.
    sunday = between(at(5, 19, 45), at(6, 2, 30))
    assert all(b - a == 5 * MIN for a, b in itertools.pairwise(sunday))
    # Quiet stretches cost 48 runs a day; the whole week stays small.
    assert len(between(at(4, 0), at(5, 0))) == 48
    assert len(polls) < 48 * 7 + 12 * 14


async def test_a_manual_refresh_joins_the_run_in_progress(
    autojump_clock: trio.testing.MockClock,
) -> None:
    slow = FakeExtractor("slow", latency=20)
    poller = Poller(Registry.of([slow]), TIMING, now=mock_now)
    async with trio.open_nursery() as nursery:
        await nursery.start(poller.run)
        await trio.sleep(5)  # the first run (at start) is in progress
        first = poller.request_refresh()
        second = poller.request_refresh()
        assert (first.joined, second.joined) == (True, True)
        assert first.run_id == second.run_id == 1
        await trio.sleep(30)
        assert len(slow.calls) == 1, "joining started no second run"
        assert poller.last_run is not None and poller.last_run.run_id == 1
        # Idle, between runs: a refresh starts a run now, and a second request joins it.
        asked = poller.request_refresh()
        assert (asked.run_id, asked.joined) == (2, False)
        assert poller.request_refresh() == attrs_evolve_joined(asked)
        await trio.sleep(1)
        assert len(slow.calls) == 2
        assert slow.calls[1] - slow.calls[0] == 35, "run 2 began at the request, not 30 min later"
        await trio.sleep(25)
        assert poller.last_run is not None and poller.last_run.manual
        nursery.cancel_scope.cancel()
    try:
        poller.request_refresh()
    except PollerUnavailableError as exc:
        assert "not running" in str(exc)
    else:
        raise AssertionError("a stopped poller accepted a refresh")


def attrs_evolve_joined(ticket: object) -> object:
    import attrs

    return attrs.evolve(ticket, joined=True)  # type: ignore[misc]


async def test_a_failing_extractor_keeps_its_streams_stale_with_their_age(
    autojump_clock: trio.testing.MockClock,
) -> None:
    flaky = FakeExtractor("flaky", ["one", "two"])
    other = FakeExtractor("other", ["three"], live=False)
    poller = Poller(Registry.of([flaky, other]), TIMING, now=mock_now)
    changes: list[str] = []
    poller.on_change.append(changes.append)
    async with trio.open_nursery() as nursery:
        await nursery.start(poller.run)
        await trio.sleep(1)
        listed = poller.streams_json()["streams"]
        assert [s["title"] for s in listed] == ["one", "two", "three"], "live first"
        assert not any(s["stale"] for s in listed)
        assert changes.count("streams") == 1

        flaky.error = RuntimeError("a bug in the site's page")
        await trio.sleep(TIMING.idle_interval)
        listed = poller.streams_json()["streams"]
        assert [(s["title"], s["stale"]) for s in listed] == [
            ("one", True), ("two", True), ("three", False)
        ]  # fmt: skip
        assert listed[0]["age_seconds"] == 1 + TIMING.idle_interval, "found at the first run"
        status = {e["key"]: e for e in poller.status_json()["extractors"]}
        assert status["flaky"]["state"] == "error"
        assert status["flaky"]["error"] == "RuntimeError: a bug in the site's page"
        assert status["flaky"]["count"] == 2 and status["flaky"]["stale"]
        assert status["other"]["state"] == "ok" and not status["other"]["stale"]
        assert changes.count("streams") == 2, "stale is a change a viewer sees"

        flaky.error = None
        flaky.titles = ["one"]
        await trio.sleep(TIMING.idle_interval)
        assert [s["title"] for s in poller.streams_json()["streams"]] == ["one", "three"]
        nursery.cancel_scope.cancel()


async def test_health_turns_bad_after_twice_the_interval_without_success(
    autojump_clock: trio.testing.MockClock,
) -> None:
    broken = failing("broken")
    poller = Poller(Registry.of([broken]), TIMING, now=mock_now)
    assert poller.freshness() == (False, "not running")
    async with trio.open_nursery() as nursery:
        await nursery.start(poller.run)
        await trio.sleep(2 * TIMING.idle_interval - 1)
        assert poller.freshness() == (True, "ok")
        await trio.sleep(2)
        healthy, why = poller.freshness()
        assert not healthy and "no successful run for 60 min (every extractor failed)" in why
        assert not poller.status_json()["healthy"]
        broken.error = None
        poller.request_refresh()
        await trio.sleep(1)
        assert poller.freshness() == (True, "ok")
        nursery.cancel_scope.cancel()


async def test_a_wall_clock_jump_is_noticed_within_the_sleep_cap(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A suspended machine's monotonic clock stands still while the wall clock moves."""
    jump = [0.0]
    fake = FakeExtractor("fake", clock=lambda: mock_now() + jump[0])
    race = event("Race", at(0, 2), at(0, 3))
    poller = Poller(
        Registry.of([fake]),
        TIMING,
        events=[race],
        now=lambda: mock_now() + jump[0],
        max_sleep=60,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(poller.run)
        await trio.sleep(10)
        jump[0] = at(0, 2) - 10  # "woke up" at 02:00 wall time, 10 s of monotonic time in
        await trio.sleep(60)
        assert len(fake.calls) == 2
        assert fake.calls[1] - EPOCH <= at(0, 2) + 60
        nursery.cancel_scope.cancel()
