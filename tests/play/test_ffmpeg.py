"""Finding ffmpeg and reading its version (running it is ``tests/test_procs.py``'s)."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from tuner.play.ffmpeg import Tool, ToolNotFoundError, find_ffmpeg, parse_version, version


def _script(tmp_path: Path, text: str) -> str:
    path = tmp_path / "fake-ffmpeg.sh"
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_find_ffmpeg_prefers_config_then_path_then_imageio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _script(tmp_path, "#!/bin/sh\n")
    assert find_ffmpeg(fake).origin == "config"
    with pytest.raises(ToolNotFoundError, match="not an executable file"):
        find_ffmpeg(str(tmp_path / "missing"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_ffmpeg(None).origin == "imageio-ffmpeg"
    (tmp_path / "ffmpeg").symlink_to(fake)
    assert find_ffmpeg(None).origin == "PATH"


def test_parse_version() -> None:
    assert parse_version("ffmpeg version 5.1.9-0+deb12u1 Copyright (c)") == "5.1.9-0+deb12u1"
    assert parse_version("weird") == "weird"
    assert parse_version("") == "unknown"


async def test_version_runs_ffmpeg_and_says_when_it_fails(tmp_path: Path) -> None:
    assert (await version(find_ffmpeg(None)))[0].isdigit()
    broken = Tool(_script(tmp_path, "#!/bin/sh\necho 'no such library' >&2\nexit 1\n"), "config")
    with pytest.raises(subprocess.CalledProcessError):
        await version(broken)
