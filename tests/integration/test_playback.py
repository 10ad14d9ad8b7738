"""Playing the test card end to end against a real daemon and a real ffmpeg."""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path

import trio

from tests.integration.conftest import RunningDaemon, settings_for, start_daemon
from tests.integration.helpers import (
    assert_plays_at_rate,
    frames_for,
    next_control,
    open_viewer,
    probe_codec,
    read_audio,
    wait_for_ffmpegs,
    wait_for_state,
)
from tuner.core.modes import MONO_RAMP
from tuner.core.presets import PRESETS


async def test_testcard_frames_arrive_at_the_presets_rate_in_real_time(
    realtime_daemon: RunningDaemon,
) -> None:
    """With no lead, each frame leaves at its time (a lead is tests/integration/
    test_read_ahead.py's)."""
    daemon = realtime_daemon
    async with daemon.client() as client:
        cookie = await daemon.login(client)
        async with open_viewer(daemon.url, cookie) as ws:
            response = await client.post("/api/play", json={"query": "testcard", "preset": "low"})
            assert response.status_code == 202
            session_id = response.json()["session_id"]
            hello = await next_control(ws, "hello")
            low = PRESETS["low"]
            assert hello == {
                "type": "hello",
                "protocol": 3,
                "session_id": session_id,
                "cols": low.cols,
                "rows": low.rows,
                "fps": low.fps,
                "mode": "mono",
                "preset": "low",
                "chosen_preset": "low",
                "adaptive": True,
                "audio_frame_ms": 1024 * 1000 / 48000,
                # Not known until the source is (the test card never has a place).
                "position": None,
                "duration": None,
                "seekable": False,
                "window": None,
            }
            received = await frames_for(ws, 3.0)

    assert_plays_at_rate(received, low.fps, 3.0, lead_seconds=0)
    frames = [frame for _, frame in received]
    assert all((f.cols, f.rows) == (low.cols, low.rows) for f in frames)
    # The test card is a picture, not a blank: many distinct characters, all from the ramp.
    assert set(frames[-1].cells) <= set(MONO_RAMP)
    assert len(set(frames[-1].cells)) >= 5
    assert frames[0].cells != frames[-1].cells, "the test card should move"
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(received)]
    assert statistics.median(gaps) < 2 / low.fps


async def test_status_follows_play_and_stop(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        await daemon.login(client)
        assert (await client.get("/api/status")).json()["state"] == "idle"
        await client.post("/api/play", json={"query": "testcard", "preset": "med"})
        status = await wait_for_state(client, "playing")
        assert status["title"] == "Test card"
        assert status["preset"] == "med"
        assert status["mode"] == "mono"
        # The test card has no artwork and no channel.
        assert (status["thumbnail"], status["channel"]) == (None, None)
        await wait_for_ffmpegs(1)
        response = await client.post("/api/stop")
        assert response.status_code == 204
        assert (await client.get("/api/status")).json() == {
            "state": "idle",
            "session_id": None,
            "query": None,
            "title": None,
            "is_live": False,
            "duration": None,
            "seekable": False,
            "position": None,
            "window": None,
            "preset": None,
            "fps": None,
            "chosen_preset": None,
            "mode": None,
            "thumbnail": None,
            "channel": None,
            "problems": [],
        }
        await wait_for_ffmpegs(0)


async def test_audio_is_aac_in_adts(daemon: RunningDaemon, ffprobe: str, tmp_path: Path) -> None:
    async with daemon.client() as client:
        cookie = await daemon.login(client)
        await client.post("/api/play", json={"query": "testcard"})
        data = await read_audio(client, cookie, 16_000)
    # Every listener starts on an ADTS sync word.
    assert data[0] == 0xFF and data[1] & 0xF6 == 0xF0
    path = tmp_path / "audio.aac"
    path.write_bytes(data)
    assert probe_codec(ffprobe, path) == "aac"


async def test_audio_listener_ends_with_its_session(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        cookie = await daemon.login(client)
        await client.post("/api/play", json={"query": "testcard"})
        with trio.fail_after(10):
            async with client.stream("GET", "/audio", headers={"Cookie": cookie}) as response:
                got = 0
                async for chunk in response.aiter_bytes():
                    got += len(chunk)
                    if got > 2000:
                        await client.post("/api/stop")
                # Reaching here means the stream ended by itself after the stop.
        assert got > 2000


async def test_a_second_play_supersedes_the_first(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        cookie = await daemon.login(client)
        async with open_viewer(daemon.url, cookie) as ws:
            first = (await client.post("/api/play", json={"query": "testcard"})).json()
            second = (
                await client.post("/api/play", json={"query": "testcard", "preset": "high"})
            ).json()
            assert first["session_id"] != second["session_id"]
            hello = await next_control(ws, "hello")
            if hello["session_id"] == first["session_id"]:
                hello = await next_control(ws, "hello")
            assert hello["session_id"] == second["session_id"]
            assert hello["cols"] == PRESETS["high"].cols
            received = await frames_for(ws, 0.5)
            # After the new hello, only frames of the new grid arrive.
            assert all(f.cols == PRESETS["high"].cols for _, f in received)
        await wait_for_ffmpegs(1)
        status = (await client.get("/api/status")).json()
        assert status["session_id"] == second["session_id"]


async def test_many_quick_plays_leave_exactly_one_ffmpeg(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        await daemon.login(client)
        for _ in range(10):
            response = await client.post("/api/play", json={"query": "testcard"})
            assert response.status_code == 202
        alive = await wait_for_ffmpegs(1)
        status = (await client.get("/api/status")).json()
        assert status["state"] in ("resolving", "playing")
        assert len(alive) == 1


async def test_the_ffmpeg_bundled_with_imageio_plays_the_testcard(
    tmp_path: Path, ffprobe: str
) -> None:
    """A plain pip install on a machine with no ffmpeg falls back to this binary."""
    import imageio_ffmpeg

    settings = settings_for(tmp_path, ffmpeg=imageio_ffmpeg.get_ffmpeg_exe())
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings)
        async with daemon.client() as client:
            cookie = await daemon.login(client)
            async with open_viewer(daemon.url, cookie) as ws:
                await client.post("/api/play", json={"query": "testcard"})
                await next_control(ws, "hello")
                received = await frames_for(ws, 1.0)
            assert_plays_at_rate(received, PRESETS["low"].fps, 1.0, settings.lead_seconds)
            audio = tmp_path / "audio.aac"
            audio.write_bytes(await read_audio(client, cookie, 8000))
            assert probe_codec(ffprobe, audio) == "aac"
        daemon.shutdown.set()


async def test_an_ffmpeg_that_dies_is_reported_and_the_next_play_works(
    daemon: RunningDaemon,
) -> None:
    async with daemon.client() as client:
        cookie = await daemon.login(client)
        async with open_viewer(daemon.url, cookie) as ws:
            await client.post("/api/play", json={"query": "testcard"})
            await next_control(ws, "hello")
            (ffmpeg,) = await wait_for_ffmpegs(1)
            ffmpeg.kill()
            end = await next_control(ws, "end")
            assert end["reason"] == "error"
            assert end["error"] == "ffmpeg was killed by signal 9"
        status = (await client.get("/api/status")).json()
        assert (status["state"], status["error"]) == ("error", "ffmpeg was killed by signal 9")
        await client.post("/api/play", json={"query": "testcard"})
        await wait_for_state(client, "playing")
