"""The download cache's files and index: LRU eviction that spares the playing file,
and a start that trusts only complete, recorded downloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuner.core.jobs import CacheFullError
from tuner.core.source import MediaInput, Source
from tuner.jobs import MediaCache, Store

SOURCE = Source("A video", (MediaInput("http://x/v.mp4", has_video=True, has_audio=True),))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def _download(cache: MediaCache, item_id: str, size: int) -> Path:
    directory = cache.partial_dir(item_id)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "media.mp4"
    path.write_bytes(b"\0" * size)
    return path


def _cache(tmp_path: Path, limit: int = 100) -> MediaCache:
    store = Store.open(tmp_path / "queue.db")
    cache = MediaCache(tmp_path / "cache", limit, store, clock=Clock())
    cache.load([], [])
    return cache


def test_the_least_recently_used_goes_first_but_never_the_playing_file(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    for key in ("a", "b", "c"):
        cache.admit(key, key, _download(cache, key, 30), SOURCE)
    cache.touch("a")  # played: now the most recently used
    cache.protected = {"b"}  # and b plays now
    cache.admit("d", "d", _download(cache, "d", 30), SOURCE)
    assert [k for k in "abcd" if cache.lookup(k)] == ["a", "b", "d"]
    assert cache.usage() == {"files": 3, "bytes": 90, "limit_bytes": 100}
    assert not cache.partial_dir("d").exists()
    played = cache.source("d")
    assert played is not None and played.is_local and Path(played.inputs[0].url).is_file()


def test_a_file_that_does_not_fit_is_refused_and_deleted(tmp_path: Path) -> None:
    cache = _cache(tmp_path, limit=50)
    cache.admit("a", "a", _download(cache, "a", 40), SOURCE)
    cache.protected = {"a"}
    with pytest.raises(CacheFullError, match="full of files that are playing"):
        cache.admit("b", "b", _download(cache, "b", 20), SOURCE)
    with pytest.raises(CacheFullError, match="larger than the whole cache"):
        cache.make_room(60)
    assert not cache.partial_dir("b").exists() and cache.lookup("b") is None
    assert cache.lookup("a") is not None


def test_a_start_keeps_only_recorded_files_and_the_partials_of_queued_items(
    tmp_path: Path,
) -> None:
    cache = _cache(tmp_path)
    kept = cache.admit("a", "a", _download(cache, "a", 10), SOURCE)
    gone = cache.admit("b", "b", _download(cache, "b", 10), SOURCE)
    (cache.directory / gone.file).unlink()  # deleted by hand
    (cache.directory / "renamed-but-never-recorded.mp4").write_bytes(b"\0")
    _download(cache, "queued", 5)
    _download(cache, "removed", 5)
    store = Store.open(tmp_path / "queue.db")

    again = MediaCache(tmp_path / "cache", 100, store)
    again.load(store.load(True, 1).cache, ["queued"])
    assert again.lookup("a") == kept and again.lookup("b") is None
    assert sorted(p.name for p in again.directory.iterdir()) == sorted(["partial", kept.file])
    assert [p.name for p in (again.directory / "partial").iterdir()] == ["queued"]
    assert [c.entry.key for c in store.load(True, 1).cache] == ["a"]
