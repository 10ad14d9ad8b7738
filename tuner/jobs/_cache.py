"""The download cache: complete downloads in ``<state dir>/cache``, bounded in size,
least recently used evicted first, never a file that is playing.

A download is made in a directory of its own under ``cache/partial`` and becomes part
of the cache only once it is complete: it is renamed into ``cache/`` and then recorded
in the database's index, in that order. So a partial download is never played as
complete: at start, a file in ``cache/`` that the index does not name (a crash between
the two steps) is deleted, and an index entry whose file is gone is forgotten. A
partial download whose item is still queued is kept, for its job to resume.

Blocking file and database calls: the queue runs every method here in its database
thread, one at a time, like the store's own.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from tuner.core.jobs import CacheEntry, plan_eviction
from tuner.core.source import MediaInput, Source
from tuner.jobs._store import CachedFile, Store

log = logging.getLogger(__name__)

PARTIAL = "partial"


def cache_name(key: str) -> str:
    """The file-system name for a key (a query's target): short, and no path in it."""
    return hashlib.sha256(key.encode()).hexdigest()[:24]


class MediaCache:
    """The cache's files and its index (kept in the queue's database)."""

    def __init__(
        self,
        directory: Path,
        limit_bytes: int,
        store: Store,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.limit_bytes = limit_bytes
        self._store = store
        self._clock = clock
        self._files: dict[str, CachedFile] = {}
        #: Keys whose files are playing now: never evicted.
        self.protected: set[str] = set()

    # --- reading (cheap, from any task) -----------------------------------------------

    def lookup(self, key: str) -> CachedFile | None:
        """The complete download for ``key``, if the cache has one."""
        return self._files.get(key)

    def source(self, key: str) -> Source | None:
        """What to play for ``key`` from the cache (a local file), if it is there."""
        cached = self._files.get(key)
        if cached is None:
            return None
        path = self.directory / cached.file
        media = MediaInput(
            str(path), has_video=cached.has_video, has_audio=cached.has_audio, local=True
        )
        return Source(cached.title, (media,), is_live=False, duration=cached.duration)

    def usage(self) -> dict[str, Any]:
        """Its size and limit, for ``GET /api/queue``."""
        return {
            "files": len(self._files),
            "bytes": sum(c.entry.size for c in self._files.values()),
            "limit_bytes": self.limit_bytes,
        }

    def partial_dir(self, item_id: str) -> Path:
        """Where a queued item is downloaded until it is complete (its own directory,
        named by its id: the same video queued twice is two downloads, never two
        writers of one file)."""
        return self.directory / PARTIAL / item_id

    # --- changing (blocking: in the database thread) ----------------------------------

    def load(self, files: Iterable[CachedFile], queued_ids: Iterable[str]) -> None:
        """Take the index as stored, and make the directory agree with it."""
        (self.directory / PARTIAL).mkdir(parents=True, exist_ok=True)
        missing = []
        for cached in files:
            if (self.directory / cached.file).is_file():
                self._files[cached.entry.key] = cached
            else:
                missing.append(cached.entry.key)
        if missing:
            log.warning("cache: %d indexed file(s) gone; forgetting them", len(missing))
            self._store.drop_cached(missing)
        named = {c.file for c in self._files.values()}
        for path in self.directory.iterdir():
            if path.is_file() and path.name not in named:
                log.info("cache: deleting %s, a download that was never recorded", path.name)
                path.unlink(missing_ok=True)
        keep = set(queued_ids)
        for path in (self.directory / PARTIAL).iterdir():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)

    def make_room(self, size: int) -> None:
        """Evict what must go for ``size`` more bytes.

        Raises:
            CacheFullError: it cannot fit (too large, or the rest is playing).
        """
        entries = [c.entry for c in self._files.values()]
        self._evict(plan_eviction(entries, size, self.limit_bytes, self.protected))

    def admit(self, item_id: str, key: str, downloaded: Path, source: Source) -> CachedFile:
        """Move an item's complete download into the cache and index it under ``key``,
        evicting as needed; the item's partial directory goes.

        Raises:
            CacheFullError: it does not fit (it is then deleted).
            OSError: the file cannot be moved.
        """
        size = downloaded.stat().st_size
        try:
            self._evict(
                plan_eviction(
                    [c.entry for k, c in self._files.items() if k != key],
                    size,
                    self.limit_bytes,
                    self.protected,
                )
            )
        except Exception:
            self.discard_partial(item_id)
            raise
        name = cache_name(key) + downloaded.suffix
        downloaded.replace(self.directory / name)
        known = source.has_video or source.has_audio
        cached = CachedFile(
            CacheEntry(key, size, self._clock()),
            name,
            source.title,
            source.duration,
            # A merged download has both; when the resolution did not say, ffmpeg is
            # asked for both and finds what the file has.
            has_video=source.has_video or not known,
            has_audio=source.has_audio or not known,
        )
        # Renamed first, recorded second: a crash between the two leaves a file that
        # the next start deletes, never an index entry for a file that is not whole.
        self._store.put_cached(cached)
        self._files[key] = cached
        self.discard_partial(item_id)
        return cached

    def touch(self, key: str) -> None:
        """``key`` plays now: it becomes the most recently used."""
        cached = self._files.get(key)
        if cached is None:
            return
        now = self._clock()
        self._store.touch_cached(key, now)
        self._files[key] = attrs.evolve(cached, entry=attrs.evolve(cached.entry, last_used=now))

    def discard_partial(self, item_id: str) -> None:
        """Delete an item's partial download (the item is gone, or cancelled)."""
        shutil.rmtree(self.partial_dir(item_id), ignore_errors=True)

    def _evict(self, keys: list[str]) -> None:
        if not keys:
            return
        self._store.drop_cached(keys)
        for key in keys:
            cached = self._files.pop(key)
            log.info("cache: evicting %r (%d bytes)", cached.title, cached.entry.size)
            (self.directory / cached.file).unlink(missing_ok=True)
