"""Fixtures that run the real daemon in this process, on a loopback port."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path

import attrs
import httpx
import psutil
import pytest
import trio

from tests.conftest import Media
from tests.media import live_hls_command
from tuner.client import LIMITS
from tuner.config import Settings
from tuner.credentials import Pin, ensure_state_dir
from tuner.daemon import Serving, serve
from tuner.procs import run_in_own_group
from tuner.web.auth import COOKIE_NAME

PIN = "2468"


@attrs.define
class RunningDaemon:
    """The daemon under test, and how to reach it."""

    serving: Serving
    shutdown: trio.Event
    stopped: trio.Event
    state_dir: Path

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.serving.url

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT``."""
        return "ws" + self.url.removeprefix("http")

    def client(self) -> httpx.AsyncClient:
        """A fresh HTTP client (no cookie)."""
        return httpx.AsyncClient(base_url=self.url, timeout=10, limits=LIMITS)

    async def login(self, client: httpx.AsyncClient) -> str:
        """Log ``client`` in with the PIN; returns the cookie header value."""
        response = await client.post("/api/login", json={"pin": PIN})
        assert response.status_code == 204, response.text
        return f"{COOKIE_NAME}={client.cookies[COOKIE_NAME]}"


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for a test daemon: loopback, any port, state in ``tmp_path``.

    The tests' media servers are on loopback, which the egress proxy refuses by
    default: ``fetch_allow`` opens 127.0.0.1 (tests of the guard itself pass their own).
    """
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "state_dir": tmp_path / "state",
        "drain_seconds": 1.0,
        "fetch_allow": ("127.0.0.1",),
    }
    values.update(overrides)
    settings = Settings(**values)  # type: ignore[arg-type]
    ensure_state_dir(settings.state_dir)
    return settings


async def start_daemon(nursery: trio.Nursery, settings: Settings) -> RunningDaemon:
    """Start :func:`tuner.daemon.serve` in ``nursery``; it stops when ``shutdown`` is set."""
    shutdown, stopped = trio.Event(), trio.Event()

    async def run(task_status: trio.TaskStatus[Serving]) -> None:
        try:
            await serve(settings, Pin(PIN, "test"), shutdown, task_status=task_status)
        finally:
            stopped.set()

    serving = await nursery.start(run)
    return RunningDaemon(serving, shutdown, stopped, settings.state_dir)


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[RunningDaemon]:
    """A running daemon, shut down (gracefully) after the test."""
    async with trio.open_nursery() as nursery:
        running = await start_daemon(nursery, settings_for(tmp_path))
        yield running
        running.shutdown.set()
        with trio.fail_after(10):
            await running.stopped.wait()


@pytest.fixture
async def realtime_daemon(tmp_path: Path) -> AsyncIterator[RunningDaemon]:
    """A running daemon with no lead (``lead_seconds = 0``): frames leave at their time."""
    async with trio.open_nursery() as nursery:
        running = await start_daemon(nursery, settings_for(tmp_path, lead_seconds=0))
        yield running
        running.shutdown.set()
        with trio.fail_after(10):
            await running.stopped.wait()


@pytest.fixture
async def live_hls(media: Media, ffmpeg: str) -> AsyncIterator[str]:
    """A live HLS stream that ffmpeg makes in real time while the test runs; its URL."""
    directory = media.directory / f"live-{os.getpid()}-{time.monotonic_ns()}"
    directory.mkdir()
    playlist = directory / "stream.m3u8"
    async with trio.open_nursery() as nursery:
        process = await nursery.start(
            partial(run_in_own_group, live_hls_command(ffmpeg, directory), stderr=None)
        )
        # Let the playlist fill a little: a live client starts a few segments back.
        with trio.fail_after(20):
            while not playlist.exists() or playlist.read_text().count("#EXTINF") < 3:
                await trio.sleep(0.1)
        yield f"{media.url}/{directory.name}/stream.m3u8"
        nursery.cancel_scope.cancel()
    assert process.stdout is not None
    await process.stdout.aclose()


def _children() -> list[psutil.Process]:
    return psutil.Process().children(recursive=True)


@pytest.fixture(autouse=True)
def no_leaked_processes() -> Iterator[None]:
    """Fail the test if a child process (an ffmpeg) or a file descriptor outlives it."""
    before = {p.pid for p in _children()}
    fds_before = len(os.listdir("/dev/fd"))
    yield
    deadline = time.monotonic() + 5
    while True:
        leaked = []
        for process in _children():
            try:
                if process.pid not in before and process.status() != psutil.STATUS_ZOMBIE:
                    leaked.append(process)
            except psutil.NoSuchProcess:
                pass
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"child processes left behind: {[p.cmdline()[:3] for p in leaked]}"
    # A little slack: httpx keeps pools until collected, trio keeps its wakeup fds.
    assert len(os.listdir("/dev/fd")) <= fds_before + 4, "file descriptors leaked"
