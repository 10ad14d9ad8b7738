"""Link stall: the page rides out a 5 s stall of its link, and a cut of every
connection, with a lead of 10 s against today's real-time path (lead 0).

Run from the repository root::

    python bench/bench_stall.py                 # both kinds, both leads
    python bench/bench_stall.py --kinds pause --after 10

A real ``tuner serve`` daemon per lead plays bench_av's 40 s clip (a white flash and a
1 kHz beep for 0.1 s at every whole second, served on loopback) to Debian's headless
Chromium, whose page logs in and taps Play like a person. The page reaches the daemon
through ``tests/relay.py``'s TCP relay (every request, the video socket, the events
socket and ``/audio``), as the car reaches it through its LTE link. Once the picture
runs on the audio clock and 3 s have played, the relay:

pause
    stops forwarding for 5 s in both directions, then goes on (nothing closed: a
    tunnel on a link that comes back);
cut
    stops forwarding, resets every connection at once, and goes on 5 s later: the
    page must notice and reconnect (its video socket asks to resume after the last
    frame it had; its sound is loaded again).

Then it watches for ``--after`` seconds more (default 15). ``tests/web/avprobe.js``
watches the flashes drawn and the beeps heard (bench_av's method), and
``bench/pageprobe.js`` every frame drawn and the ``<audio>`` element's events. From the
stall's start to the end:

skipped (server)
    frames the daemon skipped for this viewer (``tuner_frames_dropped`` on
    ``/metrics``, after minus before).
dropped late (page)
    frames the page received and dropped unseen because a newer one was due
    (``tunerStats.sync.late``, after minus before).
drawn late
    frames drawn more than a frame's time plus 20 ms after their pts on the page's
    clock (a picture that froze and then went on).
flash seconds missing
    whole seconds of the clip whose flash was never drawn, between the first and the
    last drawn after the stall began (a skip shows as a missing flash).
audio ``waiting``
    ``waiting`` events of the ``<audio>`` element (its buffer ran dry: an underrun).
A/V p95 after
    |flash drawn - beep heard| of the flashes drawn after the link came back, p95.

Goal (issue 17), at lead 10: 0 frames drawn late or skipped, 0 ``waiting``, A/V p95
<= 60 ms.

Results
=======

On branch ``range17`` (``/audio`` answers the element's own ``Range: bytes=N-`` with
the rest of its stream, 206), this 2-CPU VM shared with other work (load average 4.5
before), ``python bench/bench_stall.py --kinds cut``::

    2 CPUs; load average before: 4.51, 4.65, 4.39
    a 5 s stall of the page's link after 3 s of play, watched 15 s more
                        skipped  dropped  drawn  flashes    audio  A/V p95  audio  clock
                       (server)     late   late  missing  waiting after ms  loads  at end
    cut, lead 10 s            0        0      0        0        0      6.8      0  audio (n=15)
    cut, lead 0 s             9        0      0        5        1      7.2      0  audio (n=10)
    cut, lead 10 s: late or skipped 0, waiting 0, A/V p95 6.8 ms; goal 0 / 0 / <= 60 ms: met

Two runs before it (load 3.9 and 4.6): lead 10 the same (0 / 0 waiting, 16.4 and
6.9 ms); lead 0 1 ``waiting`` each, A/V 101.1 ms (n=10) and 10.6 ms (n=8). The same
command on main at 4d94184 a minute earlier (load 3.6)::

    cut, lead 10 s            0        0      0        0        1     12.9      1  audio (n=15)
    cut, lead 0 s             9        0      0        5        2     31.1      1  audio (n=10)
    cut, lead 10 s: late or skipped 0, waiting 1, A/V p95 12.9 ms; goal 0 / 0 / <= 60 ms: NOT met

What it says: the cut's one ``waiting`` was the page starting a new stream (``audio
loads`` 1) after the daemon refused the element's retry by bytes; answered, the
element plays on from what it held into the rest of the same stream (``audio loads``
0), and the cut at lead 10 meets the goal. At lead 0 the element runs dry in the cut
(one ``waiting`` either way), and the server skips the frames the viewer can no
longer show in time; its A/V figure varies from run to run (7 to 101 ms here).

Earlier, on branch ``timeline`` at 7f8aa36 (the client's audio resume not in yet), this 2-CPU VM
(load average 6 before), ``python bench/bench_stall.py``::

    a 5 s stall of the page's link after 3 s of play, watched 15 s more
                        skipped  dropped  drawn  flashes    audio  A/V p95  audio  clock
                       (server)     late   late  missing  waiting after ms  loads  at end
    pause, lead 10 s          0        0      0        0        0      5.8      0  audio (n=15)
    pause, lead 0 s           0        4      0        3        1      4.7      0  audio (n=12)
    cut, lead 10 s            0       15      0        8        0    387.7      0  audio (n=15)
    cut, lead 0 s             9        0      0        5        4     91.7      0  wall (n=10)
    pause, lead 10 s: late or skipped 0, waiting 0, A/V p95 5.8 ms; goal 0 / 0 / <= 60 ms: met
    cut, lead 10 s: late or skipped 23, waiting 0, A/V p95 387.7 ms; goal 0 / 0 / <= 60 ms: NOT met

(an earlier run at load 11, watching 8 s: pause at lead 10 dropped 1 frame late and
missed 1 flash, A/V 12.3 ms; the cut the same as here.)

What it says: a stall that closes nothing is ridden out at lead 10 (the page and its
``<audio>`` hold enough), and not at lead 0 (an underrun, frames skipped). After a cut
at lead 10 the page drops frames late and misses flashes, and picture and sound end
~0.4 s apart, while ``tunerStats.audioLoads`` did not move (the page never asked for
its sound again); why the sound then runs 0.4 s off its picture is not measured here
(the client's audio resume, being built, is where to look).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_av import LONG_CLIP
from bench.pagekit import daemon_at_lead, machine, open_page, p95, verdict, wait_until
from tests.media import http_server, make_clip
from tests.relay import relay_in_thread
from tests.web.avsync import AUTOPLAY_ARGS, pair_offsets
from tests.web.avsync import PROBE as AV_PROBE
from tests.web.chromium import chromium
from tuner.play.ffmpeg import find_ffmpeg

KINDS = ("pause", "cut")
STALL_S = 5.0
WARM_S = 3.0
GOAL_AV_MS = 60.0
_DROPPED = re.compile(r"^tuner_frames_dropped(?:_total)? (\S+)$", re.MULTILINE)


@attrs.frozen
class Outcome:
    skipped: int
    dropped_late: int
    drawn_late: int
    missing_flashes: int
    waiting: int
    av_p95_ms: float
    av_pairs: int
    audio_loads: int
    clock_at_end: str
    errors: list[str]


def dropped_total(base_url: str) -> int:
    """``tuner_frames_dropped`` from the daemon's ``/metrics`` (served on loopback)."""
    text = httpx.get(base_url + "/metrics", timeout=10).text
    match = _DROPPED.search(text)
    if match is None:
        raise RuntimeError("no tuner_frames_dropped in /metrics")
    return int(float(match.group(1)))


def one_run(browser: Any, base_url: str, clip_url: str, kind: str, after_s: float) -> Outcome:
    """Play through a relay, stall or cut it, watch; the figures."""
    port = int(base_url.rsplit(":", 1)[1])
    with relay_in_thread(port) as relay:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        try:
            page = open_page(context, relay.url, analyser=False)
            page.evaluate(AV_PROBE)  # routes the <audio> element through its analyser
            page.fill("#query", clip_url)
            page.click("#play")
            wait_until(page, "window.tunerStats.sync.source === 'audio'", 30)
            page.wait_for_timeout(WARM_S * 1000)
            before: dict = page.evaluate(
                "({late: tunerStats.sync.late, loads: tunerStats.audioLoads,"
                " now: performance.now()})"
            )
            skipped_before = dropped_total(base_url)
            page.evaluate("window.benchReset()")
            if kind == "pause":
                relay.stall(STALL_S)
            else:
                relay.pause()
                relay.cut()
                time.sleep(STALL_S)
                relay.resume()
            back_at = page.evaluate("performance.now()")
            page.wait_for_timeout(after_s * 1000)
            after: dict = page.evaluate(
                "({late: tunerStats.sync.late, loads: tunerStats.audioLoads,"
                " source: tunerStats.sync.source, fps: (tunerStats.lastHello || {}).fps})"
            )
            bench = page.evaluate("window.benchlog")
            av = page.evaluate("window.avlog")
            skipped = dropped_total(base_url) - skipped_before
            page.evaluate("fetch('/api/stop', {method: 'POST', credentials: 'same-origin'})")
        finally:
            context.close()
    frame_ms = 1000 / (after["fps"] or 24)
    drawn_late = sum(
        1
        for d in bench["draws"]
        if d["source"] != "held"
        and d["clock"] is not None
        and d["clock"] - d["pts"] > frame_ms + 20
    )
    flashes = [f for f in av["flashes"] if f["at"] >= before["now"] and f.get("source") != "held"]
    seconds = sorted({round(f["pts"] / 1000) for f in flashes})
    missing = (seconds[-1] - seconds[0] + 1 - len(seconds)) if seconds else -1
    offsets = pair_offsets([f for f in flashes if f["at"] >= back_at], av["beeps"])
    return Outcome(
        skipped=skipped,
        dropped_late=after["late"] - before["late"],
        drawn_late=drawn_late,
        missing_flashes=missing,
        waiting=len(bench["waiting"]),
        av_p95_ms=p95([abs(o) for o in offsets]) if offsets else float("nan"),
        av_pairs=len(offsets),
        audio_loads=after["loads"] - before["loads"],
        clock_at_end=after["source"],
        errors=list(av["errors"]) + list(bench["errors"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--kinds", default=",".join(KINDS), help="pause, cut or both (default)")
    parser.add_argument("--after", type=float, default=15, help="seconds watched after (15)")
    parser.add_argument("--lead", type=float, default=10, help="the lead measured (default 10)")
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    if not kinds or any(k not in KINDS for k in kinds):
        parser.error(f"--kinds must name some of {KINDS}")
    if WARM_S + STALL_S + args.after > LONG_CLIP.seconds - 8:
        parser.error(f"--after: the clip lasts {LONG_CLIP.seconds} s")
    leads = (args.lead, 0.0)
    started = time.monotonic()
    print(machine(), flush=True)
    results: dict[tuple[str, float], Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="tuner-bench-stall-") as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        make_clip(find_ffmpeg(None).path, LONG_CLIP, media)
        with (
            http_server(media) as base,
            daemon_at_lead(Path(tmp) / "lead", leads[0]) as ahead,
            daemon_at_lead(Path(tmp) / "now", leads[1]) as today,
            chromium(AUTOPLAY_ARGS) as browser,
        ):
            daemons = {leads[0]: ahead, leads[1]: today}
            for kind in kinds:
                for lead in leads:
                    url = f"{base}/{LONG_CLIP.name}?{kind}={lead}"
                    results[(kind, lead)] = one_run(
                        browser, daemons[lead].base_url, url, kind, args.after
                    )
                    print(f"  {kind}, lead {lead:g}: done", file=sys.stderr, flush=True)
    print(
        f"a {STALL_S:g} s stall of the page's link after {WARM_S:g} s of play, watched "
        f"{args.after:g} s more"
    )
    header = (
        f"{'':18} {'skipped':>8} {'dropped':>8} {'drawn':>6} {'flashes':>8} "
        f"{'audio':>8} {'A/V p95':>8} {'audio':>6}  clock"
    )
    print(header)
    print(
        f"{'':18} {'(server)':>8} {'late':>8} {'late':>6} {'missing':>8} "
        f"{'waiting':>8} {'after ms':>8} {'loads':>6}  at end"
    )
    for (kind, lead), o in results.items():
        print(
            f"{kind + ', lead ' + format(lead, 'g') + ' s':18} {o.skipped:8d} "
            f"{o.dropped_late:8d} {o.drawn_late:6d} {o.missing_flashes:8d} {o.waiting:8d} "
            f"{o.av_p95_ms:8.1f} {o.audio_loads:6d}  {o.clock_at_end} (n={o.av_pairs})"
        )
        if o.errors:
            print(f"  probe errors: {o.errors}")
    for kind in kinds:
        o = results[(kind, leads[0])]
        late_or_skipped = o.skipped + o.dropped_late + o.drawn_late + max(o.missing_flashes, 0)
        ok = late_or_skipped == 0 and o.waiting == 0 and o.av_p95_ms <= GOAL_AV_MS
        print(
            f"{kind}, lead {leads[0]:g} s: late or skipped {late_or_skipped}, waiting "
            f"{o.waiting}, A/V p95 {o.av_p95_ms:.1f} ms; goal 0 / 0 / <= {GOAL_AV_MS:g} ms: "
            f"{verdict(ok)}"
        )
    print(f"(benchmark took {time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
