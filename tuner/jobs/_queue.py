"""The up-next queue: its items in order, their preparation jobs, autoplay, history.

::

    root nursery
    └── queue (Queue.run)
        ├── dispatcher: starts a job task for each item that needs preparing
        │   └── job <id> (its own cancel scope): resolve, download, keep fresh
        │       └── download worker process (killed with its group on cancel)
        ├── persister: writes the jobs' state changes to the database
        ├── storage watcher: while writes fail, tries one now and then; once one
        │   works, the changes that could not be saved are saved
        └── session follower: history, autoplay, the playing file's protection

Edits come from request handlers: they change the database first, in one committed
transaction, and only then the queue in memory, and return; so an edit that was
answered is on disk. Handlers never start tasks: they hand item ids to the
dispatcher, and the supervisor's hooks hand sessions to the follower, on memory
channels.

Jobs: each source (``youtube``, or a URL's host) has a limit of jobs at once and a
minimum delay between their starts (:class:`tuner.extract.SourceLimits`), so one
slow or throttling site holds back only its own items. Cancelling a job is setting
its state (:func:`tuner.core.jobs.cancel`, which no later worker step overrides)
and then cancelling its scope, which kills its download process.

The database is blocking ``sqlite3``: every call runs in a worker thread, one at a
time (a commit can wait on the disk), in the order they were made, each one saving
the item as it is in memory when it runs, so the last write is the newest state.
"""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import attrs
import trio

from tuner.config import QueueSettings
from tuner.core import jobs
from tuner.core.jobs import CacheFullError, JobState, Progress, ProgressGate, TransitionError
from tuner.core.presets import Mode, Preset
from tuner.core.query import Query, QueryError, QueryKind, parse_query
from tuner.core.source import Source
from tuner.core.state import State, Status
from tuner.events import EventHub
from tuner.extract import SourceLimits
from tuner.jobs._cache import MediaCache
from tuner.jobs._prepare import DownloadError, DownloadSkippedError, Preparer, site_of
from tuner.jobs._store import DATABASE_NAME, HistoryEntry, QueueItem, Store, StoreError
from tuner.play.resolver import ResolveError, ResolverUnavailableError
from tuner.play.session import TESTCARD_SOURCE, Session
from tuner.play.supervisor import PlayError, Supervisor, UnavailableError

log = logging.getLogger(__name__)

#: History entries the database keeps, and how many the queue shows.
HISTORY_KEPT = 200
HISTORY_SHOWN = 50
HISTORY_IN_SNAPSHOT = 10
#: A job's progress goes out at most this often a second (a change of state, always).
PROGRESS_PER_SECOND = 4.0
#: While the database cannot be written (a full or read-only state directory), a
#: harmless write is tried this often, to see the fault go away.
STORAGE_RETRY_SECONDS = 1.0
T = TypeVar("T")


class QueueError(ValueError):
    """A request the queue cannot do as asked (bad input); the message says why."""


class UnknownItemError(LookupError):
    """No queued item (or history entry) has that id."""


class QueueConflictError(RuntimeError):
    """The request does not fit the queue's state (full; nothing to cancel)."""


class QueueUnavailableError(RuntimeError):
    """The queue is not running (starting, shutting down), or its database failed."""


@attrs.frozen
class _Prepared:
    """A resolution kept for when the item plays."""

    source: Source
    at: float


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
        self._db_in_thread = db_in_thread
        self._settings = settings
        self._path = state_dir / DATABASE_NAME
        self._cache_dir = state_dir / "cache"
        self._supervisor = supervisor
        self._events = events
        self._preparer = preparer
        self._clock = clock
        self._limits = SourceLimits(
            settings.per_source_limit,
            settings.per_source_delay_seconds,
            {name: (r.limit, r.delay_seconds) for name, r in settings.sources.items()},
        )
        self._refresh_seconds = settings.refresh_minutes * 60
        self._gate = ProgressGate(PROGRESS_PER_SECOND)
        self._store: Store | None = None
        self._cache: MediaCache | None = None
        self._nursery: trio.Nursery | None = None
        self._db_limiter = trio.CapacityLimiter(1)
        self._lock = trio.Lock()
        self._order: list[str] = []
        self._by_id: dict[str, QueueItem] = {}
        self._history: list[HistoryEntry] = []
        self._autoplay = settings.autoplay
        self._scopes: dict[str, trio.CancelScope] = {}
        self._prepared: dict[str, _Prepared] = {}
        self._playing_session: str | None = None
        self._recorded_session: str | None = None
        self._jobs_to_start, self._job_requests = trio.open_memory_channel[str](math.inf)
        self._to_save, self._saves = trio.open_memory_channel[str](math.inf)
        self._session_news, self._sessions = trio.open_memory_channel[Status | Session](math.inf)
        #: Set by a write that failed: the storage watcher looks for the fault's end.
        self._write_failed = trio.Event()
        #: Items whose job state could not be saved; saved once writes work again.
        self._unsaved: set[str] = set()
        events.add_snapshot("queue", self.snapshot_json)
        supervisor.on_status.append(self._session_news.send_nowait)
        supervisor.on_ended.append(self._session_news.send_nowait)

    # --- running ----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Open the database, restore the queue, and prepare its items until cancelled.

        Raises:
            StoreError: the database cannot be created at all (an unusable one is kept
                aside and replaced, see :attr:`recovered`).
        """
        store = await self._blocking(Store.open, self._path)
        try:
            self._store = store
            snapshot = await self._db(store.load, self._settings.autoplay, HISTORY_SHOWN)
            cache = MediaCache(self._cache_dir, int(self._settings.cache_max_mb * 1e6), store)
            await self._db(cache.load, snapshot.cache, [item.id for item in snapshot.items])
            self._cache = cache
            self._autoplay = snapshot.autoplay
            self._history = list(snapshot.history)
            for item in snapshot.items:
                self._order.append(item.id)
                self._by_id[item.id] = attrs.evolve(
                    item, job=jobs.restored(item.job, cached=self._cached(item.query))
                )
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._dispatch)
                nursery.start_soon(self._persist)
                nursery.start_soon(self._watch_storage)
                nursery.start_soon(self._follow_sessions)
                for item_id in self._order:
                    if self._by_id[item_id].job.state is JobState.PENDING:
                        self._jobs_to_start.send_nowait(item_id)
                log.info("queue: %d item(s), autoplay %s", len(self._order), self._autoplay)
                task_status.started()
                self._publish_queue()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            self._store = None
            with trio.CancelScope(shield=True):
                # In the database thread's turn: after any call still in flight.
                await self._db(store.close)

    @property
    def running(self) -> bool:
        """Whether edits are served."""
        return self._nursery is not None

    @property
    def recovered(self) -> str | None:
        """Set when the database found at start was unusable: what was done about it."""
        return None if self._store is None else self._store.recovered

    @property
    def storage_fault(self) -> str | None:
        """What is wrong with the state directory while the database cannot be written
        (``read-only``, ``full``, ``failing``), else ``None``."""
        fault = None if self._store is None else self._store.fault
        return None if fault is None else fault.fault

    @property
    def storage_problem(self) -> str | None:
        """The same as a sentence for a person, else ``None``."""
        fault = None if self._store is None else self._store.fault
        return None if fault is None else f"the queue cannot be saved: {fault.reason}"

    # --- reading ----------------------------------------------------------------------

    def items(self) -> list[QueueItem]:
        """The queue, in order."""
        return [self._by_id[i] for i in self._order]

    def item(self, item_id: str) -> QueueItem:
        """One item.

        Raises:
            UnknownItemError: no such item.
        """
        item = self._by_id.get(item_id)
        if item is None:
            raise UnknownItemError(f"no queued item has the id {item_id!r}")
        return item

    def next_item(self) -> QueueItem | None:
        """What plays next: the first item whose preparation did not fail."""
        return next((i for i in self.items() if i.job.state is not JobState.FAILED), None)

    def history(self) -> list[HistoryEntry]:
        """What played last, newest first."""
        return list(self._history)

    def snapshot_json(self) -> dict[str, Any]:
        """``GET /api/queue`` and the ``queue`` event."""
        upcoming = self.next_item()
        return {
            "items": [item.to_json() for item in self.items()],
            "autoplay": self._autoplay,
            "next": None if upcoming is None else upcoming.id,
            "history": [h.to_json() for h in self._history[:HISTORY_IN_SNAPSHOT]],
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
            if len(self._order) >= self._settings.max_items:
                raise QueueConflictError(
                    f"the queue is full ({self._settings.max_items} items, max_items in "
                    "[queue]): remove something first"
                )
            item = QueueItem(secrets.token_hex(4), parsed.text, self._clock())
            order = list(self._order)
            order.insert(len(order) if position is None else _clamp(position, len(order)), item.id)
            await self._db(self._store_now().add, item, order)
            self._by_id[item.id] = item
            self._order = order
            self._jobs_to_start.send_nowait(item.id)
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
            count = len(self._order)
            await self._drop(list(self._order))
        return count

    async def move(self, item_id: str, position: int) -> None:
        """Move an item to ``position`` (0 is next; beyond the end is the end).

        Raises:
            UnknownItemError: no such item.
            QueueUnavailableError: the queue is not running, or its database failed.
        """
        async with self._edit():
            self.item(item_id)
            order = [i for i in self._order if i != item_id]
            order.insert(_clamp(position, len(order)), item_id)
            await self._db(self._store_now().reorder, order)
            self._order = order
            self._publish_queue()

    async def set_autoplay(self, on: bool) -> None:
        """Turn autoplay on or off (it is stored).

        Raises:
            QueueUnavailableError: the queue is not running, or its database failed.
        """
        async with self._edit():
            await self._db(self._store_now().set_autoplay, on)
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
        self._person_step(item_id, jobs.cancel)
        await self._stop_job(item_id)
        await self._save(item_id)
        log.info("queue: cancelled the preparation of %s", item_id)
        return self.item(item_id)

    async def retry(self, item_id: str) -> QueueItem:
        """Prepare a failed or cancelled item again.

        Raises:
            UnknownItemError: no such item.
            QueueConflictError: it neither failed nor was cancelled.
            QueueUnavailableError: the queue is not running, or its database failed.
        """
        self._person_step(item_id, jobs.retry)
        await self._save(item_id)
        self._jobs_to_start.send_nowait(item_id)
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
        entry = next((h for h in self._history if h.id == entry_id), None)
        if entry is None:
            entry = await self._db(self._store_now().history_entry, entry_id)
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
        if self._nursery is None or self._store is None:
            raise QueueUnavailableError("the queue is not running")

    async def _drop(self, item_ids: list[str]) -> None:
        order = [i for i in self._order if i not in item_ids]
        await self._db(self._store_now().remove, item_ids, order)
        self._order = order
        for item_id in item_ids:
            del self._by_id[item_id]
            self._gate.forget(item_id)
            await self._stop_job(item_id)
        self._publish_queue()

    async def _stop_job(self, item_id: str) -> None:
        """Stop an item's job, if it runs, and forget what it prepared."""
        self._prepared.pop(item_id, None)
        scope = self._scopes.get(item_id)
        if scope is not None:
            scope.cancel()  # the job's own exit deletes its partial download
        else:
            await self._db(self._cache_now().discard_partial, item_id)

    async def _play_now(self, item: QueueItem, preset: Preset, mode: Mode) -> Status:
        prepared = self._prepared.get(item.id)
        fresh = prepared is not None and trio.current_time() - prepared.at < self._refresh_seconds
        status = await self._start_session(
            item.query, prepared.source if prepared and fresh else None, preset, mode
        )
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
        self._playing_session = status.session_id
        cache.protected = {target} if local is not None else set()
        if local is not None:
            await self._db(cache.touch, target)
        return status

    # --- the tasks --------------------------------------------------------------------

    async def _dispatch(self) -> None:
        async for item_id in self._job_requests:
            if item_id in self._scopes or item_id not in self._by_id:
                continue
            scope = trio.CancelScope()
            self._scopes[item_id] = scope
            assert self._nursery is not None
            self._nursery.start_soon(self._run_job, item_id, scope, name=f"job {item_id}")

    async def _persist(self) -> None:
        async for item_id in self._saves:
            try:
                await self._save(item_id)
            except QueueUnavailableError as exc:
                self._unsaved.add(item_id)
                log.error("queue: cannot save the state of %s: %s", item_id, exc)

    async def _watch_storage(self) -> None:
        """After a failed write, try one every :data:`STORAGE_RETRY_SECONDS` until it
        works (someone freed space or made the directory writable); then save what
        could not be saved meanwhile."""
        while True:
            await self._write_failed.wait()
            self._write_failed = trio.Event()
            store = self._store_now()
            while store.fault is not None:
                await trio.sleep(STORAGE_RETRY_SECONDS)
                with contextlib.suppress(QueueUnavailableError):
                    await self._db(store.check_writable)
            unsaved, self._unsaved = sorted(self._unsaved), set()
            for item_id in unsaved:
                self._to_save.send_nowait(item_id)
            self._publish_queue()

    async def _follow_sessions(self) -> None:
        async for news in self._sessions:
            try:
                if isinstance(news, Session):
                    await self._autoplay_after(news)
                else:
                    await self._follow_status(news)
            except QueueUnavailableError as exc:
                log.error("queue: %s", exc)

    async def _follow_status(self, status: Status) -> None:
        # What plays now, not what this (maybe older) news says: another session, or
        # none, means the cached file that played is free to evict.
        if self._supervisor.status.session_id != self._playing_session:
            self._playing_session = None
            if self._cache is not None:
                self._cache.protected = set()
        if status.state is State.PLAYING and status.session_id != self._recorded_session:
            self._recorded_session = status.session_id
            query = status.query or ""
            at = self._clock()
            entry_id = await self._db(
                self._store_now().played, query, status.title, at, HISTORY_KEPT
            )
            self._history.insert(0, HistoryEntry(entry_id, query, status.title, at))
            del self._history[HISTORY_SHOWN:]
            self._publish_queue()

    async def _autoplay_after(self, ended: Session) -> None:
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

    # --- a job ------------------------------------------------------------------------

    async def _run_job(self, item_id: str, scope: trio.CancelScope) -> None:
        try:
            with scope:
                await self._job(item_id)
        except Exception:
            log.exception("queue: the job of %s crashed", item_id)
            crashed = "internal error in tuner (see its log)"
            self._step(item_id, partial(jobs.failed, reason=crashed))
        finally:
            if self._scopes.get(item_id) is scope:
                del self._scopes[item_id]
            item = self._by_id.get(item_id)
            if item is not None and item.job.state is JobState.PENDING:
                # Retried while this job was still ending: the dispatcher skipped it.
                self._jobs_to_start.send_nowait(item_id)
            if (item is None or item.job.state is JobState.CANCELLED) and self._cache:
                with trio.CancelScope(shield=True):
                    await self._db(self._cache.discard_partial, item_id)

    async def _job(self, item_id: str) -> None:
        query = parse_query(self.item(item_id).query)
        if self._cached(query.text):
            self._step(item_id, partial(jobs.ready, cached=True))
            return
        if query.kind is QueryKind.TESTCARD:
            self._resolved(item_id, TESTCARD_SOURCE)
            self._step(item_id, partial(jobs.ready, cached=False))
            return
        site = site_of(query)
        fresh = False
        while True:
            async with self._limits.slot(site):
                self._step(item_id, jobs.resolving)
                try:
                    source = await self._preparer.resolve(query, fresh=fresh)
                except ResolveError as exc:
                    self._step(item_id, partial(jobs.failed, reason=exc.message))
                    return
                except ResolverUnavailableError as exc:
                    self._step(item_id, partial(jobs.failed, reason=str(exc)))
                    return
                self._resolved(item_id, source)
                note = None
                if self._settings.download and not source.is_live:
                    note = await self._download(item_id, query, source)
                    if note is None:
                        return  # in the cache: nothing will expire
                self._step(item_id, partial(jobs.ready, cached=False, note=note))
            # The resolved URLs expire (YouTube's after hours): resolve again before.
            fresh = True
            await trio.sleep(self._refresh_seconds)

    async def _download(self, item_id: str, query: Query, source: Source) -> str | None:
        """Download into the cache; ``None`` once it is there, else why not (the item
        then streams from the site when it plays)."""
        cache = self._cache_now()
        self._step(item_id, partial(jobs.downloading, progress=Progress()))
        reserved = False

        async def on_progress(progress: Progress) -> None:
            nonlocal reserved
            if not reserved and progress.total:
                # Room for the whole file first: evicting least recently used files.
                await self._db(cache.make_room, progress.total)
                reserved = True
            self._step(item_id, partial(jobs.downloading, progress=progress))

        streams = "it will stream from the site"
        try:
            file = await self._preparer.download(
                query, cache.partial_dir(item_id), cache.limit_bytes, on_progress
            )
        except CacheFullError as exc:
            return f"not downloaded: {exc}; {streams}"
        except DownloadSkippedError as exc:
            return f"{exc}; {streams}"
        except DownloadError as exc:
            return f"not downloaded ({exc}); {streams}"
        # Finishing is shielded so that the cache's files and index agree; a cancel
        # that lands meanwhile has set the job's state already, and the step below
        # leaves it as it is.
        with trio.CancelScope(shield=True):
            try:
                await self._db(cache.admit, item_id, query.target, file, source)
            except CacheFullError as exc:
                return f"not downloaded: {exc}; {streams}"
            except OSError as exc:
                return f"not kept in the cache ({exc.strerror}); {streams}"
        self._step(item_id, partial(jobs.ready, cached=True))
        return None

    # --- state changes ----------------------------------------------------------------

    def _person_step(self, item_id: str, step: Callable[[jobs.Job], jobs.Job]) -> None:
        """A person's step of a job (cancel, retry): applied at once, before any await.

        Raises:
            UnknownItemError: no such item.
            QueueConflictError: the job's state does not allow it.
            QueueUnavailableError: the queue is not running.
        """
        self._check_running()
        try:
            self._change(item_id, lambda i: attrs.evolve(i, job=step(i.job)))
        except TransitionError as exc:
            raise QueueConflictError(str(exc)) from None

    def _step(self, item_id: str, step: Callable[[jobs.Job], jobs.Job]) -> None:
        """A worker's step of a job: published, and saved when its state changed."""
        try:
            before, after = self._change(item_id, lambda i: attrs.evolve(i, job=step(i.job)))
        except UnknownItemError:
            return  # removed meanwhile: its job is being cancelled
        except TransitionError as exc:
            log.warning("queue: a step of %s's job was refused (a bug): %s", item_id, exc)
            return
        if after.job.state is not before.job.state:
            self._to_save.send_nowait(item_id)

    def _resolved(self, item_id: str, source: Source) -> None:
        self._prepared[item_id] = _Prepared(source, trio.current_time())
        with_media = partial(
            attrs.evolve, title=source.title, is_live=source.is_live, duration=source.duration
        )
        before, after = self._change(item_id, with_media)
        if after != before:
            self._to_save.send_nowait(item_id)

    def _change(
        self, item_id: str, change: Callable[[QueueItem], QueueItem]
    ) -> tuple[QueueItem, QueueItem]:
        """Apply a change to an item in memory and publish it (progress at most
        :data:`PROGRESS_PER_SECOND` times a second)."""
        before = self.item(item_id)
        after = change(before)
        if after != before:
            self._by_id[item_id] = after
            progress_kept = attrs.evolve(after.job, progress=before.job.progress)
            only_progress = attrs.evolve(after, job=progress_kept) == before
            if self._gate.admit(item_id, trio.current_time(), state_changed=not only_progress):
                self._events.publish("job", after.to_json())
        return before, after

    async def _save(self, item_id: str) -> None:
        item = self._by_id.get(item_id)
        if item is not None:
            await self._db(self._store_now().save, item)

    def _publish_queue(self) -> None:
        self._events.publish("queue", self.snapshot_json())

    def _cached(self, query: str) -> bool:
        try:
            target = parse_query(query).target
        except QueryError:
            return False
        return self._cache is not None and self._cache.lookup(target) is not None

    # --- the database thread ----------------------------------------------------------

    async def _db(self, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking store or cache call in the database thread, in turn.

        Raises:
            QueueUnavailableError: the database failed (the message says how).
        """
        try:
            return await self._blocking(call, *args)
        except StoreError as exc:
            if exc.fault is not None:
                self._write_failed.set()
                self._publish_queue()
            raise QueueUnavailableError(str(exc)) from None

    async def _blocking(self, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking call in the database thread, in turn (see ``db_in_thread``)."""
        if not self._db_in_thread:
            await trio.lowlevel.checkpoint()
            return call(*args)
        return await trio.to_thread.run_sync(partial(call, *args), limiter=self._db_limiter)

    def _store_now(self) -> Store:
        if self._store is None:
            raise QueueUnavailableError("the queue is not running")
        return self._store

    def _cache_now(self) -> MediaCache:
        if self._cache is None:
            raise QueueUnavailableError("the queue is not running")
        return self._cache


def _clamp(position: int, length: int) -> int:
    return max(0, min(position, length))
