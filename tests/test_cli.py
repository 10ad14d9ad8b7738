"""``tuner --version`` and ``tuner doctor``, as a person runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tuner import __version__


def _tuner(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tuner", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_version() -> None:
    done = _tuner("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"tuner {__version__}")


def test_doctor_reports_the_tools_and_is_happy_here(tmp_path: Path) -> None:
    done = _tuner("doctor", env={"TUNER_STATE_DIR": str(tmp_path / "s"), "TUNER_PIN": "1234"})
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "ffmpeg:" in out and "(from PATH)" in out
    assert "ffprobe:" in out
    assert "yt-dlp:" in out
    assert "JavaScript runtime:" in out
    assert "PIN:" in out and "1234" not in out, "doctor must never print the PIN"
    assert out.rstrip().endswith("ready to serve")


def test_doctor_names_the_problem_and_its_fix(tmp_path: Path) -> None:
    missing = tmp_path / "no-ffmpeg"
    done = _tuner("doctor", env={"TUNER_FFMPEG": str(missing), "TUNER_STATE_DIR": str(tmp_path)})
    assert done.returncode == 1
    assert "problems:" in done.stdout
    assert f"ffmpeg = '{missing}' in the config is not an executable file" in done.stdout


def test_doctor_reports_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("port = 'x'\n")
    done = _tuner("doctor", "--config", str(config))
    assert done.returncode == 1
    assert "config error" in done.stdout and "port must be a whole number" in done.stdout


def test_serve_without_a_command_is_a_usage_error() -> None:
    done = _tuner()
    assert done.returncode == 2
    assert "COMMAND" in done.stderr
