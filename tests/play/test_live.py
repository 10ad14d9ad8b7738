"""Reading a live stream's playlist for its window, against a loopback server: a
master playlist's first variant, the input's own headers, and every way a read can
fail said in a sentence (the session then plays the stream at its edge)."""

from __future__ import annotations

import pytest
import trio

from tests.loopback import serve_loopback
from tuner.core.live_window import LiveWindow
from tuner.core.source import MediaInput, Source
from tuner.play.live import MAX_PLAYLIST_BYTES, WindowReadError, hls_input, read_window

MEDIA = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n" + (
    "#EXTINF:2.0,\ns.ts\n" * 20
)
MASTER = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\nvariant/index.m3u8\n"


async def test_a_media_playlist_and_a_masters_first_variant_are_read() -> None:
    async with serve_loopback() as server:
        server.add("/variant/index.m3u8", MEDIA)
        server.add("/master.m3u8", MASTER)
        for path in ("/variant/index.m3u8", "/master.m3u8"):
            window = LiveWindow()
            with trio.fail_after(10):
                await read_window(window, MediaInput(server.url(path), hls=True), None)
            assert window.segments[0].sequence == 7 and window.length == 40.0
            assert window.seekable


@pytest.mark.parametrize(
    ("route", "says"),
    [
        ({"body": "gone", "status": 404}, "HTTP 404"),
        ({"body": "<html>not a playlist"}, "#EXTM3U"),
        ({"body": MASTER.replace("variant/index.m3u8", "/master.m3u8")}, "master playlist"),
        ({"body": b"#EXTM3U\n" + b"#" * (MAX_PLAYLIST_BYTES + 1)}, "more than"),
        ({"body": MEDIA, "delay": 30.0}, "no answer within 0.5 s"),
    ],
)
async def test_a_read_that_fails_says_why_and_leaves_the_window_as_it_was(
    route: dict[str, object], says: str
) -> None:
    async with serve_loopback() as server:
        server.add("/master.m3u8", **route)  # type: ignore[arg-type]
        window = LiveWindow()
        with trio.fail_after(20), pytest.raises(WindowReadError, match=says):
            media = MediaInput(server.url("/master.m3u8"), hls=True)
            await read_window(window, media, None, patience=0.5)
        assert window.segments == ()
    with pytest.raises(WindowReadError, match="not an http"):
        await read_window(window, MediaInput("file:///etc/passwd", hls=True), None)


def test_the_window_is_read_from_the_pictures_playlist() -> None:
    audio = MediaInput("https://cdn/a.m3u8", has_video=False, has_audio=True, hls=True)
    video = MediaInput("https://cdn/v.m3u8", has_video=True, has_audio=False, hls=True)
    plain = MediaInput("https://cdn/v.mp4", has_video=True, has_audio=True)
    assert hls_input(Source("t", (audio, video), is_live=True)) is video
    assert hls_input(Source("t", (audio,), is_live=True)) is audio
    assert hls_input(Source("t", (plain,), is_live=True)) is None
