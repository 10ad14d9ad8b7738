"""What the egress proxy costs: time to first frame, and CPU, with and without it.

Run from the repository root::

    python bench/bench_egress.py             # 15 runs of each
    python bench/bench_egress.py --runs 5    # quicker

Every fetch of a playback goes through the egress proxy (:mod:`tuner.egress_proxy`): yt-dlp
resolving the URL, ``ffmpeg -i`` probing it, and the session's ffmpeg reading it. The
daemon has no switch to turn the proxy off, so this benchmark takes the two parts of
a play's time to first frame that fetch, in this process, once through a proxy and
once directly, alternating (so that drift on the machine affects both alike):

resolve
    :class:`tuner.play.resolver.Resolver` resolving the test suite's 4 s 720p
    H.264/AAC clip, served by ``python -m http.server`` on loopback, under a fresh
    query string each run (no cache): a yt-dlp worker process (the warm spare) runs
    the generic extractor, then ``ffmpeg -i`` probes the streams. One resolver goes
    through a running :class:`~tuner.egress_proxy.EgressProxy` (``fetch_allow =
    ["127.0.0.1"]``), the other fetches directly. Each waits for its next spare
    before a run, so no run pays for importing yt-dlp.

ffmpeg first frame
    The session's ffmpeg command for the resolved source (``source_command``, the
    ``low`` preset, mono), with and without the proxy: from spawn to the first
    whole raw frame on its stdout.

first frame path
    The sum of both, run by run: what a person waits for beyond the daemon's own
    work (which the proxy does not change).

proxy CPU
    The CPU time this process (which runs the proxy, and nothing else while ffmpeg
    plays) spends while the session's ffmpeg plays the whole clip at its native rate
    (``-re``) through the proxy, per second of video; and the same directly, the
    baseline (the benchmark's own waiting).

Results
=======

2026-11-23, ``python bench/bench_egress.py --runs 15`` on the 2-CPU VM, at a quiet
moment (the machine is shared with other test runs), clip 3.83 MB (7.66 Mbit/s)::

    load average before: 0.82, 2.06, 2.92 (after: 0.49, 1.58, 2.65)
                                         median      min      max  (ms)
    resolve: direct                       281.1    202.4    405.1
    ffmpeg first frame: direct            293.5    255.8    311.9
    first frame path: direct              562.8    505.6    700.6
    resolve: proxy                        289.3    197.7    357.6
    ffmpeg first frame: proxy             280.6    234.7    316.2
    first frame path: proxy               574.8    442.1    669.9
    CPU ms per s of video: direct          15.9     12.2     17.0
    CPU ms per s of video: proxy           21.5     17.7     24.6
    ratio proxy / direct, of the medians:
      resolve              1.029 (+8.3 ms)
      ffmpeg first frame   0.956 (-12.9 ms)
      first frame path     1.021 (+12.1 ms)

    two earlier runs, under load from other test runs:
      load 4.45, 4.71, 4.06: first frame path 613.6 direct, 615.8 proxy (ratio 1.004);
        CPU ms per s of video 15.9 direct, 21.3 proxy
      load 1.71, 2.98, 3.48: first frame path 783.5 direct, 907.4 proxy (ratio 1.158,
        one proxied resolution of 3199 ms in a load spike); ffmpeg first frame
        344.3 / 372.6 ms; CPU 12.9 / 19.1

What it says:

* On the way to the first frame the proxy is lost in the noise of a shared machine:
  +12 ms (2%) in the quiet run, +2 ms and +124 ms (a load spike) in the others.
  ffmpeg pays one extra loopback round trip per request (it sends the proxy's
  password only after a 407; ``-auth_type basic`` does not change that for a proxy:
  tried, it fails);
  ``ffmpeg -i URL -frames:v 1`` by hand, three runs each way, took 137-160 ms
  through the proxy and 142-211 ms directly.
* Copying the stream costs the proxy 5-6 ms of CPU per second of a 7.7 Mbit/s
  video (the difference of the two CPU rows; the direct row is this script reading
  ffmpeg's pipes). The daemon fetches at most 480p, typically 1-2 Mbit/s: less
  still. ``bench_cpu.py``, re-run with the proxy in the daemon, puts ``mono`` at
  ``low`` at 63 ms a second (70 before), the same within its noise.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.media import CLIPS, http_server, make_clip
from tuner.core.egress import Policy
from tuner.core.modes import MODE_SPECS
from tuner.core.presets import PRESETS, Mode
from tuner.core.query import parse_query
from tuner.core.source import Source
from tuner.egress_proxy import EgressProxy, child_environment
from tuner.play.command import source_command
from tuner.play.ffmpeg import Tool, find_ffmpeg, version_sync
from tuner.play.resolver import Resolver

PRESET = PRESETS["low"]
MODE = Mode.MONO
STEP_TIMEOUT = 60.0
#: A resolver refills its spare worker after each resolution; this is more than enough.
SPARE_READY_SECONDS = 2.0


async def first_frame(ffmpeg: str, source: Source, proxy: str | None, *, whole: bool) -> float:
    """Seconds from spawning the session's ffmpeg to its first frame (or, ``whole``,
    to the end of its video)."""
    read_fd, write_fd = os.pipe()
    command = source_command(ffmpeg, source, PRESET, MODE, write_fd, proxy=proxy)
    try:
        started = time.perf_counter()
        process = await trio.lowlevel.open_process(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            pass_fds=(write_fd,),
            start_new_session=True,
            env=child_environment(proxy) if proxy else None,
        )
    finally:
        os.close(write_fd)
    audio = trio.lowlevel.FdStream(read_fd)
    try:
        assert process.stdout is not None
        size = MODE_SPECS[MODE].frame_bytes(PRESET.cols, PRESET.rows)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_drain, audio)
            with trio.fail_after(STEP_TIMEOUT):
                got = 0
                while whole or got < size:
                    chunk = await process.stdout.receive_some(1 << 16)
                    if not chunk:
                        break
                    got += len(chunk)
            elapsed = time.perf_counter() - started
            if got < size:
                raise RuntimeError("ffmpeg ended before its first frame")
            nursery.cancel_scope.cancel()
        return elapsed
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()
        await audio.aclose()


async def _drain(stream: trio.abc.ReceiveStream) -> None:
    while await stream.receive_some(1 << 16):
        pass


async def measure(ffmpeg: str, clip_url: str, runs: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {}
    proxy = EgressProxy(Policy.from_entries(["127.0.0.1"]))

    def make_resolver(egress: EgressProxy | None) -> Resolver:
        return Resolver(
            max_height=480, timeout=20.0, ffmpeg=ffmpeg, cache_dir=None, cache_seconds=0,
            egress=egress,
        )  # fmt: skip

    resolvers = {
        "direct": (make_resolver(None), None),
        "proxy": (make_resolver(proxy), proxy.url("bench")),
    }
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(proxy.run)
            for resolver, _ in resolvers.values():
                await nursery.start(resolver.run)
            for run in range(runs + 1):  # the first is a warm-up
                for name, (resolver, proxy_url) in resolvers.items():
                    await trio.sleep(SPARE_READY_SECONDS)
                    query = parse_query(f"{clip_url}?run={run}-{name}")
                    started = time.perf_counter()
                    source = await resolver.resolve(query)
                    resolved = time.perf_counter() - started
                    frame = await first_frame(ffmpeg, source, proxy_url, whole=False)
                    if run:
                        figures.setdefault(f"resolve: {name}", []).append(resolved)
                        figures.setdefault(f"ffmpeg first frame: {name}", []).append(frame)
                        figures.setdefault(f"first frame path: {name}", []).append(resolved + frame)
                print(".", end="", flush=True)
            # CPU: the whole clip at its native rate, three times each way.
            for _ in range(3):
                for name, (_resolver, proxy_url) in resolvers.items():
                    cpu = time.process_time()
                    took = await first_frame(ffmpeg, source, proxy_url, whole=True)
                    spent = time.process_time() - cpu
                    seconds = CLIPS["clip720.mp4"].seconds
                    figures.setdefault(f"CPU ms per s of video: {name}", []).append(
                        1000 * spent / seconds
                    )
                    figures.setdefault(f"whole clip at -re: {name}", []).append(took)
            print(f" (proxy: {proxy.connections} connections)")
            nursery.cancel_scope.cancel()
    finally:
        proxy.close()
    return figures


def report(figures: dict[str, list[float]]) -> str:
    lines = [f"{'':34}{'median':>9}{'min':>9}{'max':>9}  (ms)"]
    for name, values in figures.items():
        scale = 1 if name.startswith("CPU") else 1000
        row = [statistics.median(values), min(values), max(values)]
        lines.append(f"{name:34}" + "".join(f"{scale * v:9.1f}" for v in row))
    lines.append("ratio proxy / direct, of the medians:")
    for part in ("resolve", "ffmpeg first frame", "first frame path"):
        proxied = statistics.median(figures[f"{part}: proxy"])
        direct = statistics.median(figures[f"{part}: direct"])
        lines.append(f"  {part:20} {proxied / direct:.3f} ({1000 * (proxied - direct):+.1f} ms)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="runs of each (default 15)")
    args = parser.parse_args()
    ffmpeg = find_ffmpeg(None).path
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"{len(os.sched_getaffinity(0))} CPUs, Python {platform.python_version()}, "
        f"ffmpeg {version_sync(Tool(ffmpeg, 'benchmark'))}\nload average before: {load}"
    )
    with tempfile.TemporaryDirectory(prefix="tuner-bench-media-") as media:
        clip = make_clip(ffmpeg, CLIPS["clip720.mp4"], Path(media))
        megabits = clip.stat().st_size * 8 / 1e6 / CLIPS["clip720.mp4"].seconds
        print(f"clip: {clip.stat().st_size / 1e6:.2f} MB, {megabits:.2f} Mbit/s")
        with http_server(Path(media)) as base:
            figures = trio.run(measure, ffmpeg, f"{base}/clip720.mp4", args.runs)
    print(f"{args.runs} runs each")
    print(report(figures))
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average after: {load}")


if __name__ == "__main__":
    main()
