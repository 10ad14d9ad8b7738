"""The queue's SQLite database: the items in order, the autoplay switch, the history,
and the index of the download cache.

Plain blocking ``sqlite3``; the trio side calls it in a worker thread, one call at a
time (:class:`tuner.jobs.Queue`). Every change is one transaction that is committed
before the call returns, so an edit that was acknowledged survives a ``kill -9``, a
power cut, and a disk that the kernel turns read-only after an error (which drops
what was not yet written out, as a power cut does): the database is in WAL mode with
``synchronous=FULL``, each commit flushed to the disk before it is acknowledged.
Edits are a person's taps and a job's state changes, a few a second at most, so the
flush costs nothing anyone notices.

The schema is versioned with ``PRAGMA user_version`` and migrated on open, one step
at a time, each step in the transaction that also sets the new version. A file that
cannot be used (not a database, corrupt, or made by a newer tuner) is moved aside,
kept, and replaced by an empty database; :attr:`Store.recovered` says so (the
schema and the opening: :mod:`tuner.jobs._schema`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from tuner.core.jobs import CacheEntry, Job, JobState
from tuner.jobs._schema import SCHEMA_VERSION as SCHEMA_VERSION
from tuner.jobs._schema import SchemaError, connect, move_aside

# SCHEMA_VERSION is re-exported ("as"): tuner.jobs has it from this module.

log = logging.getLogger(__name__)

DATABASE_NAME = "queue.db"


class StoreError(Exception):
    """The database cannot be opened or written; the message says where and why.

    Attributes:
        fault: what is wrong with the state directory, in a word or two for
            ``/healthz`` (``read-only``, ``full``, ``failing``), when a write failed.
        reason: the same for a person, without the path (``the state directory is
            read-only``).
    """

    def __init__(self, message: str, fault: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.fault = fault
        self.reason = reason or message


@attrs.frozen
class QueueItem:
    """One item of the up-next queue."""

    id: str
    query: str
    added_at: float
    title: str | None = None
    is_live: bool | None = None
    duration: float | None = None
    job: Job = attrs.field(factory=Job)

    def to_json(self) -> dict[str, Any]:
        """As ``GET /api/queue`` and the ``queue``/``job`` events show it."""
        return {
            "id": self.id,
            "query": self.query,
            "title": self.title or self.query,
            "is_live": self.is_live,
            "duration": self.duration,
            "added_at": self.added_at,
            **self.job.to_json(),
        }


@attrs.frozen
class HistoryEntry:
    """Something that played."""

    id: int
    query: str
    title: str | None
    played_at: float

    def to_json(self) -> dict[str, Any]:
        """As ``GET /api/history`` shows it."""
        return {
            "id": self.id,
            "query": self.query,
            "title": self.title or self.query,
            "played_at": self.played_at,
        }


@attrs.frozen
class CachedFile:
    """A complete download: its index entry and what to play it as."""

    entry: CacheEntry
    file: str
    title: str
    duration: float | None
    has_video: bool
    has_audio: bool


@attrs.frozen
class Snapshot:
    """Everything the store holds, as loaded at start."""

    items: tuple[QueueItem, ...]
    autoplay: bool
    history: tuple[HistoryEntry, ...]
    cache: tuple[CachedFile, ...]


class Store:
    """The queue's database. Not thread-safe: one call at a time."""

    def __init__(self, connection: sqlite3.Connection, path: Path, recovered: str | None) -> None:
        self._db = connection
        self.path = path
        #: Set when the file found at start could not be used: what happened, and
        #: where the copy was kept.
        self.recovered = recovered
        #: The last write's failure, until a write succeeds again (a full or read-only
        #: state directory). Set and cleared in the database thread; read anywhere.
        self.fault: StoreError | None = None

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (or create) the database at ``path``, migrated to the current schema.

        A file that cannot be used is renamed to ``<name>.unusable-<time>`` (with its
        WAL files) and a fresh database is made in its place; the store's
        :attr:`recovered` then says so.

        Raises:
            StoreError: the database cannot be created (permissions, a full disk).
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return cls(connect(path), path, None)
        except sqlite3.OperationalError as exc:
            # Cannot open or lock it (permissions, another tuner): not the file's fault.
            raise StoreError(f"cannot open the queue database {path}: {exc}") from None
        except (sqlite3.DatabaseError, SchemaError) as exc:
            kept = move_aside(path)
            recovered = (
                f"the queue database {path} could not be used ({exc}); it was kept as "
                f"{kept} and the queue starts empty"
            )
            log.error("%s", recovered)
        except OSError as exc:
            raise StoreError(f"cannot open the queue database {path}: {exc}") from None
        try:
            return cls(connect(path), path, recovered)
        except (sqlite3.Error, SchemaError, OSError) as exc:
            raise StoreError(f"cannot create the queue database {path}: {exc}") from None

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        # BEGIN IMMEDIATE takes the write lock at once: a transaction never has to be
        # retried halfway. A failure anywhere (the COMMIT too: a full disk fails there)
        # rolls back, so nothing is half-written, and is said for a person.
        try:
            cursor = self._db.execute("BEGIN IMMEDIATE")
            yield cursor
            self._db.commit()
        except BaseException as exc:
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.rollback()
            if not isinstance(exc, sqlite3.Error):
                raise
            error = self._write_error(exc)
            # Said once when it starts (or changes), not at every retry while it lasts.
            if self.fault is None or self.fault.reason != error.reason:
                log.error("%s", error)
            self.fault = error
            raise error from None
        if self.fault is not None:
            log.info("the queue database %s can be written again", self.path)
        self.fault = None

    def _write_error(self, exc: sqlite3.Error) -> StoreError:
        fault, reason = storage_fault(getattr(exc, "sqlite_errorname", ""), _dir_state(self.path))
        message = f"cannot save the queue: {reason}; nothing was changed ({self.path}: {exc})"
        return StoreError(message, fault, reason)

    def check_writable(self) -> None:
        """Write and commit a harmless row: clears :attr:`fault` when it works.

        Raises:
            StoreError: the database still cannot be written.
        """
        with self._transaction() as db:
            db.execute(
                "INSERT INTO settings (key, value) VALUES ('written_at', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (repr(time.time()),),
            )

    # --- reading ----------------------------------------------------------------------

    def load(self, default_autoplay: bool, history_limit: int) -> Snapshot:
        """The whole queue, the autoplay switch, the latest history and the cache index."""
        items = tuple(
            _item(row)
            for row in self._db.execute(
                "SELECT id, query, title, added_at, state, error, is_live, duration, note "
                "FROM items ORDER BY position"
            )
        )
        value = self._db.execute("SELECT value FROM settings WHERE key = 'autoplay'").fetchone()
        autoplay = default_autoplay if value is None else value[0] == "1"
        cache = tuple(
            CachedFile(CacheEntry(key, size, used), file, title, duration, bool(v), bool(a))
            for key, file, size, used, title, duration, v, a in self._db.execute(
                "SELECT key, file, size, last_used, title, duration, has_video, has_audio "
                "FROM cache"
            )
        )
        return Snapshot(items, autoplay, self.history(history_limit), cache)

    def history(self, limit: int) -> tuple[HistoryEntry, ...]:
        """What played last, newest first."""
        rows = self._db.execute(
            "SELECT id, query, title, played_at FROM history ORDER BY id DESC LIMIT ?", (limit,)
        )
        return tuple(HistoryEntry(*row) for row in rows)

    def history_entry(self, entry_id: int) -> HistoryEntry | None:
        """One history entry, or ``None``."""
        row = self._db.execute(
            "SELECT id, query, title, played_at FROM history WHERE id = ?", (entry_id,)
        ).fetchone()
        return None if row is None else HistoryEntry(*row)

    # --- the queue --------------------------------------------------------------------

    def add(self, item: QueueItem, order: Sequence[str]) -> None:
        """Insert ``item``; ``order`` is every item's id in the new order."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO items (id, query, title, position, added_at, state) "
                "VALUES (?, ?, ?, 0, ?, ?)",
                (item.id, item.query, item.title, item.added_at, item.job.state.value),
            )
            _renumber(db, order)

    def remove(self, item_ids: Sequence[str], order: Sequence[str]) -> None:
        """Delete items; ``order`` is the ids that remain, in order."""
        with self._transaction() as db:
            db.executemany("DELETE FROM items WHERE id = ?", [(i,) for i in item_ids])
            _renumber(db, order)

    def reorder(self, order: Sequence[str]) -> None:
        """Put the items in ``order`` (every id)."""
        with self._transaction() as db:
            _renumber(db, order)

    def save(self, item: QueueItem) -> None:
        """Write an item's title, what it is and its job's state (not its order)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE items SET title = ?, is_live = ?, duration = ?, state = ?, error = ?, "
                "note = ? WHERE id = ?",
                (
                    item.title,
                    item.is_live,
                    item.duration,
                    item.job.state.value,
                    item.job.error,
                    item.job.note,
                    item.id,
                ),
            )

    def set_autoplay(self, on: bool) -> None:
        """Turn autoplay on or off."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO settings (key, value) VALUES ('autoplay', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                ("1" if on else "0",),
            )

    def played(self, query: str, title: str | None, at: float, history_limit: int) -> int:
        """Add a history entry; keeps the newest ``history_limit``. Returns its id."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO history (query, title, played_at) VALUES (?, ?, ?)",
                (query, title, at),
            )
            entry_id = int(db.execute("SELECT last_insert_rowid()").fetchone()[0])
            db.execute("DELETE FROM history WHERE id <= ?", (entry_id - history_limit,))
        return entry_id

    # --- the cache index --------------------------------------------------------------

    def put_cached(self, cached: CachedFile) -> None:
        """Record a complete download."""
        entry = cached.entry
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO cache "
                "(key, file, size, last_used, title, duration, has_video, has_audio) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.key,
                    cached.file,
                    entry.size,
                    entry.last_used,
                    cached.title,
                    cached.duration,
                    cached.has_video,
                    cached.has_audio,
                ),
            )

    def touch_cached(self, key: str, at: float) -> None:
        """A cached file was played: it is the most recently used."""
        with self._transaction() as db:
            db.execute("UPDATE cache SET last_used = ? WHERE key = ?", (at, key))

    def drop_cached(self, keys: Sequence[str]) -> None:
        """Forget downloads (evicted, or their file is gone)."""
        with self._transaction() as db:
            db.executemany("DELETE FROM cache WHERE key = ?", [(k,) for k in keys])


def storage_fault(error_name: str, directory: str | None) -> tuple[str, str]:
    """What a failed write says about the state directory: a word for monitors and a
    sentence for a person.

    Args:
        error_name: SQLite's error name (``SQLITE_FULL``, ``SQLITE_IOERR_WRITE``, ...).
        directory: what the file system says of the directory (``read-only``,
            ``full``), if anything: SQLite calls both a plain I/O error at times.
    """
    if directory == "read-only" or error_name.startswith("SQLITE_READONLY"):
        return "read-only", "the state directory is read-only: make it writable again"
    if directory == "full" or error_name == "SQLITE_FULL":
        return "full", "the state directory's disk is full: free some space"
    return "failing", f"the state directory cannot be written ({error_name or 'an error'})"


def _dir_state(path: Path) -> str | None:
    """``read-only`` or ``full`` when the directory holding ``path`` is, else None.

    A file system that the kernel made read-only after an error does not say so in
    ``statvfs``, and space can be short before ``f_bavail`` is 0: a small file is
    written (and removed) to ask the file system itself.
    """
    try:
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return "read-only"
        probe = path.parent / ".tuner-write-check"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                probe.unlink()
    except OSError as exc:
        if exc.errno == errno.EROFS:
            return "read-only"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return "full"
    return None


def _renumber(db: sqlite3.Cursor, order: Sequence[str]) -> None:
    db.executemany("UPDATE items SET position = ? WHERE id = ?", list(enumerate(order)))


def _item(row: tuple[Any, ...]) -> QueueItem:
    """An item as it was written: its job as it was last saved (see ``restored``)."""
    item_id, query, title, added_at, state, error, is_live, duration, note = row
    try:
        job = Job(JobState(state), error=error, note=note)
    except ValueError:
        job = Job()
    return QueueItem(
        item_id,
        query,
        added_at,
        title,
        None if is_live is None else bool(is_live),
        duration,
        job,
    )
