"""The preparation job of a queued item: its life cycle, its progress, and the cache's
eviction plan. Plain values and pure functions, no IO (the trio shell is
:mod:`tuner.jobs`).

::

    pending ──> resolving ──> downloading ──> ready
       ^            │              │            │
       │            └──────┬───────┴──> failed  │ (re-resolved before its URLs expire:
       │                   v                    │  ready ──> resolving ──> ready)
       └── retry ── cancelled <── cancel ───────┘

A *worker* moves a job forward; a *person* cancels or retries it. The person wins:
once a job is cancelled, every transition a worker asks for returns the job as it
is, so a worker that was about to write "ready" or "failed" when the cancel landed
cannot overwrite it. Only :func:`retry` leaves ``cancelled``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import attrs


class JobState(enum.StrEnum):
    """Where an item's preparation is."""

    PENDING = "pending"
    RESOLVING = "resolving"
    DOWNLOADING = "downloading"
    READY = "ready"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: States a worker may be busy in (a cancel stops it).
ACTIVE = frozenset({JobState.PENDING, JobState.RESOLVING, JobState.DOWNLOADING})


class TransitionError(RuntimeError):
    """A change a job's state does not allow; the message is for a person."""


@attrs.frozen
class Progress:
    """How far a download is. ``total`` and ``speed`` are ``None`` while unknown."""

    done: int = 0
    total: int | None = None
    #: Bytes per second, as the downloader measures it.
    speed: float | None = None

    @property
    def percent(self) -> float | None:
        """Done of total, 0 to 100, when the total is known."""
        if not self.total:
            return None
        return min(100.0, 100.0 * self.done / self.total)

    def to_json(self) -> dict[str, Any]:
        """As the API and ``job`` events show it."""
        percent = self.percent
        return {
            "percent": None if percent is None else round(percent, 1),
            "bytes": self.done,
            "total_bytes": self.total,
            "speed": None if self.speed is None else round(self.speed),
        }


@attrs.frozen
class Job:
    """An item's preparation.

    Attributes:
        state: where it is.
        progress: the download's progress (while downloading).
        error: why it failed, for a person (failed only).
        note: something a person should know about a ready item (why it was not
            downloaded and will stream from the site instead).
        cached: a complete download of the item is in the cache.
    """

    state: JobState = JobState.PENDING
    progress: Progress | None = None
    error: str | None = None
    note: str | None = None
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        """The job's part of an item's JSON."""
        return {
            "state": self.state.value,
            "progress": None if self.progress is None else self.progress.to_json(),
            "error": self.error,
            "note": self.note,
            "cached": self.cached,
        }


def _worker_step(job: Job, *allowed: JobState) -> bool:
    """Whether a worker's transition applies: not once cancelled (the person's word
    stands), and a bug when the job is in a state the step cannot follow."""
    if job.state is JobState.CANCELLED:
        return False
    if job.state not in allowed:
        raise TransitionError(f"a {job.state.value} job cannot move on like that")
    return True


def resolving(job: Job) -> Job:
    """A worker starts resolving (first, or again before the URLs expire)."""
    if not _worker_step(job, JobState.PENDING, JobState.READY):
        return job
    return attrs.evolve(job, state=JobState.RESOLVING, progress=None, error=None)


def downloading(job: Job, progress: Progress) -> Job:
    """A download started or moved on."""
    if not _worker_step(job, JobState.RESOLVING, JobState.DOWNLOADING):
        return job
    return attrs.evolve(job, state=JobState.DOWNLOADING, progress=progress)


def ready(job: Job, *, cached: bool, note: str | None = None) -> Job:
    """Prepared: downloaded (``cached``), or resolved and streamed when played."""
    if not _worker_step(job, JobState.RESOLVING, JobState.DOWNLOADING, JobState.PENDING):
        return job
    return Job(JobState.READY, None, None, note, cached)


def failed(job: Job, reason: str) -> Job:
    """The preparation failed; ``reason`` says what a person can do about it."""
    if not _worker_step(job, *ACTIVE):
        return job
    return Job(JobState.FAILED, None, reason)


def cancel(job: Job) -> Job:
    """A person cancels the preparation (the item stays queued, unprepared).

    Raises:
        TransitionError: it already failed, or is already cancelled.
    """
    if job.state in (JobState.FAILED, JobState.CANCELLED):
        raise TransitionError(f"the job is {job.state.value}: there is nothing to cancel")
    return Job(JobState.CANCELLED)


def retry(job: Job) -> Job:
    """A person asks for a failed or cancelled preparation again.

    Raises:
        TransitionError: the job is neither failed nor cancelled.
    """
    if job.state not in (JobState.FAILED, JobState.CANCELLED):
        raise TransitionError(f"the job is {job.state.value}: only failed or cancelled jobs retry")
    return Job(JobState.PENDING)


def restored(saved: Job, *, cached: bool) -> Job:
    """A job as a restart finds it, from what was saved: work that was in flight starts
    again (a partial download resumes); a ready item that was not downloaded is
    resolved again, since its URLs were only in memory; failed and cancelled stay."""
    if saved.state is JobState.FAILED:
        return Job(JobState.FAILED, error=saved.error)
    if saved.state is JobState.CANCELLED:
        return Job(JobState.CANCELLED)
    if cached:
        return Job(JobState.READY, cached=True)
    return Job(JobState.PENDING)


class ProgressGate:
    """Lets a job's progress out at most ``per_second`` times a second; a change of
    state always goes out."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._last: dict[str, float] = {}

    def admit(self, key: str, now: float, *, state_changed: bool) -> bool:
        """Whether an update of job ``key`` at ``now`` goes out (and note it if so)."""
        last = self._last.get(key)
        if state_changed or last is None or now - last >= self.interval:
            self._last[key] = now
            return True
        return False

    def forget(self, key: str) -> None:
        """The job is gone."""
        self._last.pop(key, None)


# --- the download cache's eviction plan -----------------------------------------------


class CacheFullError(Exception):
    """A file does not fit in the cache; the message says how big and why."""


@attrs.frozen
class CacheEntry:
    """A complete download in the cache (its ``key`` is the query's target)."""

    key: str
    size: int
    last_used: float


def plan_eviction(
    entries: Iterable[CacheEntry], incoming: int, limit: int, protected: Iterable[str] = ()
) -> list[str]:
    """Which entries to delete, least recently used first, so that ``incoming`` more
    bytes fit within ``limit``; never one in ``protected`` (a file that is playing).

    Raises:
        CacheFullError: ``incoming`` is larger than the limit, or evicting every
            unprotected entry would not make room.
    """
    if incoming > limit:
        raise CacheFullError(
            f"it is {_mb(incoming)}, larger than the whole cache ({_mb(limit)}, cache_max_mb)"
        )
    keep = set(protected)
    entries = list(entries)
    used = sum(e.size for e in entries)
    evict: list[str] = []
    for entry in sorted(entries, key=lambda e: e.last_used):
        if used + incoming <= limit:
            break
        if entry.key in keep:
            continue
        evict.append(entry.key)
        used -= entry.size
    if used + incoming > limit:
        raise CacheFullError(
            f"the cache ({_mb(limit)}, cache_max_mb) is full of files that are playing: "
            f"{_mb(incoming)} more do not fit"
        )
    return evict


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
