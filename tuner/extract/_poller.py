"""The poller: runs the extractors on the schedule, and answers for their results.

It sleeps until the earlier of its next due run and the next schedule boundary, so it
turns fast at ``start - lead`` even in the middle of a long idle interval. A change of
schedule (an event added by a calendar refresh) or a manual refresh wakes it at once.
A manual refresh never starts a second run beside one in progress: it joins it.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
import trio

from tuner.core.health import Health, Level
from tuner.core.schedule import Event, Plan, Schedule, Timing
from tuner.extract._base import Registry
from tuner.extract._cache import ResultCache
from tuner.extract._http import HttpClient
from tuner.extract._records import iso
from tuner.extract._run_all import Outcome, StreamChecker, describe_error, run_extractors
from tuner.extract._sources import FetchedCalendar, ScheduleSource, SourceState

log = logging.getLogger(__name__)

#: The longest single sleep. The monotonic clock stops while a machine is suspended
#: and the wall clock can be set: waking this often re-plans against the wall clock,
#: so a schedule boundary is never missed by more than this.
MAX_SLEEP_SECONDS = 60.0
#: A schedule source that failed is tried again after this long (or its refresh
#: interval, if shorter).
SOURCE_RETRY_SECONDS = 15 * 60.0
#: How long an extractor's startup health check may take.
HEALTH_CHECK_SECONDS = 10.0


class PollerUnavailableError(RuntimeError):
    """The poller is not running (starting, stopped, or dead)."""


@attrs.frozen
class RunTicket:
    """The answer to a refresh request: which run will bring the results.

    Attributes:
        run_id: the run in progress (joined) or the one about to start.
        joined: a run was already in progress or requested; no new one was started.
    """

    run_id: int
    joined: bool


@attrs.frozen
class RunSummary:
    """One finished run."""

    run_id: int
    started_at: float
    duration: float
    ok: bool
    manual: bool
    failed: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """As ``/api/extractors`` shows it."""
        return {
            "id": self.run_id,
            "started_at": iso(self.started_at),
            "duration_seconds": round(self.duration, 3),
            "ok": self.ok,
            "manual": self.manual,
            "failed": list(self.failed),
        }


class Poller:
    """Runs the registry's extractors on a schedule; owns their results.

    Args:
        registry: the enabled extractors.
        timing: intervals, lead and overrun.
        http: the extractors' shared client (closed when the poller stops); also
            checks streams when ``check_streams`` is set.
        sources: schedule sources loaded in the background every ``refresh``.
        events: events known from the start (the config file's).
        now: the wall clock (UNIX time); tests tie it to trio's clock.
        max_sleep: the longest single sleep (see :data:`MAX_SLEEP_SECONDS`).
    """

    def __init__(
        self,
        registry: Registry,
        timing: Timing | None = None,
        *,
        http: HttpClient | None = None,
        check_streams: bool = False,
        sources: Sequence[ScheduleSource] = (),
        events: Iterable[Event] = (),
        refresh: float = 24 * 3600.0,
        now: Callable[[], float] = time.time,
        max_sleep: float = MAX_SLEEP_SECONDS,
    ) -> None:
        self.registry = registry
        self.timing = timing or Timing()
        self._http = http
        self._checker = StreamChecker(http) if http is not None and check_streams else None
        self._sources = list(sources)
        self._refresh = refresh
        self._now = now
        self._max_sleep = max_sleep
        self.cache = ResultCache(
            (entry.key, entry.extractor.name, entry.timeout) for entry in registry
        )
        self._events: dict[str, tuple[Event, ...]] = {}
        self.schedule = Schedule((), self.timing)
        self.source_states: dict[str, SourceState] = {}
        self._run_ids = itertools.count(1)
        self._next_run_id = 1
        self._wakeup = trio.Event()
        self._refresh_requested = False
        self._last_run_started: float | None = None
        self._interval_at_last_ok: float | None = None
        #: The run in progress: its ticket.
        self.running: RunTicket | None = None
        self.last_run: RunSummary | None = None
        self.last_ok_at: float | None = None
        self.runs = 0
        self.started_at: float | None = None
        self.alive = False
        self.death: str | None = None
        #: Called with ``"streams"`` or ``"extractors"`` when that view changed.
        self.on_change: list[Callable[[str], object]] = []
        if events:
            self.set_events("config", events)

    # --- commands (from request handlers and sources; they never block) ---------------

    def request_refresh(self) -> RunTicket:
        """Ask for a run now; joins the run in progress (or already asked for).

        Raises:
            PollerUnavailableError: the poller is not running.
        """
        if not self.alive:
            raise PollerUnavailableError(self.death or "the extractor poller is not running")
        if self.running is not None:
            return attrs.evolve(self.running, joined=True)
        if self._refresh_requested:
            return RunTicket(self._next_run_id, joined=True)
        self._refresh_requested = True
        self._wakeup.set()
        return RunTicket(self._next_run_id, joined=False)

    def set_events(self, source: str, events: Iterable[Event]) -> None:
        """Replace the events of ``source``; the poller re-plans at once."""
        self._events[source] = tuple(events)
        self.schedule = Schedule(itertools.chain.from_iterable(self._events.values()), self.timing)
        self._wakeup.set()
        self._changed("extractors")

    # --- the task ---------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Poll until cancelled.

        A bug that escapes the poller is logged and marks it dead (``/healthz`` says
        so) instead of taking the daemon down.
        """
        try:
            async with trio.open_nursery() as nursery:
                for source in self._sources:
                    nursery.start_soon(self._keep_loaded, source)
                self.started_at = self._now()
                self.alive = True
                task_status.started()
                await self._health_checks()
                await self._loop()
        except Exception as exc:
            log.exception("extractor poller died")
            self.death = f"extractor poller died: {describe_error(exc)}"
        finally:
            self.alive = False
            if self._http is not None:
                with trio.CancelScope(shield=True), trio.move_on_after(1):
                    await self._http.aclose()

    async def _loop(self) -> None:
        while True:
            now = self._now()
            plan = self.plan(now)
            if self._refresh_requested or plan.due <= now:
                await self._run_once(manual=self._refresh_requested)
                continue
            self._wakeup = trio.Event()
            # At least a millisecond: float rounding must not make this spin.
            delay = max(0.001, min(plan.wake - now, self._max_sleep))
            with trio.move_on_after(delay):
                await self._wakeup.wait()

    def plan(self, now: float | None = None) -> Plan:
        """What the poller will do next, as seen at ``now``."""
        return self.schedule.plan(self._now() if now is None else now, self._last_run_started)

    async def _run_once(self, *, manual: bool) -> None:
        run_id = next(self._run_ids)
        self._next_run_id = run_id + 1
        started_at = self._now()
        began = trio.current_time()
        self._last_run_started = started_at
        self._refresh_requested = False
        self.running = RunTicket(run_id, joined=False)
        self._changed("extractors")
        try:
            outcomes = await run_extractors(self.registry, checker=self._checker, clock=self._now)
        finally:
            self.running = None
        finished_at = self._now()
        changed = self.cache.apply(outcomes, finished_at)
        ok = not outcomes or any(outcome.ok for outcome in outcomes)
        self.runs += 1
        self.last_run = RunSummary(
            run_id,
            started_at,
            trio.current_time() - began,
            ok,
            manual,
            tuple(outcome.key for outcome in outcomes if not outcome.ok),
        )
        if ok:
            self.last_ok_at = finished_at
            self._interval_at_last_ok = self.schedule.interval(finished_at)
        log.info(_describe_run(self.last_run, outcomes))
        self._changed("extractors")
        if changed:
            self._changed("streams")

    async def _health_checks(self) -> None:
        for entry in self.registry:
            state = self.cache.states[entry.key]
            try:
                with trio.fail_after(HEALTH_CHECK_SECONDS):
                    health = await entry.extractor.health_check()
            except trio.TooSlowError:
                state.health = "health check timed out"
            except Exception as exc:
                state.health = f"health check failed: {describe_error(exc)}"
            else:
                state.health = None if health.ok else health.detail
            if state.health:
                log.warning("extractor %s: %s", entry.key, state.health)

    async def _keep_loaded(self, source: ScheduleSource) -> None:
        while True:
            try:
                events = await source.load()
            except Exception as exc:
                detail = describe_error(exc)
                log.warning("schedule %s: %s", source.key, detail)
                self.source_states[source.key] = SourceState(
                    source.key, False, len(self._events.get(source.key, ())), detail, self._now()
                )
                self._changed("extractors")
                await trio.sleep(min(self._refresh, SOURCE_RETRY_SECONDS))
                continue
            offline = source.offline if isinstance(source, FetchedCalendar) else None
            self.source_states[source.key] = SourceState(
                source.key, True, len(events), offline or "ok", self._now()
            )
            log.info("schedule %s: %d events", source.key, len(events))
            self.set_events(source.key, events)
            delay = self._refresh if offline is None else min(self._refresh, SOURCE_RETRY_SECONDS)
            await trio.sleep(delay)

    def _changed(self, view: str) -> None:
        for callback in self.on_change:
            callback(view)

    # --- views ------------------------------------------------------------------------

    def freshness(self) -> tuple[bool, str]:
        """Whether a run succeeded within twice the interval; and if not, why."""
        if not self.alive:
            return False, self.death or "not running"
        now = self._now()
        interval = max(self.schedule.interval(now), self._interval_at_last_ok or 0.0)
        since = self.last_ok_at if self.last_ok_at is not None else self.started_at
        if since is not None and now - since > 2 * interval:
            why = "every extractor failed" if self.last_run else "no run has finished"
            return False, f"no successful run for {(now - since) / 60:.0f} min ({why})"
        return True, "ok"

    def health(self) -> Health:
        """The ``poller`` and ``extractors`` components of ``/healthz``.

        The poller is unhealthy when no run succeeded for twice its interval (the list
        of live streams is then out of date); an extractor that failed in the last run
        makes it degraded. The detail is in ``/api/extractors``.
        """
        fresh, why = self.freshness()
        level = Level.OK if fresh else Level.UNHEALTHY
        problems = [] if fresh else [f"finding live streams: {why}"]
        failed = self.last_run.failed if self.last_run is not None else ()
        if failed:
            level = max(level, Level.DEGRADED)
            problems.append(
                f"extractor(s) failed in the last run: {', '.join(failed)} "
                "(GET /api/extractors says why)"
            )
        components = {
            "poller": "ok" if fresh else ("stale" if self.alive else "dead"),
            "extractors": "failing" if failed else "ok",
        }
        return Health(components, level, tuple(problems))

    def streams_json(self) -> dict[str, Any]:
        """``GET /api/streams``: the playable streams, live first."""
        now = self._now()
        streams = [listed.to_json(now) for listed in self.cache.streams()]
        return {"streams": streams, "count": len(streams)}

    def status_json(self) -> dict[str, Any]:
        """``GET /api/extractors``: each extractor's last run, and the poller's plan."""
        now = self._now()
        plan = self.plan(now)
        healthy, health = self.freshness()
        next_in = max(0.0, plan.due - now)
        upcoming = [e for e in self.schedule.events if e.end + self.timing.overrun > now]
        extractors = []
        for state in self.cache.states.values():
            view = state.to_json(now)
            view["next_run_at"] = iso(plan.due)
            view["next_run_in_seconds"] = round(next_in)
            extractors.append(view)
        return {
            "enabled": True,
            "healthy": healthy,
            "health": health,
            "mode": plan.mode.value,
            "interval_seconds": plan.interval,
            "live_events": list(plan.live),
            "next_event": _event_json(upcoming[0]) if upcoming else None,
            "running": None if self.running is None else self.running.run_id,
            "last_run": None if self.last_run is None else self.last_run.to_json(),
            "next_run_at": iso(plan.due),
            "next_run_in_seconds": round(next_in),
            "extractors": extractors,
            "schedule": [state.to_json() for state in self.source_states.values()],
        }


def _event_json(event: Event) -> dict[str, Any]:
    return {
        "title": event.title,
        "start": iso(event.start),
        "end": iso(event.end),
        "source": event.source,
    }


def _describe_run(summary: RunSummary, outcomes: Sequence[Outcome]) -> str:
    found = sum(len(outcome.records) for outcome in outcomes)
    failed = f", failed: {', '.join(summary.failed)}" if summary.failed else ""
    duration = summary.duration if math.isfinite(summary.duration) else 0.0
    return (
        f"extractor run {summary.run_id}: {len(outcomes)} extractors, {found} streams "
        f"in {duration:.1f} s{failed}"
    )
