"""The live probe worker's answers: yt-dlp's results and errors sorted into live, not
live and failed (a fake ``YoutubeDL``, no network)."""

from __future__ import annotations

from typing import Any

import pytest
from yt_dlp.utils import DownloadError, ExtractorError, UserNotLive

from tests.extract.test_youtube_live import LIVE_INFO
from tuner.ytdlp.live_probe import probe


class FakeYoutubeDL:
    """Stands in for yt_dlp.YoutubeDL in the worker: answers or raises as told."""

    answer: Any = None
    options: dict[str, Any] = {}

    def __init__(self, options: dict[str, Any]) -> None:
        FakeYoutubeDL.options = options

    def __enter__(self) -> FakeYoutubeDL:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def extract_info(self, url: str, download: bool) -> Any:
        assert not download
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _download_error(cause: Exception) -> DownloadError:
    return DownloadError(f"ERROR: {cause}", (type(cause), cause, None))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (LIVE_INFO, {"status": "live"}),
        (
            _download_error(UserNotLive(video_id="@NASA")),
            {"status": "not_live"},
        ),
        (
            _download_error(
                ExtractorError("This live event will begin in 3 hours.", expected=True)
            ),
            {"status": "not_live", "detail": "This live event will begin in 3 hours."},
        ),
        (
            _download_error(ExtractorError("Sign in to confirm you're not a bot")),
            {"status": "error", "detail": "Sign in to confirm you're not a bot"},
        ),
        ({**LIVE_INFO, "is_live": False, "live_status": "was_live"}, {"status": "not_live"}),
    ],
)
def test_the_worker_sorts_yt_dlp_answers(answer: Any, expected: dict[str, Any]) -> None:
    FakeYoutubeDL.answer = answer
    result = probe("https://www.youtube.com/@NASA/live", 7, FakeYoutubeDL)
    assert {key: result[key] for key in expected} == expected
    assert FakeYoutubeDL.options["socket_timeout"] == 7
    if result["status"] == "live":
        assert "formats" not in result["info"] and result["info"]["max_height"] == 1080
