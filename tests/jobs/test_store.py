"""The queue's SQLite store: edits, schema versions and migration, an unusable file."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from tuner.core.jobs import CacheEntry, Job, JobState
from tuner.jobs import SCHEMA_VERSION, CachedFile, QueueItem, Store, StoreError
from tuner.jobs._schema import MIGRATIONS
from tuner.jobs._store import storage_fault


def _item(item_id: str, query: str = "testcard") -> QueueItem:
    return QueueItem(item_id, query, 1.0)


def test_edits_are_on_disk_in_order(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    store = Store.open(path)
    store.add(_item("a"), ["a"])
    store.add(_item("b", "lofi"), ["a", "b"])
    store.add(_item("c"), ["c", "a", "b"])
    store.reorder(["a", "c", "b"])
    store.remove(["c"], ["a", "b"])
    failed = QueueItem("b", "lofi", 1.0, "Lofi", False, 60.0, Job(JobState.FAILED, error="gone"))
    store.save(failed)
    store.set_autoplay(False)
    first = store.played("testcard", "Test card", 5.0, history_limit=2)
    store.played("lofi", None, 6.0, history_limit=2)
    store.played("x", None, 7.0, history_limit=2)
    store.close()

    snapshot = Store.open(path).load(default_autoplay=True, history_limit=10)
    assert [i.id for i in snapshot.items] == ["a", "b"]
    assert snapshot.items[1] == failed
    assert snapshot.autoplay is False
    assert [h.query for h in snapshot.history] == ["x", "lofi"], "the oldest was let go"
    assert all(h.id != first for h in snapshot.history)


def test_the_file_is_wal_and_versioned(tmp_path: Path) -> None:
    Store.open(tmp_path / "queue.db").close()
    raw = sqlite3.connect(tmp_path / "queue.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_first_version_database_is_migrated_with_its_items(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    old.execute(
        "INSERT INTO items (id, query, title, position, added_at, state) "
        "VALUES ('a', 'testcard', 'Test card', 0, 1.0, 'ready')"
    )
    old.commit()
    old.close()

    store = Store.open(path)
    assert store.recovered is None
    snapshot = store.load(default_autoplay=True, history_limit=10)
    assert [(i.id, i.title, i.job.state) for i in snapshot.items] == [
        ("a", "Test card", JobState.READY)
    ]
    cached = CachedFile(CacheEntry("k", 10, 1.0), "f.mp4", "T", None, True, True)
    store.put_cached(cached)  # the table version 2 added
    assert store.load(True, 10).cache == (cached,)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"this is not a database at all, just some text " * 200, "not a database"),
        ("newer", "made by a newer tuner"),
    ],
)
def test_an_unusable_file_is_kept_and_the_queue_starts_empty(
    tmp_path: Path, content: bytes | str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "queue.db"
    if content == "newer":
        newer = sqlite3.connect(path)
        newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        newer.close()
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    before = path.read_bytes()
    with caplog.at_level(logging.ERROR):
        store = Store.open(path)
    assert store.recovered is not None and why in store.recovered
    assert store.load(True, 10).items == ()
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("queue.db.unusable-")]
    assert [p.read_bytes() for p in kept if not p.name.endswith(("-wal", "-shm"))] == [before]
    assert str(kept[0]) in store.recovered
    assert any("queue starts empty" in r.getMessage() for r in caplog.records)


def test_a_write_that_fails_says_why_changes_nothing_and_heals(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "queue.db")
    store.add(_item("a"), ["a"])
    # What a read-only file system makes SQLite say, without needing one.
    store._db.execute("PRAGMA query_only = ON")
    with pytest.raises(StoreError) as raised:
        store.add(_item("b"), ["a", "b"])
    assert raised.value.fault == "read-only"
    assert raised.value.reason == "the state directory is read-only: make it writable again"
    assert "nothing was changed" in str(raised.value)
    assert store.fault is raised.value
    assert not store._db.in_transaction
    with pytest.raises(StoreError):
        store.check_writable()
    store._db.execute("PRAGMA query_only = OFF")
    store.check_writable()
    assert store.fault is None
    assert [i.id for i in store.load(True, 10).items] == ["a"]


@pytest.mark.parametrize(
    ("error_name", "directory", "fault"),
    [
        ("SQLITE_FULL", None, "full"),
        ("SQLITE_IOERR_WRITE", "full", "full"),
        ("SQLITE_READONLY", None, "read-only"),
        ("SQLITE_IOERR_WRITE", "read-only", "read-only"),
        ("SQLITE_IOERR_WRITE", None, "failing"),
    ],
)
def test_storage_faults_are_named(error_name: str, directory: str | None, fault: str) -> None:
    assert storage_fault(error_name, directory)[0] == fault
