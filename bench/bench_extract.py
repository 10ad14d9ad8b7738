"""How long one extractor run takes beside hanging extractors, and whether the poller's
memory stays flat over many runs.

Run from the repository root (about 30 s)::

    python bench/bench_extract.py               # 5 fan-out runs, 10,000 poller runs
    python bench/bench_extract.py --quick       # 2 and 2,000

fan-out: a run of 50 extractors, 2 of them hanging
    48 fake extractors answer after a random latency (uniform 0.1 to 2.0 s, on the real
    clock), 2 never answer; each has a 3 s timeout. The run's wall time (perf_counter
    around ``run_extractors``) is set next to what it should be: the hanging ones end
    at their timeout, so the run should last max(slowest healthy latency, timeout),
    and no more. The ratio is wall time / that bound: 1.00 means the hanging ones cost
    exactly their timeout and nothing else. Also shown: wall time / (slowest healthy
    latency + timeout), the bound a run would have if the hanging extractors' timeout
    only started after the others (a sequential run would take the sum of them all).
    "late" is the worst delay of a healthy extractor's outcome beyond its own latency:
    whether the hanging ones (or the 49 other tasks) delayed it.

poller memory over 10,000 runs
    A poller with 10 fake extractors (each run: new titles, so the cache is replaced;
    one fails every third run, so results go stale and fresh again), a schedule of
    events that switches it between live and idle, publishing ``streams`` and
    ``extractors`` to an event hub. On trio's autojump MockClock, so 10,000 runs of
    simulated time pass in seconds. After run 1,000, 5,000 and 10,000 (and a
    ``gc.collect()``) the interpreter's allocated memory blocks are counted
    (``sys.getallocatedblocks()``: every live object's block, exact and cheap, where
    tracemalloc made the run 5x slower): flat means a handful of blocks (counters
    growing past small ints), not something kept per run.

Last results (2 shared cores, Python 3.11, trio 0.35)::

    fan-out, 48 healthy + 2 hanging extractors, timeout 3 s:
      wall 3.004 s  slowest healthy 1.967 s  bound 3.000 s  ratio 1.001  late <= 3.6 ms
      wall 3.004 s  slowest healthy 1.964 s  bound 3.000 s  ratio 1.001  late <= 1.5 ms
      wall 3.002 s  slowest healthy 1.955 s  bound 3.000 s  ratio 1.001  late <= 1.8 ms
      wall 3.004 s  slowest healthy 1.986 s  bound 3.000 s  ratio 1.001  late <= 2.6 ms
      wall 3.008 s  slowest healthy 1.989 s  bound 3.000 s  ratio 1.003  late <= 3.6 ms
      wall / max(slowest healthy, timeout): median 1.001, max 1.003
      wall / (slowest healthy + timeout): median 0.605, max 0.606 (over 5 runs)
    poller memory over 10,000 runs (10 extractors, autojump MockClock):
      after run  1,000:  226,484 allocated blocks (+0)
      after run  5,000:  226,490 allocated blocks (+6)
      after run 10,000:  226,492 allocated blocks (+8)
      growth from run 1,000 to 10,000: +8 blocks (+0.001 blocks/run)
      10,000 runs took 27.9 s
"""

from __future__ import annotations

import argparse
import gc
import logging
import random
import statistics
import sys
import time
from pathlib import Path

import trio
import trio.testing

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.extract.fakes import EPOCH, FakeExtractor, mock_now
from tuner.core.schedule import Event, Timing
from tuner.events import EventHub
from tuner.extract import Poller, Registry, publish_to, run_extractors

TIMEOUT = 3.0
HEALTHY = 48
HANGING = 2


async def fan_out_once(rng: random.Random) -> tuple[float, float, float]:
    """One run; returns (wall time, slowest healthy latency, worst lateness)."""
    registry = Registry(default_timeout=TIMEOUT)
    latencies = {}
    for n in range(HEALTHY):
        latency = rng.uniform(0.1, 2.0)
        latencies[f"ok_{n}"] = latency
        registry.add(FakeExtractor(f"ok_{n}", latency=latency, clock=time.time))
    for n in range(HANGING):
        registry.add(FakeExtractor(f"hangs_{n}", hang=True, clock=time.time))
    order = registry.keys()
    rng.shuffle(order)
    began = time.perf_counter()
    outcomes = await run_extractors(registry, clock=time.time)
    wall = time.perf_counter() - began
    late = max(o.duration - latencies[o.key] for o in outcomes if o.ok)
    assert sum(o.ok for o in outcomes) == HEALTHY
    assert all(o.error == f"timed out after {TIMEOUT:g} s" for o in outcomes if not o.ok)
    return wall, max(latencies.values()), late


def bench_fan_out(runs: int) -> list[str]:
    rng = random.Random(5)
    rows = []
    for _ in range(runs):
        rows.append(trio.run(fan_out_once, rng))
    ratios = [wall / max(slowest, TIMEOUT) for wall, slowest, _ in rows]
    sums = [wall / (slowest + TIMEOUT) for wall, slowest, _ in rows]
    lines = [f"fan-out, {HEALTHY} healthy + {HANGING} hanging extractors, timeout {TIMEOUT:g} s:"]
    for (wall, slowest, late), ratio in zip(rows, ratios, strict=True):
        lines.append(
            f"  wall {wall:.3f} s  slowest healthy {slowest:.3f} s  "
            f"bound {max(slowest, TIMEOUT):.3f} s  ratio {ratio:.3f}  late <= {late * 1000:.1f} ms"
        )
    lines.append(
        f"  wall / max(slowest healthy, timeout): median {statistics.median(ratios):.3f}, "
        f"max {max(ratios):.3f}\n  wall / (slowest healthy + timeout): median "
        f"{statistics.median(sums):.3f}, max {max(sums):.3f} (over {runs} runs)"
    )
    return lines


class Churning(FakeExtractor):
    """New titles every run; fails every ``fail_every``-th run."""

    def __init__(self, key: str, fail_every: int = 0) -> None:
        super().__init__(key, latency=0.5)
        self.fail_every = fail_every
        self.count = 0

    async def extract(self):  # type: ignore[no-untyped-def]
        self.calls.clear()  # the fake's own log of calls is not the poller's memory
        self.count += 1
        self.titles = [f"{self.key} {self.count} #{i}" for i in range(3)]
        failing = bool(self.fail_every) and self.count % self.fail_every == 0
        self.error = RuntimeError("down this time") if failing else None
        return await super().extract()


async def poller_memory(total: int) -> tuple[list[tuple[int, int]], float]:
    extractors = [Churning(f"x{n}", fail_every=3 if n == 0 else 0) for n in range(10)]
    timing = Timing(live_interval=300, idle_interval=1800, lead=900, overrun=1800)
    # An event every other day, so the poller keeps switching modes.
    events = [
        Event(f"event {d}", EPOCH + d * 86400 + 50000, EPOCH + d * 86400 + 57200, "bench")
        for d in range(0, 240, 2)
    ]
    # Woken hourly at most when idle (the daemon: every minute, for clock jumps), so the
    # runs, not the idle wake-ups, take the time here.
    poller = Poller(Registry.of(extractors), timing, events=events, now=mock_now, max_sleep=3600)
    hub = EventHub()
    publish_to(poller, hub)
    marks = {1_000, total // 2, total}
    samples: list[tuple[int, int]] = []
    done = trio.Event()

    def sample(view: str) -> None:
        if view == "extractors" and poller.running is None and poller.runs in marks:
            if not any(runs == poller.runs for runs, _ in samples):
                gc.collect()
                samples.append((poller.runs, sys.getallocatedblocks()))
            if poller.runs == total:
                done.set()

    poller.on_change.append(sample)
    began = time.perf_counter()
    async with trio.open_nursery() as nursery:
        await nursery.start(poller.run)
        await done.wait()
        nursery.cancel_scope.cancel()
    return samples, time.perf_counter() - began


def bench_memory(total: int) -> list[str]:
    samples, wall = trio.run(
        poller_memory, total, clock=trio.testing.MockClock(autojump_threshold=0)
    )
    lines = [f"poller memory over {total:,} runs (10 extractors, autojump MockClock):"]
    first = samples[0][1]
    for runs, blocks in samples:
        lines.append(f"  after run {runs:>6,}: {blocks:>8,} allocated blocks ({blocks - first:+,})")
    growth = samples[-1][1] - first
    per_run = growth / (samples[-1][0] - samples[0][0])
    lines.append(
        f"  growth from run {samples[0][0]:,} to {samples[-1][0]:,}: {growth:+,} blocks "
        f"({per_run:+.3f} blocks/run)\n  {total:,} runs took {wall:.1f} s"
    )
    return lines


def main() -> None:
    # Each failure is logged with its traceback; the bench measures the poller, not that.
    logging.basicConfig(level=logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 fan-out runs, 2,000 poller runs")
    args = parser.parse_args()
    for line in bench_fan_out(2 if args.quick else 5):
        print(line, flush=True)
    for line in bench_memory(2_000 if args.quick else 10_000):
        print(line, flush=True)


if __name__ == "__main__":
    main()
