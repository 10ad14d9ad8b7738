"""Real sources: files and a live HLS stream made by ffmpeg, served over loopback HTTP,
resolved by yt-dlp and played by the daemon's ffmpeg."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import trio

from tests.integration.conftest import Media, RunningDaemon
from tests.integration.helpers import (
    DEFAULT_LEAD,
    Frame,
    assert_plays_at_rate,
    frames_for,
    next_control,
    open_viewer,
    parse_metrics,
    probe_codec,
    read_audio,
    wait_for_ffmpegs,
    wait_for_state,
)
from tuner.core.presets import PRESETS

LOW = PRESETS["low"]


def _blank_columns(frame: Frame) -> tuple[int, int]:
    """How many columns on the left and on the right are blank in every row."""
    rows = [frame.cells[r * frame.cols : (r + 1) * frame.cols] for r in range(frame.rows)]
    lit = [c for c in range(frame.cols) if any(row[c] != ord(" ") for row in rows)]
    return lit[0], frame.cols - 1 - lit[-1]


def _blank_rows(frame: Frame) -> tuple[int, int]:
    """How many rows at the top and at the bottom are blank."""
    lit = [
        r
        for r in range(frame.rows)
        if frame.cells[r * frame.cols : (r + 1) * frame.cols].strip(b" ")
    ]
    return lit[0], frame.rows - 1 - lit[-1]


@pytest.mark.parametrize(
    "name", ["clip720.mp4", "noaudio.mp4", "audioonly.m4a", "vertical.mp4", "fps60.mp4"]
)
async def test_each_kind_of_file_plays_at_the_presets_rate_with_sound(
    daemon: RunningDaemon, media: Media, ffprobe: str, tmp_path: Path, name: str
) -> None:
    async with daemon.client() as client:
        cookie = await daemon.login(client)
        async with open_viewer(daemon.url, cookie) as ws, trio.open_nursery() as nursery:
            response = await client.post("/api/play", json={"query": media.url_of(name)})
            assert response.status_code == 202, response.text
            heard: list[bytes] = []

            async def listen() -> None:
                # From the start, as a page does: a file read ahead may be over (its
                # end played out) before a late listener has decided how to start.
                # Silence is small in AAC: a few hundred bytes hold many frames of it.
                heard.append(await read_audio(client, cookie, 1000))

            nursery.start_soon(listen)
            await next_control(ws, "hello")
            status = await wait_for_state(client, "playing")
            received = await frames_for(ws, 1.5)
        audio = heard[0]
        assert status["title"] == name.rsplit(".", 1)[0]
        assert status["is_live"] is False
        assert status["duration"] == pytest.approx(4 if name == "clip720.mp4" else 3, abs=0.2)
        # The file ends by itself, and the session with it.
        await wait_for_state(client, "idle", timeout=10)
        await wait_for_ffmpegs(0)

    assert_plays_at_rate(received, LOW.fps, 1.5, DEFAULT_LEAD)
    frames = [frame for _, frame in received]
    assert all((f.cols, f.rows) == (LOW.cols, LOW.rows) for f in frames)
    assert len(set(frames[-1].cells)) >= 3, "the picture is blank"
    # Every kind has sound (silence for noaudio.mp4): the audio element never stalls.
    assert audio[0] == 0xFF and audio[1] & 0xF6 == 0xF0
    (tmp_path / "audio.aac").write_bytes(audio)
    assert probe_codec(ffprobe, tmp_path / "audio.aac") == "aac"

    last = frames[-1]
    if name == "vertical.mp4":
        # 9:16 in a wide grid: pillarboxed, black bars left and right, about equal.
        left, right = _blank_columns(last)
        assert left > LOW.cols // 4 and right > LOW.cols // 4, (left, right)
        assert abs(left - right) <= 2
    elif name in ("clip720.mp4", "fps60.mp4", "noaudio.mp4"):
        # 16:9 in a 1.44:1 grid: letterboxed, a few blank rows above and below.
        top, bottom = _blank_rows(last)
        assert 2 <= top <= 8 and 2 <= bottom <= 8, (top, bottom)
        assert _blank_columns(last) == (0, 0)


async def test_a_live_hls_stream_heals_after_ffmpeg_is_killed_or_stalls(
    tmp_path: Path, live_hls: str
) -> None:
    from tests.integration.conftest import settings_for, start_daemon

    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(
            nursery, settings_for(tmp_path, stall_seconds=2.0, reconnect_attempts=3)
        )
        async with daemon.client() as client:
            cookie = await daemon.login(client)
            async with open_viewer(daemon.url, cookie) as ws:
                await client.post("/api/play", json={"query": live_hls})
                status = await wait_for_state(client, "playing", timeout=20)
                assert status["is_live"] is True
                before = await frames_for(ws, 1.0)

                # SIGKILL: ffmpeg exits; the session reconnects and frames resume.
                [ffmpeg] = await wait_for_ffmpegs(1)
                os.kill(ffmpeg.pid, signal.SIGKILL)
                reconnecting = await wait_for_state(client, "reconnecting")
                assert "killed by signal 9" in reconnecting["error"]
                await wait_for_state(client, "playing", timeout=20)
                after_kill = await frames_for(ws, 1.0)

                # SIGSTOP: ffmpeg lives but sends nothing; the watchdog notices.
                [stopped] = await wait_for_ffmpegs(1)
                assert stopped.pid != ffmpeg.pid
                os.kill(stopped.pid, signal.SIGSTOP)
                with trio.fail_after(2.0 + 3):
                    reconnecting = await wait_for_state(client, "reconnecting", timeout=10)
                assert "stalled" in reconnecting["error"]
                await wait_for_state(client, "playing", timeout=20)
                after_stall = await frames_for(ws, 1.0)
                [third] = await wait_for_ffmpegs(1)
                assert third.pid not in (ffmpeg.pid, stopped.pid)

            metrics = (await client.get("/metrics")).text
        daemon.shutdown.set()

    # One session throughout: its frame numbers and times only go forward.
    seqs = [f.seq for _, f in before + after_kill + after_stall]
    pts = [f.pts_ms for _, f in before + after_kill + after_stall]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert pts == sorted(pts)
    assert "tuner_ffmpeg_restarts_total 2.0" in metrics


async def test_a_playlist_cannot_make_ffmpeg_read_local_files(
    daemon: RunningDaemon, media: Media
) -> None:
    # A segment ffmpeg would play if it were allowed to read local files.
    secret = media.directory / "segment.ts"
    playlist = media.directory / "evil.m3u8"
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nfile://{secret}\n#EXT-X-ENDLIST\n"
    )
    async with daemon.client() as client:
        await daemon.login(client)
        await client.post("/api/play", json={"query": media.url_of("evil.m3u8")})
        status = await wait_for_state(client, "error", timeout=20)
    assert "only http/https" in status["error"], status
    await wait_for_ffmpegs(0)


@pytest.mark.parametrize(
    ("path", "sentence"),
    [
        ("missing.mp4", "not found (HTTP 404)"),
        ("secret-notes.txt", "not a playable video or audio stream"),
    ],
)
async def test_unplayable_urls_end_in_an_error_a_person_can_read(
    daemon: RunningDaemon, media: Media, path: str, sentence: str
) -> None:
    (media.directory / "secret-notes.txt").write_text("not a video\n")
    async with daemon.client() as client:
        await daemon.login(client)
        await client.post("/api/play", json={"query": media.url_of(path)})
        status = await wait_for_state(client, "error", timeout=20)
        assert sentence in status["error"], status
        assert "Traceback" not in status["error"]
        metrics = parse_metrics((await client.get("/metrics")).text)
        assert metrics["tuner_resolutions_total"][""] == 1
        assert metrics["tuner_resolve_failures_total"][""] == 1
        # The daemon keeps serving: the test card plays right after.
        await client.post("/api/play", json={"query": "testcard"})
        await wait_for_state(client, "playing")


async def test_a_server_that_refuses_is_reported_as_such(daemon: RunningDaemon) -> None:
    with trio.socket.socket() as probe:
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with daemon.client() as client:
        await daemon.login(client)
        await client.post("/api/play", json={"query": f"http://127.0.0.1:{port}/v.mp4"})
        status = await wait_for_state(client, "error", timeout=20)
    assert "refused" in status["error"], status
