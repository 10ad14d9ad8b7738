"""The queue's session follower: what the supervisor's sessions mean to the queue.

A session that starts playing goes into the history; one that ends hands over to
autoplay; and the cached file that plays is protected from eviction until another
session (or none) plays. The supervisor's hooks hand the news over on a memory
channel: they never wait, and this task does the database work in turn.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable

import trio

from tuner.core.state import State, Status
from tuner.jobs._cache import MediaCache
from tuner.jobs._database import Database
from tuner.jobs._errors import QueueUnavailableError
from tuner.jobs._store import HistoryEntry
from tuner.play.session import Session
from tuner.play.supervisor import Supervisor

log = logging.getLogger(__name__)

#: History entries the database keeps, and how many the queue shows.
HISTORY_KEPT = 200
HISTORY_SHOWN = 50


class SessionFollower:
    """The history, autoplay's cue and the playing file's protection."""

    def __init__(
        self,
        supervisor: Supervisor,
        db: Database,
        autoplay: Callable[[Session], Awaitable[None]],
        on_history: Callable[[], None],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Follows ``supervisor``'s sessions from now on (its hooks are set here).

        Args:
            autoplay: called with each session that ended.
            on_history: called when the history changed.
            clock: wall-clock time, for when something played.
        """
        self._supervisor = supervisor
        self._db = db
        self._autoplay = autoplay
        self._on_history = on_history
        self._clock = clock
        #: What played last, newest first (the latest :data:`HISTORY_SHOWN`).
        self.history: list[HistoryEntry] = []
        self._cache: MediaCache | None = None
        self._playing_session: str | None = None
        self._recorded_session: str | None = None
        self._news, self._sessions = trio.open_memory_channel[Status | Session](math.inf)
        supervisor.on_status.append(self._news.send_nowait)
        supervisor.on_ended.append(self._news.send_nowait)

    def started(self, session_id: str | None, cache: MediaCache, played: str | None) -> None:
        """The queue started a session; ``played`` is the cached file's key, if it plays
        one (it is not evicted while that session plays)."""
        self._playing_session = session_id
        cache.protected = set() if played is None else {played}

    async def run(self, cache: MediaCache) -> None:
        """Follow the sessions until cancelled."""
        self._cache = cache
        async for news in self._sessions:
            try:
                if isinstance(news, Session):
                    await self._autoplay(news)
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
            entry_id = await self._db.call(
                self._db.store_now().played, query, status.title, at, HISTORY_KEPT
            )
            self.history.insert(0, HistoryEntry(entry_id, query, status.title, at))
            del self.history[HISTORY_SHOWN:]
            self._on_history()
