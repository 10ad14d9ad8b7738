"""Finding ffmpeg (and ffprobe), and asking for its version.

Its command lines are built in :mod:`tuner.play.command`; it runs, like every child of
the daemon, through :mod:`tuner.procs`.
"""

from __future__ import annotations

import shutil
import subprocess

import attrs
import trio

from tuner.procs import run_captured


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
    """Run ``tool -version`` without blocking the event loop.

    Raises:
        OSError: it cannot be started.
        subprocess.CalledProcessError: it exited with an error.
    """
    with trio.fail_after(15):
        done = await run_captured([tool.path, "-version"])
    done.check_returncode()
    return parse_version(done.stdout.decode(errors="replace"))
