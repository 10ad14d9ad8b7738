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
from collections.abc import Sequence

import attrs
import trio

from tuner.core.presets import Preset

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


def testcard_command(ffmpeg: str, preset: Preset, audio_fd: int) -> list[str]:
    """The command that plays the built-in test card: a pattern and a beeping tone.

    Video goes to stdout as raw 8-bit gray frames scaled to the preset's grid; sound
    to ``audio_fd`` as AAC in ADTS. Both inputs are read at their native rate
    (``-re``), so frames arrive at the preset's fps.
    """
    return [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel", "error",
        "-re", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={preset.fps}",
        "-re", "-f", "lavfi", "-i", "sine=frequency=440:beep_factor=4:sample_rate=48000",
        "-map", "0:v",
        "-vf", f"scale={preset.cols}:{preset.rows}:flags=area,format=gray",
        "-f", "rawvideo", "-flush_packets", "1", "pipe:1",
        "-map", "1:a",
        "-c:a", "aac", "-b:a", "96k", "-ac", "2",
        "-f", "adts", "-flush_packets", "1", f"pipe:{audio_fd}",
    ]  # fmt: skip


async def kill_process_group(process: trio.Process) -> None:
    """``deliver_cancel`` for ffmpeg: SIGTERM its group, then SIGKILL after a grace.

    trio runs this shielded and stops it as soon as the process has exited.
    """
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    await trio.sleep(KILL_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


async def run_in_own_group(
    command: Sequence[str],
    *,
    pass_fds: Sequence[int] = (),
    task_status: trio.TaskStatus[trio.Process] = trio.TASK_STATUS_IGNORED,
) -> int:
    """Run a child in its own process group; cancelling this kills the whole group.

    Use with ``nursery.start``: it reports the :class:`trio.Process` (with ``stdout``
    and ``stderr`` pipes that the caller must read) and returns the exit status.
    """
    completed = await trio.run_process(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=tuple(pass_fds),
        start_new_session=True,
        deliver_cancel=kill_process_group,
        check=False,
        task_status=task_status,
    )
    return completed.returncode
