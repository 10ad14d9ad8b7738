"""Faults, each against a real ``tuner serve`` process: ffmpeg killed, stopped
(SIGSTOP) or writing garbage; yt-dlp hanging or raising; an extractor hanging; the
state directory full or read-only; and SIGTERM during each of them.

What must hold every time: the daemon stays up, says what is wrong on ``/healthz``
(a word per component) and on ``/api/status`` (the session's error, or a sentence in
``problems``), recovers once the fault goes away, and on SIGTERM exits 0 within a few
seconds, leaving no process behind and losing nothing it acknowledged.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import trio

from tests.conftest import Media
from tests.daemon_process import DaemonProcess
from tests.loopback import LoopbackServer, serve_loopback
from tests.reliability.conftest import (
    command_of,
    descendants,
    eventually,
    exited,
    health_of,
    logged_in,
    playback_ffmpegs,
    status_of,
    terminate_cleanly,
    write_figures,
)

#: A loopback server that never answers holds a request this long (the test ends first).
FOREVER = 3600.0
#: How long SIGTERM may take to end the daemon, ffmpeg and workers included.
SIGTERM_BOUND = 5.0


def _urls(server: LoopbackServer) -> dict[str, str]:
    """Every loopback URL the daemon fetches in this file, built in one place (a
    fetch allow-list, if one is configured, must let these through)."""
    return {
        "video": server.url("/fault/video.mp4"),
        "video_sigterm": server.url("/fault/sigterm.mp4"),
        "page": server.url("/fault/channel"),
        "playlist": server.url("/fault/live.m3u8"),
    }


async def _wait_state(
    client: httpx.AsyncClient, state: str, timeout: float = 20, error: str = ""
) -> dict[str, Any]:
    """Poll ``/api/status`` until the session is in ``state`` (with ``error`` in its
    error, if given)."""

    async def probe() -> dict[str, Any] | None:
        status = await status_of(client)
        if status["state"] == state and error in (status.get("error") or ""):
            return status
        return None

    return await eventually(probe, f"session {state} {error!r}", timeout)


async def _wait_health(
    client: httpx.AsyncClient, component: str, value: str, timeout: float = 20
) -> tuple[int, dict[str, Any]]:
    """Poll ``/healthz`` until ``component`` says ``value``."""

    async def probe() -> tuple[int, dict[str, Any]] | None:
        code, body = await health_of(client)
        return (code, body) if body["components"].get(component) == value else None

    return await eventually(probe, f"/healthz {component} = {value}", timeout)


def _queued(state_dir: Path) -> list[str]:
    """The queries queued in the daemon's database, read by SQLite itself."""
    with sqlite3.connect(state_dir / "queue.db") as db:
        return [row[0] for row in db.execute("SELECT query FROM items ORDER BY position")]


# --- ffmpeg -----------------------------------------------------------------------------


def _fake_ffmpeg(tmp_path: Path, ffmpeg: str, garbage_flag: Path) -> Path:
    """An ffmpeg that is the real one, except while ``garbage_flag`` exists: then it
    writes noise where frames should be, a line on stderr, and exits 1."""
    script = tmp_path / "ffmpeg"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" != "-version" ] && [ -e "{garbage_flag}" ]; then\n'
        "  head -c 60000 /dev/urandom\n"
        '  echo "fake ffmpeg: garbage, not a stream" >&2\n'
        "  exit 1\n"
        "fi\n"
        f'exec "{ffmpeg}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


async def _one_ffmpeg(daemon: DaemonProcess, other_than: int | None = None) -> psutil.Process:
    async def probe() -> psutil.Process | None:
        found = [p for p in playback_ffmpegs(daemon) if p.pid != other_than]
        return found[0] if len(found) == 1 else None

    return await eventually(probe, "one playback ffmpeg")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("fault", ["killed", "stopped", "garbage"])
async def test_ffmpeg_fault(tmp_path: Path, ffmpeg: str, fault: str) -> None:
    """ffmpeg is killed (SIGKILL), stopped (SIGSTOP: the stall watchdog must notice),
    or replaced by one that writes garbage and exits: the session reconnects, says
    why, and plays again once ffmpeg works."""
    flag = tmp_path / "garbage"
    env = {"TUNER_FFMPEG": str(_fake_ffmpeg(tmp_path, ffmpeg, flag)), "TUNER_STALL_SECONDS": "1"}
    expected = {
        "killed": "ffmpeg was killed by signal 9",
        "stopped": "the stream stalled (no frame for 1 s)",
        "garbage": "fake ffmpeg: garbage, not a stream",
    }[fault]

    async def inject(current: psutil.Process) -> None:
        if fault == "killed":
            current.send_signal(signal.SIGKILL)
        elif fault == "stopped":
            current.send_signal(signal.SIGSTOP)
        else:
            flag.touch()
            response = await client.post("/api/play", json={"query": "testcard"})
            assert response.status_code == 202

    with DaemonProcess.start(tmp_path, env=env) as daemon:
        async with logged_in(daemon) as client:
            # An acknowledged edit: it must survive everything below.
            assert (await client.post("/api/queue", json={"query": "testcard"})).status_code == 201
            assert (await client.post("/api/play", json={"query": "testcard"})).status_code == 202
            await _wait_state(client, "playing")
            first = await _one_ffmpeg(daemon)

            injected = trio.current_time()
            await inject(first)
            broken = await _wait_state(client, "reconnecting", error=expected)
            noticed = trio.current_time() - injected
            code, health = await _wait_health(client, "playback", "reconnecting")
            assert (code, health["status"]) == (200, "degraded")
            assert health["components"]["supervisor"] == "ok"

            # The fault goes away (a new ffmpeg replaces a killed or stopped one by
            # itself; the garbage stops when the real ffmpeg is back).
            flag.unlink(missing_ok=True)

            async def healed() -> psutil.Process | None:
                status = await status_of(client)
                for process in playback_ffmpegs(daemon):
                    # The fake exits at once: one that lasts is the real ffmpeg.
                    age = time.time() - process.create_time()
                    lasted = fault != "garbage" or age > 1.5
                    if process.pid != first.pid and lasted and status["state"] == "playing":
                        return process
                return None

            second = await eventually(healed, "playing again with a new ffmpeg", timeout=30)
            recovered = trio.current_time() - injected
            assert exited(first), "the broken ffmpeg is still there"
            code, health = await _wait_health(client, "playback", "ok")
            assert (code, health["status"]) == (200, "ok")

            # The same fault again, and SIGTERM while it lasts.
            await inject(second)
            if fault != "stopped":
                await _wait_state(client, "reconnecting", error=expected)
        took = terminate_cleanly(daemon, SIGTERM_BOUND)
    assert _queued(daemon.state_dir) == ["testcard"]
    write_figures(
        f"ffmpeg-{fault}",
        {
            "fault": f"ffmpeg {fault}",
            "status_error": broken["error"],
            "noticed_after_s": round(noticed, 2),
            # For garbage: from the real ffmpeg's return, seen lasting 1.5 s.
            "playing_again_after_s": round(recovered, 2),
            "sigterm_exit_s": round(took, 2),
        },
    )


# --- yt-dlp -----------------------------------------------------------------------------


@pytest.mark.timeout(90)
@pytest.mark.parametrize("fault", ["hangs", "raises"])
async def test_ytdlp_fault(tmp_path: Path, media: Media, fault: str) -> None:
    """yt-dlp's site never answers (the resolve timeout must end it) or answers with
    an error (yt-dlp raises): the play fails with a sentence, the worker is gone, and
    the same URL plays once the site is back."""
    clip = (media.directory / "clip720.mp4").read_bytes()
    async with serve_loopback() as server:
        urls = _urls(server)
        broken: dict[str, Any] = {"delay": FOREVER} if fault == "hangs" else {"status": 500}
        server.add("/fault/video.mp4", b"", **broken)
        server.add("/fault/sigterm.mp4", b"", **broken)
        env = {"TUNER_RESOLVE_TIMEOUT": "1"}
        with DaemonProcess.start(tmp_path, env=env) as daemon:
            async with logged_in(daemon) as client:
                queued = await client.post("/api/queue", json={"query": "testcard"})
                assert queued.status_code == 201
                started = trio.current_time()
                response = await client.post("/api/play", json={"query": urls["video"]})
                assert response.status_code == 202
                failed = await _wait_state(client, "error", timeout=40)
                failed_after = trio.current_time() - started
                expected = "did not answer in time" if fault == "hangs" else "server error"
                assert expected in failed["error"], failed["error"]
                code, health = await _wait_health(client, "playback", "error")
                assert (code, health["status"]) == (200, "degraded")

                # The worker that asked is gone; only the warm spare is left.
                async def one_worker() -> bool | None:
                    worker = "tuner.ytdlp.resolve"
                    workers = [p for p in descendants(daemon) if worker in command_of(p)]
                    return len(workers) == 1 or None

                await eventually(one_worker, "the resolving worker killed")

                # The site is back: the same URL plays.
                server.add("/fault/video.mp4", clip, content_type="video/mp4")
                response = await client.post("/api/play", json={"query": urls["video"]})
                assert response.status_code == 202
                await _wait_state(client, "playing", timeout=30)
                code, health = await _wait_health(client, "playback", "ok")
                assert (code, health["status"]) == (200, "ok")

                # SIGTERM while yt-dlp waits on (or reads the error of) the site.
                hits = server.hits.get("/fault/sigterm.mp4", 0)
                await client.post("/api/play", json={"query": urls["video_sigterm"]})
                await _wait_state(client, "resolving")
                if fault == "hangs":

                    async def asked() -> bool | None:
                        return server.hits.get("/fault/sigterm.mp4", 0) > hits or None

                    await eventually(asked, "yt-dlp's request reached the site")
            took = terminate_cleanly(daemon, SIGTERM_BOUND)
        assert _queued(daemon.state_dir) == ["testcard"]
    write_figures(
        f"ytdlp-{fault}",
        {
            "fault": f"yt-dlp {fault}",
            "resolve_timeout_s": 1,
            "status_error": failed["error"],
            "failed_after_s": round(failed_after, 2),
            "sigterm_exit_s": round(took, 2),
        },
    )


# --- an extractor -----------------------------------------------------------------------


@pytest.mark.timeout(90)
async def test_extractor_hangs(tmp_path: Path) -> None:
    """The page extractor's site never answers: its timeout ends the run, /healthz
    and /api/status say that it fails, and a refresh once the site is back lists the
    stream."""
    async with serve_loopback() as server:
        urls = _urls(server)
        server.add("/fault/channel", "", delay=FOREVER)
        config = tmp_path / "config.toml"
        config.write_text(
            "[extract]\nenabled = true\ncheck_streams = false\n"
            "[extract.page]\nenabled = true\ntimeout_seconds = 1\n"
            f'[[extract.page.sites]]\nurl = "{urls["page"]}"\ntitle = "Fault TV"\n'
        )
        with DaemonProcess.start(tmp_path, args=("--config", str(config))) as daemon:
            async with logged_in(daemon) as client:
                # The first run starts with the daemon, and times out after 1 s.
                code, health = await _wait_health(client, "extractors", "failing")
                assert (code, health["status"]) == (200, "degraded")
                problems = (await status_of(client))["problems"]
                assert any("page" in p and "failed" in p for p in problems), problems
                page = (await client.get("/api/extractors")).json()["extractors"][0]
                assert page["error"] == "timed out after 1 s", page

                # The site is back: a refresh lists its stream.
                link = urls["playlist"]
                server.add("/fault/channel", f'<title>x</title><a href="{link}">live</a>')
                assert (await client.post("/api/extract")).status_code == 202
                code, health = await _wait_health(client, "extractors", "ok")
                assert (code, health["status"]) == (200, "ok")
                streams = (await client.get("/api/streams")).json()["streams"]
                assert [s["url"] for s in streams] == [link]
                assert (await status_of(client))["problems"] == []

                # SIGTERM during a run that hangs.
                server.add("/fault/channel", "", delay=FOREVER)
                hits = server.hits["/fault/channel"]
                assert (await client.post("/api/extract")).status_code == 202

                async def asked() -> bool | None:
                    return server.hits["/fault/channel"] > hits or None

                await eventually(asked, "the extractor's request reached the site")
            took = terminate_cleanly(daemon, SIGTERM_BOUND)
    write_figures(
        "extractor-hangs",
        {"fault": "page extractor hangs", "timeout_s": 1, "sigterm_exit_s": round(took, 2)},
    )


# --- the state directory ----------------------------------------------------------------


def _image(tmp_path: Path, megabytes: int = 8) -> Path:
    """An empty ext4 file system in a file, with no blocks kept for root (who we are)."""
    image = tmp_path / "state.img"
    with image.open("wb") as file:
        file.truncate(megabytes << 20)
    subprocess.run(["mkfs.ext4", "-q", "-m", "0", str(image)], check=True, timeout=30)
    return image


def _on_image(image: Path, state_dir: Path) -> tuple[str, ...]:
    """A prefix that runs the daemon in a mount namespace of its own, with ``image``
    mounted on its state directory (as a disk that goes read-only on an error does).
    A filler file left by a fault is removed first."""
    state_dir.mkdir(exist_ok=True)
    script = (
        'mount -o loop,errors=remount-ro "$1" "$2" && rm -f "$2/filler" && shift 2 && exec "$@"'
    )
    return ("unshare", "-m", "sh", "-c", script, "sh", str(image), str(state_dir))


def _in_namespace(daemon: DaemonProcess, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", "-t", str(daemon.process.pid), "-m", *command],
        capture_output=True,
        text=True,
        timeout=30,
    )


def _fill(daemon: DaemonProcess) -> None:
    # dd stops (status 1) when the disk is full: that is the point.
    _in_namespace(daemon, "dd", "if=/dev/zero", f"of={daemon.state_dir}/filler", "bs=4k")


def _make_read_only(daemon: DaemonProcess) -> None:
    """What the kernel does on a disk error with ``errors=remount-ro``: the file
    system turns read-only under the daemon's open files (a plain ``mount -o
    remount,ro`` is refused while files are open for writing)."""
    found = _in_namespace(daemon, "findmnt", "-no", "SOURCE", str(daemon.state_dir))
    device = Path(found.stdout.strip()).name
    assert device.startswith("loop"), found
    Path(f"/sys/fs/ext4/{device}/trigger_fs_error").write_text("tuner reliability test\n")


async def _queue_items(client: httpx.AsyncClient) -> list[str]:
    return [item["query"] for item in (await client.get("/api/queue")).json()["items"]]


def _cannot_mount() -> str | None:
    """Why this machine cannot run the state directory tests, if it cannot."""
    if os.geteuid() != 0:
        return "mounting a file system for the daemon needs root"
    missing = [t for t in ("unshare", "nsenter", "mkfs.ext4", "e2fsck") if not shutil.which(t)]
    if missing:
        return f"missing {', '.join(missing)} (util-linux, e2fsprogs)"
    if not Path("/dev/loop-control").exists():
        return "no loop devices (/dev/loop-control)"
    return None


@pytest.mark.skipif(_cannot_mount() is not None, reason=str(_cannot_mount()))
@pytest.mark.timeout(90)
@pytest.mark.parametrize("fault", ["full", "read-only"])
async def test_state_directory_fault(tmp_path: Path, fault: str) -> None:
    """The state directory's disk is full, or turns read-only: a queue edit answers
    503 with a sentence and changes nothing, /healthz says ``"queue": "full"`` or
    ``"read-only"``, playback goes on; a full disk heals once space is freed, and
    after SIGTERM (and a file system check) a new daemon has every acknowledged item.
    """
    image = _image(tmp_path)
    prefix = _on_image(image, tmp_path / "state")
    first, second, third = (f"https://example.com/{n}.mp4" for n in ("one", "two", "three"))
    reason = {"full": "disk is full", "read-only": "is read-only"}[fault]
    figures: dict[str, Any] = {"fault": f"state directory {fault}"}
    with DaemonProcess.start(tmp_path, prefix=prefix) as daemon:
        async with logged_in(daemon) as client:
            for query in (first, second):
                response = await client.post("/api/queue", json={"query": query})
                assert response.status_code == 201, response.text
            code, health = await health_of(client)
            assert (code, health["components"]["queue"]) == (200, "ok")
            # The cookie secret is written once, at the first start; a daemon that has
            # run for a while has it on the disk (the kernel writes back within 30 s).
            # The queue's own edits must be there without help.
            _in_namespace(daemon, "sync", f"{daemon.state_dir}/secret")

            if fault == "full":
                _fill(daemon)
            else:
                _make_read_only(daemon)
            refused = await client.post("/api/queue", json={"query": third})
            assert refused.status_code == 503, refused.text
            detail = refused.json()["detail"]
            assert reason in detail and "nothing was changed" in detail, detail
            figures["edit_refused_with"] = detail.split(" (")[0]
            assert await _queue_items(client) == [first, second]
            assert (await client.delete("/api/queue")).status_code == 503
            assert await _queue_items(client) == [first, second]
            code, health = await health_of(client)
            assert (code, health["status"], health["components"]["queue"]) == (
                503,
                "unhealthy",
                fault,
            )
            status = await status_of(client)
            assert any(reason in p for p in status["problems"]), status
            queue = (await client.get("/api/queue")).json()
            assert reason in (queue["notice"] or ""), queue
            # The daemon's job goes on: it plays.
            assert (await client.post("/api/play", json={"query": "testcard"})).status_code == 202
            await _wait_state(client, "playing")

            if fault == "full":
                # Space is freed: the queue sees it by itself and edits work again.
                _in_namespace(daemon, "rm", "-f", f"{daemon.state_dir}/filler")
                freed = trio.current_time()
                code, health = await _wait_health(client, "queue", "ok", timeout=10)
                figures["healthy_after_freeing_s"] = round(trio.current_time() - freed, 2)
                assert (code, health["status"]) == (200, "ok")
                response = await client.post("/api/queue", json={"query": third})
                assert response.status_code == 201, response.text
                assert (await status_of(client))["problems"] == []
                _fill(daemon)
                refused = await client.post("/api/queue", json={"query": "testcard"})
                assert refused.status_code == 503
        # SIGTERM while the fault lasts.
        figures["sigterm_exit_s"] = round(terminate_cleanly(daemon, SIGTERM_BOUND), 2)

    # The disk is repaired (the kernel marked the file system as having errors) and
    # tuner starts again on it: nothing it acknowledged is lost.
    subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True, timeout=60)  # noqa: ASYNC221
    expected = [first, second, third] if fault == "full" else [first, second]
    with DaemonProcess.start(tmp_path, prefix=prefix) as daemon:
        async with logged_in(daemon) as client:
            assert await _queue_items(client) == expected
            code, health = await health_of(client)
            assert (code, health["components"]["queue"]) == (200, "ok")
        terminate_cleanly(daemon, SIGTERM_BOUND)
    write_figures(f"state-{fault}", figures)
