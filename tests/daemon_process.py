"""Run ``tuner serve`` as a real subprocess, the way systemd or a person runs it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import attrs
import psutil

_SERVING = re.compile(r"serving on (https?://\S+)")
STARTUP_TIMEOUT = 30.0


@attrs.define
class DaemonProcess:
    """A ``tuner serve`` child process and what it printed."""

    process: subprocess.Popen[str]
    base_url: str
    pin: str
    state_dir: Path
    output: list[str]

    @classmethod
    @contextmanager
    def start(
        cls,
        tmp_path: Path,
        pin: str = "2468",
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        prefix: tuple[str, ...] = (),
    ) -> Iterator[DaemonProcess]:
        """Start ``python -m tuner serve --port 0`` with its state in ``tmp_path``.

        ``prefix`` runs it through another command that ends by exec-ing it (so the
        daemon keeps that process's id), e.g. ``unshare`` to give it a mount of its own.

        On leaving the block the daemon gets SIGTERM (if still running) and is
        waited for; it is killed if it does not exit within 10 s.
        """
        state_dir = tmp_path / "state"
        # The caller's own TUNER_* settings (a developer's shell) must not leak in.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
        full_env = {
            **inherited,
            "TUNER_PIN": pin,
            "TUNER_LOG_LEVEL": "info",
            # The media servers of tests and benchmarks are on loopback (see settings_for).
            "TUNER_FETCH_ALLOW": "127.0.0.1",
            **(env or {}),
        }
        if "NOTIFY_SOCKET" not in (env or {}):
            full_env.pop("NOTIFY_SOCKET", None)  # the test runner's own, if any
        process = subprocess.Popen(
            [
                *prefix,
                sys.executable,
                "-m",
                "tuner",
                "serve",
                "--port",
                "0",
                "--state-dir",
                str(state_dir),
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        output: list[str] = []
        found = threading.Event()
        url: list[str] = []

        def pump() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                output.append(line.rstrip("\n"))
                match = _SERVING.search(line)
                if match and not found.is_set():
                    url.append(match.group(1))
                    found.set()
            found.set()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            if not found.wait(STARTUP_TIMEOUT) or not url:
                raise RuntimeError("tuner serve did not start:\n" + "\n".join(output))
            yield cls(process, url[0], pin, state_dir, output)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            reader.join(5)

    def log(self) -> str:
        """What the daemon has logged so far."""
        return "\n".join(self.output)

    def children(self) -> list[psutil.Process]:
        """The daemon's live descendants (its ffmpeg processes)."""
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def terminate_and_wait(self, timeout: float) -> tuple[int, float]:
        """SIGTERM the daemon; returns its exit status and how long it took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout)
        return status, time.monotonic() - started
