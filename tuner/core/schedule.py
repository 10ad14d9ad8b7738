"""The poll schedule: when scheduled events are live, and when the poller runs next.

Plain synchronous code over UNIX timestamps (float seconds), so it is tested and
benchmarked without an event loop. The IO shell (``tuner.extract``) feeds it events
from its sources and sleeps until the instant :meth:`Schedule.plan` returns.

An event is *live* from ``start - lead`` to ``end + overrun``: the lead makes the
poller fast before a race starts (streams go up early), the overrun keeps it fast
while a session runs late. While any event is live the poller runs every
``live_interval`` seconds, otherwise every ``idle_interval``; it also wakes at every
window edge, so it turns fast at the edge and not one slow interval later.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Iterable

import attrs


class Mode(enum.Enum):
    """Which interval is in force."""

    LIVE = "live"
    IDLE = "idle"


@attrs.frozen
class Event:
    """Something scheduled (a race, a launch): when it starts and ends, in UNIX time.

    An event with ``end == start`` (an instant) is still live for lead + overrun.
    """

    title: str
    start: float
    end: float
    source: str = "config"

    def __attrs_post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise ValueError(f"event {self.title!r} has a start or end that is not a time")
        if self.end < self.start:
            raise ValueError(f"event {self.title!r} ends before it starts")


@attrs.frozen
class Timing:
    """The poller's intervals and margins, in seconds."""

    live_interval: float = 5 * 60.0
    idle_interval: float = 30 * 60.0
    lead: float = 15 * 60.0
    overrun: float = 30 * 60.0

    def __attrs_post_init__(self) -> None:
        if not 0 < self.live_interval <= self.idle_interval:
            raise ValueError("the live interval must be positive and at most the idle interval")
        if self.lead < 0 or self.overrun < 0:
            raise ValueError("lead and overrun must not be negative")


@attrs.frozen
class Plan:
    """What the poller should do, computed at ``now``.

    Attributes:
        mode: the interval in force at ``now``.
        interval: its length in seconds.
        due: when the next run is due (``<= now``: run now).
        wake: when to look again without running: ``due``, or an earlier window edge
            where the mode may change.
        live: the titles of the events live at ``now``.
    """

    mode: Mode
    interval: float
    due: float
    wake: float
    live: tuple[str, ...]


class Schedule:
    """A set of events and the timing: answers "is it live?" and "when next?"."""

    def __init__(self, events: Iterable[Event] = (), timing: Timing | None = None) -> None:
        self.timing = timing or Timing()
        self.events: tuple[Event, ...] = tuple(sorted(events, key=lambda e: (e.start, e.end)))
        lead, overrun = self.timing.lead, self.timing.overrun
        self._windows = [(e.start - lead, e.end + overrun, e) for e in self.events]
        # Sorted once: the poller asks for the next edge at every wake.
        self._edges = sorted({edge for lo, hi, _ in self._windows for edge in (lo, hi)})

    def live_events(self, now: float) -> list[Event]:
        """The events whose window (lead and overrun included) holds ``now``."""
        return [event for lo, hi, event in self._windows if lo <= now < hi]

    def is_live(self, now: float) -> bool:
        """Whether any event's window holds ``now``."""
        return any(lo <= now < hi for lo, hi, _ in self._windows)

    def mode(self, now: float) -> Mode:
        """The interval in force at ``now``."""
        return Mode.LIVE if self.is_live(now) else Mode.IDLE

    def interval(self, now: float) -> float:
        """The length of the interval in force at ``now``."""
        live = self.is_live(now)
        return self.timing.live_interval if live else self.timing.idle_interval

    def next_boundary(self, now: float) -> float | None:
        """The first window edge after ``now`` (where the mode may change), if any."""
        index = bisect.bisect_right(self._edges, now)
        return self._edges[index] if index < len(self._edges) else None

    def plan(self, now: float, last_run: float | None) -> Plan:
        """When to run next, given when the last run started (``None``: never).

        The next run is due one interval (of the mode in force *now*) after the last
        one started; the poller wakes earlier at a window edge to plan again, so
        entering a live window makes a run due at once if the last one is older than
        the live interval.
        """
        live = self.live_events(now)
        mode = Mode.LIVE if live else Mode.IDLE
        interval = self.timing.live_interval if live else self.timing.idle_interval
        due = now if last_run is None else last_run + interval
        wake = due
        boundary = self.next_boundary(now)
        if boundary is not None and boundary < wake:
            wake = boundary
        return Plan(mode, interval, due, wake, tuple(e.title for e in live))
