"""Shared pieces of the load and fault tests.

Rules every test here follows, beyond those of ``tests/conftest.py``:

- The daemon is a real ``tuner serve`` subprocess (:class:`tests.daemon_process.DaemonProcess`),
  so the test's own clients never run on the daemon's event loop.
- Faults are real: signals to the daemon's real ffmpeg, a real file system that is
  full or read-only (a loop-mounted ext4 image in a mount namespace of the daemon's
  own), real sockets that never answer.
- Waits poll a condition against a deadline; bounds are generous, and the figures
  (printed with ``-s``, and written to ``test-artifacts/reliability-*.json``) carry
  the speed.
- Nothing leaks: no child process of the test outlives it, nor a file descriptor.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import trio

from tests.daemon_process import DaemonProcess
from tests.integration.conftest import daemon, no_leaked_processes
from tests.integration.helpers import running_with
from tuner.client import LIMITS

__all__ = ["daemon", "no_leaked_processes"]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
T = TypeVar("T")


def write_figures(name: str, figures: dict[str, Any]) -> None:
    """Print a test's figures and keep them in ``test-artifacts/reliability-<name>.json``,
    with the machine's load average beside them."""
    figures = {**figures, "load_average": [round(x, 2) for x in os.getloadavg()]}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"reliability-{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nreliability figures, {name}: {json.dumps(figures, indent=2)}")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = 20, every: float = 0.05
) -> T:
    """Poll ``probe`` until it returns something (not ``None``); fail after ``timeout``."""
    with trio.move_on_after(timeout):
        while True:
            result = await probe()
            if result is not None:
                return result
            await trio.sleep(every)
    raise AssertionError(f"not within {timeout} s: {what}")


@asynccontextmanager
async def logged_in(daemon: DaemonProcess, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of ``daemon`` with its session cookie, for the block."""
    async with httpx.AsyncClient(
        base_url=daemon.base_url, timeout=20, limits=LIMITS, **kwargs
    ) as client:
        response = await client.post("/api/login", json={"pin": daemon.pin})
        assert response.status_code == 204, response.text
        yield client


def descendants(daemon: DaemonProcess) -> list[psutil.Process]:
    """The daemon's live descendants, zombies left out."""
    alive = []
    for child in daemon.children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.NoSuchProcess:
            pass
    return alive


def command_of(process: psutil.Process) -> list[str]:
    """A process's command line, or ``[]`` once it has exited (a race to expect)."""
    try:
        return process.cmdline()
    except psutil.NoSuchProcess:
        return []


def playback_ffmpegs(daemon: DaemonProcess) -> list[psutil.Process]:
    """The daemon's playback ffmpegs (writing frames to ``pipe:1``)."""
    return running_with("pipe:1", psutil.Process(daemon.process.pid))


def terminate_cleanly(daemon: DaemonProcess, bound: float = 5.0) -> float:
    """SIGTERM the daemon: it must exit 0 within ``bound`` seconds, leaving none of
    its descendants behind. Returns how long it took."""
    before = descendants(daemon)
    status, took = daemon.terminate_and_wait(bound + 10)
    assert status == 0, f"exit status {status}:\n{daemon.log()[-3000:]}"
    assert took < bound, f"SIGTERM took {took:.1f} s"
    deadline = time.monotonic() + 3
    left = before
    while left and time.monotonic() < deadline:
        left = [p for p in left if not exited(p)]
        time.sleep(0.05)
    assert not left, f"left behind: {[command_of(p)[:3] for p in left]}"
    return took


def exited(process: psutil.Process) -> bool:
    """Whether a process is gone (or a zombie: exited, not yet reaped)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def status_of(client: httpx.AsyncClient) -> dict[str, Any]:
    """``/api/status``, which must answer 200."""
    response = await client.get("/api/status")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def health_of(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    """``/healthz``'s status code and body."""
    response = await client.get("/healthz")
    return response.status_code, response.json()
