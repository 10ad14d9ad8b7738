"""The web client in headless Chromium: time to the first drawn frame, and the JS heap
over long playback.

Run from the repository root::

    python bench/bench_client.py                    # first frame, 10 page loads (~70 s)
    python bench/bench_client.py --runs 5 --preset low
    python bench/bench_client.py --heap             # heap over 10 min of `high`
    python bench/bench_client.py --heap --minutes 2 --interval 15
    python bench/bench_client.py --first-frame --heap

With neither ``--first-frame`` nor ``--heap`` only the first frame is measured. Each
run prints its figures and, last, one line ``JSON {...}`` with the same figures.

A real ``tuner serve`` (``tests/daemon_process.py``) plays the test card at the
preset asked (``high`` by default: 200x84 at 30 fps) from ``POST /api/play`` by a
logged-in httpx client. Debian's Chromium (headless, software canvas, autoplay
allowed so that the sound starts as in a car after its first tap) opens the page;
each browser context is given the session cookie first, so the page goes straight
to the player (body[data-state=player]), as a reload while something plays does.

First frame
    ``--runs`` times, a fresh browser context (no cache, no cookies but the session
    one) opens ``/``, and the page's own clock says when the first frame was drawn:
    an init script sets ``window.tunerHooks.onDraw`` (player.js calls it after each
    draw) and records ``performance.now()`` at its first call; times are from
    navigation start (``performance.timeOrigin``). The same init script wraps
    ``WebSocket`` to stamp when ``/ws/video`` was created, opened, said hello and
    brought its first frame, and ``requestAnimationFrame`` to stamp the tick that
    draws it; the Navigation and Resource Timing entries give the
    document's response, DOMContentLoaded and the ``/api/status`` answer that
    decides which screen to show. Python only polls ``tunerStats.framesDrawn > 0``.
    After the first frame, the page goes on until it has drawn 30 (one second of
    picture at 30 fps): when ``<audio>`` started playing, when the 30th frame was
    drawn, and the longest pause between two of those draws say whether the
    picture kept moving.
    The baseline, in the same runs and alternating with them: a fresh context
    loading ``/healthz`` (a small JSON answer, no script) from the same
    daemon, to its load event: what any page from this daemon costs at least.
    One unmeasured load of each comes first (Chromium's first page is slow).
Heap
    One page plays for ``--minutes``; every ``--interval`` s, over the Chrome
    DevTools Protocol, ``HeapProfiler.collectGarbage`` then ``Runtime.getHeapUsage``
    (usedSize: the live JS heap after a full GC), with ``Performance.getMetrics``
    for DOM nodes and event listeners, and ``tunerStats`` (frames drawn, late,
    the preset the daemon sends). The figure is the heap at the end over the heap at
    1 minute: flat is 1.0.

Results
=======

2026-11-23, Chromium 156.0.8078.79 on this 2-CPU VM (load average 2.8-3.3 from the
machine's other work), on the final code of #8 (the hello no longer forgets that the
sound is loading, so the first picture is held, not run on the wall clock).

``python bench/bench_client.py`` (first frame, ``high``, mono, 200x84 at 30 fps; 10
loads, 63 s in all)::

                                         median      min      max   median from the row above
      document response                    15.3     12.3     30.1      +15.3
      scripts loaded (the last one)       271.8    231.1    416.9     +254.3
      /api/status asked (at boot)         301.5    258.2    524.2      +30.1
      /api/status answered                313.2    270.2    542.3      +17.1
      DOMContentLoaded                    322.1    267.7    534.2       -4.0
      /ws/video created                   391.1    344.5    656.8      +74.3
      /ws/video open                      443.5    374.6    694.3      +47.6
      hello                               467.2    381.7    698.7      +10.4
      first frame arrived                 500.4    393.7    706.2      +13.4
      its animation frame began           509.3    425.7    713.9      +14.1
      first frame drawn                   559.5    479.7    761.7      +51.8
      <audio> playing                     655.1    540.9   1059.2      +81.1 from the first frame
      30 frames drawn                    4405.4   4344.1   4883.6    +3876.5 from the first frame
      longest pause in those draws       2944.4   2775.7   3200.5   after 1 frame(s) (median)
      10 static files a load: request to first byte median 19 ms, p90 53 ms
      baseline: /healthz loaded           120.4    100.5    157.9
      first frame / baseline (medians): 4.6x
      first draw's clock source and frame kind: held keyframe; page hidden: False

Before that fix (the helper's run at load 0.7-2.8): first frame 437 ms median
(328-1148), 4.9x ``/healthz``; the first draw ran on the wall clock ("wall") for a
few frames, then stood still ~3 s.

``python bench/bench_client.py --heap`` (10 minutes of ``high``, sampled every 30 s
after a full GC; load 1.9 before, 0.7 after)::

       t (s)  heap MB  nodes listeners   drawn   fps  late preset  clock
           0     1.13    468        36       1   nan     0   high waiting
          30     1.28    464        36     803  26.8     0   high  audio
          60     1.28    464        36    1703  30.0     0   high  audio
         120     1.30    464        36    3502  30.0     0   high  audio
         300     1.35    464        36    8900  30.0     2   high  audio
         450     1.34    464        36   13400  30.0     2   high  audio
         600     1.32    464        36   17900  30.0     2   high  audio
      heap at 60 s: 1.28 MB; at the end (600 s): 1.32 MB; end / 1 min = 1.036
      frames drawn: 17900 (29.8/s over the run), received 18009, late 2

What it says:

* The first frame is drawn about 0.56 s after navigation (0.48-0.76 s), 4.6 times
  what a bare ``/healthz`` page costs from the same daemon. Half of it is before
  any tuner logic runs: ten parser-blocking scripts and the stylesheet, fetched
  from a daemon that renders 30 fps meanwhile. Then three round trips one after
  another: ``/api/status``, the ``/ws/video`` handshake and the first keyframe (a
  whole 200x84 frame takes ~50 ms to draw on this software canvas).
* The first picture is then held ~3 s before it moves: a page that joins a running
  session gets the sound from 3 s back (the audio preroll that lets ``<audio>``
  start), and the picture waits for the sound to reach it. Sending a joining viewer
  the last 3 s of frames as well would make it move at once (not done).
* The JS heap is small and flat: 1.28 MB after one minute, 1.32 MB after ten
  (x1.036, ~5 kB a minute, within the noise of the samples), DOM nodes and event
  listeners constant, 30 frames drawn a second throughout.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.daemon_process import DaemonProcess
from tests.web.avsync import AUTOPLAY_ARGS
from tests.web.chromium import chromium, wait_for
from tuner.web.auth import COOKIE_NAME

PIN = "13579"
VIEWPORT = {"width": 1280, "height": 720}
PLAY_TIMEOUT = 30.0
FIRST_FRAME_TIMEOUT_MS = 30_000
# Frames drawn by when the picture counts as moving: one second of it at 30 fps.
MOVING = 30

# Stamps, on the page's clock (ms since navigation start), what the page does on the
# way to its first picture. Injected before any of the page's scripts run.
MARKS_JS = """
(function () {
  "use strict";
  var MOVING = {MOVING};
  var marks = { wsCreated: null, wsOpen: null, helloAt: null, frameIn: null,
                drawStart: null, firstDraw: null, firstSource: null, firstKind: null,
                draws: [], audioPlaying: null };
  window.benchMarks = marks;
  window.tunerHooks = {
    onFrame: function () {
      if (marks.frameIn === null) marks.frameIn = performance.now();
    },
    onDraw: function (frame, t, source) {
      if (marks.draws.length < MOVING) marks.draws.push(performance.now());
      if (marks.firstDraw !== null) return;
      marks.firstDraw = performance.now();
      marks.firstSource = source;
      marks.firstKind = frame.kind;
    }
  };
  // The first animation frame after the first frame came: where its draw starts.
  var nativeRaf = window.requestAnimationFrame;
  window.requestAnimationFrame = function (callback) {
    return nativeRaf.call(window, function (timestamp) {
      if (marks.frameIn !== null && marks.drawStart === null) marks.drawStart = performance.now();
      callback(timestamp);
    });
  };
  document.addEventListener("playing", function () {
    if (marks.audioPlaying === null) marks.audioPlaying = performance.now();
  }, true);
  var Native = window.WebSocket;
  function Stamped(url, protocols) {
    var ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    if (String(url).indexOf("/ws/video") >= 0 && marks.wsCreated === null) {
      marks.wsCreated = performance.now();
      ws.addEventListener("open", function () {
        if (marks.wsOpen === null) marks.wsOpen = performance.now();
      });
      ws.addEventListener("message", function (event) {
        if (marks.helloAt === null && typeof event.data === "string") {
          marks.helloAt = performance.now();
        }
      });
    }
    return ws;
  }
  Stamped.prototype = Native.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (name) {
    Stamped[name] = Native[name];
  });
  window.WebSocket = Stamped;
})();
""".replace("{MOVING}", str(MOVING))

# The marks, with the Navigation and Resource Timing figures, once the frame is drawn.
READ_MARKS_JS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const status = performance.getEntriesByType("resource")
    .filter((e) => e.name.indexOf("/api/status") >= 0)[0];
  return Object.assign({}, window.benchMarks, {
    responseEnd: nav.responseEnd,
    domContentLoaded: nav.domContentLoadedEventStart,
    load: nav.loadEventEnd || null,
    statusStart: status ? status.startTime : null,
    statusEnd: status ? status.responseEnd : null,
    statics: performance.getEntriesByType("resource")
      .filter((e) => e.name.indexOf("/static/") >= 0)
      .map((e) => ({ name: e.name.split("/").pop(), start: e.startTime,
                     wait: e.responseStart - e.requestStart, end: e.responseEnd })),
    scriptsEnd: Math.max.apply(null, performance.getEntriesByType("resource")
      .filter((e) => e.initiatorType === "script").map((e) => e.responseEnd)),
    state: document.body.getAttribute("data-state"),
    hidden: document.hidden,
    hello: window.tunerStats.lastHello,
  });
}
"""

BASELINE_JS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return { responseEnd: nav.responseEnd, load: nav.loadEventEnd };
}
"""

STATS_JS = """
() => ({
  drawn: window.tunerStats.framesDrawn,
  received: window.tunerStats.framesReceived,
  late: window.tunerStats.sync.late,
  source: window.tunerStats.sync.source,
  preset: window.tunerStats.lastHello && window.tunerStats.lastHello.preset,
  hidden: document.hidden,
  state: document.body.getAttribute("data-state"),
})
"""

SERIES_KEYS = ("t", "used_bytes", "nodes", "listeners", "drawn", "late", "preset")

# The first-frame split: (label, mark it ends at). Each step is from the mark before.
SPLIT = (
    ("document response", "responseEnd"),
    ("scripts loaded (the last one)", "scriptsEnd"),
    ("/api/status asked (at boot)", "statusStart"),
    ("/api/status answered", "statusEnd"),
    ("DOMContentLoaded", "domContentLoaded"),
    ("/ws/video created", "wsCreated"),
    ("/ws/video open", "wsOpen"),
    ("hello", "helloAt"),
    ("first frame arrived", "frameIn"),
    ("its animation frame began", "drawStart"),
    ("first frame drawn", "firstDraw"),
)
# After the first frame: when the sound started, and when MOVING frames were drawn.
AFTER = (
    ("<audio> playing", "audioPlaying"),
    (f"{MOVING} frames drawn", "moving"),
)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextmanager
def playing_daemon(tmp: Path, preset: str, mode: str | None) -> Iterator[tuple[str, str]]:
    """A ``tuner serve`` playing the test card; its base URL and a session cookie."""
    with (
        DaemonProcess.start(tmp, pin=PIN) as daemon,
        httpx.Client(base_url=daemon.base_url, timeout=10) as client,
    ):
        response = client.post("/api/login", json={"pin": PIN})
        if response.status_code != 204:
            raise RuntimeError(f"login answered {response.status_code}: {response.text}")
        body = {"query": "testcard", "preset": preset, **({"mode": mode} if mode else {})}
        response = client.post("/api/play", json=body)
        if response.status_code != 202:
            raise RuntimeError(f"play answered {response.status_code}: {response.text}")
        deadline = time.monotonic() + PLAY_TIMEOUT
        while (status := client.get("/api/status").json())["state"] != "playing":
            if time.monotonic() > deadline:
                raise RuntimeError(f"not playing after {PLAY_TIMEOUT:.0f} s: {status}")
            time.sleep(0.05)
        try:
            yield daemon.base_url, client.cookies[COOKIE_NAME]
        finally:
            client.post("/api/stop")


def new_context(browser: Any, base_url: str, cookie: str) -> Any:
    """A fresh browser context that already holds the session cookie."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_cookies(
        [{"name": COOKIE_NAME, "value": cookie, "url": base_url, "httpOnly": True,
          "sameSite": "Strict"}]
    )  # fmt: skip
    return context


def player_load(browser: Any, base_url: str, cookie: str) -> dict[str, Any]:
    """Open ``/`` in a fresh context; the page's marks once it drew its first frame."""
    context = new_context(browser, base_url, cookie)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.add_init_script(MARKS_JS)
        page.goto(base_url + "/", wait_until="commit")
        wait_for(page, "window.tunerStats && window.tunerStats.framesDrawn > 0",
                 FIRST_FRAME_TIMEOUT_MS)  # fmt: skip
        wait_for(page, f"window.benchMarks.draws.length >= {MOVING}", FIRST_FRAME_TIMEOUT_MS)
        marks: dict[str, Any] = page.evaluate(READ_MARKS_JS)
        marks["moving"] = marks["draws"][-1]
        if errors:
            raise RuntimeError(f"page errors: {errors}")
        if marks["state"] != "player":
            raise RuntimeError(f"the page is on {marks['state']!r}, not the player")
        return marks
    finally:
        context.close()


def baseline_load(browser: Any, base_url: str, cookie: str) -> dict[str, float]:
    """Open ``/healthz`` in a fresh context; its Navigation Timing figures."""
    context = new_context(browser, base_url, cookie)
    try:
        page = context.new_page()
        page.goto(base_url + "/healthz", wait_until="load")
        figures: dict[str, float] = page.evaluate(BASELINE_JS)
        return figures
    finally:
        context.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def spread(values: list[float]) -> str:
    return (f"{statistics.median(values):8.1f} {min(values):8.1f} {max(values):8.1f}")  # fmt: skip


def first_frame(browser: Any, base_url: str, cookie: str, runs: int) -> dict[str, Any]:
    """Alternating baseline and player loads; prints and returns the figures."""
    started = time.monotonic()
    cold_baseline = baseline_load(browser, base_url, cookie)["load"]
    cold = player_load(browser, base_url, cookie)["firstDraw"]
    players: list[dict[str, Any]] = []
    baselines: list[float] = []
    for run in range(runs):
        steps: list[Callable[[], None]] = [
            lambda: baselines.append(baseline_load(browser, base_url, cookie)["load"]),
            lambda: players.append(player_load(browser, base_url, cookie)),
        ]
        for step in steps if run % 2 else reversed(steps):
            step()
        log(f"  run {run + 1}/{runs}: first frame {players[-1]['firstDraw']:.0f} ms, "
            f"/healthz {baselines[-1]:.0f} ms")  # fmt: skip
    hello = players[-1]["hello"]
    print(f"\nFirst frame: {runs} page loads of / while the test card plays "
          f"({hello['preset']}, {hello['mode']}, {hello['cols']}x{hello['rows']} "
          f"at {hello['fps']} fps); ms from navigation start")  # fmt: skip
    print(f"{'':34} {'median':>8} {'min':>8} {'max':>8}   median from the row above")
    split: dict[str, list[float]] = {}
    before: list[float] = [0.0] * len(players)
    for label, key in SPLIT:
        at = [p[key] if p[key] is not None else b for p, b in zip(players, before, strict=True)]
        steps_ms = [a - b for a, b in zip(at, before, strict=True)]
        split[key] = at
        print(f"  {label:32} {spread(at)}   {statistics.median(steps_ms):+8.1f}")
        before = at
    for label, key in AFTER:
        at = [p[key] for p in players if p[key] is not None]
        if at:
            steps_ms = [p[key] - p["firstDraw"] for p in players if p[key] is not None]
            print(f"  {label:32} {spread(at)}   {statistics.median(steps_ms):+8.1f} "
                  "from the first frame")  # fmt: skip
            split[key] = at
    pauses = [max(b - a for a, b in itertools.pairwise(p["draws"])) for p in players]
    held = [
        next(i for i, (a, b) in enumerate(itertools.pairwise(p["draws"])) if b - a == pause) + 1
        for p, pause in zip(players, pauses, strict=True)
    ]
    print(f"  {'longest pause in those draws':32} {spread(pauses)}   after "
          f"{statistics.median(held):.0f} frame(s) (median)")  # fmt: skip
    firsts = split["firstDraw"]
    waits = [r["wait"] for p in players for r in p["statics"]]
    ends = [max(r["end"] for r in p["statics"]) for p in players]
    names = sorted({r["name"] for p in players for r in p["statics"]})
    print(f"  {len(names)} static files a load ({', '.join(names)}): request to first "
          f"byte median {statistics.median(waits):.0f} ms, p90 {percentile(waits, 0.9):.0f} "
          f"ms; the last ends at {statistics.median(ends):.0f} ms (median)")  # fmt: skip
    print(f"  {'baseline: /healthz loaded':32} {spread(baselines)}")
    ratio = statistics.median(firsts) / statistics.median(baselines)
    print(f"  first frame / baseline (medians): {ratio:.1f}x")
    sources = sorted({f"{p['firstSource']} {p['firstKind']}" for p in players})
    print(f"  first draw's clock source and frame kind: {', '.join(sources)}; "
          f"page hidden: {any(p['hidden'] for p in players)}")  # fmt: skip
    took = time.monotonic() - started
    print(f"  cold (the browser's first page, not counted): first frame {cold:.0f} ms, "
          f"/healthz {cold_baseline:.0f} ms; {took:.0f} s in all")  # fmt: skip
    return {
        "preset": hello["preset"],
        "mode": hello["mode"],
        "runs": runs,
        "first_frame_ms": firsts,
        "split_ms": split,
        "baseline_healthz_ms": baselines,
        "longest_pause_ms": pauses,
        "static_wait_median_ms": statistics.median(waits),
        "first_frame_median_ms": statistics.median(firsts),
        "baseline_median_ms": statistics.median(baselines),
        "ratio": ratio,
        "cold_first_frame_ms": cold,
        "cold_baseline_ms": cold_baseline,
    }


def heap(browser: Any, base_url: str, cookie: str, minutes: float,
         interval: float) -> dict[str, Any]:  # fmt: skip
    """One page playing for ``minutes``: its JS heap after a GC every ``interval`` s."""
    context = new_context(browser, base_url, cookie)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(base_url + "/")
        wait_for(page, "window.tunerStats && window.tunerStats.framesDrawn > 0",
                 FIRST_FRAME_TIMEOUT_MS)  # fmt: skip
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        started = time.monotonic()
        series: list[dict[str, Any]] = []
        print(f"\nHeap: one page playing for {minutes:g} min, sampled every {interval:g} s "
              "after a full GC")  # fmt: skip
        print(f"  {'t (s)':>6} {'heap MB':>8} {'nodes':>6} {'listeners':>9} {'drawn':>7} "
              f"{'fps':>5} {'late':>5} {'preset':>6} {'clock':>6}")  # fmt: skip
        last: dict[str, Any] | None = None
        sample_at = 0.0
        while True:
            elapsed = time.monotonic() - started
            if elapsed < sample_at:
                page.wait_for_timeout(min(1000.0, (sample_at - elapsed) * 1000))
                continue
            cdp.send("HeapProfiler.collectGarbage")
            usage = cdp.send("Runtime.getHeapUsage")
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            stats = page.evaluate(STATS_JS)
            t = time.monotonic() - started
            fps = (stats["drawn"] - last["drawn"]) / (t - last["t"]) if last else float("nan")
            sample = {
                "t": t,
                "used_bytes": usage["usedSize"],
                "total_bytes": usage["totalSize"],
                "nodes": int(metrics.get("Nodes", 0)),
                "listeners": int(metrics.get("JSEventListeners", 0)),
                **stats,
            }
            series.append(sample)
            last = sample
            print(f"  {t:6.0f} {sample['used_bytes'] / 1e6:8.2f} {sample['nodes']:6} "
                  f"{sample['listeners']:9} {stats['drawn']:7} {fps:5.1f} {stats['late']:5} "
                  f"{stats['preset']!s:>6} {stats['source']:>6}", flush=True)  # fmt: skip
            if t >= minutes * 60 - 1:
                break
            sample_at += interval
        if errors:
            raise RuntimeError(f"page errors: {errors}")
    finally:
        context.close()
    at_minute = min(series, key=lambda s: abs(s["t"] - 60))
    end = series[-1]
    ratio = end["used_bytes"] / at_minute["used_bytes"]
    after = [s for s in series if s["t"] >= at_minute["t"]]
    slope = (
        (after[-1]["used_bytes"] - after[0]["used_bytes"]) / 1e3
        / ((after[-1]["t"] - after[0]["t"]) / 60)
        if len(after) > 1 else 0.0
    )  # fmt: skip
    fps = (end["drawn"] - series[0]["drawn"]) / (end["t"] - series[0]["t"])
    print(f"  heap at {at_minute['t']:.0f} s: {at_minute['used_bytes'] / 1e6:.2f} MB; "
          f"at the end ({end['t']:.0f} s): {end['used_bytes'] / 1e6:.2f} MB; "
          f"end / 1 min = {ratio:.3f} ({slope:+.1f} kB/min after 1 min)")  # fmt: skip
    print(f"  frames drawn: {end['drawn']} ({fps:.1f}/s over the run), received "
          f"{end['received']}, late {end['late']}; page hidden at any sample: "
          f"{any(s['hidden'] for s in series)}")  # fmt: skip
    return {
        "minutes": minutes,
        "interval_s": interval,
        "series": [{k: s[k] for k in SERIES_KEYS} for s in series],
        "heap_at_1min_bytes": at_minute["used_bytes"],
        "heap_at_end_bytes": end["used_bytes"],
        "ratio_end_to_1min": ratio,
        "slope_kb_per_min": slope,
        "frames_drawn": end["drawn"],
        "fps": fps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--first-frame", action="store_true", help="time to the first frame")
    parser.add_argument("--heap", action="store_true", help="the JS heap over long playback")
    parser.add_argument("--runs", type=int, default=10, help="first-frame page loads")
    parser.add_argument("--preset", default="high", help="low, med, high or ultra")
    parser.add_argument("--mode", default=None, help="mono, color, blocks or braille")
    parser.add_argument("--minutes", type=float, default=10, help="heap: how long to play")
    parser.add_argument("--interval", type=float, default=30, help="heap: seconds per sample")
    args = parser.parse_args()
    if not args.first_frame and not args.heap:
        args.first_frame = True

    started = time.monotonic()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    summary: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()}
    with (
        tempfile.TemporaryDirectory(prefix="tuner-bench-client-") as tmp,
        playing_daemon(Path(tmp), args.preset, args.mode) as (base_url, cookie),
        chromium(AUTOPLAY_ARGS) as browser,
    ):
        summary["chromium"] = browser.version
        print(f"Chromium {browser.version} (headless, software canvas), viewport "
              f"{VIEWPORT['width']}x{VIEWPORT['height']}; {os.cpu_count()} CPUs; "
              f"load average before: {load}")  # fmt: skip
        if args.first_frame:
            summary["first_frame"] = first_frame(browser, base_url, cookie, args.runs)
        if args.heap:
            summary["heap"] = heap(browser, base_url, cookie, args.minutes, args.interval)
    summary["load_after"] = os.getloadavg()
    summary["seconds"] = time.monotonic() - started
    print(f"\n(benchmark took {summary['seconds']:.0f} s; load average after: "
          + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + ")")  # fmt: skip
    print("JSON " + json.dumps(summary))


if __name__ == "__main__":
    main()
