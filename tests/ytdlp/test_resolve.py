"""The resolver's choices on yt-dlp info dicts shaped like YouTube's (no network): yt-dlp's
own format selection runs, with our format spec, on formats we make up."""

from __future__ import annotations

from typing import Any

import pytest
import yt_dlp

from tuner.core.diagnose import explain
from tuner.core.source import Source, SourceError
from tuner.ytdlp._worker import ydl_options
from tuner.ytdlp.resolve import pick

HEADERS = {"User-Agent": "Mozilla/5.0 (tuner test)", "Referer": "https://www.youtube.com/"}


def video(fid: str, height: int, vcodec: str = "avc1.4d401e", **extra: Any) -> dict[str, Any]:
    return {
        "format_id": fid,
        "url": f"https://rr1.example.googlevideo.com/videoplayback?itag={fid}",
        "ext": "mp4",
        "width": height * 16 // 9,
        "height": height,
        "vcodec": vcodec,
        "acodec": "none",
        "tbr": height * 2.0,
        "protocol": "https",
        "http_headers": HEADERS,
        **extra,
    }


def audio(fid: str, abr: float, acodec: str = "mp4a.40.2") -> dict[str, Any]:
    return {
        "format_id": fid,
        "url": f"https://rr1.example.googlevideo.com/videoplayback?itag={fid}",
        "ext": "m4a",
        "vcodec": "none",
        "acodec": acodec,
        "abr": abr,
        "tbr": abr,
        "protocol": "https",
        "http_headers": HEADERS,
    }


def combined(fid: str, height: int) -> dict[str, Any]:
    return {**video(fid, height), "acodec": "mp4a.40.2", "abr": 96.0}


def info(formats: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": "dQw4w9WgXcQ",
        "title": "A video",
        "extractor": "youtube",
        "extractor_key": "Youtube",
        "webpage_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "duration": 212,
        "formats": formats,
        **extra,
    }


YOUTUBE = [
    audio("139", 48),
    audio("140", 129),
    video("160", 144),
    video("133", 240),
    video("134", 360),
    video("135", 480),
    video("136", 720),
    video("137", 1080),
    combined("18", 360),
]


def resolve(info_dict: dict[str, Any], max_height: int = 480) -> Source:
    with yt_dlp.YoutubeDL(ydl_options(max_height, 5, None)) as ydl:  # type: ignore[arg-type]
        processed = ydl.process_ie_result(info_dict, download=False)
        return pick(ydl.sanitize_info(processed))


def itag(url: str) -> str:
    return url.rsplit("=", 1)[1]


@pytest.mark.parametrize(("cap", "expected"), [(480, "135"), (360, "134"), (720, "136")])
def test_separate_video_and_audio_are_preferred_under_the_height_cap(
    cap: int, expected: str
) -> None:
    source = resolve(info(YOUTUBE), max_height=cap)
    assert [itag(i.url) for i in source.inputs] == [expected, "140"]
    video_input, audio_input = source.inputs
    assert (video_input.has_video, video_input.has_audio) == (True, False)
    assert (audio_input.has_video, audio_input.has_audio) == (False, True)
    assert source.title == "A video"
    assert source.duration == 212
    assert source.is_live is False


def test_each_formats_http_headers_go_to_ffmpeg() -> None:
    source = resolve(info(YOUTUBE))
    for media in source.inputs:
        assert ("User-Agent", "Mozilla/5.0 (tuner test)") in media.headers
        assert ("Referer", "https://www.youtube.com/") in media.headers


def test_a_site_with_only_combined_formats_gets_one_input_under_the_cap() -> None:
    source = resolve(info([combined("18", 360), combined("22", 720)]))
    assert [itag(i.url) for i in source.inputs] == ["18"]
    assert source.inputs[0].has_video and source.inputs[0].has_audio


def test_when_everything_is_above_the_cap_the_smallest_is_taken() -> None:
    source = resolve(info([video("137", 1080), video("299", 1440), audio("140", 129)]))
    assert [itag(i.url) for i in source.inputs] == ["137", "140"]


def test_audio_only_and_video_only_sites_still_play() -> None:
    only_audio = resolve(info([audio("140", 129), audio("251", 160, acodec="opus")]))
    assert len(only_audio.inputs) == 1
    assert only_audio.has_audio and not only_audio.has_video
    only_video = resolve(info([video("134", 360), video("135", 480)]))
    assert [itag(i.url) for i in only_video.inputs] == ["135"]
    assert only_video.has_video and not only_video.has_audio


def test_a_live_stream_is_marked_live_with_its_hls_url() -> None:
    hls = [
        {
            **combined(fid, height),
            "url": f"https://manifest.example.googlevideo.com/hls/{fid}/index.m3u8",
            "protocol": "m3u8_native",
            "ext": "mp4",
        }
        for fid, height in (("91", 144), ("93", 360), ("94", 480), ("95", 720))
    ]
    source = resolve(info(hls, is_live=True, live_status="is_live", duration=None))
    assert source.is_live is True
    assert source.duration is None
    assert [i.url for i in source.inputs] == [
        "https://manifest.example.googlevideo.com/hls/94/index.m3u8"
    ]


def test_a_search_plays_its_first_result() -> None:
    results = {
        "_type": "playlist",
        "id": "lofi",
        "title": "lofi",
        "extractor": "youtube:search",
        "extractor_key": "YoutubeSearch",
        "webpage_url": "ytsearch1:lofi",
        "entries": [
            info(YOUTUBE, id="first000001", title="First result"),
            info(YOUTUBE, id="second00002", title="Second result"),
        ],
    }
    assert resolve(results).title == "First result"


def test_an_empty_search_says_nothing_was_found() -> None:
    empty = {
        "_type": "playlist",
        "id": "nothing",
        "title": "nothing",
        "extractor": "youtube:search",
        "extractor_key": "YoutubeSearch",
        "webpage_url": "ytsearch1:nothing",
        "entries": [],
    }
    with pytest.raises(SourceError) as error:
        resolve(empty)
    assert explain(str(error.value), "cannot resolve") == "nothing found for this search"


@pytest.mark.parametrize(
    ("message", "sentence"),
    [
        ("ERROR: [youtube] dQw4w9WgXcQ: Video unavailable", "video unavailable"),
        ("ERROR: [youtube] x: Private video. Sign in if you've been granted access",
         "video unavailable: it is private"),
        ("ERROR: [youtube] x: Sign in to confirm your age", "video unavailable: age-restricted"),
        ("ERROR: [generic] Unable to download webpage: <urlopen error [Errno -3] "
         "Temporary failure in name resolution>", "no network: the server's name cannot be"),
        ("ERROR: Unsupported URL: https://example.com/", "this site or page is not supported"),
        ("ERROR: [youtube] x: Requested format is not available", "no playable format"),
        ("ERROR: [youtube] x: This live event will begin in 3 hours.", "has not started"),
        ("HTTP Error 429: Too Many Requests", "rate-limiting"),
    ],
)  # fmt: skip
def test_yt_dlp_errors_become_sentences(message: str, sentence: str) -> None:
    assert sentence in explain(message, "cannot resolve")


def test_an_unknown_error_keeps_its_last_line() -> None:
    assert explain("ERROR: something odd\n", "cannot resolve") == "cannot resolve: something odd"
