"""A source's thumbnail, channel and HLS mark: taken from yt-dlp's info, carried across the
worker's pipe, and absent without harm from an older answer."""

from __future__ import annotations

from tuner.core.source import Source, source_from_info

INFO = {
    "title": "Cats",
    "url": "https://cdn.example.com/cats.mp4",
    "vcodec": "h264",
    "acodec": "aac",
    "uploader": "cat uploader",
    "channel": "Cat TV",
    "thumbnail": "https://img.example.com/big.jpg",
    "thumbnails": [
        {"url": "https://img.example.com/small.jpg", "width": 320},
        {"url": "https://img.example.com/big.jpg", "width": 1280},
    ],
}


def test_the_thumbnail_and_channel_come_from_the_info() -> None:
    source = source_from_info(INFO)
    assert source.thumbnail == "https://img.example.com/small.jpg"
    assert source.channel == "Cat TV"
    bare = source_from_info({"url": "https://cdn.example.com/x.mp4", "uploader": "someone"})
    assert (bare.thumbnail, bare.channel) == (None, "someone")


def test_they_cross_the_pipe_and_an_older_answer_still_parses() -> None:
    source = source_from_info(INFO)
    assert Source.from_json(source.to_json()) == source
    old = source.to_json()
    del old["thumbnail"], old["channel"]
    again = Source.from_json(old)
    assert (again.thumbnail, again.channel) == (None, None)
    assert again.title == "Cats"


def test_an_hls_format_is_marked_so_and_the_mark_crosses_the_pipe() -> None:
    live = source_from_info(
        {**INFO, "url": "https://cdn.example.com/live.m3u8", "protocol": "m3u8_native"}
    )
    assert live.inputs[0].hls and not source_from_info(INFO).inputs[0].hls
    assert Source.from_json(live.to_json()).inputs[0].hls
    old = live.to_json()
    del old["inputs"][0]["hls"]
    assert not Source.from_json(old).inputs[0].hls
