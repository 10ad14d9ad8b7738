"""The up-next queue: its items in order, their preparation jobs, autoplay, history.

::

    root nursery
    └── queue (Queue.run)
        ├── database (tuner.jobs._database)
        │   ├── persister: writes the jobs' state changes to the database
        │   └── storage watcher: while writes fail, tries one now and then; once one
        │       works, the changes that could not be saved are saved
        ├── jobs (tuner.jobs._runner)
        │   ├── dispatcher: starts a job task for each item that needs preparing
        │   └── job <id> (its own cancel scope): resolve, download, keep fresh
        │       └── download worker process (killed with its group on cancel)
        └── session follower (tuner.jobs._follower): history, autoplay, the playing
            file's protection

This module is the edits and the snapshot. Edits come from request handlers: they
change the database first, in one committed transaction, and only then the queue in
memory (:mod:`tuner.jobs._items`), and return; so an edit that was answered is on
disk. Handlers never start tasks: they hand item ids to the dispatcher, and the
supervisor's hooks hand sessions to the follower, on memory channels.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from tuner.config import QueueSettings
from tuner.core import jobs
from tuner.core.health import Health, Level
from tuner.core.jobs import JobState
from tuner.core.presets import Mode, Preset
from tuner.core.query import parse_query
from tuner.core.source import Source
from tuner.core.state import Status
from tuner.events import EventHub
from tuner.jobs._cache import MediaCache
from tuner.jobs._database import Database
from tuner.jobs._errors import QueueConflictError as QueueConflictError
from tuner.jobs._errors import QueueError as QueueError
from tuner.jobs._errors import QueueUnavailableError as QueueUnavailableError
from tuner.jobs._errors import UnknownItemError as UnknownItemError
from tuner.jobs._follower import HISTORY_SHOWN, SessionFollower
from tuner.jobs._items import Items
from tuner.jobs._prepare import Preparer
from tuner.jobs._runner import JobRunner, in_cache
from tuner.jobs._store import DATABASE_NAME, HistoryEntry, QueueItem
from tuner.play.session import Session
from tuner.play.supervisor import PlayError, Supervisor, UnavailableError

# The errors above are re-exported ("as"): tuner.jobs has them from this module, and
# every part of the queue raises them (tuner.jobs._errors).

log = logging.getLogger(__name__)

#: History entries the queue's snapshot shows.
HISTORY_IN_SNAPSHOT = 10


class Queue:
    """The up-next queue service; the daemon runs :meth:`run` in its root nursery."""

    def __init__(
        self,
        settings: QueueSettings,
        state_dir: Path,
        supervisor: Supervisor,
        events: EventHub,
        preparer: Preparer,
        *,
        clock: Callable[[], float] = time.time,
        db_in_thread: bool = True,
    ) -> None:
        """The queue of a daemon.

        Args:
            clock: wall-clock time, for when items were added and played.
            db_in_thread: run database calls in a worker thread (as a daemon must: a
                commit can wait on the disk). Tests on trio's autojump clock turn it
                off: while a thread runs, every task looks blocked and the clock jumps.
        """
        self._settings = settings
        self._cache_dir = state_dir / "cache"
        self._supervisor = supervisor
        self._events = events
        self._clock = clock
        self._db = Database(state_dir / DATABASE_NAME, self._publish_queue, in_thread=db_in_thread)
        self._items = Items(events, self._db.save_later)
        self._runner = JobRunner(settings, preparer, self._items, self._db)
        self._follower = SessionFollower(
            supervisor, self._db, self._autoplay_after, self._publish_queue, clock=clock
        )
        self._cache: MediaCache | None = None
        self._nursery: trio.Nursery | None = None
        self._lock = trio.Lock()
        self._autoplay = settings.autoplay
        events.add_snapshot("queue", self.snapshot_json)

    # --- running ----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Open the database, restore the queue, and prepare its items until cancelled.

        Raises:
            StoreError: the database cannot be created at all (an unusable one is kept
                aside and replaced, see :attr:`recovered`).
        """
        store = await self._db.open()
        try:
            snapshot = await self._db.call(store.load, self._settings.autoplay, HISTORY_SHOWN)
            cache = MediaCache(self._cache_dir, int(self._settings.cache_max_mb * 1e6), store)
            await self._db.call(cache.load, snapshot.cache, [item.id for item in snapshot.items])
            self._cache = cache
            self._autoplay = snapshot.autoplay
            self._follower.history = list(snapshot.history)
            for item in snapshot.items:
                self._items.order.append(item.id)
                cached = in_cache(cache, item.query)
                self._items.put(attrs.evolve(item, job=jobs.restored(item.job, cached=cached)))
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await nursery.start(self._runner.run, cache)
                nursery.start_soon(self._db.keep_saved, self._items.get)
                nursery.start_soon(self._follower.run, cache)
                for item in self._items.in_order():
                    if item.job.state is JobState.PENDING:
                        self._runner.start(item.id)
                log.info("queue: %d item(s), autoplay %s", len(snapshot.items), self._autoplay)
                task_status.started()
                self._publish_queue()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            # In the database thread's turn: after any call still in flight.
            await self._db.close()

    @property
    def running(self) -> bool:
        """Whether edits are served."""
        return self._nursery is not None

    @property
    def recovered(self) -> str | None:
        """Set when the database found at start was unusable: what was done about it."""
        store = self._db.store
        return None if store is None else store.recovered

    @property
    def storage_fault(self) -> str | None:
        """What is wrong with the state directory while the database cannot be written
        (``read-only``, ``full``, ``failing``), else ``None``."""
        fault = None if self._db.store is None else self._db.store.fault
        return None if fault is None else fault.fault

    @property
    def storage_problem(self) -> str | None:
        """The same as a sentence for a person, else ``None``."""
        fault = None if self._db.store is None else self._db.store.fault
        return None if fault is None else f"the queue cannot be saved: {fault.reason}"

    def health(self) -> Health:
        """The ``queue`` component of ``/healthz``.

        A database that was unusable at start was replaced by an empty one (a copy
        was kept; the log and ``GET /api/queue`` say where): said, and otherwise ok.
        One that cannot be written now (a full or read-only state directory) refuses
        edits until it heals: unhealthy.
        """
        if not self.running:
            return Health({"queue": "stopped"}, Level.UNHEALTHY, ("the queue is not running",))
        fault = self.storage_fault
        if fault is not None:
            problem = self.storage_problem or "the queue cannot be saved"
            return Health({"queue": fault}, Level.UNHEALTHY, (problem,))
        recovered = self.recovered
        if recovered:
            return Health({"queue": "recovered"}, Level.OK, (recovered,))
        return Health({"queue": "ok"})

    # --- reading ----------------------------------------------------------------------

    def items(self) -> list[QueueItem]:
        """The queue, in order."""
        return self._items.in_order()

    def item(self, item_id: str) -> QueueItem:
        """One item.

        Raises:
            UnknownItemError: no such item.
        """
        return self._items.item(item_id)

    def next_item(self) -> QueueItem | None:
        """What plays next: the first item whose preparation did not fail."""
        return next((i for i in self.items() if i.job.state is not JobState.FAILED), None)

    def history(self) -> list[HistoryEntry]:
        """What played last, newest first."""
        return list(self._follower.history)

    def snapshot_json(self) -> dict[str, Any]:
        """``GET /api/queue`` and the ``queue`` event."""
        upcoming = self.next_item()
        return {
            "items": [item.to_json() for item in self.items()],
            "autoplay": self._autoplay,
            "next": None if upcoming is None else upcoming.id,
            "history": [h.to_json() for h in self._follower.history[:HISTORY_IN_SNAPSHOT]],
            "cache": None if self._cache is None else self._cache.usage(),
            "notice": self.storage_problem or self.recovered,
        }

    # --- edits (from request handlers) ------------------------------------------------

    async def add(self, query: str, position: int | None = None) -> QueueItem:
        """Queue ``query`` at ``position`` (the end by default); its preparation starts.

        Raises:
            QueueError: the query cannot be played (see ``Supervisor.check_query``).
            QueueConflictError: the queue is full.
            QueueUnavailableError: the queue is not running, or its database failed.
        """
        try:
            parsed = self._supervisor.check_query(query)
        except PlayError as exc:
            raise QueueError(str(exc)) from None
        async with self._edit():
            if len(self._items.order) >= self._settings.max_items:
                raise QueueConflictError(
                    f"the queue is full ({self._settings.max_items} items, max_items in "
                    "[queue]): remove something first"
                )
            item = QueueItem(secrets.token_hex(4), parsed.text, self._clock())
            order = list(self._items.order)
            order.insert(len(order) if position is None else _clamp(position, len(order)), item.id)
            await self._db.call(self._db.store_now().add, item, order)
            self._items.put(item)
            self._items.order = order
            self._runner.start(item.id)
            self._publish_queue()
        log.info("queue: added %s %r", item.id, item.query)
        return item

    async def remove(self, item_id: str) -> None:
        """Take an item out of the queue (its job is cancelled, its partial download
        deleted).

        Raises:
            UnknownItemError: no such item.
            QueueUnavailableError: the queue is not running, or its database failed.
        """
        async with self._edit():
            self.item(item_id)
            await self._drop([item_id])

    async def clear(self) -> int:
        """Empty the queue; returns how many items it had.

        Raises:
            QueueUnavailableError: the queue is not running, or its database failed.
        """
        async with self._edit():
            count = len(self._items.order)
            await self._drop(list(self._items.order))
        return count

    async def move(self, item_id: str, position: int) -> None:
        """Move an item to ``position`` (0 is next; beyond the end is the end).

        Raises:
            UnknownItemError: no such item.
            QueueUnavailableError: the queue is not running, or its database failed.
        """
        async with self._edit():
            self.item(item_id)
            order = [i for i in self._items.order if i != item_id]
            order.insert(_clamp(position, len(order)), item_id)
            await self._db.call(self._db.store_now().reorder, order)
            self._items.order = order
            self._publish_queue()

    async def set_autoplay(self, on: bool) -> None:
        """Turn autoplay on or off (it is stored).

        Raises:
            QueueUnavailableError: the queue is not running, or its database failed.
        """
        async with self._edit():
            await self._db.call(self._db.store_now().set_autoplay, on)
            self._autoplay = on
            self._publish_queue()

    async def cancel(self, item_id: str) -> QueueItem:
        """Cancel an item's preparation; it stays queued and is resolved when it plays.

        The cancelled state is set before anything else, so whatever the job's worker
        was about to write is ignored (see :mod:`tuner.core.jobs`).

        Raises:
            UnknownItemError: no such item.
            QueueConflictError: its preparation failed or was cancelled already.
            QueueUnavailableError: the queue is not running, or its database failed.
        """
        self._check_running()
        self._items.person_step(item_id, jobs.cancel)
        await self._runner.stop(item_id)
        await self._db.save(self._items.get(item_id))
        log.info("queue: cancelled the preparation of %s", item_id)
        return self.item(item_id)

    async def retry(self, item_id: str) -> QueueItem:
        """Prepare a failed or cancelled item again.

        Raises:
            UnknownItemError: no such item.
            QueueConflictError: it neither failed nor was cancelled.
            QueueUnavailableError: the queue is not running, or its database failed.
        """
        self._check_running()
        self._items.person_step(item_id, jobs.retry)
        await self._db.save(self._items.get(item_id))
        self._runner.start(item_id)
        return self.item(item_id)

    async def play(self, item_id: str, preset: Preset, mode: Mode) -> Status:
        """Play a queued item now (it leaves the queue); what it prepared is used.

        Raises:
            UnknownItemError: no such item.
            PlayError, UnavailableError: from the supervisor.
            QueueUnavailableError: the queue is not running, or its database failed.
        """
        async with self._edit():
            return await self._play_now(self.item(item_id), preset, mode)

    async def replay(self, entry_id: int, preset: Preset, mode: Mode) -> Status:
        """Play a history entry again (from the cache if its download is still there).

        Raises:
            UnknownItemError: no such history entry.
            PlayError, UnavailableError: from the supervisor.
            QueueUnavailableError: the queue is not running, or its database failed.
        """
        self._check_running()
        entry = next((h for h in self._follower.history if h.id == entry_id), None)
        if entry is None:
            entry = await self._db.call(self._db.store_now().history_entry, entry_id)
        if entry is None:
            raise UnknownItemError(f"no history entry has the id {entry_id}")
        return await self._start_session(entry.query, None, preset, mode)

    # --- edits' shared steps ----------------------------------------------------------

    @asynccontextmanager
    async def _edit(self) -> AsyncIterator[None]:
        """One edit at a time: each computes its new order from the last one's."""
        self._check_running()
        async with self._lock:
            self._check_running()
            yield

    def _check_running(self) -> None:
        if self._nursery is None or self._db.store is None:
            raise QueueUnavailableError("the queue is not running")

    async def _drop(self, item_ids: list[str]) -> None:
        order = [i for i in self._items.order if i not in item_ids]
        await self._db.call(self._db.store_now().remove, item_ids, order)
        self._items.order = order
        for item_id in item_ids:
            self._items.forget(item_id)
            await self._runner.stop(item_id)
        self._publish_queue()

    async def _play_now(self, item: QueueItem, preset: Preset, mode: Mode) -> Status:
        prepared = self._runner.prepared(item.id)
        status = await self._start_session(item.query, prepared, preset, mode)
        log.info("queue: playing %s %r", item.id, item.query)
        await self._drop([item.id])
        return status

    async def _start_session(
        self, query: str, resolved: Source | None, preset: Preset, mode: Mode
    ) -> Status:
        """Play ``query``: from the cache when it is there, else from ``resolved``,
        else resolved by the session itself."""
        target = parse_query(query).target
        cache = self._cache_now()
        local = cache.source(target)
        status = self._supervisor.play(query, preset, mode, prepared=local or resolved)
        self._follower.started(status.session_id, cache, None if local is None else target)
        if local is not None:
            await self._db.call(cache.touch, target)
        return status

    async def _autoplay_after(self, ended: Session) -> None:
        """A session ended: with autoplay on, the next item plays (the follower's cue)."""
        if not self._autoplay or self._nursery is None:
            return
        async with self._edit():
            upcoming = self.next_item()
            if upcoming is None:
                return
            log.info("queue: %s ended; autoplay goes on with %s", ended.id, upcoming.id)
            try:
                await self._play_now(upcoming, ended.preset, ended.mode)
            except (PlayError, UnavailableError) as exc:
                log.warning("queue: cannot play %s: %s", upcoming.id, exc)

    def _publish_queue(self) -> None:
        self._events.publish("queue", self.snapshot_json())

    def _cache_now(self) -> MediaCache:
        if self._cache is None:
            raise QueueUnavailableError("the queue is not running")
        return self._cache


def _clamp(position: int, length: int) -> int:
    return max(0, min(position, length))
