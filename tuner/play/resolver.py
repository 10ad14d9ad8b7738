"""Resolving queries with yt-dlp, off the event loop and always cancellable.

Each resolution runs in a worker process (:mod:`tuner.ytdlp.resolve`) that is
killed, with its whole process group, when the resolution is cancelled or times out:
unlike a thread, nothing keeps running after the caller lost interest. One worker is
kept warm (yt-dlp already imported, about 0.6 s of CPU) so a play does not wait for
Python to start. Fresh answers are cached for a short while, so playing the same
thing again (a retry, a mode change, a reconnect within the minute) skips yt-dlp.

Searches run in the same workers (a flat search: one request to the site), bounded
by the resolve timeout and cached for :data:`SEARCH_CACHE_SECONDS`, so the same words
typed again (or a client that asks twice) do not run yt-dlp again.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import trio

from tuner.core.query import Query
from tuner.core.search import DEFAULT_PREFIX, SearchResult, search_target
from tuner.core.source import Source, SourceError
from tuner.egress_proxy import EgressProxy
from tuner.procs import LineTooLongError, ask, run_in_own_group, signal_group
from tuner.ytdlp import RESOLVE, Settings, command

log = logging.getLogger(__name__)

#: The worker's answer is one JSON line; anything longer is a broken worker.
MAX_ANSWER_BYTES = 4 << 20
#: How long a search's results are reused, and how many searches are kept.
SEARCH_CACHE_SECONDS = 600.0
MAX_CACHED_SEARCHES = 128


class ResolveError(Exception):
    """A query that could not be resolved; the message is for a person."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class SearchError(ResolveError):
    """A search that failed; ``timed_out`` when the site did not answer in time."""

    def __init__(self, message: str, detail: str = "", *, timed_out: bool = False) -> None:
        super().__init__(message, detail)
        self.timed_out = timed_out


class ResolverUnavailableError(RuntimeError):
    """The resolver service is not running (starting up or shutting down)."""


@attrs.define
class _Worker:
    process: trio.Process
    #: Its name at the egress proxy, which keeps what it refused the worker.
    user: str = ""
    exited: trio.Event = attrs.field(factory=trio.Event)


@attrs.frozen
class _Cached:
    source: Source
    at: float


@attrs.frozen
class _CachedSearch:
    results: tuple[SearchResult, ...]
    at: float


class Resolver:
    """Resolves queries in worker processes that live in this service's nursery."""

    def __init__(
        self,
        *,
        max_height: int,
        timeout: float,
        ffmpeg: str | None,
        cache_dir: Path | None,
        cache_seconds: float = 120.0,
        python: str = sys.executable,
        egress: EgressProxy | None = None,
        search_prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self.max_height = max_height
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.search_prefix = search_prefix
        self._searches: dict[str, _CachedSearch] = {}
        self.searches = 0
        self.search_cache_hits = 0
        self.search_failures = 0
        self._ffmpeg = ffmpeg
        self._cache_dir = cache_dir
        self._python = python
        self._egress = egress
        self._workers_started = 0
        self._cache: dict[str, _Cached] = {}
        self._spare: _Worker | None = None
        self._refilling = False
        self._nursery: trio.Nursery | None = None
        self.resolutions = 0
        self.cache_hits = 0
        self.failures = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the worker processes until cancelled (then every worker is killed)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                self._spare = await nursery.start(self._run_worker)
                task_status.started()
                await trio.sleep_forever()
            finally:
                self._nursery = None
                self._spare = None

    async def resolve(self, query: Query) -> Source:
        """The source for ``query``: cached if fresh, else from a worker.

        Raises:
            ResolveError: yt-dlp found nothing playable, or took longer than the timeout.
            ResolverUnavailableError: the service is not running.
        """
        key = query.target
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached.at < self.cache_seconds:
            self.cache_hits += 1
            return cached.source
        self.resolutions += 1
        try:
            source = await self._ask_worker(query)
        except ResolveError:
            self.failures += 1
            raise
        self._forget_stale()
        self._cache[key] = _Cached(source, time.monotonic())
        return source

    def forget(self, query: Query) -> None:
        """Drop a cached answer (its URLs stopped working)."""
        self._cache.pop(query.target, None)

    async def search(self, words: str, limit: int) -> tuple[SearchResult, ...]:
        """Up to ``limit`` results for ``words`` from the configured search
        (:attr:`search_prefix`): cached if asked within :data:`SEARCH_CACHE_SECONDS`,
        else from a worker, within the resolve timeout.

        Raises:
            SearchError: yt-dlp failed (the message says why), or the site did not
                answer within the timeout (``timed_out``).
            ResolverUnavailableError: the service is not running.
        """
        target = search_target(self.search_prefix, limit, words)
        now = time.monotonic()
        cached = self._searches.get(target)
        if cached is not None and now - cached.at < SEARCH_CACHE_SECONDS:
            self.search_cache_hits += 1
            log.info("search %r: %d results from the cache", words, len(cached.results))
            return cached.results
        self.searches += 1
        started = time.monotonic()
        try:
            results = await self._search(target)
        except SearchError as exc:
            self.search_failures += 1
            log.warning(
                "search %r failed after %.3f s: %s (%s)",
                words,
                time.monotonic() - started,
                exc.message,
                exc.detail,
            )
            raise
        log.info(
            "searched %r in %.3f s: %d results", words, time.monotonic() - started, len(results)
        )
        now = time.monotonic()
        for key in [k for k, c in self._searches.items() if now - c.at >= SEARCH_CACHE_SECONDS]:
            del self._searches[key]
        while len(self._searches) >= MAX_CACHED_SEARCHES:
            del self._searches[next(iter(self._searches))]  # the oldest
        self._searches[target] = _CachedSearch(results, now)
        return results

    async def _search(self, target: str) -> tuple[SearchResult, ...]:
        try:
            # One request to the site: the resolve timeout bounds it all, taking a
            # worker included.
            with trio.fail_after(self.timeout):
                raw, user = await self._ask({"search": target})
        except trio.TooSlowError:
            raise SearchError(
                f"the search took longer than {self.timeout:g} s: the site is slow or unreachable",
                timed_out=True,
            ) from None
        try:
            answer = _answer_object(raw)
            if not answer.get("ok"):
                raise SearchError(
                    str(answer.get("error")),
                    str(answer.get("detail", "")),
                    timed_out=answer.get("timeout") is True,
                )
            return tuple(SearchResult.from_json(r) for r in answer["results"])
        except SearchError as exc:
            problem = self._egress.problem(user) if self._egress else None
            if problem is None:
                raise
            raise SearchError(problem, exc.detail or exc.message) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise SearchError(f"the resolver gave a broken answer: {exc}") from None

    async def _ask(self, request: dict[str, str]) -> tuple[bytes, str]:
        """Send one request to a worker; its raw answer line, and its egress user.
        However this ends, the worker's process group is killed."""
        worker = await self._take_worker()
        try:
            return await ask(worker.process, request, max_bytes=MAX_ANSWER_BYTES), worker.user
        except LineTooLongError:
            raise ResolveError("the resolver's answer is too large") from None
        finally:
            # Cancelled, timed out or answered: the worker has nothing more to do.
            signal_group(worker.process, signal.SIGKILL)

    async def _ask_worker(self, query: Query) -> Source:
        started = time.monotonic()
        try:
            # The worker's own network timeouts come first; this one catches the rest
            # (a slow site making many requests, a hung worker).
            with trio.fail_after(self.timeout * 2 + 5):
                answer, user = await self._ask({"target": query.target})
        except trio.TooSlowError:
            raise ResolveError(
                f"resolving took longer than {self.timeout * 2 + 5:.0f} s: the site is slow "
                "or unreachable"
            ) from None
        log.info("resolved %r in %.3f s", query.text, time.monotonic() - started)
        try:
            return _parse_answer(answer)
        except ResolveError as exc:
            # What the egress proxy refused says more than yt-dlp's "HTTP Error 403".
            problem = self._egress.problem(user) if self._egress else None
            if problem is None:
                raise
            raise ResolveError(problem, exc.detail or exc.message) from None

    async def _take_worker(self) -> _Worker:
        if self._nursery is None:
            raise ResolverUnavailableError("the resolver is not running")
        worker, self._spare = self._spare, None
        if worker is None or worker.exited.is_set():
            worker = await self._nursery.start(self._run_worker)
        self._nursery.start_soon(self._refill)
        return worker

    async def _refill(self) -> None:
        # One refill at a time: two would each make a spare and orphan one of them.
        if self._spare is not None or self._refilling or self._nursery is None:
            return
        self._refilling = True
        try:
            self._spare = await self._nursery.start(self._run_worker)
        finally:
            self._refilling = False

    async def _run_worker(self, *, task_status: trio.TaskStatus[_Worker]) -> None:
        self._workers_started += 1
        user = f"resolve-{self._workers_started}"
        settings = Settings(
            max_height=self.max_height,
            timeout=self.timeout,
            ffmpeg=self._ffmpeg,
            cache_dir=str(self._cache_dir) if self._cache_dir else None,
            proxy=self._egress.url(user) if self._egress else None,
        )
        status = _WorkerStatus(task_status, user)
        try:
            await run_in_own_group(
                command(RESOLVE, settings.to_argv(), python=self._python),
                stdin=subprocess.PIPE,
                stderr=None,  # the worker's log lines go where ours go
                env=settings.environment(),
                task_status=status,  # type: ignore[arg-type]
            )
        finally:
            if status.worker is not None:
                status.worker.exited.set()
                process = status.worker.process
                with trio.CancelScope(shield=True):
                    for pipe in (process.stdin, process.stdout):
                        if pipe is not None:
                            await pipe.aclose()

    def _forget_stale(self) -> None:
        now = time.monotonic()
        for key in [k for k, c in self._cache.items() if now - c.at >= self.cache_seconds]:
            del self._cache[key]


class _WorkerStatus:
    """Hands the started process on as a :class:`_Worker` (and keeps it, for cleanup)."""

    def __init__(self, outer: trio.TaskStatus[_Worker], user: str) -> None:
        self._outer = outer
        self._user = user
        self.worker: _Worker | None = None

    def started(self, process: trio.Process) -> None:
        self.worker = _Worker(process, self._user)
        self._outer.started(self.worker)


def _answer_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise SearchError("the resolver stopped without an answer (see the log)")
    answer = json.loads(raw)
    if not isinstance(answer, dict):
        raise ValueError("not a JSON object")
    return answer


def _parse_answer(raw: bytes) -> Source:
    if not raw.strip():
        raise ResolveError("the resolver stopped without an answer (see the log)")
    try:
        answer = json.loads(raw)
        if answer.get("ok"):
            return Source.from_json(answer["source"])
        raise ResolveError(str(answer.get("error")), str(answer.get("detail", "")))
    except (ValueError, AttributeError, KeyError, SourceError) as exc:
        raise ResolveError(f"the resolver gave a broken answer: {exc}") from None
