"""The queue's jobs: the dispatcher, and a job per item that needs preparing.

::

    jobs (JobRunner.run)
    ├── dispatcher: starts a job task for each item that needs preparing
    └── job <id> (its own cancel scope): resolve, download, keep fresh
        └── download worker process (killed with its group on cancel)

Each source (``youtube``, or a URL's host) has a limit of jobs at once and a minimum
delay between their starts (:class:`tuner.extract.SourceLimits`), so one slow or
throttling site holds back only its own items. Cancelling a job is setting its state
(:func:`tuner.core.jobs.cancel`, which no later worker step overrides) and then
cancelling its scope (:meth:`JobRunner.stop`), which kills its download process.
"""

from __future__ import annotations

import logging
import math
from functools import partial

import attrs
import trio

from tuner.config import QueueSettings
from tuner.core import jobs
from tuner.core.jobs import CacheFullError, JobState, Progress
from tuner.core.query import Query, QueryError, QueryKind, parse_query
from tuner.core.source import Source
from tuner.extract import SourceLimits
from tuner.jobs._cache import MediaCache
from tuner.jobs._database import Database
from tuner.jobs._errors import QueueUnavailableError
from tuner.jobs._items import Items
from tuner.jobs._prepare import DownloadError, DownloadSkippedError, Preparer, site_of
from tuner.play.resolver import ResolveError, ResolverUnavailableError
from tuner.play.session import TESTCARD_SOURCE

log = logging.getLogger(__name__)


@attrs.frozen
class _Prepared:
    """A resolution kept for when the item plays."""

    source: Source
    at: float


class JobRunner:
    """Prepares the queue's items: a job each, limited per source."""

    def __init__(
        self, settings: QueueSettings, preparer: Preparer, items: Items, db: Database
    ) -> None:
        """Jobs that prepare ``items`` with ``preparer``, as ``settings`` say."""
        self._settings = settings
        self._preparer = preparer
        self._items = items
        self._db = db
        self._limits = SourceLimits(
            settings.per_source_limit,
            settings.per_source_delay_seconds,
            {name: (r.limit, r.delay_seconds) for name, r in settings.sources.items()},
        )
        self.refresh_seconds = settings.refresh_minutes * 60
        self._cache: MediaCache | None = None
        self._scopes: dict[str, trio.CancelScope] = {}
        self._prepared: dict[str, _Prepared] = {}
        self._to_start, self._requests = trio.open_memory_channel[str](math.inf)

    async def run(
        self, cache: MediaCache, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """The dispatcher: a job task for each item asked for (see :meth:`start`), in
        this task's nursery, until cancelled."""
        self._cache = cache
        async with trio.open_nursery() as nursery:
            task_status.started()
            async for item_id in self._requests:
                if item_id in self._scopes or self._items.get(item_id) is None:
                    continue
                scope = trio.CancelScope()
                self._scopes[item_id] = scope
                nursery.start_soon(self._run_job, item_id, scope, name=f"job {item_id}")

    def start(self, item_id: str) -> None:
        """Prepare an item (unless its job runs already)."""
        self._to_start.send_nowait(item_id)

    def running(self, item_id: str) -> bool:
        """Whether the item's job task runs (a cancelled one until it has ended)."""
        return item_id in self._scopes

    async def stop(self, item_id: str) -> None:
        """Stop an item's job, if it runs, and forget what it prepared.

        Raises:
            QueueUnavailableError: its partial download could not be deleted.
        """
        self._prepared.pop(item_id, None)
        scope = self._scopes.get(item_id)
        if scope is not None:
            scope.cancel()  # the job's own exit deletes its partial download
        else:
            await self._db.call(self._cache_now().discard_partial, item_id)

    def prepared(self, item_id: str) -> Source | None:
        """What the item's job resolved, while its URLs are fresh."""
        prepared = self._prepared.get(item_id)
        if prepared is None or trio.current_time() - prepared.at >= self.refresh_seconds:
            return None
        return prepared.source

    # --- a job ------------------------------------------------------------------------

    async def _run_job(self, item_id: str, scope: trio.CancelScope) -> None:
        try:
            with scope:
                await self._job(item_id)
        except Exception:
            log.exception("queue: the job of %s crashed", item_id)
            crashed = "internal error in tuner (see its log)"
            self._items.step(item_id, partial(jobs.failed, reason=crashed))
        finally:
            if self._scopes.get(item_id) is scope:
                del self._scopes[item_id]
            item = self._items.get(item_id)
            if item is not None and item.job.state is JobState.PENDING:
                # Retried while this job was still ending: the dispatcher skipped it.
                self._to_start.send_nowait(item_id)
            if (item is None or item.job.state is JobState.CANCELLED) and self._cache:
                with trio.CancelScope(shield=True):
                    await self._db.call(self._cache.discard_partial, item_id)

    async def _job(self, item_id: str) -> None:
        step = partial(self._items.step, item_id)
        query = parse_query(self._items.item(item_id).query)
        if in_cache(self._cache, query.text):
            step(partial(jobs.ready, cached=True))
            return
        if query.kind is QueryKind.TESTCARD:
            self._resolved(item_id, TESTCARD_SOURCE)
            step(partial(jobs.ready, cached=False))
            return
        site = site_of(query)
        fresh = False
        while True:
            async with self._limits.slot(site):
                step(jobs.resolving)
                try:
                    source = await self._preparer.resolve(query, fresh=fresh)
                except ResolveError as exc:
                    step(partial(jobs.failed, reason=exc.message))
                    return
                except ResolverUnavailableError as exc:
                    step(partial(jobs.failed, reason=str(exc)))
                    return
                self._resolved(item_id, source)
                note = None
                if self._settings.download and not source.is_live:
                    note = await self._download(item_id, query, source)
                    if note is None:
                        return  # in the cache: nothing will expire
                step(partial(jobs.ready, cached=False, note=note))
            # The resolved URLs expire (YouTube's after hours): resolve again before.
            fresh = True
            await trio.sleep(self.refresh_seconds)

    def _resolved(self, item_id: str, source: Source) -> None:
        self._prepared[item_id] = _Prepared(source, trio.current_time())
        self._items.resolved(item_id, source)

    async def _download(self, item_id: str, query: Query, source: Source) -> str | None:
        """Download into the cache; ``None`` once it is there, else why not (the item
        then streams from the site when it plays)."""
        cache = self._cache_now()
        step = partial(self._items.step, item_id)
        step(partial(jobs.downloading, progress=Progress()))
        reserved = False

        async def on_progress(progress: Progress) -> None:
            nonlocal reserved
            if not reserved and progress.total:
                # Room for the whole file first: evicting least recently used files.
                await self._db.call(cache.make_room, progress.total)
                reserved = True
            step(partial(jobs.downloading, progress=progress))

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
                await self._db.call(cache.admit, item_id, query.target, file, source)
            except CacheFullError as exc:
                return f"not downloaded: {exc}; {streams}"
            except OSError as exc:
                return f"not kept in the cache ({exc.strerror}); {streams}"
        step(partial(jobs.ready, cached=True))
        return None

    def _cache_now(self) -> MediaCache:
        if self._cache is None:
            raise QueueUnavailableError("the queue is not running")
        return self._cache


def in_cache(cache: MediaCache | None, query: str) -> bool:
    """Whether ``query``'s download is in ``cache``."""
    try:
        target = parse_query(query).target
    except QueryError:
        return False
    return cache is not None and cache.lookup(target) is not None
