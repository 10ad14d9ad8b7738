"""``tuner queue add|list|remove|clear``: the up-next queue of a running daemon.

It talks to the daemon over loopback HTTP, as the web client does (through
:mod:`tuner.client`): it logs in with the PIN (``TUNER_PIN``, else the ``pin_file``
setting's file, else ``pin`` in the state directory, as ``tuner serve`` finds it) and
uses ``/api/queue``. ``--follow`` shows each preparation's progress until it is over.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import httpx

from tuner.client import CommandError, run_logged_in
from tuner.client import call as _call

#: How often ``--follow`` asks the daemon.
FOLLOW_INTERVAL = 0.5
#: States of a job that is still at work.
_WORKING = ("pending", "resolving", "downloading")


__all__ = ["CommandError", "add_parser", "describe", "run"]


def add_parser(commands: Any) -> None:
    """Add ``queue`` and its subcommands to the ``tuner`` parser's subcommands."""
    queue = commands.add_parser("queue", help="the up-next queue of a running daemon")
    queue.add_argument("--url", help="the daemon's address (default: from the config)")
    queue.add_argument("--config", type=Path, help="TOML config file")
    actions = queue.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="queue a URL, a YouTube video ID or words to search")
    add.add_argument("query")
    add.add_argument("--position", type=int, help="where (0 plays next; default: the end)")
    add.add_argument("--follow", action="store_true", help="show its preparation until done")
    listing = actions.add_parser("list", help="show the queue")
    listing.add_argument("--follow", action="store_true", help="show progress until done")
    remove = actions.add_parser("remove", help="take items out of the queue")
    remove.add_argument("ids", nargs="+", metavar="ID")
    actions.add_parser("clear", help="empty the queue")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run a ``tuner queue`` command; returns the exit status (1 on an error)."""
    out = out or sys.stdout
    return run_logged_in(
        args.config, args.url, lambda client: _ACTIONS[args.action](client, args, out)
    )


def _add(client: httpx.Client, args: argparse.Namespace, out: TextIO) -> int:
    body: dict[str, Any] = {"query": args.query}
    if args.position is not None:
        body["position"] = args.position
    item = _call(client, "POST", "/api/queue", json=body)
    print(f"queued {item['id']}: {item['title']}", file=out)
    if args.follow:
        _follow(client, out, lambda items: [i for i in items if i["id"] == item["id"]])
    return 0


def _list(client: httpx.Client, args: argparse.Namespace, out: TextIO) -> int:
    queue = _call(client, "GET", "/api/queue")
    if args.follow:
        _follow(client, out, lambda items: items)
        queue = _call(client, "GET", "/api/queue")
    if queue.get("notice"):
        print(f"note: {queue['notice']}", file=out)
    if not queue["items"]:
        print("the queue is empty", file=out)
    for number, item in enumerate(queue["items"], 1):
        print(f"{number:>2}. {item['id']}  {describe(item):<40}  {item['title']}", file=out)
    upcoming = queue.get("next")
    print(f"autoplay {'on' if queue['autoplay'] else 'off'}; next: {upcoming or '-'}", file=out)
    return 0


def _remove(client: httpx.Client, args: argparse.Namespace, out: TextIO) -> int:
    for item_id in args.ids:
        _call(client, "DELETE", f"/api/queue/{item_id}")
        print(f"removed {item_id}", file=out)
    return 0


def _clear(client: httpx.Client, args: argparse.Namespace, out: TextIO) -> int:
    _call(client, "DELETE", "/api/queue")
    print("the queue is empty", file=out)
    return 0


_ACTIONS: dict[str, Callable[[httpx.Client, argparse.Namespace, TextIO], int]] = {
    "add": _add,
    "list": _list,
    "remove": _remove,
    "clear": _clear,
}


def describe(item: dict[str, Any]) -> str:
    """An item's job in a few words: ``downloading 42% of 3.8 MB at 1.2 MB/s``."""
    state = item["state"]
    if state == "downloading" and item.get("progress"):
        progress = item["progress"]
        words = ["downloading"]
        if progress.get("percent") is not None:
            words.append(f"{progress['percent']:.0f}%")
        total = progress.get("total_bytes")
        words.append(f"of {total / 1e6:.1f} MB" if total else f"{progress['bytes'] / 1e6:.1f} MB")
        if progress.get("speed"):
            words.append(f"at {progress['speed'] / 1e6:.1f} MB/s")
        return " ".join(words)
    if state == "ready":
        return "ready (downloaded)" if item.get("cached") else "ready"
    if state == "failed":
        return f"failed: {item.get('error')}"
    return str(state)


def _follow(
    client: httpx.Client,
    out: TextIO,
    watched: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
) -> None:
    """Print each watched item's state when it changes, until none is at work."""
    shown: dict[str, str] = {}
    while True:
        items = watched(_call(client, "GET", "/api/queue")["items"])
        for item in items:
            line = describe(item)
            if shown.get(item["id"]) != line:
                shown[item["id"]] = line
                note = f" ({item['note']})" if item.get("note") else ""
                print(f"{item['id']}  {line}{note}", file=out, flush=True)
        if not any(i["state"] in _WORKING for i in items):
            return
        time.sleep(FOLLOW_INTERVAL)
