"""A/V sync in a real headless Chromium: |flash on the canvas - beep in the speakers|.

Run from the repository root::

    python bench/bench_av.py              # 30 s of the clip
    python bench/bench_av.py --seconds 15

A 40 s clip that flashes white and beeps (1 kHz) for 0.1 s at every whole second is
made with ffmpeg and served on loopback; a real ``tuner serve`` plays it to Debian's
Chromium (``/usr/bin/chromium``, headless, driven by Playwright), whose page logs in
and presses Play like a person. ``tests/web/avprobe.js`` watches like a person too:
when the canvas *draws* a flash (most cells lit) and when the ``<audio>`` element,
routed through a WebAudio analyser, *plays* a beep, each stamped with
``performance.now()``. Each flash is paired with the beep of the same second of the
clip; the figure is flash minus beep.

The baseline, measured on the same frames in the same run: when each flash frame
*arrived* at the page. That is when a client without sync (the walking skeleton's,
which drew frames on arrival) would have shown it.

Also printed: the client's own view, each shown frame's pts minus its audio clock at
the moment it was drawn (``tunerStats.sync.offsets``).

Results
=======

2026-11-23, ``python bench/bench_av.py`` on this 2-CPU VM (Debian's Chromium, headless,
its audio going to a null sink in real time)::

    Chromium 156.0.8078.79, headless; 2 CPUs; load average before: 1.09, 1.50, 1.74
                                       |median|   |p95|   median  (ms)
    flash drawn - beep heard (tuner)       2.8     7.6     -0.1   (n=26)
    flash arrived - beep (no sync)      2667.7  2679.2  -2667.7   (n=27)
    client: pts - audio clock at draw      8.7    18.3     -8.7   (n=600)
    clock source at the end: audio; frames dropped late: 0
    median |offset|: no sync / tuner = 953x

(an earlier run, before the frame pacer: 2.9 / 9.4 ms, no sync 2720.5 ms)

What it says: a flash reaches the canvas within a few ms of its beep reaching the
speakers (the draw loop ticks every ~16 ms; a frame lasts 42 ms). Drawn on arrival, it
would come about 2.7 s early: that is how far the sound runs behind the frames (its 3 s
preroll, less the time Chromium takes to start). The client's own figure is negative
by about half a display refresh: a frame is drawn at the first tick after its time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.daemon_process import DaemonProcess
from tests.media import BEEP, FLASH, Clip, http_server, make_clip
from tests.web.avsync import AUTOPLAY_ARGS, measure, median_abs, p95_abs
from tests.web.chromium import chromium
from tuner.play.ffmpeg import find_ffmpeg

PIN = "24680"
LONG_CLIP = Clip(
    "avsync-long.mp4",
    40,
    (FLASH, BEEP),
    ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30",
     "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart"),
)  # fmt: skip


def row(name: str, values: list[float]) -> str:
    return (
        f"{name:34} {median_abs(values):7.1f} {p95_abs(values):7.1f} "
        f"{statistics.median(values):+8.1f}   (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=30, help="how long to watch")
    args = parser.parse_args()
    started = time.monotonic()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="tuner-bench-av-") as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        make_clip(find_ffmpeg(None).path, LONG_CLIP, media)
        with (
            http_server(media) as url,
            DaemonProcess.start(Path(tmp), pin=PIN) as daemon,
            chromium(AUTOPLAY_ARGS) as browser,
        ):
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            version = browser.version
            result = measure(page, daemon.base_url, PIN, f"{url}/{LONG_CLIP.name}", args.seconds)
    print(f"Chromium {version}, headless; {os.cpu_count()} CPUs; load average before: {load}")
    print(f"{'':34} {'|median|':>7} {'|p95|':>7} {'median':>8}  (ms)")
    print(row("flash drawn - beep heard (tuner)", result.offsets_ms))
    print(row("flash arrived - beep (no sync)", result.arrival_offsets_ms))
    print(row("client: pts - audio clock at draw", list(result.client_offsets_ms)))
    print(f"clock source at the end: {result.clock_source}; frames dropped late: "
          f"{result.late_frames}")  # fmt: skip
    ratio = median_abs(result.arrival_offsets_ms) / max(median_abs(result.offsets_ms), 0.1)
    print(f"median |offset|: no sync / tuner = {ratio:.0f}x")
    print(f"(benchmark took {time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
