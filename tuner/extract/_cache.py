"""The results of the last runs, per extractor, and the merged list of streams.

A success replaces an extractor's streams; a failure keeps them but marks them stale,
with their age, so a site that is down for one run does not empty the list. The
merged list has each URL once, however many extractors found it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs

from tuner.extract._records import StreamRecord, iso
from tuner.extract._run_all import Outcome


@attrs.define
class ExtractorState:
    """What is known of one extractor across runs."""

    key: str
    name: str
    timeout: float
    last: Outcome | None = None
    #: The streams of its last success (kept, stale, while it fails).
    records: tuple[StreamRecord, ...] = ()
    #: When those streams were found (the end of its last success).
    records_at: float | None = None
    runs: int = 0
    failures: int = 0
    health: str | None = None

    @property
    def stale(self) -> bool:
        """Its streams are from before its last run, which failed."""
        return self.last is not None and not self.last.ok and self.records_at is not None

    def to_json(self, now: float) -> dict[str, Any]:
        """This extractor's status as ``/api/extractors`` shows it."""
        last = self.last
        return {
            "key": self.key,
            "name": self.name,
            "state": "never run" if last is None else ("ok" if last.ok else "error"),
            "error": None if last is None else last.error,
            "notes": [] if last is None else list(last.notes),
            "dropped": 0 if last is None else last.dropped,
            "last_run_at": None if last is None else iso(last.started_at),
            "duration_seconds": None if last is None else round(last.duration, 3),
            "count": len(self.records),
            "stale": self.stale,
            "results_at": iso(self.records_at),
            "age_seconds": None if self.records_at is None else round(now - self.records_at),
            "timeout_seconds": self.timeout,
            "runs": self.runs,
            "failures": self.failures,
            "health": self.health or "ok",
        }


@attrs.frozen
class Listed:
    """A stream in the merged list, with the freshness of the results it came from."""

    record: StreamRecord
    stale: bool
    results_at: float

    def to_json(self, now: float) -> dict[str, Any]:
        """The stream as ``/api/streams`` lists it."""
        return {
            **self.record.to_json(),
            "stale": self.stale,
            "age_seconds": round(max(0.0, now - self.results_at)),
        }


def url_identity(url: str) -> str:
    """The part of a URL that says which stream it is (no fragment, host in lower case)."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, ""))


class ResultCache:
    """Per-extractor results, and the merged, de-duplicated, sorted list of streams."""

    def __init__(self, extractors: Iterable[tuple[str, str, float]]) -> None:
        self.states: dict[str, ExtractorState] = {
            key: ExtractorState(key, name, timeout) for key, name, timeout in extractors
        }
        self._listed: list[Listed] = []

    def apply(self, outcomes: Iterable[Outcome], finished_at: float) -> bool:
        """Take a run's outcomes; returns whether the merged list changed."""
        for outcome in outcomes:
            state = self.states[outcome.key]
            state.last = outcome
            state.runs += 1
            if outcome.ok:
                state.records = outcome.records
                state.records_at = finished_at
            else:
                state.failures += 1
        listed = self._merge()
        changed = _identity(listed) != _identity(self._listed)
        self._listed = listed
        return changed

    def streams(self) -> list[Listed]:
        """The merged list: live first, then fresh before stale, then by title."""
        return list(self._listed)

    def _merge(self) -> list[Listed]:
        best: dict[str, Listed] = {}
        for state in self.states.values():
            if state.records_at is None:
                continue
            for record in state.records:
                candidate = Listed(record, state.stale, state.records_at)
                identity = url_identity(record.url)
                kept = best.get(identity)
                # The same stream from two extractors: keep the live, fresh one; on a tie
                # the first extractor registered.
                if kept is None or _rank(candidate) < _rank(kept):
                    best[identity] = candidate
        return sorted(best.values(), key=lambda item: (*_rank(item), item.record.title.lower()))


def _rank(item: Listed) -> tuple[bool, bool]:
    return (not item.record.is_live, item.stale)


def _identity(listed: list[Listed]) -> list[tuple[object, ...]]:
    # What a viewer of the list would see change (ages move every second: not those).
    return [
        (i.record.url, i.record.title, i.record.is_live, i.record.quality, i.stale) for i in listed
    ]
