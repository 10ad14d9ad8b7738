"""``tuner serve`` as a real process: systemd notification, signals, exit status."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
import trio

from tests.daemon_process import DaemonProcess
from tests.integration.helpers import close_code, next_control, open_viewer
from tuner.client import LIMITS
from tuner.web.auth import COOKIE_NAME


def _notify_socket(tmp_path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(10)
    return sock


def _messages(sock: socket.socket, until: str, timeout: float = 10) -> list[str]:
    """Datagrams received until one contains ``until``."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            break
        if until in got[-1]:
            return got
    raise AssertionError(f"no {until!r} among {got}")


def test_ready_watchdog_and_stopping_reach_systemd(tmp_path: Path) -> None:
    with _notify_socket(tmp_path) as notify:
        env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "400000"}
        with DaemonProcess.start(tmp_path, env=env) as daemon:
            ready = _messages(notify, "READY=1")
            assert f"STATUS=serving on {daemon.base_url}" in ready[-1]
            # WATCHDOG_USEC=0.4 s: pings every 0.2 s while the supervisor lives.
            pings = 0
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                pings += _messages(notify, "WATCHDOG=1", timeout=1)[-1] == "WATCHDOG=1"
            assert pings >= 4
            # What plays shows in `systemctl status`.
            login = httpx.post(daemon.base_url + "/api/login", json={"pin": daemon.pin})
            httpx.post(
                daemon.base_url + "/api/play", json={"query": "testcard"}, cookies=login.cookies
            )
            _messages(notify, "STATUS=resolving 'testcard'")
            _messages(notify, "STATUS=playing Test card (live) at low 24 fps, mono")
            daemon.process.send_signal(signal.SIGTERM)
            assert "STOPPING=1" in _messages(notify, "STOPPING=1")[-1]
            assert daemon.process.wait(5) == 0


def test_a_dead_notify_socket_does_not_stop_the_daemon(tmp_path: Path) -> None:
    env = {"NOTIFY_SOCKET": str(tmp_path / "nobody-listens.sock"), "WATCHDOG_USEC": "200000"}
    with DaemonProcess.start(tmp_path, env=env) as daemon:
        time.sleep(0.5)
        assert httpx.get(daemon.base_url + "/healthz").status_code == 200
        status, _ = daemon.terminate_and_wait(5)
        assert status == 0
    assert any("cannot notify systemd" in line for line in daemon.output)


async def _play_and_watch(daemon: DaemonProcess) -> tuple[list[psutil.Process], int | None, float]:
    async with httpx.AsyncClient(base_url=daemon.base_url, limits=LIMITS) as client:
        assert (await client.post("/api/login", json={"pin": daemon.pin})).status_code == 204
        cookie = f"{COOKIE_NAME}={client.cookies[COOKIE_NAME]}"
        async with open_viewer(daemon.base_url, cookie) as ws:
            await client.post("/api/play", json={"query": "testcard"})
            await next_control(ws, "hello")
            await ws.get_message()
            ffmpegs = [p for p in daemon.children() if "ffmpeg" in p.name()]
            started = time.monotonic()
            daemon.process.send_signal(signal.SIGTERM)
            code = await close_code(ws)
            with trio.fail_after(5):
                while daemon.process.poll() is None:
                    await trio.sleep(0.01)
            return ffmpegs, code, time.monotonic() - started


def test_sigterm_while_playing_exits_0_fast_and_kills_ffmpeg(tmp_path: Path) -> None:
    with DaemonProcess.start(tmp_path) as daemon:
        ffmpegs, close_code, took = trio.run(_play_and_watch, daemon)
        assert len(ffmpegs) == 1
        assert daemon.process.returncode == 0, "\n".join(daemon.output)
        assert took < 3.0, f"took {took:.2f} s to exit"
        assert close_code == 1001
        time.sleep(0.1)
        assert not ffmpegs[0].is_running() or ffmpegs[0].status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--port", "http"], {}, "--port: port must be a whole number from 0 to 65535"),
        (["--port", "70000"], {}, "--port: port must be a whole number from 0 to 65535"),
        ([], {"TUNER_PIN": "12"}, "TUNER_PIN: must be 4 to 12 digits"),
        (
            [],
            {"TUNER_DEFAULT_PRESET": "huge"},
            "TUNER_DEFAULT_PRESET: default_preset must be one of",
        ),
        (
            ["--config", "/nonexistent/tuner.toml"],
            {},
            "/nonexistent/tuner.toml: config file not found",
        ),
    ],
)
def test_bad_configuration_exits_2_with_the_reason(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tuner", "serve", "--state-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TUNER_PIN": "2468", **env},
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_port_in_use_exits_2_and_says_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tuner",
                "serve",
                "--port",
                str(port),
                "--state-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TUNER_PIN": "2468"},
            timeout=30,
        )
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "choose another with --port" in done.stderr
    assert "Traceback" not in done.stderr


def test_first_start_makes_and_prints_a_pin_once(tmp_path: Path) -> None:
    env = {"TUNER_PIN": ""}
    with DaemonProcess.start(tmp_path, env=env) as daemon:
        pass
    pin_file = daemon.state_dir / "pin"
    pin = pin_file.read_text().strip()
    assert pin.isdigit() and len(pin) == 6
    assert pin_file.stat().st_mode & 0o777 == 0o600
    assert any(pin in line for line in daemon.output)
    with DaemonProcess.start(tmp_path, env=env) as again:
        pass
    assert pin_file.read_text().strip() == pin
    assert not any(pin in line for line in again.output), "the PIN is printed only once"


def test_kill_9_of_the_daemon_leaves_no_ffmpeg_behind(tmp_path: Path) -> None:
    """Even without a chance to clean up, ffmpeg dies: its pipes break."""
    with DaemonProcess.start(tmp_path) as daemon:
        login = httpx.post(daemon.base_url + "/api/login", json={"pin": daemon.pin})
        httpx.post(daemon.base_url + "/api/play", json={"query": "testcard"}, cookies=login.cookies)
        deadline = time.monotonic() + 10
        while not (ffmpegs := [p for p in daemon.children() if "ffmpeg" in p.name()]):
            assert time.monotonic() < deadline, "ffmpeg did not start"
            time.sleep(0.05)
        daemon.process.kill()
        daemon.process.wait(5)
        _, alive = psutil.wait_procs(ffmpegs, timeout=5)
        assert not alive, f"ffmpeg outlived a killed daemon: {alive}"
