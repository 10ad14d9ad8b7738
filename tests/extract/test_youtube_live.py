"""``youtube_live`` against yt-dlp info dicts (no network), and its worker process
(:mod:`tuner.ytdlp.live_probe`, whose own answers are tested in
``tests/ytdlp/test_live_probe.py``)."""

from __future__ import annotations

import json
import sys
from typing import Any

import psutil
import pytest
import trio

from tuner.extract import ExtractorError as TunerExtractorError
from tuner.extract import PartialResultsError, SourceLimits, StreamKind
from tuner.extract.youtube_live import YoutubeLiveExtractor, channel_live_url, info_to_record
from tuner.ytdlp.live_probe import trim

#: Trimmed from what yt-dlp returns for a channel's /live page while it broadcasts.
LIVE_INFO: dict[str, Any] = {
    "id": "21X5lGlDOfg",
    "title": "NASA Live: Official Stream of NASA TV 2025-06-02 14:00",
    "fulltitle": "NASA Live: Official Stream of NASA TV",
    "webpage_url": "https://www.youtube.com/watch?v=21X5lGlDOfg",
    "is_live": True,
    "live_status": "is_live",
    "channel": "NASA",
    "formats": [{"format_id": "91", "height": 144}, {"format_id": "96", "height": 1080}],
    "thumbnails": [{"url": "https://i.ytimg.com/vi/21X5lGlDOfg/hq.jpg"}],
}


def test_a_live_info_dict_becomes_a_youtube_record() -> None:
    record = info_to_record(trim(LIVE_INFO), channel="@NASA", key="youtube_live", found_at=5.0)
    assert record is not None
    assert (record.title, record.url) == (
        "NASA Live: Official Stream of NASA TV",
        "https://www.youtube.com/watch?v=21X5lGlDOfg",
    )
    assert (record.kind, record.is_live, record.quality) == (StreamKind.YOUTUBE, True, "1080p")


@pytest.mark.parametrize(
    "info",
    [
        {**LIVE_INFO, "is_live": False, "live_status": "was_live"},
        {**LIVE_INFO, "is_live": False, "live_status": "is_upcoming"},
        {"id": "x", "title": "a video"},
    ],
)
def test_anything_not_live_is_no_record(info: dict[str, Any]) -> None:
    assert info_to_record(info, channel="@x", key="youtube_live", found_at=0) is None


def test_a_live_info_dict_without_url_uses_the_id_and_without_either_fails() -> None:
    bare = {"id": "abc", "live_status": "is_live"}
    record = info_to_record(bare, channel="@x", key="youtube_live", found_at=0)
    assert record is not None and record.url == "https://www.youtube.com/watch?v=abc"
    assert record.title == "@x live" and record.quality is None
    with pytest.raises(TunerExtractorError, match="neither a URL nor a video ID"):
        info_to_record({"is_live": True}, channel="@x", key="youtube_live", found_at=0)


def test_channel_live_urls() -> None:
    assert channel_live_url("@NASA") == "https://www.youtube.com/@NASA/live"
    assert channel_live_url("UC" + "x" * 22) == f"https://www.youtube.com/channel/UC{'x' * 22}/live"
    assert channel_live_url("https://www.youtube.com/@ESA/") == "https://www.youtube.com/@ESA/live"


def _fake_worker(script: str) -> tuple[str, ...]:
    return (sys.executable, "-c", "import sys\n" + script)


def _descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


async def test_the_extractor_runs_the_worker_per_channel() -> None:
    answer = json.dumps({"status": "live", "info": trim(LIVE_INFO)})
    script = (
        "url = sys.argv[-1]\n"
        f"print({answer!r} if '@NASA' in url else "
        '\'{"status": "not_live", "detail": "offline"}\')'
    )
    extractor = YoutubeLiveExtractor(
        ["@NASA", "@ESA"], SourceLimits(min_delay=0), worker=_fake_worker(script)
    )
    with trio.fail_after(20):
        records = await extractor.extract()
    assert [r.url for r in records] == ["https://www.youtube.com/watch?v=21X5lGlDOfg"]


async def test_a_hanging_worker_is_killed_at_its_timeout_with_its_group() -> None:
    # The worker starts a grandchild, as yt-dlp may (ffmpeg, deno): both must go.
    script = (
        "import subprocess, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "time.sleep(60)\n"
    )
    before = _descendants()
    extractor = YoutubeLiveExtractor(
        ["@slow"],
        SourceLimits(min_delay=0),
        worker=_fake_worker(script),
        channel_timeout=1.0,
    )
    with trio.fail_after(10), pytest.raises(TunerExtractorError, match="within 1 s"):
        await extractor.extract()
    with trio.fail_after(5):
        while _descendants() - before:
            await trio.sleep(0.05)


async def test_worker_failures_are_reported_per_channel() -> None:
    script = (
        "url = sys.argv[-1]\n"
        "if 'crash' in url: sys.exit('Traceback: boom')\n"
        "if 'junk' in url: print('hello')\n"
        'else: print(\'{"status": "error", "detail": "Video unavailable"}\')\n'
    )
    extractor = YoutubeLiveExtractor(
        ["@crash", "@junk", "@gone"], SourceLimits(min_delay=0), worker=_fake_worker(script)
    )
    with trio.fail_after(20), pytest.raises(TunerExtractorError) as failed:
        await extractor.extract()
    message = str(failed.value)
    assert "@crash: the yt-dlp worker exited with status 1: Traceback: boom" in message
    assert "@junk: the yt-dlp worker gave no answer" in message
    assert "@gone: Video unavailable" in message
    assert not isinstance(failed.value, PartialResultsError), "all failed: a failure"


async def test_health_check_needs_channels() -> None:
    assert not (await YoutubeLiveExtractor([], SourceLimits()).health_check()).ok
    assert (await YoutubeLiveExtractor(["@a_b"], SourceLimits()).health_check()).ok


async def test_the_real_worker_process_answers_in_json_even_when_yt_dlp_fails() -> None:
    """The module really runs as a process: yt-dlp on a closed loopback port."""
    extractor = YoutubeLiveExtractor(["@x"], SourceLimits(min_delay=0), socket_timeout=2)
    with trio.fail_after(30):
        answer = await extractor.probe("http://127.0.0.1:9/live")
    assert answer["status"] == "error"
    assert "refused" in answer["detail"].lower() or "unable" in answer["detail"].lower()
