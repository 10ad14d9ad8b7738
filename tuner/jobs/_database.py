"""The queue's database thread, and the two tasks that keep the jobs' states saved.

::

    database (Database.keep_saved)
    ├── persister: writes the jobs' state changes to the database
    └── storage watcher: while writes fail, tries one now and then; once one
        works, the changes that could not be saved are saved

The database is blocking ``sqlite3``: every call runs in a worker thread, one at a
time (a commit can wait on the disk), in the order they were made, each one saving
the item as it is in memory when it runs, so the last write is the newest state.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import trio

from tuner.jobs._errors import QueueUnavailableError
from tuner.jobs._store import QueueItem, Store, StoreError

log = logging.getLogger(__name__)

#: While the database cannot be written (a full or read-only state directory), a
#: harmless write is tried this often, to see the fault go away.
STORAGE_RETRY_SECONDS = 1.0
T = TypeVar("T")


class Database:
    """The queue's :class:`Store`, called in its own thread, and what saves into it."""

    def __init__(self, path: Path, on_fault: Callable[[], None], *, in_thread: bool) -> None:
        """The database at ``path``, not yet open.

        Args:
            on_fault: called when a write fails and when writes work again (the queue
                shows the fault).
            in_thread: run calls in a worker thread (see ``Queue``'s ``db_in_thread``).
        """
        self._path = path
        self._on_fault = on_fault
        self._in_thread = in_thread
        self._limiter = trio.CapacityLimiter(1)
        self._store: Store | None = None
        self._to_save, self._saves = trio.open_memory_channel[str](math.inf)
        #: Set by a write that failed: the storage watcher looks for the fault's end.
        self._write_failed = trio.Event()
        #: Items whose job state could not be saved; saved once writes work again.
        self._unsaved: set[str] = set()

    @property
    def store(self) -> Store | None:
        """The open store, else ``None``."""
        return self._store

    def store_now(self) -> Store:
        """The open store.

        Raises:
            QueueUnavailableError: it is not open (the queue is not running).
        """
        if self._store is None:
            raise QueueUnavailableError("the queue is not running")
        return self._store

    async def open(self) -> Store:
        """Open (or create) the database.

        Raises:
            StoreError: it cannot be created at all (see :meth:`Store.open`).
        """
        self._store = await self.blocking(Store.open, self._path)
        return self._store

    async def close(self) -> None:
        """Close the database (shielded), after any call still in flight."""
        store, self._store = self._store, None
        if store is not None:
            with trio.CancelScope(shield=True):
                await self.call(store.close)

    async def call(self, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking store or cache call in the database thread, in turn.

        Raises:
            QueueUnavailableError: the database failed (the message says how).
        """
        try:
            return await self.blocking(call, *args)
        except StoreError as exc:
            if exc.fault is not None:
                self._write_failed.set()
                self._on_fault()
            raise QueueUnavailableError(str(exc)) from None

    async def blocking(self, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking call in the database thread, in turn; its errors as they are."""
        if not self._in_thread:
            await trio.lowlevel.checkpoint()
            return call(*args)
        return await trio.to_thread.run_sync(partial(call, *args), limiter=self._limiter)

    # --- saving the jobs' states ------------------------------------------------------

    def save_later(self, item_id: str) -> None:
        """Have the persister save the item (as it is in memory when it runs)."""
        self._to_save.send_nowait(item_id)

    async def save(self, item: QueueItem | None) -> None:
        """Save an item now (nothing if it is gone).

        Raises:
            QueueUnavailableError: the database failed.
        """
        if item is not None:
            await self.call(self.store_now().save, item)

    async def keep_saved(self, current: Callable[[str], QueueItem | None]) -> None:
        """Run the persister and the storage watcher until cancelled.

        Args:
            current: an item as it is in memory now (``None`` once it is gone).
        """
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._persist, current)
            nursery.start_soon(self._watch_storage)

    async def _persist(self, current: Callable[[str], QueueItem | None]) -> None:
        async for item_id in self._saves:
            try:
                await self.save(current(item_id))
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
            store = self.store_now()
            while store.fault is not None:
                await trio.sleep(STORAGE_RETRY_SECONDS)
                with contextlib.suppress(QueueUnavailableError):
                    await self.call(store.check_writable)
            unsaved, self._unsaved = sorted(self._unsaved), set()
            for item_id in unsaved:
                self._to_save.send_nowait(item_id)
            self._on_fault()
