"""The [extract] and [schedule] tables: defaults, a full example, every kind of bad value."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from tuner.config import (
    DEFAULT_DEMO_STREAMS,
    ConfigError,
    PageSite,
    StreamSpec,
    load_settings,
)

FULL = """
[extract]
live_interval_minutes = 2
idle_interval_minutes = 20
lead_minutes = 10
overrun_minutes = 45
timeout_seconds = 30
check_streams = false
per_source_limit = 3
per_source_delay_seconds = 0.5

[extract.demo]
enabled = true
streams = [{ title = "Local", url = "http://127.0.0.1:9/live.m3u8" }]

[extract.youtube_live]
enabled = true
timeout_seconds = 120
channels = ["@NASA", "UCabcdefghijklmnopqrstuv", "https://www.youtube.com/@ESA"]

[extract.page]
enabled = true
[[extract.page.sites]]
url = "https://example.com/live"
pattern = 'src="([^"]+\\.m3u8)"'
title = "Example"

[schedule]
f1 = true
ics = ["https://example.com/cal.ics", "~/cal.ics"]
refresh_hours = 12

[[schedule.events]]
title = "Launch"
start = 2025-06-01T14:00:00Z
duration_minutes = 90

[[schedule.events]]
title = "Race"
start = 2025-06-08T13:00:00+02:00
end = 2025-06-08T15:00:00+02:00
"""


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_settings(path, environ={})


def test_defaults_poll_with_no_extractor_and_no_network(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"HOME": str(tmp_path)})
    extract, schedule = settings.extract, settings.schedule
    assert extract.enabled
    assert (extract.live_interval_minutes, extract.idle_interval_minutes) == (5, 30)
    assert (extract.lead_minutes, extract.overrun_minutes) == (15, 30)
    assert not (extract.demo.enabled or extract.youtube_live.enabled or extract.page.enabled)
    assert extract.demo.streams == DEFAULT_DEMO_STREAMS
    assert not schedule.f1 and schedule.ics == () and schedule.events == ()


def test_a_full_example(tmp_path: Path) -> None:
    settings = _load(tmp_path, FULL)
    extract, schedule = settings.extract, settings.schedule
    assert (extract.live_interval_minutes, extract.overrun_minutes) == (2, 45)
    assert not extract.check_streams and extract.per_source_limit == 3
    assert extract.demo.streams == (StreamSpec("Local", "http://127.0.0.1:9/live.m3u8"),)
    assert extract.youtube_live.timeout_seconds == 120
    assert len(extract.youtube_live.channels) == 3
    assert extract.page.sites == (
        PageSite("https://example.com/live", 'src="([^"]+\\.m3u8)"', "Example"),
    )
    assert schedule.f1 and schedule.refresh_hours == 12
    assert schedule.ics[0] == "https://example.com/cal.ics"
    assert schedule.ics[1] == str(Path("~/cal.ics").expanduser())
    launch, race = schedule.events
    assert launch.end - launch.start == datetime.timedelta(minutes=90)
    assert race.start == datetime.datetime(2025, 6, 8, 11, 0, tzinfo=datetime.UTC)


def test_a_local_time_is_this_machines(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        "[[schedule.events]]\ntitle = 'x'\nstart = 2025-06-01T14:00:00\nduration_minutes = 1\n",
    )
    start = settings.schedule.events[0].start
    assert start.tzinfo is not None
    assert start == datetime.datetime(2025, 6, 1, 14, 0).astimezone()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("extract = 3", "extract must be a table"),
        ("[extract]\nlive_interval = 5", "unknown setting extract.'live_interval'"),
        ("[extract]\nlive_interval_minutes = 0", "extract.live_interval_minutes must be a number"),
        (
            "[extract]\nlive_interval_minutes = 40",
            "live_interval_minutes must not be longer than idle_interval_minutes",
        ),
        ("[extract]\ncheck_streams = 'yes'", "extract.check_streams must be true or false"),
        ("[extract.demo]\nenabled = 1", "extract.demo.enabled must be true or false"),
        ("[extract.demo]\nstreams = 'x'", "extract.demo.streams must be a list"),
        ("[extract.demo]\nstreams = [{title = 'x'}]", "extract.demo.streams[0] needs a url"),
        (
            "[extract.demo]\nstreams = [{url = 'http://a/b'}, {url = 'ftp://x/y'}]",
            "extract.demo.streams[1].url must be an http:// or https:// URL",
        ),
        ("[extract.nope]\nenabled = true", "unknown setting extract.'nope'"),
        (
            "[extract.youtube_live]\nchannels = ['NASA']",
            "extract.youtube_live.channels[0] must be a @handle",
        ),
        (
            "[[extract.page.sites]]\nurl = 'https://a/'\npattern = '(['",
            "extract.page.sites[0].pattern is not a valid regular expression",
        ),
        ("[schedule]\nf1_url = 'not a url'", "schedule.f1_url must be an http://"),
        ("[schedule]\nics = ['ftp://x/cal.ics']", "schedule.ics[0] must be an http://"),
        ("[[schedule.events]]\ntitle = 'x'", "schedule.events[0] needs a title and a start"),
        (
            "[[schedule.events]]\ntitle = 'x'\nstart = 2025-06-01T14:00:00Z",
            "schedule.events[0] needs an end or a duration_minutes",
        ),
        (
            "[[schedule.events]]\ntitle = 'x'\nstart = 'soon'\nduration_minutes = 5",
            "schedule.events[0].start must be a date and time, got 'soon'",
        ),
        (
            "[[schedule.events]]\ntitle = 'x'\nstart = 2025-06-01\nduration_minutes = 5",
            "schedule.events[0].start must be a date and time",
        ),
        (
            "[[schedule.events]]\ntitle = 'x'\nstart = 2025-06-01T14:00:00Z\n"
            "end = 2025-06-01T13:00:00Z",
            "schedule.events[0] ends (2025-06-01T13:00:00+00:00) before it starts",
        ),
    ],
)
def test_bad_values_name_the_key_and_the_file(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, toml + "\n")
    assert message in str(error.value)
    assert str(tmp_path / "c.toml") in str(error.value)


def test_tables_cannot_come_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TUNER_EXTRACT: extract must be a table"):
        load_settings(None, environ={"HOME": str(tmp_path), "TUNER_EXTRACT": "x"})
