"""The poll schedule, as plain functions of time: live windows, boundaries, plans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.core.schedule import Event, Mode, Schedule, Timing

MIN = 60.0
TIMING = Timing(live_interval=5 * MIN, idle_interval=30 * MIN, lead=15 * MIN, overrun=30 * MIN)
RACE = Event("Race", start=1000 * MIN, end=1120 * MIN)


def test_live_from_start_minus_lead_to_end_plus_overrun() -> None:
    schedule = Schedule([RACE], TIMING)
    assert not schedule.is_live(RACE.start - 15 * MIN - 1)
    assert schedule.is_live(RACE.start - 15 * MIN)
    assert schedule.is_live(RACE.end + 30 * MIN - 1)
    assert not schedule.is_live(RACE.end + 30 * MIN)
    assert schedule.live_events(RACE.start) == [RACE]
    assert schedule.mode(RACE.start) is Mode.LIVE


def test_next_boundary_is_the_next_window_edge() -> None:
    schedule = Schedule([RACE], TIMING)
    assert schedule.next_boundary(0) == RACE.start - 15 * MIN
    assert schedule.next_boundary(RACE.start) == RACE.end + 30 * MIN
    assert schedule.next_boundary(RACE.end + 30 * MIN) is None


def test_plan_wakes_at_the_lead_edge_inside_a_long_idle_interval() -> None:
    schedule = Schedule([RACE], TIMING)
    last = RACE.start - 25 * MIN  # an idle run 10 minutes before the lead edge
    plan = schedule.plan(last + 1, last)
    assert (plan.mode, plan.due) == (Mode.IDLE, last + 30 * MIN)
    assert plan.wake == RACE.start - 15 * MIN, "wakes at the edge, not 30 min later"
    at_edge = schedule.plan(RACE.start - 15 * MIN, last)
    assert at_edge.mode is Mode.LIVE and at_edge.live == ("Race",)
    assert at_edge.due <= RACE.start - 15 * MIN, "the last run is older than 5 min: run now"


def test_plan_after_the_overrun_goes_back_to_idle() -> None:
    schedule = Schedule([RACE], TIMING)
    end = RACE.end + 30 * MIN
    plan = schedule.plan(end, end - 2 * MIN)
    assert (plan.mode, plan.due, plan.wake) == (Mode.IDLE, end + 28 * MIN, end + 28 * MIN)


def test_first_plan_runs_at_once() -> None:
    assert Schedule([], TIMING).plan(5.0, None).due == 5.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"live_interval": 0}, "positive"),
        ({"live_interval": 60, "idle_interval": 30}, "at most the idle"),
        ({"lead": -1}, "not be negative"),
    ],
)
def test_bad_timing(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Timing(**kwargs)


def test_an_event_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        Event("x", 10, 5)
    with pytest.raises(ValueError, match="not a time"):
        Event("x", float("nan"), 5)


@given(
    starts=st.lists(st.integers(0, 10_000), max_size=6),
    now=st.integers(-1000, 12_000),
    last=st.none() | st.integers(-2000, 12_000),
)
def test_a_plan_never_sleeps_past_a_mode_change(
    starts: list[int], now: int, last: int | None
) -> None:
    """Whatever the events, nothing changes mode between now and the plan's wake."""
    timing = Timing(live_interval=50, idle_interval=300, lead=20, overrun=40)
    schedule = Schedule([Event(str(s), s, s + 60) for s in starts], timing)
    plan = schedule.plan(now, last)
    assert plan.wake <= plan.due
    if last is not None:
        assert plan.due == last + plan.interval
    mode = schedule.mode(now)
    for t in range(now, int(plan.wake)):
        assert schedule.mode(t) is mode
