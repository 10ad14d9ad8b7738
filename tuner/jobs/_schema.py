"""The queue database's schema, its migrations, and opening the file.

The schema is versioned with ``PRAGMA user_version`` and migrated on open, one step
at a time, each step in the transaction that also sets the new version (see
:mod:`tuner.jobs._store` for what the database holds and how it is written).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: Each step takes the schema from version ``n`` to ``n + 1`` (the list's index + 1).
MIGRATIONS: tuple[str, ...] = (
    # 1: the queue, its order, the autoplay switch and what was played.
    """
    CREATE TABLE items (
        id TEXT PRIMARY KEY,
        query TEXT NOT NULL,
        title TEXT,
        position INTEGER NOT NULL,
        added_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        error TEXT
    );
    CREATE INDEX items_by_position ON items (position);
    CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        query TEXT NOT NULL,
        title TEXT,
        played_at REAL NOT NULL
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: the download cache: what each item is (for a file played with no network) and
    # the index of complete downloads, least recently used first.
    """
    ALTER TABLE items ADD COLUMN is_live INTEGER;
    ALTER TABLE items ADD COLUMN duration REAL;
    ALTER TABLE items ADD COLUMN note TEXT;
    CREATE TABLE cache (
        key TEXT PRIMARY KEY,
        file TEXT NOT NULL,
        size INTEGER NOT NULL,
        last_used REAL NOT NULL,
        title TEXT NOT NULL,
        duration REAL,
        has_video INTEGER NOT NULL,
        has_audio INTEGER NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(Exception):
    """The file is a database, but not one this tuner can use."""


def connect(path: Path) -> sqlite3.Connection:
    """Open the database at ``path``, checked, in WAL mode, migrated to this schema.

    Raises:
        sqlite3.Error: it cannot be opened, or it is not a (sound) database.
        SchemaError: it was made by a newer tuner.
    """
    # isolation_level=None: no implicit transactions; Store._transaction says BEGIN.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        check = db.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {check[0] if check else 'no answer'}")
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            # Before anything writes to it: the newer tuner may still want it as it is.
            raise SchemaError(
                f"its schema is version {version}, made by a newer tuner (this one knows "
                f"{SCHEMA_VERSION})"
            )
        db.execute("PRAGMA journal_mode = WAL")
        # FULL, not NORMAL: an acknowledged edit must survive a power cut (see _store).
        db.execute("PRAGMA synchronous = FULL")
        _migrate(db, version)
    except BaseException:
        db.close()
        raise
    return db


def _migrate(db: sqlite3.Connection, version: int) -> None:
    for number in range(version + 1, SCHEMA_VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number - 1].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            db.rollback()
            raise
        db.commit()
        if version:
            log.info("queue database migrated to schema version %d", number)


def move_aside(path: Path) -> Path:
    """Rename an unusable database (and its WAL files) to ``<name>.unusable-<time>``;
    returns the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = path.with_name(f"{path.name}.unusable-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            part.replace(f"{kept}{suffix}")
    return kept
