"""``tuner play``, ``tuner stop`` and ``tuner status``: drive a running daemon.

They reach the daemon as ``tuner queue`` does (:mod:`tuner.client`): its address from
the config (``--url`` for another), a login with the configured PIN, the API's errors
as one sentence on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import httpx

from tuner.client import call, run_logged_in
from tuner.core.presets import PRESETS, Mode

__all__ = ["add_parsers", "describe_status", "run"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="the daemon's address (default: from the config)")
    parser.add_argument("--config", type=Path, help="TOML config file")


def add_parsers(commands: Any) -> None:
    """Add ``play``, ``stop`` and ``status`` to the ``tuner`` parser's subcommands."""
    play = commands.add_parser(
        "play", help="play a URL, a YouTube video ID, words to search, or testcard"
    )
    play.add_argument("query")
    play.add_argument("--preset", choices=list(PRESETS), help="grid size and frame rate")
    play.add_argument("--mode", choices=[m.value for m in Mode], help="how cells are drawn")
    _common(play)
    stop = commands.add_parser("stop", help="stop what plays")
    _common(stop)
    status = commands.add_parser("status", help="what plays now")
    status.add_argument("--json", action="store_true", help="the daemon's status as JSON")
    _common(status)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``tuner play``, ``stop`` or ``status``; returns the exit status (1 on an error)."""
    out = out or sys.stdout
    return run_logged_in(
        args.config, args.url, lambda client: _ACTIONS[args.command](client, args, out)
    )


def _stop(client: httpx.Client, args: argparse.Namespace, out: TextIO) -> int:
    call(client, "POST", "/api/stop")
    print("stopped", file=out)
    return 0


def _status(client: httpx.Client, args: argparse.Namespace, out: TextIO) -> int:
    status = call(client, "GET", "/api/status")
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True), file=out)
    else:
        print(describe_status(status), file=out)
    return 0


def _play(client: httpx.Client, args: argparse.Namespace, out: TextIO) -> int:
    body: dict[str, Any] = {"query": args.query}
    if args.preset:
        body["preset"] = args.preset
    if args.mode:
        body["mode"] = args.mode
    started = call(client, "POST", "/api/play", json=body)
    print(f"playing {args.query} (session {started['session_id']}, {started['state']})", file=out)
    return 0


def describe_status(status: dict[str, Any]) -> str:
    """``GET /api/status`` for a person: a few lines, the state first."""
    state = status.get("state", "?")
    if state == "idle":
        lines = ["idle: nothing plays"]
    else:
        title = status.get("title") or status.get("query") or "?"
        live = " (live)" if status.get("is_live") else ""
        lines = [f"{state}: {title}{live}"]
        preset, mode = status.get("preset"), status.get("mode")
        quality = f"{preset}/{mode} at {status.get('fps')} fps"
        chosen = status.get("chosen_preset")
        if chosen and chosen != preset:
            quality += f" (asked for {chosen}; stepped down to keep up)"
        lines.append(quality)
        duration = status.get("duration")
        if duration:
            lines.append(f"duration {int(duration) // 60}:{int(duration) % 60:02d}")
        lines.append(f"session {status.get('session_id')}")
    if status.get("error"):
        lines.append(f"error: {status['error']}")
    lines.extend(f"problem: {problem}" for problem in status.get("problems") or [])
    return "\n".join(lines)


_ACTIONS: dict[str, Callable[[httpx.Client, argparse.Namespace, TextIO], int]] = {
    "play": _play,
    "stop": _stop,
    "status": _status,
}
