"""Seek (issue 17): ``POST /api/seek`` moves the session to another place in its
source, at the play head: viewers are told what they hold is void and get the new
place's picture; listeners come back for its sound; the status and ``hello`` say
where the source is.

The clip tells its own media time in its picture and its sound (tests.timecode), so
what is sent after a seek is checked against where the seek went.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import trio
from trio_websocket import WebSocketConnection

from tests.conftest import Media
from tests.integration.conftest import RunningDaemon, settings_for, start_daemon
from tests.integration.helpers import (
    Frame,
    decode,
    live_ffmpegs,
    next_control,
    open_viewer,
    wait_for_ffmpegs,
    wait_for_state,
)
from tests.timecode import SAMPLE_RATE, audio_time_of, media_time_of
from tuner.core.control import decode_control

LEAD = 10
CLIP_SECONDS = 30
#: One frame of the clip, and a little for rounding.
FRAME_SLACK = 0.1


async def _until(
    ws: WebSocketConnection, done: Any, timeout: float = 15.0
) -> tuple[list[dict[str, Any]], list[Frame]]:
    """Read control messages and frames until ``done(controls, frames)`` holds."""
    controls: list[dict[str, Any]] = []
    frames: list[Frame] = []
    with trio.fail_after(timeout):
        while not done(controls, frames):
            message = await ws.get_message()
            if isinstance(message, str):
                controls.append(decode_control(message))
            else:
                frames.append(decode(ws, message))
    return controls, frames


def _of_type(controls: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [c for c in controls if c["type"] == type_]


async def _seek_and_read(
    client: Any, ws: WebSocketConnection, body: dict[str, Any], frames: int = 12
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[Frame]]:
    """Seek; returns the answer, the ``seek`` and ``position`` messages, and the first
    ``frames`` frames of the new place."""
    response = await client.post("/api/seek", json=body)
    assert response.status_code == 200, response.text
    controls, _ = await _until(ws, lambda c, f: _of_type(c, "seek"))
    seek = _of_type(controls, "seek")[-1]
    controls, after = await _until(
        ws,
        lambda c, f: (
            _of_type(c, "position") and len([x for x in f if x.pts_ms >= seek["at_ms"]]) >= frames
        ),
    )
    new = [f for f in after if f.pts_ms >= seek["at_ms"]]
    return response.json(), seek, _of_type(controls, "position")[-1], new


def _shows(frames: list[Frame], position: dict[str, Any]) -> None:
    """Each frame shows the source where the ``position`` message says it is."""
    assert frames[0].kind.name == "KEYFRAME"
    for frame in frames:
        expected = position["position"] + (frame.pts_ms - position["at_ms"]) / 1000
        shown = media_time_of(frame.grid)
        assert shown is not None and abs(shown - expected) <= FRAME_SLACK, (shown, expected)


async def test_a_seek_forward_and_back_shows_the_new_place_at_the_play_head(
    tmp_path: Path, media: Media
) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path, lead_seconds=LEAD))
        async with (
            daemon.client() as client,
            open_viewer(daemon.url, await daemon.login(client)) as ws,
        ):
            body = {"query": media.url_of("timecode.mp4"), "preset": "low", "mode": "mono"}
            assert (await client.post("/api/play", json=body)).status_code == 202
            hello = await next_control(ws, "hello")
            # Before the source is known, the hello cannot say where it is.
            assert (hello["position"], hello["duration"], hello["seekable"]) == (None, None, False)
            early, first = await _until(ws, lambda c, f: f)
            first_at = trio.current_time()
            controls, ahead = await _until(
                ws,
                lambda c, f: f and f[-1].pts_ms >= 6000 and _of_type(early + c, "position"),
            )
            sought_at = trio.current_time()
            start = _of_type(early + controls, "position")[0]
            assert start["position"] == 0 and start["seekable"] is True
            assert abs(start["duration"] - CLIP_SECONDS) < 0.2
            status = (await client.get("/api/status")).json()
            assert status["seekable"] is True and 0 <= status["position"] < 6

            forward, seek, position, new = await _seek_and_read(client, ws, {"position": 20})
            forward_done = trio.current_time()
            # Back by 15 s from where the play head is now: 20 s, and as long on as
            # the frames of the new place took to come (on a busy machine, a while).
            back, _, position_back, new_back = await _seek_and_read(client, ws, {"delta": -15})
            since_forward = trio.current_time() - forward_done
            status_after = (await client.get("/api/status")).json()
        daemon.shutdown.set()

    # The seek takes effect at the play head (which started with the first frame),
    # not after the 6 s already sent.
    played_ms = (sought_at - first_at) * 1000
    assert seek["at_ms"] <= first[0].pts_ms + played_ms + 500, (seek, played_ms)
    assert seek["at_ms"] < ahead[-1].pts_ms - 2000, (seek, ahead[-1].pts_ms)
    assert position["at_ms"] == seek["at_ms"] and position["position"] == 20
    assert abs(forward["position"] - 20) < 0.5
    _shows(new, position)
    assert 5.0 <= position_back["position"] <= 5.0 + since_forward + 0.1, (
        position_back, since_forward,
    )  # fmt: skip
    _shows(new_back, position_back)
    assert back["state"] == "playing"
    assert 4.5 <= status_after["position"] <= 8, status_after


async def _decoded(ffmpeg: str, adts: bytes) -> np.ndarray:
    done = await trio.run_process(
        [
            ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "aac",
            "-i", "pipe:0", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1",
        ],
        stdin=adts, capture_stdout=True,
    )  # fmt: skip
    return np.frombuffer(done.stdout, dtype=np.float32)


async def test_after_a_seek_the_sound_comes_back_from_the_new_place(
    tmp_path: Path, media: Media, ffmpeg: str
) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path, lead_seconds=LEAD))
        async with daemon.client() as client:
            cookie = await daemon.login(client)
            body = {"query": media.url_of("timecode.mp4"), "preset": "low", "mode": "mono"}
            async with open_viewer(daemon.url, cookie) as ws:
                session_id = (await client.post("/api/play", json=body)).json()["session_id"]
                await _until(ws, lambda c, f: _of_type(c, "position"))
                old_ended = trio.Event()

                async def listen_until_the_seek() -> None:
                    async with client.stream(
                        "GET", f"/audio?session={session_id}&listener=old",
                        headers={"Cookie": cookie},
                    ) as response:  # fmt: skip
                        async for _ in response.aiter_bytes():
                            pass
                    old_ended.set()

                async with trio.open_nursery() as listening:
                    listening.start_soon(listen_until_the_seek)
                    await next_control(ws, "audio")
                    _, seek, position, _ = await _seek_and_read(client, ws, {"position": 12})
                    # The old stream ends: its browser could not drop what it holds.
                    with trio.fail_after(5):
                        await old_ended.wait()
                path = f"/audio?session={session_id}&listener=new&from_ms={seek['at_ms']}"
                sound = b""
                async with client.stream("GET", path, headers={"Cookie": cookie}) as response:
                    async for chunk in response.aiter_bytes():
                        sound += chunk
                        if len(sound) > 40_000:
                            break
                clock = await next_control(ws, "audio")
        daemon.shutdown.set()
    assert clock["listener"] == "new"
    assert abs(clock["start_ms"] - seek["at_ms"]) <= 1024 * 1000 / 48000
    # Its first sample is the source at 12 s plus how far the stream starts after the
    # new place's first frame: picture and sound of the new place line up.
    heard = audio_time_of(await _decoded(ffmpeg, sound))
    expected = position["position"] + (clock["start_ms"] - position["at_ms"]) / 1000
    assert heard is not None and abs(heard - expected) <= 0.03, (heard, expected)


async def test_what_cannot_seek_says_why_and_bad_seeks_are_refused(
    daemon: RunningDaemon, media: Media
) -> None:
    async with daemon.client() as client:
        await daemon.login(client)
        idle = await client.post("/api/seek", json={"delta": 10})
        assert idle.status_code == 409 and idle.json()["error"] == "nothing is playing"

        await client.post("/api/play", json={"query": "testcard"})
        await wait_for_state(client, "playing")
        card = await client.post("/api/seek", json={"delta": 10})
        assert card.status_code == 409 and "test card" in card.json()["detail"], card.text
        assert (await client.get("/api/status")).json()["seekable"] is False

        await client.post("/api/play", json={"query": media.url_of("timecode.mp4")})
        await wait_for_state(client, "playing")
        bad: list[tuple[str, str]] = [
            ('{"position": "12"}', "finite number"),
            ('{"position": NaN}', "finite number"),
            ('{"delta": Infinity}', "finite number"),
            ('{"position": true}', "finite number"),
            ('{"position": -1}', "negative"),
            ('{"position": 31}', "past the end"),
            ('{"position": 1, "delta": 1}', "either"),
            ("{}", "either"),
            ('{"where": 3}', "unknown keys"),
            ("[12]", "JSON object"),
        ]
        for raw, says in bad:
            response = await client.post(
                "/api/seek", content=raw, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 400, (raw, response.text)
            assert says in response.json()["detail"], (raw, response.text)
        # After all of that the session plays on, and a good seek works.
        status = (await client.get("/api/status")).json()
        assert status["state"] == "playing" and status["seekable"] is True
        assert (await client.post("/api/seek", json={"position": 3})).status_code == 200


async def test_a_live_stream_without_a_window_refuses_to_seek(
    daemon: RunningDaemon, live_hls: str
) -> None:
    async with daemon.client() as client:
        await daemon.login(client)
        await client.post("/api/play", json={"query": live_hls})
        status = await wait_for_state(client, "playing", timeout=20)
        assert status["is_live"] is True and status["seekable"] is False
        assert status["position"] is None and status["window"] is None
        response = await client.post("/api/seek", json={"delta": -10})
    assert response.status_code == 409
    # Its playlist was read: a few 1 s segments are too short a window to seek in.
    detail = response.json()["detail"]
    assert re.search(r"live .* holds [1-6] s, .* at least 30 s", detail), detail


async def test_a_seek_storm_leaves_one_ffmpeg_at_the_last_place(
    tmp_path: Path, media: Media
) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path, lead_seconds=LEAD))
        async with (
            daemon.client() as client,
            open_viewer(daemon.url, await daemon.login(client)) as ws,
        ):
            body = {"query": media.url_of("timecode.mp4"), "preset": "low", "mode": "mono"}
            await client.post("/api/play", json=body)
            await _until(ws, lambda c, f: _of_type(c, "position") and f)
            targets = [(7 * i) % 25 + 1.5 for i in range(20)]
            for target in targets:
                response = await client.post("/api/seek", json={"position": target})
                assert response.status_code == 200, response.text
            # Everything up to the last seek is void; what comes after it shows the
            # last place.
            controls, _ = await _until(ws, lambda c, f: len(_of_type(c, "seek")) == len(targets))
            last_seek = _of_type(controls, "seek")[-1]
            controls, after = await _until(
                ws,
                lambda c, f: (
                    any(p["at_ms"] == last_seek["at_ms"] for p in _of_type(c, "position"))
                    and len([x for x in f if x.pts_ms >= last_seek["at_ms"]]) >= 5
                ),
            )
            ffmpegs = await wait_for_ffmpegs(1)
        daemon.shutdown.set()
    assert len(ffmpegs) == 1
    position = [p for p in _of_type(controls, "position") if p["at_ms"] == last_seek["at_ms"]][-1]
    assert position["position"] == targets[-1]
    _shows([f for f in after if f.pts_ms >= last_seek["at_ms"]], position)
    assert not live_ffmpegs()


async def test_a_seek_after_the_end_was_read_ahead_plays_on_from_there(
    tmp_path: Path, media: Media
) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path, lead_seconds=LEAD))
        async with (
            daemon.client() as client,
            open_viewer(daemon.url, await daemon.login(client)) as ws,
        ):
            body = {"query": media.url_of("timecode.mp4"), "preset": "low", "mode": "mono"}
            await client.post("/api/play", json=body)
            await _until(ws, lambda c, f: _of_type(c, "position") and f)
            # 5 s before the end with a 10 s lead: ffmpeg reads to the end and exits,
            # and the session waits for its clients to play what they hold.
            await _seek_and_read(client, ws, {"position": 25}, frames=3)
            await wait_for_ffmpegs(0, timeout=10)
            assert (await client.get("/api/status")).json()["state"] == "playing"
            _, _, position, new = await _seek_and_read(client, ws, {"position": 5})
            await wait_for_ffmpegs(1)
        daemon.shutdown.set()
    assert position["position"] == 5
    _shows(new, position)
