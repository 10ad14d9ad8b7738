"""How long ``tuner serve`` takes to stop on SIGTERM while it plays to a viewer.

Run from the repository root::

    python bench/bench_shutdown.py            # 10 runs
    python bench/bench_shutdown.py --runs 3

Each run starts a fresh daemon (the daemon from ``bench_play.py``: a real subprocess
on loopback), logs in, opens one WebSocket viewer, plays the test card, waits for its
first frame, then sends SIGTERM and measures, from the signal:

close 1001 at viewer
    when the viewer sees the socket closed with code 1001 (going away);
old ffmpeg gone
    when the session's ffmpeg has exited;
daemon exit
    when the daemon process has exited (it must exit 0: a run that does not fails).

The issue's budget is 3 s; the drain the daemon allows open requests is
``drain_seconds`` (1.5 s by default), so a figure near 1.5 s means something held the
drain to its deadline.

To measure another commit (e.g. before a change), run this file from a checkout of
that commit, so that ``python -m tuner`` in the daemon imports that commit::

    git worktree add /tmp/tuner-old COMMIT
    cd /tmp/tuner-old && python /path/to/main/bench/bench_shutdown.py

Results
=======

2026-11-23, this 2-CPU VM (Python 3.11.7, ffmpeg 5.1.9), 10 runs each.
``python bench/bench_shutdown.py`` at 3ceb371::

                           median      p95      min      max  (ms)
    close 1001 at viewer      2.1      2.7      1.8      2.8
    old ffmpeg gone          16.2     22.2     10.7     22.5
    daemon exit              92.2     95.9     79.7     96.1

The same, run from a worktree of 659d619, before the keep-alive and websocket-ping
fixes (``tuner/web/keepalive.py``, ``KEEPALIVE_SECONDS`` in ``tuner/web/viewer_routes.py``)::

    close 1001 at viewer      2.1      2.6      1.7      2.7
    old ffmpeg gone          18.1     20.3     11.3     20.4
    daemon exit            1581.4   1590.7   1575.7   1594.1

The viewer is told and ffmpeg is gone within ~20 ms either way; before the fixes the
drain then waited out its 1.5 s deadline for connections Hypercorn never closed.
Most of what remains is the interpreter and trio unwinding.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import trio
from bench_play import Daemon, login, machine, play, running_daemon, table
from trio_websocket import ConnectionClosed, open_websocket_url

from tuner.core.control import decode_control
from tuner.play.ffmpeg import find_ffmpeg

TIMEOUT = 15.0


async def one_run(daemon: Daemon) -> tuple[float, float, float]:
    """Seconds from SIGTERM to: the viewer's close, ffmpeg's exit, the daemon's exit."""
    async with httpx.AsyncClient(base_url=daemon.url, timeout=TIMEOUT) as client:
        cookie = await login(client)
        async with open_websocket_url(
            daemon.ws_url + "/ws/video", extra_headers=[(b"Cookie", cookie.encode())]
        ) as ws:
            session_id = await play(client)
            hello: dict[str, Any] = {}
            with trio.fail_after(TIMEOUT):
                while True:  # up to the first frame of that session
                    message = await ws.get_message()
                    if isinstance(message, str):
                        hello = decode_control(message)
                    elif hello.get("session_id") == session_id:
                        break
            (ffmpeg,) = daemon.ffmpegs()
            sent = time.perf_counter()
            daemon.popen.send_signal(signal.SIGTERM)
            try:
                with trio.fail_after(TIMEOUT):
                    while True:
                        await ws.get_message()
            except ConnectionClosed as closed:
                code = closed.reason.code if closed.reason else None
                if code != 1001:
                    raise RuntimeError(f"closed with {code}, not 1001") from None
                closed_at = time.perf_counter()
    ffmpeg_gone = await _wait(lambda: not ffmpeg.is_running() or _zombie(ffmpeg))
    exited = await _wait(lambda: daemon.popen.poll() is not None)
    if daemon.popen.returncode != 0:
        raise RuntimeError(f"the daemon exited {daemon.popen.returncode}")
    return closed_at - sent, ffmpeg_gone - sent, exited - sent


def _zombie(process: psutil.Process) -> bool:
    try:
        return bool(process.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


async def _wait(done: Callable[[], bool]) -> float:
    with trio.fail_after(TIMEOUT):
        while not done():
            await trio.sleep(0.0005)
    return time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10, help="runs (default 10)")
    args = parser.parse_args()
    print(machine(find_ffmpeg(None).path), flush=True)
    figures: list[tuple[float, float, float]] = []
    for _ in range(args.runs):
        with (
            tempfile.TemporaryDirectory(prefix="tuner-bench-") as tmp,
            running_daemon(Path(tmp)) as daemon,
        ):
            figures.append(trio.run(one_run, daemon))
    names = ("close 1001 at viewer", "old ffmpeg gone", "daemon exit")
    print(table([(name, [run[i] for run in figures]) for i, name in enumerate(names)]))
    print(f"{args.runs} runs; the budget is 3 s", file=sys.stderr)


if __name__ == "__main__":
    main()
