"""Memory: the daemon's RSS over minutes of ``ultra`` colour with 3 viewers at a lead
of 10 s; how much it grows after the first minute.

Run from the repository root::

    python bench/bench_memory.py                         # 10 minutes (issue 17's run)
    python bench/bench_memory.py --minutes 2 --warmup 30  # a short run

A real ``tuner serve`` daemon (``lead_seconds = 10``) plays the test card (endless, and
read ahead like a file) at the ``ultra`` preset (240x100, 30 fps) in ``color``. Three
protocol clients each hold what a page holds, a ``/ws/video`` socket and an
``/audio?session=&listener=`` stream, and read both as fast as they come. The
daemon's own resident set (``psutil``, the ``tuner serve`` process, not its ffmpeg) is
sampled every 5 s.

The figure: RSS at the end minus RSS at the end of the warm-up (``--warmup``, default
60 s: caches, the first timeline filling up to its lead and its 10 s behind), and the
highest sample after the warm-up minus that. Also printed: the frames a second each
viewer got (it must keep up for the figure to mean anything; over a short run the
lead's burst puts it above the preset's 30).

Goal (issue 17): grows < 20 MB after the first minute.

Results
=======

After merging ``timeline`` at 76230d2, load average 11 (other work), a short run,
``python bench/bench_memory.py --minutes 3``::

    daemon RSS, ultra color, 3 viewers (video + audio), lead 10 s:
      0 s 71.7, 15 s 74.9, 30 s 75.7, 45 s 76.1, 60 s 76.1, ... 165 s 76.3, 180 s 76.4 (MB)
      at 60 s 76.1 MB; at the end (180 s) 76.4 MB; highest after the warm-up 76.4 MB
      frames a second each viewer got: 31.4, 31.4, 31.4
    growth after the warm-up: +0.3 MB (highest +0.3 MB); goal < 20 MB: met

(before the merge, ``--minutes 1 --warmup 20``: +0.2 MB.) The full 10 minutes has not
been run yet.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import trio
from trio_websocket import open_websocket_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pagekit import PIN, daemon_at_lead, machine, verdict
from tuner.web.auth import COOKIE_NAME

VIEWERS = 3
SAMPLE_S = 5.0
GOAL_MB = 20.0


async def viewer(base_url: str, cookie: str, session_id: str, counts: list[int], i: int) -> None:
    """One viewer: a video socket and an audio stream, read as fast as they come."""
    ws_url = "ws" + base_url.removeprefix("http") + "/ws/video"
    token = secrets.token_hex(6)

    async def audio() -> None:
        async with (
            httpx.AsyncClient(base_url=base_url, headers={"Cookie": cookie}, timeout=None) as c,
            c.stream("GET", "/audio", params={"session": session_id, "listener": token}) as s,
        ):
            async for _ in s.aiter_raw():
                pass

    async with (
        open_websocket_url(ws_url, extra_headers=[("Cookie", cookie)]) as ws,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(audio)
        while True:
            message = await ws.get_message()
            if isinstance(message, bytes):
                counts[i] += 1


async def measure(
    base_url: str, pid: int, seconds: float
) -> tuple[list[tuple[float, int]], list[int]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        assert (await client.post("/api/login", json={"pin": PIN})).status_code == 204
        cookie = f"{COOKIE_NAME}={client.cookies[COOKIE_NAME]}"
        body = {"query": "testcard", "preset": "ultra", "mode": "color"}
        played = await client.post("/api/play", json=body)
        assert played.status_code == 202, played.text
        session_id = played.json()["session_id"]
        counts = [0] * VIEWERS
        samples: list[tuple[float, int]] = []
        process = psutil.Process(pid)
        async with trio.open_nursery() as nursery:
            for i in range(VIEWERS):
                nursery.start_soon(viewer, base_url, cookie, session_id, counts, i)
            start = trio.current_time()
            while (elapsed := trio.current_time() - start) < seconds:
                samples.append((elapsed, process.memory_info().rss))
                await trio.sleep(SAMPLE_S)
            samples.append((trio.current_time() - start, process.memory_info().rss))
            status = (await client.get("/api/status")).json()
            nursery.cancel_scope.cancel()
        await client.post("/api/stop")
    if status.get("session_id") != session_id or status.get("preset") != "ultra":
        print(f"  note: at the end the status says {status.get('preset')} / {status.get('state')}")
    return samples, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=10, help="how long (default 10)")
    parser.add_argument("--warmup", type=float, default=60, help="seconds not counted (60)")
    parser.add_argument("--lead", type=float, default=10, help="lead_seconds (default 10)")
    args = parser.parse_args()
    seconds = args.minutes * 60
    if seconds <= args.warmup + SAMPLE_S:
        parser.error("--minutes must be longer than the warm-up")
    started = time.monotonic()
    print(machine(), flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="tuner-bench-memory-") as tmp,
        daemon_at_lead(Path(tmp), args.lead) as daemon,
    ):
        samples, counts = trio.run(measure, daemon.base_url, daemon.process.pid, seconds)
    mb = 1024 * 1024
    after = [(t, rss) for t, rss in samples if t >= args.warmup]
    base_t, base = after[0]
    end_t, end = samples[-1]
    highest = max(rss for _, rss in after)
    print(f"daemon RSS, ultra color, {VIEWERS} viewers (video + audio), lead {args.lead:g} s:")
    step = max(1, len(samples) // 12)
    print("  " + ", ".join(f"{t:.0f} s {rss / mb:.1f}" for t, rss in samples[::step]) + " (MB)")
    print(
        f"  at {base_t:.0f} s {base / mb:.1f} MB; at the end ({end_t:.0f} s) {end / mb:.1f} MB; "
        f"highest after the warm-up {highest / mb:.1f} MB"
    )
    fps = ", ".join(f"{c / end_t:.1f}" for c in counts)
    print(f"  frames a second each viewer got: {fps}")
    growth = (end - base) / mb
    print(
        f"growth after the warm-up: {growth:+.1f} MB (highest {(highest - base) / mb:+.1f} MB); "
        f"goal < {GOAL_MB:g} MB: {verdict(max(growth, (highest - base) / mb) < GOAL_MB)}"
    )
    print(f"(benchmark took {time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
