"""The up-next queue: its SQLite store, its preparation jobs and their workers.

The public face of the package; the modules with a leading underscore are private.

- :class:`Queue` is the service the daemon runs in its root nursery: the items in
  order, autoplay, history, and a preparation job per item (resolve ahead, download
  into the cache, keep fresh), limited per source.
- :class:`Store` is its database (stdlib ``sqlite3``, WAL, versioned schema).
- :class:`MediaCache` is the bounded download cache in the state directory.
- :class:`Preparer` is what jobs resolve and download with; :class:`YtdlpPreparer`
  the real one (:mod:`tuner.ytdlp.download` is its worker process, configured by
  :class:`DownloadSettings`).

The job life cycle itself is sans-IO, in :mod:`tuner.core.jobs`.
"""

from tuner.jobs._cache import MediaCache, cache_name
from tuner.jobs._prepare import (
    DownloadError,
    DownloadSkippedError,
    OnProgress,
    Preparer,
    YtdlpPreparer,
    site_of,
)
from tuner.jobs._queue import (
    Queue,
    QueueConflictError,
    QueueError,
    QueueUnavailableError,
    UnknownItemError,
)
from tuner.jobs._store import (
    DATABASE_NAME,
    SCHEMA_VERSION,
    CachedFile,
    HistoryEntry,
    QueueItem,
    Snapshot,
    Store,
    StoreError,
)
from tuner.ytdlp import DownloadSettings

__all__ = [
    "DATABASE_NAME",
    "SCHEMA_VERSION",
    "CachedFile",
    "DownloadError",
    "DownloadSettings",
    "DownloadSkippedError",
    "HistoryEntry",
    "MediaCache",
    "OnProgress",
    "Preparer",
    "Queue",
    "QueueConflictError",
    "QueueError",
    "QueueItem",
    "QueueUnavailableError",
    "Snapshot",
    "Store",
    "StoreError",
    "UnknownItemError",
    "YtdlpPreparer",
    "cache_name",
    "site_of",
]
