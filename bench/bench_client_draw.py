"""Client draw time per frame in headless Chromium: the atlas renderer against fillText.

Run from the repository root (about a minute and a half on 2 CPUs)::

    python bench/bench_client_draw.py
    python bench/bench_client_draw.py --frames 40 --presets low --modes color   # a quick look
    python bench/bench_client_draw.py --modes mono                              # also there

The frames are real ones: ffmpeg's lavfi ``testsrc2`` (a moving test pattern:
colour bars, a turning wheel, a counter), scaled by each mode's own filter
(``ModeSpec.video_filter``), rendered by ``tuner.core.modes.render`` and encoded by
``codec.Encoder`` in Python, exactly as the daemon will send them. The messages go
into the page as bytes and ``codec.js`` decodes them there; each decoded grid is
copied, so the timed loop only draws.

Each frame's draw is timed with ``performance.now()`` around the draw call and a
one-pixel ``getImageData``, which makes Chromium rasterise the canvas's pending
commands (without it, the time of recording them would be measured, not of drawing).
All renderers draw the same frames, one after another in the same page, on a canvas
fitted to a 1280x720 box at the ``--dpr`` device pixel ratio:

pixels      ``TunerRenderer.Renderer`` as it chooses by default: glyph masks from the
            atlas written into an ImageData from JS, only the cells that changed
            since the frame before, the rows they span put back at once.
full        the same, every frame drawn whole (what a keyframe or a resize costs).
atlas       the renderer's ``{path: "atlas"}``: a drawImage per changed cell from
            the atlas, then one "multiply" fill per colour.
fillText    the renderer's fallback (``{fallback: true}``): one fillText per changed
            cell, batched by colour (``blocks``: rectangles, as on every path).
per-cell    the replaced tool's approach, written here: every frame, the canvas
            cleared and one ``fillStyle`` + ``fillText`` per cell (``blocks``: a
            ``fillRect`` of the bottom colour and a ``fillText`` of "▀" in the top one).

The first few frames are drawn untimed so that glyph caches and the atlas are made;
the keyframe that starts the sequence is among the timed ones only by chance.

Results
=======

2026-11-23, ``python bench/bench_client_draw.py`` on this 2-CPU VM, shared with
other work (load average 2.5)::

    Chromium 156.0.8078.79 (headless, --disable-gpu: software canvas), box 1280x720 CSS px
    at dpr 1.5; 90 testsrc2 frames, the first 5 untimed; times in ms per frame

    mode    preset canvas    cells    pixels      full     atlas  fillText    per-cell  per-cell/pix
    color   low   1512x1050  531   0.7/2.1   5.0/9.1   4.6/7.8   2.3/4.0   16.6/27.9   23.7x 13.3x
    blocks  low   1512x1050  477   0.7/2.2   2.6/3.7   1.1/2.1   1.1/2.7   36.8/41.5   52.6x 18.9x
    braille low   1512x1050  940   1.3/2.6   5.7/8.0  8.2/19.8  6.8/13.6  27.2/102.7   20.9x 39.5x
    color   med   1440x1020  762   1.0/1.7   3.9/7.3  7.2/11.4   2.2/4.2   41.0/76.2   41.0x 44.8x
    blocks  med   1440x1020  651   0.6/0.8   3.6/9.6   1.7/2.4   1.5/2.1   40.1/80.7  66.8x 100.9x
    braille med   1440x1020  693   0.6/1.5   4.5/6.8   4.6/7.9   3.3/4.7  31.6/140.0   52.7x 93.3x
    color   high  1440x1008 1146   0.5/0.8   3.9/6.5  7.6/12.2   4.2/5.6   44.4/71.1   88.8x 88.9x
    blocks  high  1440x1008  979   0.5/0.6   2.3/4.0   1.2/1.4   1.2/1.6   53.5/76.2 107.0x 127.0x
    braille high  1440x1008 1037   0.7/0.9   4.0/6.7   5.8/7.6   3.9/6.1   46.1/68.4   65.9x 76.0x
    color   ultra 1440x1000 1562   0.8/1.2   4.0/6.1  8.2/12.9   3.5/4.0   62.5/80.3   78.1x 66.9x
    blocks  ultra 1440x1000 1347   0.5/1.0   3.2/4.4   2.0/3.2   1.6/2.5  99.4/152.4 198.8x 152.4x
    braille ultra 1440x1000 1465   1.0/1.5   5.6/8.1  9.7/14.4   4.6/6.5  85.1/112.4   85.1x 74.9x

    (median/p95 in ms; per-cell/pix: per-cell over pixels, median and p95; "cells":
    mean cells drawn per frame, of 6,000 to 24,000; 83 s in all)

Re-run on the day's final code (the web client wired to the daemon), ``python
bench/bench_client_draw.py --modes color,blocks``::

    Chromium 156 (headless, software canvas), box 1280x720 CSS px at dpr 1.5; 90
    testsrc2 frames, the first 5 untimed; median/p95 in ms; load average 0.93 before

    mode   preset cells     pixels        full       atlas    fillText    per-cell per-cell/pix
    color  low     531     0.8/2.7     5.0/6.9     6.5/8.0     2.8/3.5   20.6/29.7   25.7x  11.0x
    blocks low     477     0.6/1.0     2.3/3.4     1.5/2.0     1.6/2.2   35.2/41.2   58.7x  41.2x
    color  med     762     0.5/0.8     3.4/6.2     5.6/8.5     2.5/3.6   47.0/54.3   94.0x  67.9x
    blocks med     651     0.6/0.7     3.1/4.0     1.6/2.1     1.8/2.1   57.5/70.3   95.8x 100.4x
    color  high   1146     0.9/1.3     6.4/7.8    9.9/12.4     5.4/6.7   72.5/87.8   80.6x  67.5x
    blocks high    979     0.6/0.8     3.3/4.2     1.8/2.8     2.2/3.0  94.7/115.5  157.8x 144.4x
    color  ultra  1562     1.0/1.1     6.9/7.1   13.2/15.6     5.2/8.1 101.9/112.2  101.9x 102.0x
    blocks ultra  1347     0.7/0.8     4.1/4.4     2.5/2.8     2.4/2.8 124.0/149.1  177.1x 186.4x

What this says:

* The replaced tool's per-cell fillText cannot hold 30 fps beyond ``low`` here
  (33 ms a frame): 40-100 ms a frame at ``med`` and above, p95 up to 150 ms. The
  default renderer draws any preset in about 1 ms (p95 under 3 ms), 20-200 times
  less, and a whole frame (a keyframe) in 2-6 ms.
* Most of the gain is drawing only changed cells (testsrc2 changes 4-16% of them a
  frame) and batching colours: the fillText fallback, with both, is already 4-60
  times faster than per-cell. ``mono`` behaves as ``color`` (measured with ``--modes
  mono`` in an earlier run: 0.5-0.7 ms against 22-114 ms).
* On this software canvas a drawImage from the atlas costs more than a fillText
  (measured alone: 8-10 us a call from a canvas, an ImageBitmap or an
  OffscreenCanvas, against 4 us for a cached fillText, 0.07 us for a cell's pixels
  written from JS, and 0.6 ms to put a whole 1440x1000 ImageData). Hence the
  ``pixels`` default. With a GPU canvas (the car may have one; headless here has
  none) drawImage is cheap and pixel uploads cost more: that is untested here, and
  why the ``atlas`` path stays, selectable. An earlier run also tried a tinted
  copy of the atlas per colour instead of "multiply": 10-40% faster than ``atlas``
  but at over 100 MB for braille at ``low`` on a 2x screen; dropped.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.web.chromium import chromium
from tuner.core.codec import Encoder
from tuner.core.modes import MODE_SPECS, frame_view, render
from tuner.core.presets import PRESETS, Mode, Preset
from tuner.play.ffmpeg import find_ffmpeg

STATIC = Path(__file__).resolve().parents[1] / "tuner" / "web" / "static"
BOX = (1280, 720)
WARMUP = 5

PAGE = """<!doctype html><meta charset="utf-8">
<style>html, body { margin: 0; background: #000; } canvas { display: block; }</style>
<canvas id="screen"></canvas>"""

# Decodes the messages (base64) into copied grids, kept in window.benchFrames.
DECODE_JS = """
(messages) => {
  const decoder = new TunerCodec.Decoder();
  window.benchFrames = messages.map((text) => {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    const info = decoder.decode(bytes);
    return { mode: decoder.mode, cols: decoder.cols, rows: decoder.rows,
             planes: decoder.planes.map((p) => p.slice()), keyframe: info.kind === "keyframe" };
  });
  return window.benchFrames.length;
}
"""

# Draws every frame with one renderer and returns the timed draws (ms) and cells drawn.
DRAW_JS = """
([kind, box, dpr, warmup]) => {
  const old = document.getElementById("screen");
  const canvas = document.createElement("canvas");
  canvas.id = "screen";
  old.replaceWith(canvas);
  const frames = window.benchFrames;
  let draw;
  let ctx;
  if (kind === "per-cell") {
    draw = perCellRenderer(canvas, box, dpr);
    ctx = canvas.getContext("2d", { alpha: false });
  } else {
    const path = kind === "full" ? "pixels" : kind;
    const renderer = new TunerRenderer.Renderer(canvas, { path: path });
    if (renderer.path !== path) throw new Error(path + " does not work here: " + renderer.path);
    renderer.fit(box[0], box[1], dpr);
    draw = (frame) => renderer.draw(frame, kind === "full" || frame.keyframe);
    ctx = renderer.ctx;
  }
  const times = [];
  const cells = [];
  for (let i = 0; i < frames.length; i++) {
    const t0 = performance.now();
    const n = draw(frames[i]);
    ctx.getImageData(0, 0, 1, 1);
    const t1 = performance.now();
    if (i >= warmup) { times.push(t1 - t0); cells.push(n); }
  }
  return { times: times, cells: cells, width: canvas.width, height: canvas.height };
}
"""

# The replaced tool's way: the whole grid every frame, a fillText per cell.
PER_CELL_JS = """
window.perCellRenderer = function (canvas, box, dpr) {
  let layout = null;
  const ctx = canvas.getContext("2d", { alpha: false });
  const colours = TunerRenderer.CSS_COLOURS;
  return function (frame) {
    if (!layout) {
      layout = TunerRenderer.computeLayout(frame.cols, frame.rows, box[0], box[1], dpr);
      canvas.width = layout.width;
      canvas.height = layout.height;
    }
    const h = layout.cellHeight;
    const w = layout.cellWidth;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.font = h + "px monospace";
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    const symbols = frame.planes[0];
    const second = frame.planes[1];
    const cols = frame.cols;
    for (let cell = 0; cell < cols * frame.rows; cell++) {
      const row = (cell / cols) | 0;
      const x = (cell - row * cols) * w;
      const y = row * h;
      if (frame.mode === "blocks") {
        ctx.fillStyle = colours[second[cell]];
        ctx.fillRect(x, y, w, h);
        ctx.fillStyle = colours[symbols[cell]];
        ctx.fillText("\\u2580", x + w / 2, y + h / 2);
      } else {
        ctx.fillStyle = frame.mode === "mono" ? "#e6e6e6" : colours[second[cell]];
        const code = frame.mode === "braille" ? 0x2800 + symbols[cell] : symbols[cell];
        ctx.fillText(String.fromCharCode(code), x + w / 2, y + h / 2);
      }
    }
    return cols * frame.rows;
  };
};
"""


def make_frames(ffmpeg: str, preset: Preset, modes: list[Mode], count: int,
                directory: Path) -> dict[Mode, list[bytes]]:  # fmt: skip
    """testsrc2 through each mode's filter, render and encoder: v2 messages per mode."""
    seconds = (count + 1) / preset.fps
    graph = f"testsrc2=size=640x360:rate={preset.fps}"
    split = f"[0:v]split={len(modes)}" + "".join(f"[s{i}]" for i in range(len(modes)))
    chains = [
        f"[s{i}]{MODE_SPECS[mode].video_filter(preset.cols, preset.rows)}[m{i}]"
        for i, mode in enumerate(modes)
    ]
    command = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-f", "lavfi", "-t", f"{seconds:.3f}", "-i", graph,
               "-filter_complex", ";".join([split, *chains])]  # fmt: skip
    paths = {}
    for i, mode in enumerate(modes):
        paths[mode] = directory / f"{preset.name}-{mode}.raw"
        command += ["-map", f"[m{i}]", "-frames:v", str(count), "-f", "rawvideo",
                    str(paths[mode])]  # fmt: skip
    subprocess.run(command, check=True, timeout=120)
    messages: dict[Mode, list[bytes]] = {}
    for mode in modes:
        size = MODE_SPECS[mode].frame_bytes(preset.cols, preset.rows)
        data = paths[mode].read_bytes()
        encoder = Encoder()
        out = []
        for seq, start in enumerate(range(0, len(data) - size + 1, size)):
            frame = frame_view(mode, data[start : start + size], preset.cols, preset.rows)
            out.append(encoder.encode(render(mode, frame), seq, seq * 1000 // preset.fps))
        messages[mode] = out
    return messages


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--presets", default="low,med,high,ultra")
    parser.add_argument("--modes", default="color,blocks,braille")
    parser.add_argument(
        "--renderers",
        default="pixels,full,atlas,fillText,per-cell",
        help="the renderer's paths (pixels, atlas, fillText); full: pixels, every frame "
        "drawn whole; per-cell",
    )
    parser.add_argument("--dpr", type=float, default=1.5)
    args = parser.parse_args()

    presets = [PRESETS[name] for name in args.presets.split(",")]
    modes = [Mode(name) for name in args.modes.split(",")]
    renderers = args.renderers.split(",")
    ffmpeg = find_ffmpeg(None).path
    started = time.monotonic()
    print(f"{os.cpu_count()} CPUs, load average before: "
          + ", ".join(f"{v:.2f}" for v in os.getloadavg()))  # fmt: skip
    with chromium() as browser:
        print(f"Chromium {browser.version} (headless, --disable-gpu: software canvas), "
              f"box {BOX[0]}x{BOX[1]} CSS px at dpr {args.dpr}; {args.frames} testsrc2 "
              f"frames, the first {WARMUP} untimed")  # fmt: skip
        context = browser.new_context(
            viewport={"width": BOX[0], "height": BOX[1]}, device_scale_factor=args.dpr
        )
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.set_content(PAGE)
        page.add_script_tag(path=str(STATIC / "codec.js"))
        page.add_script_tag(path=str(STATIC / "renderer.js"))
        page.add_script_tag(content=PER_CELL_JS)
        print()
        header = f"{'mode':8} {'preset':6} {'canvas':>9} {'cells':>6}"
        for name in renderers:
            header += f" {name + ' med':>13} {'p95':>5}"
        ratio = "per-cell" in renderers and renderers[0] != "per-cell"
        header += f"  per-cell/{renderers[0]}: median p95" if ratio else ""
        print(header)
        with tempfile.TemporaryDirectory() as tmp:
            for preset in presets:
                messages = make_frames(ffmpeg, preset, modes, args.frames, Path(tmp))
                for mode in modes:
                    encoded = [base64.b64encode(m).decode("ascii") for m in messages[mode]]
                    page.evaluate(DECODE_JS, encoded)
                    results = {}
                    for name in renderers:
                        results[name] = page.evaluate(DRAW_JS, [name, list(BOX), args.dpr, WARMUP])
                    first = results[renderers[0]]
                    cells = statistics.mean(first["cells"])
                    line = (f"{mode.value:8} {preset.name:6} "
                            f"{first['width']:>4}x{first['height']:<4} {cells:6.0f}")  # fmt: skip
                    for name in renderers:
                        times = results[name]["times"]
                        line += f" {statistics.median(times):13.2f} {percentile(times, 0.95):5.1f}"
                    if ratio:
                        a, b = results[renderers[0]]["times"], results["per-cell"]["times"]
                        line += (f"  {statistics.median(b) / statistics.median(a):5.1f}x"
                                 f" {percentile(b, 0.95) / percentile(a, 0.95):5.1f}x")  # fmt: skip
                    print(line, flush=True)
    print(f"\n'cells': mean cells the first renderer drew per timed frame; times in ms. "
          f"{time.monotonic() - started:.0f} s in all.")  # fmt: skip


if __name__ == "__main__":
    main()
