"""What ``tuner watch`` spends turning a decoded grid into the text for a terminal.

Run from the repository root (a few seconds; ffmpeg must be on PATH or bundled)::

    python bench/bench_term.py
    python bench/bench_term.py --preset low --seconds 1

The frames are ffmpeg's ``testsrc2`` at the preset's fps, scaled by each mode's own
filter and rendered by the daemon's renderers, then passed through the v2 encoder
and decoder as the client gets them. For every mode and two terminals (one as large
as the grid, one 80x24 that the grid is fitted into) it measures
``Painter.paint`` (CPU time, ``time.process_time_ns``), per frame:

full   a whole redraw (the painter forgets the screen before each frame: the first
       frame, a resize, a mode change)
delta  the frame after the one drawn (what each frame costs while watching)

and the bytes written per frame, in 24-bit colour (the most bytes per colour).

Results
=======

2026-11-23, ``python bench/bench_term.py`` on this 2-CPU VM at load 1.5 to 2.8 (other
work running), ``high`` (200x84), 2 s of testsrc2 at 30 fps; ms of CPU per frame
(mean and p95) and kB written per frame::

    mode     terminal  full ms       p95  full kB  delta ms       p95  delta kB
    mono     200x85       3.10      4.27     18.3     3.94      5.59      3.3
    mono     80x24        1.16      1.96      1.7     0.97      1.68      0.5
    color    200x85       6.10      9.04     66.2     4.57      5.34     19.2
    color    80x24        1.50      1.82      7.6     0.91      1.48      2.6
    blocks   200x85       7.31      9.68    152.1     5.83      8.14     27.9
    blocks   80x24        1.45      1.82     16.8     1.07      1.28      3.9
    braille  200x85       8.31     10.51    143.9     4.94      6.07     23.9
    braille  80x24        1.49      1.65     11.6     1.06      1.32      2.8

A whole ``high`` grid costs under 10 ms to lay out in any mode, and 150 kB in
``blocks`` or ``braille`` (24-bit colour, a colour change at most cells), once per
resize or mode change. While watching, a frame costs about 5 ms and 3 to 28 kB at
full size, about 1 ms and a few kB fitted into 80x24: well inside a 33 ms frame at
30 fps. ``mono`` costs as much for a delta as for a whole frame: a whole frame is one
run a row, while its deltas are many short runs scattered over the grid, and each
run costs a few numpy calls (the per-run overhead, not the bytes, is the cost). A
terminal that cannot take the bytes makes the client skip to the newest frame
rather than fall behind.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuner.core.codec import Decoder, Encoder
from tuner.core.grid import Grid
from tuner.core.modes import MODE_SPECS, frame_view, render
from tuner.core.presets import PRESETS, Mode
from tuner.term import ColorDepth, Painter


def find_ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if path:
        return path
    try:
        import imageio_ffmpeg
    except ImportError:
        sys.exit("bench_term: ffmpeg is not on PATH (install it, or imageio-ffmpeg)")
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def decoded_grids(ffmpeg: str, mode: Mode, preset: str, seconds: float) -> list[Grid]:
    """The grids a client holds after each message of ``seconds`` of testsrc2."""
    spec, p = MODE_SPECS[mode], PRESETS[preset]
    raw = subprocess.run(
        [
            ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
            "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={p.fps}", "-t", str(seconds),
            "-vf", spec.video_filter(p.cols, p.rows), "-f", "rawvideo", "pipe:1",
        ],
        check=True,
        capture_output=True,
    ).stdout  # fmt: skip
    size = spec.frame_bytes(p.cols, p.rows)
    encoder, decoder, grids = Encoder(), Decoder(), []
    for seq, start in enumerate(range(0, len(raw) - size + 1, size)):
        grid = render(mode, frame_view(mode, raw[start : start + size], p.cols, p.rows))
        decoder.decode(encoder.encode(grid, seq, seq * 1000 // p.fps))
        held = decoder.grid
        assert held is not None
        grids.append(held)
    return grids


def measure(grids: list[Grid], width: int, height: int, full: bool) -> tuple[list[float], int]:
    """CPU ms of each paint, and the bytes written in all."""
    painter = Painter(ColorDepth.TRUE, width, height)
    painter.paint(grids[0], " " * width)
    times, written = [], 0
    for grid in grids[1:]:
        if full:
            painter.invalidate()
        started = time.process_time_ns()
        text = painter.paint(grid, " " * width)
        times.append((time.process_time_ns() - started) / 1e6)
        written += len(text.encode())
    return times, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="high", choices=list(PRESETS))
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    ffmpeg = find_ffmpeg()
    p = PRESETS[args.preset]
    print(f"{args.preset} ({p.cols}x{p.rows}), {args.seconds:g} s of testsrc2 at {p.fps} fps")
    print("mode     terminal  full ms       p95  full kB  delta ms       p95  delta kB")
    for mode in Mode:
        grids = decoded_grids(ffmpeg, mode, args.preset, args.seconds)
        for width, height in ((p.cols, p.rows + 1), (80, 24)):
            row = [f"{mode.value:<8} {f'{width}x{height}':<8}"]
            for full in (True, False):
                times, written = measure(grids, width, height, full)
                p95 = statistics.quantiles(times, n=20)[-1]
                kb = written / len(times) / 1000
                row.append(f"{statistics.mean(times):8.2f}  {p95:8.2f}  {kb:7.1f}")
            print(" ".join(row))


if __name__ == "__main__":
    main()
