"""Schedule sources: the F1 calendar (Ergast/jolpica JSON) and iCalendar, parsed from
bytes, fetched from loopback, kept on disk and used offline."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
import trio

from tests.loopback import LoopbackServer
from tuner.extract import (
    HttpClient,
    IcsFile,
    ScheduleError,
    SourceLimits,
    f1_source,
    ics_url_source,
    parse_f1,
    parse_ics,
)

UTC = datetime.UTC


def ts(*args: int) -> float:
    return datetime.datetime(*args, tzinfo=UTC).timestamp()


SEASON = {
    "MRData": {
        "RaceTable": {
            "season": "2025",
            "Races": [
                {
                    "season": "2025",
                    "round": "6",
                    "raceName": "Miami Grand Prix",
                    "date": "2025-05-04",
                    "time": "20:00:00Z",
                    "FirstPractice": {"date": "2025-05-02", "time": "16:30:00Z"},
                    "SprintQualifying": {"date": "2025-05-02", "time": "20:30:00Z"},
                    "Sprint": {"date": "2025-05-03", "time": "16:00:00Z"},
                    "Qualifying": {"date": "2025-05-03", "time": "20:00:00Z"},
                },
                {
                    "raceName": "Old Grand Prix",
                    "date": "2025-06-01",
                    "Qualifying": {"date": "not a date"},
                },
            ],
        }
    }
}


def test_parse_f1_every_session_with_durations() -> None:
    events = parse_f1(json.dumps(SEASON).encode(), "f1", 120, 60)
    by_title = {e.title: e for e in events}
    assert set(by_title) == {
        "Miami Grand Prix: Practice 1",
        "Miami Grand Prix: Sprint Qualifying",
        "Miami Grand Prix: Sprint",
        "Miami Grand Prix: Qualifying",
        "Miami Grand Prix",
        "Old Grand Prix",
    }, "the unreadable qualifying is skipped, not the whole calendar"
    race = by_title["Miami Grand Prix"]
    assert (race.start, race.end) == (ts(2025, 5, 4, 20), ts(2025, 5, 4, 22))
    sprint = by_title["Miami Grand Prix: Sprint"]
    assert sprint.end - sprint.start == 3600
    old = by_title["Old Grand Prix"]
    assert (old.start, old.end) == (ts(2025, 6, 1), ts(2025, 6, 2)), "no time: the whole day"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html>", "f1: not JSON"),
        (b'{"MRData": {}}', "not an Ergast/jolpica season: no MRData.RaceTable.Races"),
        (b"[1, 2]", "not an Ergast/jolpica season"),
    ],
)
def test_parse_f1_refuses_what_is_not_a_season(data: bytes, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_f1(data, "f1", 120, 60)


ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:weekly@test
SUMMARY:Weekly show
DTSTART:20250602T180000Z
DTEND:20250602T190000Z
RRULE:FREQ=WEEKLY;COUNT=3
END:VEVENT
BEGIN:VEVENT
UID:paris@test
SUMMARY:Launch
DTSTART;TZID=Europe/Paris:20250604T140000
DURATION:PT2H
END:VEVENT
BEGIN:VEVENT
UID:past@test
SUMMARY:Long ago
DTSTART:20200101T000000Z
DTEND:20200101T010000Z
END:VEVENT
END:VCALENDAR
"""


def test_parse_ics_expands_repeats_and_time_zones_and_skips_the_past() -> None:
    events = parse_ics(ICS, "cal.ics", now=ts(2025, 6, 1))
    assert [(e.title, e.start, e.end) for e in sorted(events, key=lambda e: e.start)] == [
        ("Weekly show", ts(2025, 6, 2, 18), ts(2025, 6, 2, 19)),
        ("Launch", ts(2025, 6, 4, 12), ts(2025, 6, 4, 14)),
        ("Weekly show", ts(2025, 6, 9, 18), ts(2025, 6, 9, 19)),
        ("Weekly show", ts(2025, 6, 16, 18), ts(2025, 6, 16, 19)),
    ]


def test_parse_ics_refuses_what_is_not_a_calendar() -> None:
    with pytest.raises(ScheduleError, match=r"cal\.ics: not a valid iCalendar file"):
        parse_ics(b"<html>not a calendar</html>", "cal.ics", now=0)


async def test_ics_file_is_read_at_each_load(tmp_path: Path) -> None:
    path = tmp_path / "races.ics"
    source = IcsFile(path, now=lambda: ts(2025, 6, 1))
    with pytest.raises(ScheduleError, match=r"cannot read .*races\.ics"):
        await source.load()
    path.write_bytes(ICS)
    assert len(await source.load()) == 4


async def test_a_fetched_calendar_is_kept_and_used_offline(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    url = loopback.add("/f1.json", json.dumps(SEASON), content_type="application/json")
    http = HttpClient(5, SourceLimits(min_delay=0))
    source = f1_source(url, http, tmp_path / "schedule")
    try:
        with trio.fail_after(10):
            online = await source.load()
            assert len(online) == 6 and source.offline is None
            assert (tmp_path / "schedule" / "f1.cache").is_file()

            loopback.add("/f1.json", "upstream is down", status=503)
            offline = await source.load()
            assert offline == online
            assert source.offline is not None
            assert "answered HTTP 503 Service Unavailable" in source.offline
            assert "using the copy fetched at " in source.offline

            # A bad answer is not kept: the good copy stays.
            loopback.add("/f1.json", '{"MRData": {}}', content_type="application/json")
            assert await source.load() == online
            assert "no MRData.RaceTable.Races" in (source.offline or "")

            fresh = f1_source(loopback.url("/nothing"), http, tmp_path / "elsewhere")
            with pytest.raises(ScheduleError, match=r"404 Not Found.*no copy kept"):
                await fresh.load()

            ics = ics_url_source(loopback.add("/cal.ics", ICS), http, tmp_path, lambda: 0.0)
            assert ics.key.startswith("ics-")
    finally:
        await http.aclose()
