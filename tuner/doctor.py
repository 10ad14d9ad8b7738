"""``tuner doctor``: what tuner would use, and what is wrong, each with its fix."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

import attrs

from tuner import __version__
from tuner.config import ConfigError, Settings, default_config_file
from tuner.credentials import PIN_ENV
from tuner.play.ffmpeg import Tool, ToolNotFoundError, find_ffmpeg, find_ffprobe, version_sync


@attrs.define
class Report:
    """Lines to show, and the problems (fatal) and warnings (degraded) found."""

    lines: list[tuple[str, str]] = attrs.Factory(list)
    problems: list[str] = attrs.Factory(list)
    warnings: list[str] = attrs.Factory(list)

    def add(self, label: str, value: str) -> None:
        """One ``label: value`` line."""
        self.lines.append((label, value))

    def write(self, out: TextIO) -> None:
        """Print the report."""
        width = max(len(label) for label, _ in self.lines)
        for label, value in self.lines:
            out.write(f"{label + ':':<{width + 1}} {value}\n")
        for heading, items in (("problems", self.problems), ("warnings", self.warnings)):
            if items:
                out.write(f"\n{heading}:\n")
                out.writelines(f"  - {item}\n" for item in items)
        if not self.problems:
            out.write("\nready to serve\n")


def _tool_line(
    report: Report,
    name: str,
    find: Callable[[str | None], Tool],
    configured: str | None,
    *,
    required: bool,
) -> None:
    try:
        tool = find(configured)
    except ToolNotFoundError as exc:
        report.add(name, "not found")
        (report.problems if required else report.warnings).append(str(exc))
        return
    try:
        found = version_sync(tool)
    except (OSError, subprocess.SubprocessError) as exc:
        report.add(name, f"{tool.path} does not run")
        report.problems.append(f"{name} at {tool.path} fails to run ({exc}): reinstall it")
        return
    report.add(name, f"{found} at {tool.path} (from {tool.origin})")


def diagnose(
    settings: Settings | None, config_error: str | None, environ: Mapping[str, str]
) -> Report:
    """Check everything ``tuner serve`` needs, without starting it."""
    report = Report()
    report.add(
        "tuner", f"{__version__} on Python {platform.python_version()} ({platform.system()})"
    )
    if config_error is not None or settings is None:
        report.add("config", "invalid")
        report.problems.append(f"config error: {config_error}")
        return report
    report.add(
        "config file",
        str(settings.config_file)
        if settings.config_file
        else f"none (would read {default_config_file()})",
    )
    _state_dir_line(report, settings.state_dir)
    if environ.get(PIN_ENV):
        report.add("PIN", f"from {PIN_ENV}")
    elif settings.pin_file:
        report.add("PIN", f"from {settings.pin_file}")
    elif (settings.state_dir / "pin").exists():
        report.add("PIN", f"from {settings.state_dir / 'pin'}")
    else:
        report.add("PIN", "none yet: tuner serve makes one on first start and prints it")
    report.add("listen", f"{settings.host}:{settings.port}")
    _tool_line(report, "ffmpeg", find_ffmpeg, settings.ffmpeg, required=True)
    _tool_line(report, "ffprobe", find_ffprobe, settings.ffprobe, required=False)
    try:
        from yt_dlp.version import __version__ as ytdlp_version

        report.add("yt-dlp", ytdlp_version)
    except ImportError:
        report.add("yt-dlp", "not installed")
        report.problems.append("yt-dlp is missing: pip install yt-dlp")
    deno = shutil.which("deno")
    if deno:
        report.add("JavaScript runtime", f"deno at {deno}")
    else:
        report.add("JavaScript runtime", "none (deno not on PATH)")
        report.warnings.append(
            "full YouTube support needs yt-dlp's JavaScript runtime: install deno "
            "(https://deno.com, or 'brew install deno') and put it on PATH"
        )
    return report


def _state_dir_line(report: Report, state_dir: Path) -> None:
    if state_dir.is_dir():
        writable = os.access(state_dir, os.W_OK)
        report.add("state dir", f"{state_dir} ({'writable' if writable else 'NOT writable'})")
        if not writable:
            report.problems.append(f"state dir {state_dir} is not writable: fix its owner")
        return
    parent = next((p for p in state_dir.parents if p.exists()), None)
    report.add("state dir", f"{state_dir} (made on first start)")
    if parent is not None and not os.access(parent, os.W_OK):
        report.problems.append(
            f"state dir {state_dir} cannot be created ({parent} is not writable): "
            "choose another with --state-dir"
        )


def run_doctor(settings: Settings | None, config_error: ConfigError | None, out: TextIO) -> int:
    """Print the report; 0 when tuner can serve, 1 when something must be fixed."""
    report = diagnose(settings, str(config_error) if config_error else None, os.environ)
    report.write(out)
    return 1 if report.problems else 0
