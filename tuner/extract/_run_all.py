"""One run: every enabled extractor at once, each under its own timeout.

Each extractor runs in its own task of a child nursery, inside its own
``trio.fail_after``: one that raises or hangs costs only its own result, and the run
ends at the latest when the slowest timeout expires. Found HLS streams can be
checked (the URL answers with a playlist) before they count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from urllib.parse import urljoin

import attrs
import trio

from tuner.core.hls import NotAPlaylistError, parse_playlist
from tuner.extract._base import Registered, Registry
from tuner.extract._http import HttpClient
from tuner.extract._records import (
    ExtractorError,
    PartialResultsError,
    StreamKind,
    StreamRecord,
)

log = logging.getLogger(__name__)

#: Problems kept per extractor for ``/api/extractors`` (the log has them all).
MAX_NOTES = 5
#: Playlists are small; a check reads at most this much of one.
MAX_PLAYLIST_BYTES = 512 * 1024


@attrs.frozen
class Outcome:
    """What one extractor's part of a run came to.

    Attributes:
        key: the extractor.
        ok: it returned (or returned partial results).
        records: what it found that passed the check (empty when not ok).
        error: why it failed, in words a person can act on.
        started_at: when it started (UNIX time).
        duration: how long it took, in seconds.
        notes: problems that did not fail it (a source down, a stream dropped).
        dropped: found streams that failed the check.
    """

    key: str
    ok: bool
    records: tuple[StreamRecord, ...] = ()
    error: str | None = None
    started_at: float = 0.0
    duration: float = 0.0
    notes: tuple[str, ...] = ()
    dropped: int = 0


def describe_error(exc: BaseException) -> str:
    """An exception as one line: an expected error's own words, else its type too."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe_error(inner) for inner in exc.exceptions)
    if isinstance(exc, ExtractorError):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class StreamChecker:
    """Checks that HLS URLs answer with a playlist, and learns what it says.

    A master playlist's first variant is fetched too: whether it ends
    (``#EXT-X-ENDLIST``) tells a live stream from a recording.
    """

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    async def check(self, record: StreamRecord) -> StreamRecord:
        """The record with ``is_live`` and ``quality`` from its playlist.

        Raises:
            ExtractorError: the URL does not answer with an HLS playlist.
        """
        fetched = await self._http.get_text(record.url, max_bytes=MAX_PLAYLIST_BYTES)
        try:
            playlist = parse_playlist(fetched.text)
        except NotAPlaylistError:
            raise ExtractorError(f"{record.url} is not an HLS playlist (no #EXTM3U)") from None
        quality = record.quality or playlist.quality
        media = playlist
        if playlist.is_master:
            variant_url = urljoin(fetched.url, playlist.variants[0])
            variant = await self._http.get_text(variant_url, max_bytes=MAX_PLAYLIST_BYTES)
            try:
                media = parse_playlist(variant.text)
            except NotAPlaylistError:
                raise ExtractorError(
                    f"{record.url}: its first variant {variant_url} is not a playlist"
                ) from None
        return attrs.evolve(record, is_live=not media.ended, quality=quality)

    async def check_all(
        self, records: Sequence[StreamRecord]
    ) -> tuple[list[StreamRecord], list[str]]:
        """Check every HLS record at once; returns those that passed, and why others did not.

        Records of other kinds pass unchecked (they are pages that yt-dlp resolves).
        """
        passed: list[StreamRecord | None] = [None] * len(records)
        problems: list[str] = []

        async def check_one(index: int, record: StreamRecord) -> None:
            if record.kind is not StreamKind.HLS:
                passed[index] = record
                return
            try:
                passed[index] = await self.check(record)
            except ExtractorError as exc:
                problems.append(str(exc))

        async with trio.open_nursery() as nursery:
            for index, record in enumerate(records):
                nursery.start_soon(check_one, index, record)
        return [record for record in passed if record is not None], problems


def _checked_records(key: str, found: object) -> list[StreamRecord]:
    """What an extractor returned, if it is a sequence of its own records."""
    if not isinstance(found, list | tuple):
        raise ExtractorError(f"returned {type(found).__name__}, not a list of stream records")
    for item in found:
        if not isinstance(item, StreamRecord):
            raise ExtractorError(f"returned {type(item).__name__}, not a stream record")
        if item.extractor != key:
            raise ExtractorError(f"returned a record marked as found by {item.extractor!r}")
    return list(found)


async def run_one(
    entry: Registered,
    *,
    checker: StreamChecker | None,
    clock: Callable[[], float],
) -> Outcome:
    """Run one extractor under its timeout (the stream check included).

    Never raises an ``Exception``: a failure is an :class:`Outcome` with its error.
    """
    key = entry.key
    started_at = clock()
    began = trio.current_time()
    notes: list[str] = []
    try:
        with trio.fail_after(entry.timeout):
            try:
                records = _checked_records(key, await entry.extractor.extract())
            except PartialResultsError as partial:
                records = _checked_records(key, list(partial.records))
                notes.extend(partial.problems)
            found = len(records)
            if checker is not None and records:
                records, problems = await checker.check_all(records)
                notes.extend(problems)
    except trio.TooSlowError:
        error = f"timed out after {entry.timeout:g} s"
    except Exception as exc:
        error = describe_error(exc)
        if not isinstance(exc, ExtractorError):
            # Not an expected failure: a bug somewhere, so keep the traceback.
            log.warning("extractor %s raised", key, exc_info=True)
    else:
        for note in notes:
            log.info("extractor %s: %s", key, note)
        return Outcome(
            key,
            True,
            tuple(records),
            None,
            started_at,
            trio.current_time() - began,
            tuple(notes[:MAX_NOTES]),
            dropped=found - len(records),
        )
    log.warning("extractor %s failed: %s", key, error)
    return Outcome(key, False, (), error, started_at, trio.current_time() - began)


async def run_extractors(
    registry: Registry,
    *,
    checker: StreamChecker | None = None,
    clock: Callable[[], float],
) -> list[Outcome]:
    """Run every extractor of ``registry`` at once; their outcomes in registry order."""
    entries = list(registry)
    outcomes: list[Outcome | None] = [None] * len(entries)

    async def run_at(index: int, entry: Registered) -> None:
        outcomes[index] = await run_one(entry, checker=checker, clock=clock)

    async with trio.open_nursery() as nursery:
        for index, entry in enumerate(entries):
            nursery.start_soon(run_at, index, entry)
    return [outcome for outcome in outcomes if outcome is not None]
