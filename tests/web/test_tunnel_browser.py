"""A tunnel at the default lead, in a real headless Chromium against a real daemon: the
relay (tests/web/relay.py) cuts every connection for 3 s while the page plays the
test card or a clip read 10 s ahead.

What the page holds carries it through: the sound plays on from what the element
holds (its clock keeps running, no ``waiting``) and the picture from its queue. Out of
the tunnel the page comes back by itself: its video socket resumes after the last
frame it got (``after_seq``), nothing skipped; its sound, whose stream the drop ended,
is asked for again from where it is (``from_ms``), which costs one short gap (see
the test's end for why and how short); and picture and sound are in sync after.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Media
from tests.daemon_process import DaemonProcess
from tests.web.avsync import p95_abs
from tests.web.chromium import wait_for
from tests.web.relay import relay_to
from tests.web.test_car_client import QUIET_CONFIG, keypad_login, open_page
from tests.web.test_client_browser import PIN, browser

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the fixture, shared with the client's browser test

#: The audio element's events, the video sockets opened, and every frame received.
RECORD = """(() => {
  window.tunnel = {events: [], sockets: [], frames: []};
  const Real = window.WebSocket;
  window.WebSocket = function (url, protocols) {
    window.tunnel.sockets.push({url: String(url), at: performance.now()});
    return protocols === undefined ? new Real(url) : new Real(url, protocols);
  };
  window.WebSocket.prototype = Real.prototype;
  ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].forEach(k => { window.WebSocket[k] = Real[k]; });
  document.addEventListener('DOMContentLoaded', () => {
    const audio = document.getElementById('audio');
    ['waiting', 'playing', 'ended', 'error', 'emptied'].forEach(type =>
      audio.addEventListener(type, () => window.tunnel.events.push(
        {type, at: performance.now(), src: audio.getAttribute('src') || ''})));
  });
  window.tunerHooks = {onFrame: frame =>
    window.tunnel.frames.push([frame.seq, frame.ptsMs, performance.now()])};
})();"""
#: The page's sound on the session's clock now (ms).
SOUND_AT = (
    "window.tunerStats.sync.audioStartMs === null ? null :"
    " window.tunerStats.sync.audioStartMs + document.getElementById('audio').currentTime * 1000"
)
NOW = "performance.now()"
CUT_SECONDS = 3


#: One ADTS frame (1024 samples at 48 kHz), in ms: a resumed stream starts at the one
#: that holds the time asked for.
ADTS_FRAME_MS = 1024 / 48
#: What the test reads each quarter second through the cut.
SAMPLE = (
    f"({{sound: {SOUND_AT}, now: {NOW}, drawn: window.tunerStats.framesDrawn,"
    " late: window.tunerStats.sync.late})"
)


@pytest.mark.parametrize("source", ["testcard", "clip"])
def test_a_tunnel_is_ridden_out_from_what_the_page_holds(
    browser: Any, media: Media, tmp_path: Path, source: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(QUIET_CONFIG)  # the default lead: 10 s
    errors: list[str] = []
    with (
        DaemonProcess.start(tmp_path, pin=PIN, args=("--config", str(config))) as daemon,
        relay_to(daemon.base_url) as relay,
    ):
        page = open_page(browser, f"http://127.0.0.1:{relay.port}/", "car", errors, RECORD)
        keypad_login(page, PIN)
        page.wait_for_selector("body[data-state=home]")
        if source == "clip":
            page.fill("#query", media.url_of("timecode.mp4"))
        page.tap("#play")
        wait_for(page, "window.tunerStats.sync.source === 'audio'")
        # Playing its own sound, with the lead at the page: frames 5 s past its sound.
        wait_for(page, f"{SOUND_AT} > 1000")
        wait_for(
            page, f"window.tunnel.frames[window.tunnel.frames.length - 1][1] > {SOUND_AT} + 5000"
        )
        first_src = page.evaluate("document.getElementById('audio').getAttribute('src')")
        before = page.evaluate(SAMPLE)
        cut_at = before["now"]

        # In the tunnel: every connection drops at once, none can be made.
        relay.cut()
        samples = [before]
        for _ in range(CUT_SECONDS * 4):
            page.wait_for_timeout(250)
            samples.append(page.evaluate(SAMPLE))
        relay.restore()
        trace = [(round(x["sound"]), round(x["now"]), x["drawn"], x["late"]) for x in samples]
        print("through the cut (sound ms, page ms, drawn, late):", trace)
        # The sound played on from what the element held, on time, and so did the picture.
        for a, b in itertools.pairwise(samples):
            assert b["sound"] > a["sound"], samples
        played, took = samples[-1]["sound"] - before["sound"], samples[-1]["now"] - cut_at
        assert abs(played - took) < 300, (played, took)
        assert samples[-1]["drawn"] - before["drawn"] >= 30, samples

        # Out of it: the video socket comes back by itself and goes on after the last
        # frame it got; the sound goes on from where it is.
        wait_for(page, "window.tunerStats.audioResumes.length > 0")
        wait_for(page, "window.tunerStats.sync.source === 'audio'")
        resumes = page.evaluate("window.tunerStats.audioResumes")
        resumed_src = page.evaluate("document.getElementById('audio').getAttribute('src')")
        start = page.evaluate("window.tunerStats.sync.audioStartMs")
        resumed_sound = page.evaluate(SOUND_AT)
        wait_for(page, f"{SOUND_AT} > {resumed_sound + 3000}")
        after = page.evaluate(
            "({events: window.tunnel.events, sockets: window.tunnel.sockets,"
            " frames: window.tunnel.frames, offsets: window.tunerStats.sync.offsets.slice(-60),"
            " late: window.tunerStats.sync.late, resumes: window.tunerStats.audioResumes})"
        )
        page.context.close()
    assert not errors, errors

    sockets = [s for s in after["sockets"] if "/ws/video" in s["url"] and s["at"] > cut_at]
    assert sockets, after["sockets"]
    # Each asks to go on after the last frame the page got before it.
    for socket in sockets:
        last_seq = [seq for seq, _, at in after["frames"] if at < socket["at"]][-1]
        assert socket["url"].endswith(f"&after_seq={last_seq}"), (last_seq, sockets)
    # Every frame came, once and in order: nothing skipped through the drop.
    seqs = [seq for seq, _, _ in after["frames"]]
    assert all(b == a + 1 for a, b in itertools.pairwise(seqs)), [
        (a, b) for a, b in itertools.pairwise(seqs) if b != a + 1
    ]

    # The element never ran dry: no waiting, ended or error on its first stream (it
    # played what it held until the page replaced it).
    first_events = [e["type"] for e in after["events"] if e["src"] == first_src]
    assert first_events == ["waiting", "playing"] or first_events == ["playing"], first_events
    # The drop ended the stream at the daemon (a new stream cannot be glued on by
    # bytes: the element's own retry is refused), and the new video socket said so by
    # not naming it: the page asked for its sound again at once, once, from where it
    # was, while the element still played.
    assert len(resumes) == 1 and after["resumes"] == resumes, after["resumes"]
    resume = resumes[0]
    assert (resume["reason"], resume["waitMs"]) == ("lost", 0), resume
    assert resume["at"] > cut_at + CUT_SECONDS * 1000, resume
    from_ms = round(resume["heardMs"])
    assert resumed_src.endswith(f"&from_ms={from_ms}"), (resumed_src, resume)
    # ... heard by then, past the cut: the element played through it.
    assert from_ms > samples[-1]["sound"], (from_ms, samples[-1])
    # The daemon started the stream there (the ADTS frame that holds it).
    assert from_ms - ADTS_FRAME_MS - 1 <= start <= from_ms, (start, from_ms)
    # What that costs: the element starts the new stream (one waiting, at its load).
    new = [e for e in after["events"] if e["src"] == resumed_src]
    assert [e["type"] for e in new] == ["emptied", "waiting", "playing"], new
    gap = new[-1]["at"] - resume["at"]
    late_by = resume["at"] - cut_at - CUT_SECONDS * 1000
    print(f"sound replaced {late_by:.0f} ms after the cut's end; gap {gap:.0f} ms")
    assert gap < 1000, new
    # In sync after, on the sound's clock.
    offsets = after["offsets"]
    print(f"late frames {after['late']}; p95 |pts - clock| after: {p95_abs(offsets):.1f} ms")
    assert p95_abs(offsets) <= 60, offsets
