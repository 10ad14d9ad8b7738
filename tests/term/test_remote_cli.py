"""``tuner play``, ``stop`` and ``status`` against a real ``tuner serve``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.daemon_process import DaemonProcess
from tests.integration.helpers import live_ffmpegs
from tuner.cli import main
from tuner.client import CommandError, LoginError, call

DEADLINE = 20.0


@pytest.fixture(scope="module")
def running_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """One ``tuner serve`` for the tests of this module (each leaves it idle)."""
    with DaemonProcess.start(tmp_path_factory.mktemp("daemon")) as running:
        yield running


@pytest.fixture
def daemon(
    running_daemon: DaemonProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> DaemonProcess:
    """The daemon; the commands find its PIN in the environment, and nothing else."""
    for name in list(os.environ):
        if name.startswith("TUNER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TUNER_PIN", running_daemon.pin)
    monkeypatch.setenv("TUNER_STATE_DIR", str(tmp_path / "client-state"))
    return running_daemon


def _tuner(
    daemon: DaemonProcess, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    status = main([*args, "--url", daemon.base_url])
    out, err = capsys.readouterr()
    return status, out, err


def _wait_for_state(
    daemon: DaemonProcess, capsys: pytest.CaptureFixture[str], state: str
) -> dict[str, object]:
    deadline = time.monotonic() + DEADLINE
    while True:
        status, out, err = _tuner(daemon, capsys, "status", "--json")
        assert status == 0, err
        answer: dict[str, object] = json.loads(out)
        if answer["state"] == state:
            return answer
        assert time.monotonic() < deadline, f"still {answer['state']}: {daemon.log()}"
        time.sleep(0.1)


def test_play_status_and_stop(daemon: DaemonProcess, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _tuner(daemon, capsys, "status")
    assert (status, out) == (0, "idle: nothing plays\n")

    status, out, _ = _tuner(
        daemon, capsys, "play", "testcard", "--preset", "med", "--mode", "blocks"
    )
    assert status == 0 and out.startswith("playing testcard (session ")
    playing = _wait_for_state(daemon, capsys, "playing")
    assert (playing["title"], playing["preset"], playing["mode"]) == ("Test card", "med", "blocks")
    status, out, _ = _tuner(daemon, capsys, "status")
    lines = out.splitlines()
    assert lines[0] == "playing: Test card (live)"
    assert lines[1] == "med/blocks at 30 fps"
    assert lines[2] == f"session {playing['session_id']}"

    status, out, _ = _tuner(daemon, capsys, "stop")
    assert (status, out) == (0, "stopped\n")
    _wait_for_state(daemon, capsys, "idle")
    # Each command logged in and out again: none leaves a login behind.
    saved = json.loads((daemon.state_dir / "logins.json").read_text())
    assert saved["logins"] == []
    deadline = time.monotonic() + 10
    while live_ffmpegs():
        assert time.monotonic() < deadline, "ffmpeg outlived the stop"
        time.sleep(0.05)


def test_errors_are_one_sentence_and_exit_status_1(
    daemon: DaemonProcess, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server's own sentence for a query it cannot take.
    status, out, err = _tuner(daemon, capsys, "play", "   ")
    assert status == 1 and out == ""
    assert err.startswith("tuner: POST /api/play failed (HTTP 400): bad request: 'query'")

    # A preset that does not exist is refused before the daemon is asked.
    with pytest.raises(SystemExit) as usage:
        main(["play", "testcard", "--preset", "huge"])
    assert usage.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err

    monkeypatch.setenv("TUNER_PIN", "97531")
    status, _, err = _tuner(daemon, capsys, "status")
    assert status == 1
    assert err == (
        "tuner: the daemon refused the PIN (HTTP 401: wrong PIN): check TUNER_PIN, "
        "pin_file or the state directory's pin\n"
    )

    monkeypatch.delenv("TUNER_PIN")
    status, _, err = _tuner(daemon, capsys, "stop")
    assert status == 1 and err.startswith("tuner: no PIN found: set TUNER_PIN")


def test_no_daemon_running(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with socket.socket() as unused:  # a loopback port that nothing listens on
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}"
    done = subprocess.run(
        [sys.executable, "-m", "tuner", "status", "--url", url],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TUNER_PIN": "2468", "TUNER_STATE_DIR": str(tmp_path)},
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"tuner: no daemon answers at {url}")
    assert "is tuner serve running?" in done.stderr


def test_a_lockout_says_how_long_to_wait() -> None:
    def locked(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            headers={"Retry-After": "17"},
            json={"error": "too many wrong PINs", "detail": "try again in 17 s"},
        )

    with httpx.Client(base_url="http://d", transport=httpx.MockTransport(locked)) as client:
        with pytest.raises(LoginError) as refused:
            call(client, "POST", "/api/login", json={"pin": "1234"})
        assert str(refused.value) == (
            "too many wrong PINs: the daemon refuses logins for 17 s (HTTP 429); try again then"
        )
        # Elsewhere a 429 is the server's sentence, as any error.
        with pytest.raises(CommandError) as other:
            call(client, "GET", "/api/status")
        assert str(other.value) == (
            "GET /api/status failed (HTTP 429): too many wrong PINs: try again in 17 s"
        )
