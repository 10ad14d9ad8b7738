"""A tunnel at the default lead, in a real headless Chromium against a real daemon: the
relay (tests/web/relay.py) cuts every connection for 3 s while the page plays the
test card or a clip read 10 s ahead.

What the page holds carries it through: the sound plays on from what the element
holds (its clock keeps running, no ``waiting``) and the picture from its queue. Out of
the tunnel the page comes back by itself: its video socket resumes after the last
frame it got (``after_seq``), nothing skipped; its ``<audio>`` element asks for the
rest of its stream by bytes (``Range: bytes=N-``) and the daemon sends it (``206``),
so the sound goes on with no gap, no new stream and no ``waiting``; and picture and
sound are in sync after.
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
#: Where the sound the element holds ends, on the session's clock (ms).
HELD = (
    "(() => { const a = document.getElementById('audio'), b = a.buffered;"
    " return b.length ? window.tunerStats.sync.audioStartMs + b.end(b.length - 1) * 1000"
    " : 0; })()"
)
CUT_SECONDS = 3


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
    # The default lead (10 s). No adaptive quality: on a loaded machine the page can
    # report that it falls behind, and a step down cuts what was read ahead at the
    # play head (its frames' seqs are never sent), which is not what this test is about.
    config.write_text("adaptive_quality = false\n" + QUIET_CONFIG)
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
        # frame it got; the element gets the rest of its stream by bytes, and plays on
        # past all it held at the cut (the lead, 10 s, would end before that).
        wait_for(page, f"window.tunnel.sockets.some(s => s.at > {cut_at + CUT_SECONDS * 1000})")
        held = page.evaluate(HELD)
        wait_for(page, f"{HELD} > {held + 2000}", timeout=40_000)
        wait_for(page, f"{SOUND_AT} > {samples[-1]['sound'] + 3000}")
        end = page.evaluate(SAMPLE)
        after = page.evaluate(
            "({events: window.tunnel.events, sockets: window.tunnel.sockets,"
            " frames: window.tunnel.frames, offsets: window.tunerStats.sync.offsets.slice(-60),"
            " late: window.tunerStats.sync.late, resumes: window.tunerStats.audioResumes,"
            " loads: window.tunerStats.audioLoads,"
            " src: document.getElementById('audio').getAttribute('src')})"
        )
        page.context.close()
        daemon_log = daemon.log()
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

    # The element never ran dry and never changed streams: the one it had at the
    # start played on, without a waiting, ended or error, and the page never asked
    # for its sound again (no from_ms).
    assert after["src"] == first_src and after["loads"] == 1, after["src"]
    first_events = [e["type"] for e in after["events"] if e["src"] == first_src]
    assert first_events == ["waiting", "playing"] or first_events == ["playing"], first_events
    assert [e for e in after["events"] if e["at"] > cut_at] == [], after["events"]
    assert after["resumes"] == [], after["resumes"]
    # The daemon sent the rest of that stream by bytes.
    listener = dict(part.split("=", 1) for part in first_src.split("?", 1)[1].split("&"))
    assert f"listener {listener['listener']} resumed at byte" in daemon_log, daemon_log[-2000:]
    # Its clock ran on with the wall clock all along: no gap anywhere.
    played, took = end["sound"] - before["sound"], end["now"] - cut_at
    print(f"sound played {played:.0f} ms in {took:.0f} ms since the cut")
    assert abs(played - took) < 300, (played, took)
    # In sync after, on the sound's clock.
    offsets = after["offsets"]
    print(f"late frames {after['late']}; p95 |pts - clock| after: {p95_abs(offsets):.1f} ms")
    assert p95_abs(offsets) <= 60, offsets
