"""Finding ffmpeg, building its command lines, and running it so that it never outlives
its session.

ffmpeg runs in a process group of its own (``start_new_session``): cancelling its
task signals the whole group, SIGTERM and then, after a short grace, SIGKILL. That is
the difference from ``trio.run_process``'s default, which kills only the direct child
and only after 5 s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence

import attrs
import trio

#: How long ffmpeg gets to exit on SIGTERM before its group gets SIGKILL.
KILL_GRACE_SECONDS = 0.5


class ToolNotFoundError(RuntimeError):
    """ffmpeg (or ffprobe) is nowhere to be found; the message says how to fix it."""


@attrs.frozen
class Tool:
    """An executable and where it was found (``config``, ``PATH`` or ``imageio-ffmpeg``)."""

    path: str
    origin: str


def find_ffmpeg(configured: str | None) -> Tool:
    """Find ffmpeg: the configured path, else ``PATH``, else imageio-ffmpeg's binary.

    Raises:
        ToolNotFoundError: the configured path is not executable, or none was found.
    """
    if configured:
        return _configured_tool("ffmpeg", configured)
    on_path = shutil.which("ffmpeg")
    if on_path:
        return Tool(on_path, "PATH")
    try:
        import imageio_ffmpeg

        return Tool(imageio_ffmpeg.get_ffmpeg_exe(), "imageio-ffmpeg")
    except (ImportError, RuntimeError):
        pass
    raise ToolNotFoundError(
        "ffmpeg not found: install it (apt install ffmpeg, brew install ffmpeg), "
        "pip install imageio-ffmpeg, or set ffmpeg = '/path/to/ffmpeg' in the config"
    )


def find_ffprobe(configured: str | None) -> Tool:
    """Find ffprobe (used by ``tuner doctor`` and the tests, not for playback).

    Raises:
        ToolNotFoundError: not configured and not on ``PATH``.
    """
    if configured:
        return _configured_tool("ffprobe", configured)
    on_path = shutil.which("ffprobe")
    if on_path:
        return Tool(on_path, "PATH")
    raise ToolNotFoundError(
        "ffprobe not found (optional for playback): install ffmpeg's full package "
        "(apt install ffmpeg, brew install ffmpeg)"
    )


def _configured_tool(name: str, configured: str) -> Tool:
    path = shutil.which(configured)
    if path is None:
        raise ToolNotFoundError(
            f"{name} = {configured!r} in the config is not an executable file; "
            f"fix the path or remove the setting to search PATH"
        )
    return Tool(path, "config")


def parse_version(output: str) -> str:
    """The version from the first line of ``ffmpeg -version`` (``5.1.9-0+deb12u1``)."""
    words = output.split()
    if len(words) >= 3 and words[1] == "version":
        return words[2]
    return output.splitlines()[0] if output else "unknown"


def version_sync(tool: Tool) -> str:
    """Run ``tool -version`` (blocking; for the CLI)."""
    done = subprocess.run(
        [tool.path, "-version"], capture_output=True, text=True, timeout=15, check=True
    )
    return parse_version(done.stdout)


async def version(tool: Tool) -> str:
    """Run ``tool -version`` without blocking the event loop."""
    with trio.fail_after(15):
        done = await trio.run_process(
            [tool.path, "-version"], capture_stdout=True, capture_stderr=True
        )
    return parse_version(done.stdout.decode(errors="replace"))


async def kill_process_group(process: trio.Process) -> None:
    """``deliver_cancel`` for ffmpeg: SIGTERM its group, then SIGKILL after a grace.

    trio runs this shielded and stops it as soon as the process has exited.
    """
    try:
        os.killpg(process.pid, signal.SIGTERM)
        # A stopped process (SIGSTOP, a stalled ffmpeg) only acts on SIGTERM once it
        # runs again.
        os.killpg(process.pid, signal.SIGCONT)
    except ProcessLookupError:
        return
    await trio.sleep(KILL_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


async def run_in_own_group(
    command: Sequence[str],
    *,
    pass_fds: Sequence[int] = (),
    stdin: int = subprocess.DEVNULL,
    stderr: int | None = subprocess.PIPE,
    env: Mapping[str, str] | None = None,
    task_status: trio.TaskStatus[trio.Process] = trio.TASK_STATUS_IGNORED,
) -> int:
    """Run a child in its own process group; cancelling this kills the whole group.

    Use with ``nursery.start``: it reports the :class:`trio.Process` (with a
    ``stdout`` pipe, and the ``stdin``/``stderr`` pipes asked for, which the caller
    must use and close) and returns the exit status.
    """
    completed = await trio.run_process(
        list(command),
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=stderr,
        pass_fds=tuple(pass_fds),
        env=env,
        start_new_session=True,
        deliver_cancel=kill_process_group,
        check=False,
        task_status=task_status,
    )
    return completed.returncode
