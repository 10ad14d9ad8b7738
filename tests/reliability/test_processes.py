"""The daemon's child processes: no secret on their command lines, and none outlives
the daemon.

- Any local user can read every process's command line (``/proc/PID/cmdline``). The
  egress proxy's password must never be there, in any child: the playback ffmpeg, a
  resolve worker and the ffmpeg it probes with, a download worker, a live probe. Each
  must still reach the proxy with it (from its environment).
- A daemon killed with SIGKILL has no chance to clean up: its children must die
  anyway, even stopped (SIGSTOP), the yt-dlp worker as well as ffmpeg.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
import trio

from tests.conftest import Media
from tests.daemon_process import DaemonProcess
from tests.integration.conftest import settings_for, start_daemon
from tests.integration.helpers import wait_for_state
from tests.loopback import serve_loopback
from tests.media import throttled_server
from tests.reliability.conftest import command_of, descendants, eventually, exited
from tuner.config import ExtractSettings, QueueSettings, YoutubeLiveSettings
from tuner.egress_proxy import EgressProxy, Request
from tuner.web.auth import COOKIE_NAME

Command = tuple[str, ...]


class RecordingProxy(EgressProxy):
    """The daemon's egress proxy, noting the name of each user that logged in to it."""

    running: list[RecordingProxy] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.users: set[str] = set()
        RecordingProxy.running.append(self)

    def _authorized(self, request: Request) -> str:
        user = super()._authorized(request)
        self.users.add(user)
        return user


class Sampler:
    """Every command line that this process's descendants had, read from ``/proc``
    every 10 ms."""

    def __init__(self) -> None:
        self.seen: dict[int, set[Command]] = {}

    async def run(self) -> None:
        while True:
            for child in psutil.Process().children(recursive=True):
                try:
                    command = tuple(child.cmdline())
                except (psutil.NoSuchProcess, psutil.ZombieProcess):
                    continue
                if command:
                    self.seen.setdefault(child.pid, set()).add(command)
            await trio.sleep(0.01)

    def commands(self) -> list[Command]:
        return [command for commands in self.seen.values() for command in commands]

    async def wait_for(self, what: str, match: Callable[[Command], bool]) -> int:
        """The pid of a child whose command line matches (once one appears)."""

        async def found() -> int | None:
            return next(
                (pid for pid, cmds in self.seen.items() if any(match(c) for c in cmds)), None
            )

        return await eventually(found, what, timeout=45, every=0.01)


def _ffmpeg(command: Command) -> bool:
    return os.path.basename(command[0]).startswith("ffmpeg")


@pytest.fixture
async def sampler() -> AsyncIterator[Sampler]:
    sampler = Sampler()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sampler.run)
        yield sampler
        nursery.cancel_scope.cancel()


async def test_no_child_has_the_proxy_password_on_its_command_line(
    tmp_path: Path, media: Media, sampler: Sampler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tuner.daemon.EgressProxy", RecordingProxy)
    async with serve_loopback() as channels:
        # A channel page that answers late: its probe is seen at work.
        channels.add("/channel/live", "<html>not live</html>", delay=2.0)
        youtube_live = YoutubeLiveSettings(enabled=True, channels=(channels.url("/channel"),))
        settings = settings_for(
            tmp_path,
            queue=QueueSettings(per_source_delay_seconds=0),
            extract=ExtractSettings(per_source_delay_seconds=0, youtube_live=youtube_live),
        )
        # Slow at first: the resolve worker's probe of the media is seen at work.
        with throttled_server(media.directory, 50_000) as site:
            async with trio.open_nursery() as nursery:
                daemon = await start_daemon(nursery, settings)
                proxy = RecordingProxy.running[-1]
                async with daemon.client() as client:
                    await daemon.login(client)
                    password = await _play_resolve_download_and_probe(
                        client, site.url_of, site.set_rate, sampler
                    )
                    await client.post("/api/stop")
                daemon.shutdown.set()
                with trio.fail_after(10):
                    await daemon.stopped.wait()

    commands = sampler.commands()
    assert len(password) >= 16
    leaked = [command for command in commands if any(password in arg for arg in command)]
    assert not leaked, f"the proxy's password on a command line: {leaked}"
    # Each of them went through the proxy, with the password from its environment.
    assert {"download", "extract"} <= proxy.users, proxy.users
    assert any(user.startswith("session-") for user in proxy.users), proxy.users
    assert any(user.startswith("resolve-") for user in proxy.users), proxy.users
    print(f"\n{len(commands)} command lines of {len(sampler.seen)} children read, none leaks")


async def _play_resolve_download_and_probe(
    client: httpx.AsyncClient,
    url_of: Callable[[str], str],
    set_rate: Callable[[int], None],
    sampler: Sampler,
) -> str:
    """Drive each kind of child; returns the proxy's password, read from the playback
    ffmpeg's environment."""
    await sampler.wait_for("the warm resolve worker", lambda c: "tuner.ytdlp.resolve" in c)
    response = await client.post("/api/play", json={"query": url_of("bars.mp4")})
    assert response.status_code == 202, response.text
    await sampler.wait_for("the resolve worker's probe", lambda c: _ffmpeg(c) and "pipe:1" not in c)
    set_rate(20_000_000)
    await wait_for_state(client, "playing", timeout=45)
    await sampler.wait_for("the playback ffmpeg", lambda c: _ffmpeg(c) and "pipe:1" in c)

    async def proxy_of_playback() -> str | None:
        for child in psutil.Process().children(recursive=True):
            try:
                if "pipe:1" in child.cmdline():
                    return str(child.environ()["http_proxy"])
            except psutil.NoSuchProcess:
                pass
        return None

    proxy = await eventually(proxy_of_playback, "the playback ffmpeg's environment")
    password = urlsplit(proxy).password
    assert password, proxy

    queued = await client.post("/api/queue", json={"query": url_of("noaudio.mp4")})
    assert queued.status_code == 201, queued.text
    await sampler.wait_for("a download worker", lambda c: "tuner.ytdlp.download" in c)

    async def downloaded() -> bool | None:
        items = (await client.get("/api/queue")).json()["items"]
        return items[0]["state"] == "ready" or None

    await eventually(downloaded, "the download done", timeout=45)

    assert (await client.post("/api/extract")).status_code == 202
    await sampler.wait_for("a live probe worker", lambda c: "tuner.ytdlp.live_probe" in c)
    return password


def test_a_killed_daemon_takes_its_stopped_children_with_it(tmp_path: Path) -> None:
    """SIGSTOP the playing ffmpeg and the warm yt-dlp worker, SIGKILL the daemon: no
    process of the daemon's is left a few seconds later."""
    with DaemonProcess.start(tmp_path) as daemon:
        login = httpx.post(daemon.base_url + "/api/login", json={"pin": daemon.pin})
        cookies = {COOKIE_NAME: login.cookies[COOKIE_NAME]}
        httpx.post(daemon.base_url + "/api/play", json={"query": "testcard"}, cookies=cookies)
        deadline = time.monotonic() + 30
        while True:
            children = descendants(daemon)
            ffmpegs = [p for p in children if "pipe:1" in command_of(p)]
            workers = [p for p in children if "tuner.ytdlp.resolve" in command_of(p)]
            if ffmpegs and workers:
                break
            assert time.monotonic() < deadline, f"not started: {children}"
            time.sleep(0.05)
        stopped = [ffmpegs[0], workers[0]]
        for process in stopped:
            process.send_signal(signal.SIGSTOP)
        for process in stopped:
            while process.status() != psutil.STATUS_STOPPED:
                assert time.monotonic() < deadline, f"not stopped: {process}"
                time.sleep(0.01)
        started = time.monotonic()
        daemon.process.kill()
        daemon.process.wait(5)
        try:
            while (left := [p for p in children if not exited(p)]) and (
                time.monotonic() < started + 5
            ):
                time.sleep(0.01)
            assert not left, f"outlived the killed daemon: {[command_of(p)[:3] for p in left]}"
        finally:
            for process in children:  # what a failure left, stopped for ever
                if not exited(process):
                    process.kill()
        took = time.monotonic() - started
        print(f"\n{len(children)} children gone {took:.3f} s after SIGKILL")
