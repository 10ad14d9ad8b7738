"""Seek: ``POST /api/seek`` to the first frame at the new position drawn with its
sound, in headless Chromium, on a clip over loopback HTTP.

Run from the repository root::

    python bench/bench_seek.py                  # 6 seeks at lead 10
    python bench/bench_seek.py --seeks 3 --leads 10,0

A real ``tuner serve`` daemon per lead plays a 42 s clip made for this: the timecode
clip's picture (``tests/timecode.py``: the frame number in blocks that survive the
grid) with a tone that never stops and whose pitch says the second (400 + 100 s Hz
in second s), served by ``python -m http.server``. Debian's headless Chromium logs in
and taps Play; ``bench/pageprobe.js`` routes the ``<audio>`` element through an
analyser (its level and pitch) and keeps a copy of every grid drawn.

Before seeking, one second of play checks the method: each drawn grid is read back to
its media time with ``tests.timecode.media_time_of`` and each pitch to its second,
and both must agree with the frame's pts.

Then each seek, after 2 s of play, alternately forward and back (``{"position": p}``
sent by the page's own ``fetch`` helper, timed from just before it): the figure is
the time to the first grid drawn that

- shows the new position (its picture reads within -0.25 s / +2 s of p),
- on the audio clock (not held, not a wall clock),
- while the sound is real and is the new position's (its pitch says a second from
  floor(p) to floor(p) + 2).

Goal (issue 17): median <= 0.6 s. Without the seek API (404 or 405) it says so.

Results
=======

On branch ``timeline`` at 7f8aa36 (no ``POST /api/seek`` yet), ``python
bench/bench_seek.py``::

    lead 10 s: method check, 1 s of play at 24 fps: picture read to its pts on 24 of
    24 draws, pitch to its second on 24
      seek to 18 s: POST /api/seek answered 404: {... 'error': 'not found'}
      no seek measured; goal <= 0.6 s: NOT met

(at load average 8 the page drew only 3 frames in that second: the check also says
when the browser is too starved for the figure to mean much.)

After merging ``timeline`` at 76230d2 (the seek API; the page does not handle the
``seek`` message yet: that client is being built on another branch), load average
10-12, two runs (with a 30 s clip and a 15 s timeout, since made 42 s and 8 s)::

      seek to 18 s: 3.227 s
      seek to 6 s: not within 15 s; last drawn: showing 28.125, wall clock, pitch second None

      seek to 18 s: not within 15 s; last drawn: showing 20.04, audio clock, pitch second 12

The picture goes to the new place; the sound does not: the page's ``<audio>`` holds
the lead's burst of the old place's sound and plays it on after the daemon ends the
stream (pitch 12 while the picture shows 20 s), until the page loads ``/audio`` again.
The first run's seek back (to 6 s) was answered 200 but the picture went on at the old
place to the clip's end; not looked into (a reproduction: this command, on that commit,
under load).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pagekit import (
    SEEK_CLIP,
    daemon_at_lead,
    machine,
    median,
    open_page,
    p95,
    tone_second,
    verdict,
    wait_until,
)
from tests.media import http_server, make_clip
from tests.timecode import media_time_of
from tests.web.avsync import AUTOPLAY_ARGS
from tests.web.chromium import chromium
from tuner.core.grid import Grid
from tuner.core.presets import Mode
from tuner.play.ffmpeg import find_ffmpeg

GOAL_S = 0.6
SEEK_TIMEOUT_S = 8.0
#: Alternately forward and back, and far enough from the end that a seek that fails
#: (the session plays on for the timeout) leaves the next one something to seek in.
POSITIONS = (18.0, 6.0, 22.5, 9.5, 16.0, 4.0, 20.0, 11.0)


def shown_time(capture: dict) -> float | None:
    """The media time a captured grid shows (tests/timecode.py's reader)."""
    if capture["mode"] != "mono":
        raise RuntimeError("the seek benchmark reads mono grids")
    planes = np.array(capture["symbols"], dtype=np.uint8).reshape(
        1, capture["rows"], capture["cols"]
    )
    return media_time_of(Grid(Mode.MONO, planes))


def new_captures(page: Any, seen: int) -> list[dict]:
    captures: list[dict] = page.evaluate(f"window.benchlog.captures.slice({seen})")
    return captures


def check_method(page: Any) -> str:
    """One second of play: do the picture and the pitch read back to the pts?"""
    page.evaluate("window.benchReset(); window.benchlog.capturing = true")
    page.wait_for_timeout(1000)
    captures = new_captures(page, 0)
    page.evaluate("window.benchlog.capturing = false")
    fps = page.evaluate("(window.tunerStats.lastHello || {}).fps")
    pictures = sum(
        1 for c in captures if (t := shown_time(c)) is not None and abs(t - c["pts"] / 1000) <= 0.1
    )
    # The pitch is the sound's at the draw: its second, give or take the boundary.
    pitches = sum(
        1
        for c in captures
        if (s := tone_second(c["pitch"])) is not None and abs(s - c["pts"] / 1000) <= 1.1
    )
    return (
        f"method check, 1 s of play at {fps} fps: picture read to its pts on {pictures} of "
        f"{len(captures)} draws, pitch to its second on {pitches}"
    )


def one_seek(page: Any, position: float) -> tuple[float | None, str]:
    """Seek to ``position``; seconds to the first frame there drawn with its sound."""
    page.evaluate("window.benchReset(); window.benchlog.capturing = true")
    answer: dict = page.evaluate(
        "(p) => { window.benchlog.seekAt = performance.now();"
        " return window.tunerPage.send('POST', '/api/seek', {position: p}); }",
        position,
    )
    sent_at: float = page.evaluate("window.benchlog.seekAt")
    if answer["status"] != 200:
        return None, f"POST /api/seek answered {answer['status']}: {answer.get('data')}"
    seen = 0
    last = "nothing drawn"
    deadline = time.monotonic() + SEEK_TIMEOUT_S
    while time.monotonic() < deadline:
        captures = new_captures(page, seen)
        seen += len(captures)
        for c in captures:
            shown = shown_time(c)
            second = tone_second(c["pitch"])
            last = f"showing {shown}, {c['source']} clock, pitch second {second}"
            if (
                shown is not None
                and position - 0.25 <= shown <= position + 2
                and c["source"] == "audio"
                and c["loud"]
                and second is not None
                and math.floor(position) <= second <= math.floor(position) + 2
            ):
                page.evaluate("window.benchlog.capturing = false")
                return (c["at"] - sent_at) / 1000, last
        page.wait_for_timeout(50)
    page.evaluate("window.benchlog.capturing = false")
    return None, f"not within {SEEK_TIMEOUT_S:g} s; last drawn: {last}"


def run_lead(browser: Any, base_url: str, clip_url: str, seeks: int) -> tuple[list, list, str]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = open_page(context, base_url, capture=True)
        page.fill("#query", clip_url)
        page.click("#play")
        wait_until(page, "window.tunerStats.sync.source === 'audio' && window.benchlog.loud", 30)
        check = check_method(page)
        times: list[float] = []
        notes: list[str] = []
        for n in range(seeks):
            page.wait_for_timeout(2000)
            position = POSITIONS[n % len(POSITIONS)]
            took, note = one_seek(page, position)
            notes.append(f"to {position:g} s: " + (f"{took:.3f} s" if took else note))
            if took is None and note.startswith("POST /api/seek answered"):
                break  # no seek API: nothing more to measure
            if took is not None:
                times.append(took)
        page.evaluate("fetch('/api/stop', {method: 'POST', credentials: 'same-origin'})")
        return times, notes, check
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seeks", type=int, default=6, help="seeks at each lead (default 6)")
    parser.add_argument("--leads", default="10", help="comma-separated leads (default 10)")
    args = parser.parse_args()
    leads = [float(x) for x in args.leads.split(",") if x]
    started = time.monotonic()
    print(machine(), flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="tuner-bench-seek-") as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        make_clip(find_ffmpeg(None).path, SEEK_CLIP, media)
        with http_server(media) as base, chromium(AUTOPLAY_ARGS) as browser:
            for lead in leads:
                with daemon_at_lead(Path(tmp) / f"lead{lead:g}", lead) as daemon:
                    url = f"{base}/{SEEK_CLIP.name}"
                    results[lead] = run_lead(browser, daemon.base_url, url, args.seeks)
    for lead, (times, notes, check) in results.items():
        print(f"lead {lead:g} s: {check}")
        for note in notes:
            print(f"  seek {note}")
        if times:
            print(
                f"  POST /api/seek -> first frame at the new position drawn with its sound: "
                f"median {median(times):.3f} s, p95 {p95(times):.3f} s, "
                f"{len(times)} of {len(notes)} seeks; goal <= {GOAL_S} s: "
                f"{verdict(len(times) == len(notes) and median(times) <= GOAL_S)}"
            )
        else:
            print(f"  no seek measured; goal <= {GOAL_S} s: {verdict(False)}")
    print(f"(benchmark took {time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
