"""Finding ffmpeg, and killing a whole process group on cancel."""

from __future__ import annotations

import os
import stat
from functools import partial
from pathlib import Path

import psutil
import pytest
import trio

from tuner.play.ffmpeg import (
    KILL_GRACE_SECONDS,
    ToolNotFoundError,
    find_ffmpeg,
    parse_version,
    run_in_own_group,
)

# A stand-in for a stuck ffmpeg: ignores SIGTERM and has a child of its own.
STUBBORN = """#!/bin/sh
trap '' TERM
sleep 300 &
echo "$!" >&2
while :; do sleep 0.05; done
"""


def _script(tmp_path: Path, text: str) -> str:
    path = tmp_path / "stubborn.sh"
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def test_cancel_kills_the_whole_group_even_if_sigterm_is_ignored(tmp_path: Path) -> None:
    command = [_script(tmp_path, STUBBORN)]
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            process = await nursery.start(partial(run_in_own_group, command))
            grandchild_pid = int((await process.stderr.receive_some(100)).split()[0])
            assert os.getpgid(process.pid) == process.pid, "not in its own group"
            assert os.getpgid(grandchild_pid) == process.pid
            started = trio.current_time()
            scope.cancel()
    took = trio.current_time() - started
    assert process.returncode == -9
    assert KILL_GRACE_SECONDS <= took < KILL_GRACE_SECONDS + 2
    with trio.fail_after(2):
        while psutil.pid_exists(grandchild_pid) and (
            psutil.Process(grandchild_pid).status() != psutil.STATUS_ZOMBIE
        ):
            await trio.sleep(0.01)
    await process.stderr.aclose()
    await process.stdout.aclose()


async def test_a_polite_child_exits_on_sigterm_without_waiting_for_the_grace() -> None:
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            process = await nursery.start(partial(run_in_own_group, ["sleep", "30"]))
            started = trio.current_time()
            scope.cancel()
    assert process.returncode == -15
    assert trio.current_time() - started < KILL_GRACE_SECONDS
    await process.stderr.aclose()
    await process.stdout.aclose()


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
