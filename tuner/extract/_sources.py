"""Schedule sources: where the poller learns when events are live.

- :class:`IcsCalendar`: an iCalendar (.ics) file, or URL (fetched like the next one).
- :class:`F1Calendar`: the Formula 1 season in the Ergast/jolpica JSON format.

A fetched calendar is validated, then kept on disk in the state directory; when a
later fetch fails, the kept copy is used, so a daemon that starts offline still knows
the season. Parsing is plain functions over bytes, tested without any IO.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import attrs
import icalendar
import recurring_ical_events
import trio

from tuner.core.schedule import Event
from tuner.extract._http import HttpClient
from tuner.extract._records import ExtractorError, iso

log = logging.getLogger(__name__)

#: How far ahead an iCalendar's recurring events are expanded.
ICS_HORIZON_DAYS = 120
#: A calendar larger than this is not a schedule of events to watch.
MAX_CALENDAR_BYTES = 4 * 1024 * 1024

_F1_SESSIONS = (
    ("FirstPractice", "Practice 1"),
    ("SecondPractice", "Practice 2"),
    ("ThirdPractice", "Practice 3"),
    ("SprintQualifying", "Sprint Qualifying"),
    ("SprintShootout", "Sprint Shootout"),
    ("Sprint", "Sprint"),
    ("Qualifying", "Qualifying"),
)


class ScheduleError(ExtractorError):
    """A calendar that cannot be had or read; the message names it and why."""


class ScheduleSource(Protocol):
    """Something that says when events are live."""

    @property
    def key(self) -> str:
        """A stable name, shown in ``/api/extractors`` and the log."""
        ...

    async def load(self) -> list[Event]:
        """The events as the source has them now.

        Raises:
            ScheduleError: the source cannot be read and has no usable copy.
        """
        ...


@attrs.frozen
class SourceState:
    """How a schedule source's last load went."""

    key: str
    ok: bool
    events: int
    detail: str
    loaded_at: float

    def to_json(self) -> dict[str, Any]:
        """As ``/api/extractors`` shows it."""
        return {
            "key": self.key,
            "ok": self.ok,
            "events": self.events,
            "detail": self.detail,
            "loaded_at": iso(self.loaded_at),
        }


# --- parsing --------------------------------------------------------------------------


def _timestamp(moment: datetime.date | datetime.datetime) -> float:
    """A calendar time as UNIX time; dates and floating times are in local time."""
    if not isinstance(moment, datetime.datetime):
        moment = datetime.datetime.combine(moment, datetime.time())
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


def parse_ics(data: bytes, source: str, now: float) -> list[Event]:
    """The events of an iCalendar file from a day ago to :data:`ICS_HORIZON_DAYS` ahead.

    Recurring events are expanded. An event with no end lasts a day when it is a date
    and no time at all otherwise (RFC 5545), before the poller's lead and overrun.

    Raises:
        ScheduleError: not an iCalendar file, or its events cannot be read.
    """
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise ScheduleError(f"{source}: not a valid iCalendar file: {exc}") from None
    if not isinstance(calendar, icalendar.Calendar):
        raise ScheduleError(f"{source}: not an iCalendar file (no VCALENDAR)")
    begin = datetime.datetime.fromtimestamp(now - 86400, datetime.UTC)
    end = begin + datetime.timedelta(days=ICS_HORIZON_DAYS + 1)
    try:
        found = recurring_ical_events.of(calendar).between(begin, end)
    except (ValueError, TypeError, KeyError) as exc:
        raise ScheduleError(f"{source}: cannot read its events: {exc}") from None
    events = []
    for component in found:
        title = str(component.get("SUMMARY", "")).strip() or "untitled event"
        try:
            start = _timestamp(component.start)
            stop = _timestamp(component.end) if component.get("DTEND") else start
            events.append(Event(title, start, max(start, stop), source))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.info("%s: skipping event %r: %s", source, title, exc)
    return events


def _f1_time(block: object, where: str) -> datetime.datetime:
    if not isinstance(block, dict) or not isinstance(block.get("date"), str):
        raise ValueError(f"{where} has no date")
    time_text = block.get("time")
    if time_text is not None and not isinstance(time_text, str):
        raise ValueError(f"{where} has a time that is not text")
    # Old seasons have no times: then the whole day (UTC) is the session.
    text = f"{block['date']}T{time_text or '00:00:00Z'}".replace("Z", "+00:00")
    moment = datetime.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def parse_f1(data: bytes, source: str, race_minutes: float, session_minutes: float) -> list[Event]:
    """Every session of an Ergast/jolpica season (``MRData.RaceTable.Races``).

    The format gives only start times: races last ``race_minutes``, other sessions
    ``session_minutes``. A session with an unreadable date is skipped (and logged).

    Raises:
        ScheduleError: not JSON, or not a season in the Ergast format.
    """
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise ScheduleError(f"{source}: not JSON: {exc}") from None
    races = document
    for step in ("MRData", "RaceTable", "Races"):
        races = races.get(step) if isinstance(races, dict) else None
    if not isinstance(races, list):
        raise ScheduleError(f"{source}: not an Ergast/jolpica season: no MRData.RaceTable.Races")
    events: list[Event] = []
    skipped = 0
    for race in races:
        if not isinstance(race, dict) or not isinstance(race.get("raceName"), str):
            skipped += 1
            continue
        name = race["raceName"]
        blocks: list[tuple[str, object, float]] = [
            (f"{name}: {label}", race.get(field), session_minutes)
            for field, label in _F1_SESSIONS
            if field in race
        ]
        blocks.append((name, race, race_minutes))
        for title, block, minutes in blocks:
            try:
                start = _f1_time(block, title)
            except ValueError as exc:
                log.info("%s: skipping %s: %s", source, title, exc)
                skipped += 1
                continue
            end = start + datetime.timedelta(minutes=minutes)
            if block is race and not race.get("time"):
                end = start + datetime.timedelta(days=1)
            events.append(Event(title, start.timestamp(), end.timestamp(), source))
    if skipped:
        log.warning("%s: skipped %d sessions it could not read", source, skipped)
    return events


# --- sources --------------------------------------------------------------------------


class FetchedCalendar:
    """A calendar fetched over HTTP, validated, and kept on disk for when it cannot be."""

    def __init__(
        self,
        key: str,
        url: str,
        http: HttpClient,
        cache_dir: Path,
        parse: Callable[[bytes], list[Event]],
    ) -> None:
        self.key = key
        self.url = url
        self._http = http
        self._cache = cache_dir / f"{key}.cache"
        self._parse = parse
        #: Set when the last load fell back on the copy on disk: why, and its age.
        self.offline: str | None = None

    async def load(self) -> list[Event]:
        """Fetch and parse the calendar; on failure, parse the copy on disk.

        Raises:
            ScheduleError: the fetch failed (or gave no calendar) and there is no copy.
        """
        try:
            fetched = await self._http.get_text(self.url, max_bytes=MAX_CALENDAR_BYTES)
            data = fetched.text.encode()
            events = self._parse(data)
        except ExtractorError as exc:
            return await self._from_disk(str(exc))
        self.offline = None
        await self._keep(data)
        return events

    async def _keep(self, data: bytes) -> None:
        cache = trio.Path(self._cache)
        partial = trio.Path(f"{self._cache}.partial")
        try:
            await cache.parent.mkdir(parents=True, exist_ok=True)
            await partial.write_bytes(data)
            await partial.replace(cache)
        except OSError as exc:
            log.warning("%s: cannot keep a copy in %s: %s", self.key, self._cache, exc.strerror)

    async def _from_disk(self, problem: str) -> list[Event]:
        cache = trio.Path(self._cache)
        try:
            data = await cache.read_bytes()
            saved = (await cache.stat()).st_mtime
        except OSError:
            raise ScheduleError(f"{problem} (and no copy kept from an earlier fetch)") from None
        events = self._parse(data)
        self.offline = f"{problem}; using the copy fetched at {iso(saved)}"
        log.warning("%s: %s", self.key, self.offline)
        return events


class IcsFile:
    """An iCalendar file on this machine, read again at every refresh."""

    def __init__(self, path: Path, now: Callable[[], float]) -> None:
        self.path = path
        self.key = f"ics:{path.name}"
        self._now = now

    async def load(self) -> list[Event]:
        """Read and parse the file.

        Raises:
            ScheduleError: it cannot be read or parsed.
        """
        try:
            data = await trio.Path(self.path).read_bytes()
        except OSError as exc:
            raise ScheduleError(f"cannot read {self.path}: {exc.strerror}") from None
        return parse_ics(data, str(self.path), self._now())


def ics_url_source(
    url: str, http: HttpClient, cache_dir: Path, now: Callable[[], float]
) -> FetchedCalendar:
    """An iCalendar URL, fetched and kept on disk."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return FetchedCalendar(
        f"ics-{digest}", url, http, cache_dir, lambda data: parse_ics(data, url, now())
    )


def f1_source(
    url: str,
    http: HttpClient,
    cache_dir: Path,
    race_minutes: float = 120.0,
    session_minutes: float = 60.0,
) -> FetchedCalendar:
    """The Formula 1 season from an Ergast-format URL, fetched and kept on disk."""
    return FetchedCalendar(
        "f1",
        url,
        http,
        cache_dir,
        lambda data: parse_f1(data, url, race_minutes, session_minutes),
    )
