"""What a monitor and a person are told when a stream freezes or cannot be played, by a
real ``tuner serve`` process: a frozen ffmpeg (SIGSTOP) is reported on ``/healthz`` and
in ``/api/status`` long before the watchdog gives it up, and sources that real servers
break (``tests/misbehaving.py``) end in a sentence a person can act on.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import psutil
import pytest
import trio

from tests.core.test_diagnose import FFMPEG_FAILURES
from tests.daemon_process import DaemonProcess
from tests.misbehaving import closed_port, make_media, serve
from tests.reliability.conftest import (
    eventually,
    exited,
    health_of,
    logged_in,
    playback_ffmpegs,
    status_of,
    terminate_cleanly,
    write_figures,
)

#: Long enough that the watchdog never gives the frozen stream up during the test.
STALL_SECONDS = 60


@pytest.mark.timeout(90)
async def test_a_frozen_stream_is_reported_at_once_and_cleared_when_frames_come_back(
    tmp_path: Path,
) -> None:
    env = {"TUNER_STALL_SECONDS": str(STALL_SECONDS)}
    with DaemonProcess.start(tmp_path, env=env) as daemon:
        async with logged_in(daemon) as client:
            assert (await client.post("/api/play", json={"query": "testcard"})).status_code == 202

            async def one_ffmpeg_playing() -> psutil.Process | None:
                found = playback_ffmpegs(daemon)
                playing = (await status_of(client))["state"] == "playing"
                return found[0] if playing and len(found) == 1 else None

            ffmpeg = await eventually(one_ffmpeg_playing, "the test card playing")

            async def healthy() -> bool | None:
                code, health = await health_of(client)
                return (code, health["status"], health["components"]["playback"]) == (
                    200, "ok", "ok",
                ) or None  # fmt: skip

            await eventually(healthy, "/healthz ok while the test card plays")

            ffmpeg.send_signal(signal.SIGSTOP)
            frozen = trio.current_time()

            async def stalled() -> tuple[int, dict[str, Any]] | None:
                code, health = await health_of(client)
                return (code, health) if health["components"]["playback"] == "stalled" else None

            # Well within stall_seconds: the daemon of old said "ok" all that time.
            code, health = await eventually(stalled, "/healthz playback = stalled", timeout=30)
            noticed = trio.current_time() - frozen
            assert (code, health["status"], health["session"]) == (200, "degraded", "playing")
            status = await status_of(client)
            assert status["state"] == "playing"
            assert status["stalled"] == (
                "the stream has sent no frame for 2 s "
                f"(tuner restarts it after {STALL_SECONDS} s without one)"
            )

            ffmpeg.send_signal(signal.SIGCONT)
            resumed = trio.current_time()

            async def flowing() -> dict[str, Any] | None:
                _, health = await health_of(client)
                status = await status_of(client)
                well = health["status"] == "ok" and health["components"]["playback"] == "ok"
                return status if well and status["stalled"] is None else None

            status = await eventually(flowing, "/healthz ok again", timeout=30)
            cleared = trio.current_time() - resumed
            # The same ffmpeg plays on: a suspicion is no restart.
            assert status["state"] == "playing"
            assert not exited(ffmpeg) and playback_ffmpegs(daemon) == [ffmpeg]

            # Frozen again, and SIGTERM while it lasts.
            ffmpeg.send_signal(signal.SIGSTOP)
            await eventually(stalled, "/healthz playback = stalled again", timeout=30)
        took = terminate_cleanly(daemon)
    write_figures(
        "stall-suspected",
        {
            "stall_seconds": STALL_SECONDS,
            "stalled_on_healthz_after_s": round(noticed, 2),
            "ok_again_after_sigcont_s": round(cleared, 2),
            "sigterm_exit_s": round(took, 2),
        },
    )


#: Sources a person may try, the way real servers break them, and what they are told.
#: Some fail in yt-dlp or the resolver's probe before ffmpeg plays: the sentence is
#: the same whichever tool met the fault.
CASES = ("/ignores-range.mp4", "/missing.mp4", "/notes", "/unknown-codec.mkv", "closed")


@pytest.mark.timeout(120)
async def test_sources_that_servers_break_end_in_a_sentence_a_person_can_act_on(
    tmp_path: Path, ffmpeg: str
) -> None:
    seen: dict[str, str] = {}
    media = make_media(ffmpeg, tmp_path / "media")
    with serve(media) as base, DaemonProcess.start(tmp_path) as daemon:
        async with logged_in(daemon) as client:
            for case in CASES:
                url = f"http://127.0.0.1:{closed_port()}/v.mp4" if case == "closed" else base + case
                response = await client.post("/api/play", json={"query": url})
                assert response.status_code == 202, response.text
                session = response.json()["session_id"]

                async def failed(session: str = session) -> dict[str, Any] | None:
                    status = await status_of(client)
                    ours = status["session_id"] == session and status["state"] == "error"
                    return status if ours else None

                status = await eventually(failed, f"{case} failing", timeout=40)
                seen[case] = status["error"]
                assert status["error"] == FFMPEG_FAILURES[case][1], case
                code, health = await health_of(client)
                assert (code, health["status"]) == (200, "degraded")
                assert health["components"]["playback"] == "error"
            # The daemon serves on: the test card plays.
            assert (await client.post("/api/play", json={"query": "testcard"})).status_code == 202

            async def playing() -> bool | None:
                return (await status_of(client))["state"] == "playing" or None

            await eventually(playing, "the test card playing")

            # A broken source again, and SIGTERM once it failed.
            response = await client.post("/api/play", json={"query": base + CASES[0]})
            assert response.status_code == 202

            async def failed_again() -> bool | None:
                status = await status_of(client)
                return (status["state"] == "error" and status["error"] == seen[CASES[0]]) or None

            await eventually(failed_again, "the first case failing again", timeout=40)
        took = terminate_cleanly(daemon)
    write_figures("source-failures", {"errors": seen, "sigterm_exit_s": round(took, 2)})
