"""Seeking from the page, in a real headless Chromium: the 10 s steps back and
forward, the scrub bar dragged by touch (real touch input, through the DevTools
protocol) and by mouse, the car's seek keys (the media session), a seek during a
seek, an error answered; the server's ``seek`` message voiding what the page holds
and restarting its sound there; and the controls hidden while the source cannot seek.

Against a fake tuner (Playwright's routes: the static files from disk, canned JSON, a
scripted video socket), which says exactly what the page must do with each message.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Media
from tests.daemon_process import DaemonProcess
from tests.web.chromium import wait_for
from tests.web.relay import relay_to
from tests.web.test_car_client import (
    _RECORD_MEDIA_ACTIONS,
    QUIET_CONFIG,
    api,
    check_fits_a_finger,
    keypad_login,
    open_page,
)
from tests.web.test_client_browser import (
    PIN,
    VIDEO_SOCKET,
    browser,
    fake_tuner,
    header,
)
from tuner.core.codec import FRAME_VERSION
from tuner.core.control import PROTOCOL_VERSION

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the fixture, shared with the client's browser test

#: The protocol version the server's hello says (the page must speak it).
PROTOCOL = PROTOCOL_VERSION
#: The first byte of every frame.
FRAME = FRAME_VERSION
SESSION = "seek01"
DURATION = 120.0
STATUS = {
    "state": "playing",
    "session_id": SESSION,
    "title": "A clip",
    "is_live": False,
    "preset": "low",
    "chosen_preset": "low",
    "fps": 25,
    "mode": "mono",
    "duration": DURATION,
    "position": 30.0,
    "seekable": True,
}
PRESETS = {
    "presets": [{"name": "low", "cols": 4, "rows": 2, "fps": 25, "description": "tiny"}],
    "modes": ["mono"],
    "default_preset": "low",
    "default_mode": "mono",
}
HELLO = {
    "type": "hello",
    "protocol": PROTOCOL,
    "session_id": SESSION,
    "cols": 4,
    "rows": 2,
    "fps": 25,
    "mode": "mono",
    "preset": "low",
    "position": 30.0,
    "duration": DURATION,
    "seekable": True,
}
TIME = "document.getElementById('time').textContent"


class FakeTuner:
    """The page on a fake tuner that plays a seekable 2-minute clip, and what it was asked."""

    def __init__(self, browser: Any, status: dict[str, Any], hello: dict[str, Any]) -> None:
        self.errors: list[str] = []
        self.seeks: list[dict[str, Any]] = []
        #: The answer to the next seeks: (HTTP status, JSON body); None answers the status.
        self.seek_answer: tuple[int, Any] | None = None
        self.sockets: list[Any] = []
        self.status = status
        self.hello = hello
        context = browser.new_context(
            viewport={"width": 1920, "height": 1200}, has_touch=True, device_scale_factor=1
        )
        self.page = context.new_page()
        self.page.set_default_timeout(20_000)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.add_init_script(_RECORD_MEDIA_ACTIONS)
        self.page.route_web_socket(VIDEO_SOCKET, self._video)
        fake_tuner(self.page, {"/api/status": status, "/api/presets": PRESETS})
        # Registered last, so it answers before fake_tuner's catch-all.
        self.page.route("**/api/seek", self._seek)

    def _video(self, ws: Any) -> None:
        self.sockets.append(ws)
        ws.send(json.dumps(self.hello))
        # From clock 0 on, the media is at 30 s (where this viewer joined).
        ws.send(
            json.dumps(
                {"type": "position", "at_ms": 0, "position": 30.0,
                 "duration": self.hello["duration"], "seekable": self.hello["seekable"]}
            )
        )  # fmt: skip
        ws.send(header(FRAME, 1, 1) + b"@#%&*+=-")  # a keyframe at pts 40

    def _seek(self, route: Any) -> None:
        body = json.loads(route.request.post_data or "null")
        self.seeks.append(body)
        if self.seek_answer is None:
            route.fulfill(json=self.status)
        else:
            code, answer = self.seek_answer
            route.fulfill(status=code, json=answer)

    def sent(self, count: int) -> list[dict[str, Any]]:
        """The seek requests, once there are ``count`` of them (and no more)."""
        wait_for(self.page, f"window.tunerStats.seeksSent.length >= {count}")
        self.page.wait_for_timeout(300)  # a request more than asked for would be sent by now
        assert len(self.seeks) == count, self.seeks
        return self.seeks

    def close(self) -> None:
        self.page.context.close()
        assert not self.errors, f"JavaScript errors on the page: {self.errors}"


@pytest.fixture
def tuner(browser: Any) -> Iterator[FakeTuner]:
    fake = FakeTuner(browser, STATUS, HELLO)
    fake.page.goto("http://tuner.test/")
    fake.page.wait_for_selector("body[data-state=player]", state="attached")
    wait_for(fake.page, "window.tunerStats.framesDrawn >= 1")
    yield fake
    fake.close()


def track_box(page: Any) -> dict[str, float]:
    box = page.locator("#scrub-track").bounding_box()
    assert box is not None
    assert page.locator("#scrub").bounding_box()["height"] == 48
    return dict(box)


def test_the_buttons_step_ten_seconds_and_the_time_is_the_medias(tuner: FakeTuner) -> None:
    page = tuner.page
    page.wait_for_selector("#seek:not([hidden])")
    # Elapsed is where the media is (30 s at clock 0, by the position message), not
    # the session's clock; the total is the clip's.
    wait_for(page, f"/^0:3\\d \\/ 2:00$/.test({TIME})")
    check_fits_a_finger(page)
    page.tap("#seek-forward")
    page.tap("#seek-back")
    page.tap("#seek-back")
    # One at a time: each waits for the one before it (answered at once here, so the
    # two steps back go one by one or, while one is on its way, as one).
    wait_for(page, "window.tunerStats.seeksSent.length >= 2")
    page.wait_for_timeout(500)
    assert tuner.seeks[0] == {"delta": 10}
    assert all(s.keys() == {"delta"} for s in tuner.seeks), tuner.seeks
    assert sum(s["delta"] for s in tuner.seeks) == -10, tuner.seeks


def test_taps_one_at_a_time_each_send_their_step(tuner: FakeTuner) -> None:
    page = tuner.page
    page.wait_for_selector("#seek:not([hidden])")
    page.tap("#seek-forward")
    tuner.sent(1)
    page.tap("#seek-back")
    assert tuner.sent(2) == [{"delta": 10}, {"delta": -10}]


def fill_percent(page: Any) -> float:
    return float(page.evaluate("parseFloat(document.getElementById('scrub-fill').style.width)"))


def touch(cdp: Any, kind: str, x: float, y: float) -> None:
    """A real touch event (Chromium makes the pointer events of it, as for a finger)."""
    points = [] if kind == "touchEnd" else [{"x": x, "y": y, "id": 1}]
    cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})


def drag(page: Any, cdp: Any, box: dict[str, float], start: float, end: float) -> None:
    """A finger drags the bar from ``start`` to ``end`` (shares of its width), rests
    there, and lets go, as a person does: a flick (a move let go at once) makes
    Chromium start a fling, and a tap during a fling (within about 1.5 s) only stops
    it and clicks nothing. Each event says when it happened (``timestamp``), so that
    Chromium sees the rest however late this busy machine delivers them."""
    y = box["y"] + box["height"] / 2
    at = time.time()

    def send(kind: str, share: float) -> None:
        nonlocal at
        at = max(time.time(), at)
        points = (
            [] if kind == "touchEnd" else [{"x": box["x"] + box["width"] * share, "y": y, "id": 1}]
        )
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points, "timestamp": at})

    send("touchStart", start)
    for step in range(1, 11):
        page.wait_for_timeout(30)
        send("touchMove", start + (end - start) * step / 10)
    page.wait_for_timeout(500)
    at += 0.5
    send("touchEnd", end)


def test_the_scrub_bar_dragged_by_touch_shows_where_and_seeks_on_release(
    tuner: FakeTuner,
) -> None:
    page = tuner.page
    page.wait_for_selector("#seek:not([hidden])")
    box = track_box(page)
    y = box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    touch(cdp, "touchStart", box["x"] + box["width"] * 0.10, y)
    wait_for(page, "!document.getElementById('scrub-time').hidden")
    assert page.text_content("#scrub-time") == "0:12 / 2:00"
    touch(cdp, "touchMove", box["x"] + box["width"] * 0.5, y)
    wait_for(page, "document.getElementById('scrub-time').textContent === '1:00 / 2:00'")
    assert fill_percent(page) == pytest.approx(50)
    # A finger past the end goes to the last second the server takes.
    touch(cdp, "touchMove", box["x"] + box["width"] * 1.2, y)
    wait_for(page, "document.getElementById('scrub-time').textContent === '1:59 / 2:00'")
    touch(cdp, "touchMove", box["x"] + box["width"] * 0.75, y)
    wait_for(page, "document.getElementById('scrub-time').textContent === '1:30 / 2:00'")
    page.screenshot(path="test-artifacts/seek-dragging.png")
    assert tuner.seeks == [], "nothing is sent before the finger lets go"
    touch(cdp, "touchEnd", 0, 0)
    sent = tuner.sent(1)
    assert sent[0].keys() == {"position"}
    assert sent[0]["position"] == pytest.approx(90, abs=0.2)
    assert page.is_hidden("#scrub-time")
    # Until the picture gets there, the bar shows where it goes.
    assert fill_percent(page) == pytest.approx(75, abs=0.2)


def test_the_scrub_bar_dragged_by_mouse_and_a_seek_during_a_seek(tuner: FakeTuner) -> None:
    page = tuner.page
    page.wait_for_selector("#seek:not([hidden])")
    box = track_box(page)
    y = box["y"] + box["height"] / 2
    # The server is slow to answer the first seek: the ones asked meanwhile wait, and
    # the newest replaces them.
    held: list[Any] = []
    page.unroute("**/api/seek")

    def hold(route: Any) -> None:
        tuner.seeks.append(json.loads(route.request.post_data))
        held.append(route)

    page.route("**/api/seek", hold)
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    wait_for(page, "window.tunerStats.seeksSent.length === 1")
    page.tap("#seek-forward")
    for share in (0.1, 0.2):
        page.mouse.move(box["x"] + box["width"] * share, y)
        page.mouse.down()
        page.mouse.up()
    page.tap("#seek-forward")
    page.wait_for_timeout(300)
    assert len(tuner.seeks) == 1
    assert tuner.seeks[0]["position"] == pytest.approx(72, abs=0.2)
    held.pop().fulfill(json=STATUS)
    wait_for(page, "window.tunerStats.seeksSent.length === 2")
    page.wait_for_timeout(300)
    assert len(tuner.seeks) == 2, tuner.seeks
    # The last position asked for (24 s), and the step after it.
    assert tuner.seeks[1]["position"] == pytest.approx(34, abs=0.2)
    held.pop().fulfill(json=STATUS)


def test_an_error_answer_is_said_as_the_page_says_errors(tuner: FakeTuner) -> None:
    page = tuner.page
    page.wait_for_selector("#seek:not([hidden])")
    tuner.seek_answer = (
        409,
        {"error": "cannot seek", "detail": "this stream has no window to seek in"},
    )
    page.tap("#seek-forward")
    page.wait_for_selector("#notice:not([hidden])")
    assert page.text_content("#message") == "Cannot seek: this stream has no window to seek in."
    page.tap("#dismiss")
    tuner.seek_answer = (
        400,
        {"error": "bad position", "detail": "position must be less than the duration"},
    )
    page.tap("#seek-back")
    page.wait_for_selector("#notice:not([hidden])")
    assert page.text_content("#message") == "Bad position: position must be less than the duration."
    assert tuner.seeks == [{"delta": 10}, {"delta": -10}]


def test_the_cars_seek_keys(tuner: FakeTuner) -> None:
    page = tuner.page
    page.wait_for_selector("#seek:not([hidden])")
    actions = "Object.keys(window.mediaActions).filter(k => window.mediaActions[k])"
    assert {"seekto", "seekbackward", "seekforward"} <= set(page.evaluate(actions))
    page.evaluate("window.mediaActions.seekforward({action: 'seekforward'})")
    tuner.sent(1)
    page.evaluate("window.mediaActions.seekbackward({action: 'seekbackward', seekOffset: 5})")
    tuner.sent(2)
    page.evaluate("window.mediaActions.seekto({action: 'seekto', seekTime: 42.5})")
    assert tuner.sent(3) == [{"delta": 10}, {"delta": -5}, {"position": 42.5}]


def test_a_seek_message_voids_what_is_held_and_restarts_the_sound_there(
    tuner: FakeTuner,
) -> None:
    page = tuner.page
    ws = tuner.sockets[-1]
    # Frames sent ahead (the lead): 60.0 s to 60.4 s on the clock, far past the page's.
    for seq in range(1500, 1511):
        ws.send(header(FRAME, 2, seq, base=seq - 1) + bytes([0, 0]))
    wait_for(page, "window.tunerStats.framesReceived >= 12")
    loads = page.evaluate("window.tunerStats.audioLoads")
    ws.send(json.dumps({"type": "seek", "at_ms": 60200}))
    wait_for(page, "window.tunerStats.seeksApplied.length === 1")
    applied = page.evaluate("window.tunerStats.seeksApplied[0]")
    assert (applied["atMs"], applied["dropped"]) == (60200, 6)  # 60200 ... 60400
    # The sound starts again where the seek took effect.
    wait_for(page, f"window.tunerStats.audioLoads === {loads + 1}")
    src = urllib.parse.urlsplit(page.evaluate("document.getElementById('audio').src"))
    query = urllib.parse.parse_qs(src.query)
    assert query["session"] == [SESSION] and query["from_ms"] == ["60200"]
    # The new position, from the seek on: the elapsed time will show it.
    ws.send(json.dumps({"type": "position", "at_ms": 60200, "position": 100.0,
                        "duration": DURATION, "seekable": True}))  # fmt: skip
    marks = page.evaluate("window.tunerApp.player.mediaTime.marks")
    assert [m["atMs"] for m in marks] == [0, 60200]


def test_controls_come_and_go_with_seekable(browser: Any) -> None:
    status = {**STATUS, "seekable": False, "is_live": True, "duration": None}
    hello = {**HELLO, "seekable": False, "duration": None}
    fake = FakeTuner(browser, status, hello)
    page = fake.page
    page.goto("http://tuner.test/")
    page.wait_for_selector("body[data-state=player]", state="attached")
    wait_for(page, "window.tunerStats.framesDrawn >= 1")
    page.wait_for_timeout(300)
    assert page.is_hidden("#seek")
    actions = page.evaluate("window.mediaActions")
    assert not any(actions.get(k) for k in ("seekto", "seekbackward", "seekforward"))
    # It can seek now (a position message says so), with no window or length said:
    # the steps, no bar (nothing to map it to).
    fake.sockets[-1].send(json.dumps({"type": "position", "at_ms": 0, "position": 5.0,
                                      "duration": None, "seekable": True}))  # fmt: skip
    page.wait_for_selector("#seek:not([hidden])")
    assert page.is_visible("#seek-back") and page.is_visible("#seek-forward")
    assert page.is_hidden("#scrub")
    fake.sockets[-1].send(json.dumps({"type": "position", "at_ms": 10, "position": 5.0,
                                      "duration": None, "seekable": False}))  # fmt: skip
    page.wait_for_selector("#seek", state="hidden")
    fake.close()


def test_a_live_window_is_a_bar_from_its_oldest_place_to_the_live_point(browser: Any) -> None:
    window = {"start": 100.0, "end": 700.0}
    status = {**STATUS, "is_live": True, "duration": None, "position": 640.0, "window": window}
    hello = {**HELLO, "duration": None, "position": 640.0, "window": window}
    fake = FakeTuner(browser, status, hello)
    page = fake.page
    page.goto("http://tuner.test/")
    page.wait_for_selector("body[data-state=player]", state="attached")
    wait_for(page, "window.tunerStats.framesDrawn >= 1")
    fake.sockets[-1].send(json.dumps({"type": "position", "at_ms": 0, "position": 640.0,
                                      "duration": None, "seekable": True,
                                      "window": window}))  # fmt: skip
    page.wait_for_selector("#seek:not([hidden])")
    assert page.is_visible("#scrub")
    # The time says how far behind live the picture is (the live point and the
    # picture both move on with the clock).
    wait_for(page, f"/^\\u2212(0:5\\d|1:0\\d)$/.test({TIME})")
    # 640 s in a window from 100 s to 700 s: 90% of the bar.
    assert fill_percent(page) == pytest.approx(90, abs=1)
    box = track_box(page)
    y = box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    touch(cdp, "touchStart", box["x"] + box["width"] * 0.5, y)
    wait_for(page, "/^\\u22125:0\\d behind live$/.test("
             "document.getElementById('scrub-time').textContent)")  # fmt: skip
    # Past the end of the bar is the live point.
    touch(cdp, "touchMove", box["x"] + box["width"] * 1.2, y)
    wait_for(page, "document.getElementById('scrub-time').textContent === 'Live'")
    touch(cdp, "touchMove", box["x"] + box["width"] * 0.5, y)
    wait_for(page, "document.getElementById('scrub-time').textContent !== 'Live'")
    touch(cdp, "touchEnd", 0, 0)
    sent = fake.sent(1)
    # Half way from the oldest place to the live point (which moved on a little).
    assert 400 <= sent[0]["position"] <= 410, sent
    fake.close()


# --- Against a real daemon ------------------------------------------------------------

SEEK_BODIES = """(() => {
  window.seekBodies = [];
  const real = window.fetch;
  window.fetch = function (path, init) {
    if (String(path) === '/api/seek') window.seekBodies.push(JSON.parse(init.body));
    return real.apply(this, arguments);
  };
})();"""


def test_a_clip_seeks_by_touch_and_buttons_and_the_test_card_shows_no_controls(
    browser: Any, media: Media, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(QUIET_CONFIG)
    errors: list[str] = []
    with DaemonProcess.start(tmp_path, pin=PIN, args=("--config", str(config))) as daemon:
        page = open_page(
            browser, daemon.base_url + "/", "car", errors, _RECORD_MEDIA_ACTIONS + SEEK_BODIES
        )
        keypad_login(page, PIN)
        page.wait_for_selector("body[data-state=home]")

        # The test card cannot seek: no controls, no seek keys for the car.
        page.tap("#play")
        wait_for(page, "window.tunerStats.framesDrawn > 5")
        wait_for(page, "window.tunerStats.lastHello.seekable === false")
        assert page.is_hidden("#seek")
        actions = page.evaluate("window.mediaActions")
        assert not any(actions.get(k) for k in ("seekto", "seekbackward", "seekforward"))

        # A 30 s clip can: the controls, the car's seek keys.
        page.tap("#back")
        page.fill("#query", media.url_of("timecode.mp4"))
        page.tap("#play")
        page.wait_for_selector("#seek:not([hidden])")
        page.wait_for_selector("#scrub:not([hidden])")
        wait_for(page, "!!window.mediaActions.seekto && !!window.mediaActions.seekforward")
        wait_for(page, f"/^0:0[1-9] \\/ 0:30$/.test({TIME})")
        check_fits_a_finger(page)

        # A finger drags the bar to the middle (15 s), rests there, lets go.
        box = track_box(page)
        cdp = page.context.new_cdp_session(page)
        drag(page, cdp, box, 0.2, 0.5)
        wait_for(page, "window.seekBodies.length === 1")
        assert page.evaluate("window.seekBodies[0]") == {"position": 15}
        # The seek took effect: the page dropped what it held after it, its sound starts
        # there, and the elapsed time is the clip's new place.
        wait_for(page, "window.tunerStats.seeksApplied.length === 1")
        at_ms = page.evaluate("window.tunerStats.seeksApplied[0].atMs")
        src = page.evaluate("document.getElementById('audio').src")
        assert f"from_ms={at_ms}" in src, (at_ms, src)
        wait_for(page, f"/^0:1[5-9] \\/ 0:30$/.test({TIME})")
        status = api(page, "GET", "/api/status")
        assert 15 <= status["position"] < 22, status

        # Ten seconds back, then forward.
        page.tap("#seek-back")
        wait_for(page, "window.tunerStats.seeksApplied.length === 2")
        wait_for(page, f"/^0:(0[5-9]|1[0-2]) \\/ 0:30$/.test({TIME})")
        page.tap("#seek-forward")
        wait_for(page, "window.tunerStats.seeksApplied.length === 3")
        wait_for(page, f"/^0:(1[5-9]|2[0-2]) \\/ 0:30$/.test({TIME})")
        assert page.evaluate("window.seekBodies.slice(1)") == [{"delta": -10}, {"delta": 10}]
        # The picture goes on after the seeks, on its sound's clock.
        drawn = page.evaluate("window.tunerStats.framesDrawn")
        wait_for(page, f"window.tunerStats.framesDrawn > {drawn + 10}")
        page.context.close()
    assert not errors, errors


#: The page's sound on the session's clock now (ms): where its stream starts plus how
#: far the element played into it.
SOUND_AT = (
    "window.tunerStats.sync.audioStartMs === null ? null :"
    " window.tunerStats.sync.audioStartMs + document.getElementById('audio').currentTime * 1000"
)


def test_sound_cut_by_a_tunnel_goes_on_where_it_stopped(browser: Any, tmp_path: Path) -> None:
    """The relay (a tunnel) cuts every connection while the daemon plays on: the page's
    sound runs dry, and the page asks for it again from where it was (``from_ms``), not
    from the live point; the server starts it there, and the picture follows it again."""
    config = tmp_path / "config.toml"
    # In real time (no lead): the element holds only a few seconds, so its sound stops
    # during the cut (with a lead it would play on from what it holds).
    config.write_text("lead_seconds = 0\n" + QUIET_CONFIG)
    errors: list[str] = []
    with (
        DaemonProcess.start(tmp_path, pin=PIN, args=("--config", str(config))) as daemon,
        relay_to(daemon.base_url) as relay,
    ):
        page = open_page(browser, f"http://127.0.0.1:{relay.port}/", "car", errors)
        keypad_login(page, PIN)
        page.wait_for_selector("body[data-state=home]")
        page.tap("#play")  # the test card
        wait_for(page, "window.tunerStats.sync.source === 'audio'")
        # Past the silence a stream starts with: the session's own sound.
        wait_for(page, f"{SOUND_AT} > 1000")
        before, measured_at = page.evaluate(f"[{SOUND_AT}, performance.now()]")
        assert before is not None

        relay.cut()
        wait_for(page, "window.tunerStats.audioResumes.length > 0", 30_000)
        # The sound stopped within what the element held, and the page noticed it.
        broke = page.evaluate("window.tunerStats.audioResumes[0]")
        # (Chromium fires no error while it retries by bytes: the element runs dry.)
        assert broke["reason"] in ("waiting", "error", "stalled", "ended"), broke
        heard = broke["heardMs"]
        assert before <= heard < before + 6000, (before, broke)
        # Out of the tunnel a second later (the page's first try fails in it): within the
        # 10 s the daemon keeps behind its play head.
        page.wait_for_timeout(1000)
        relay.restore()
        resumed_from = round(heard)
        wait_for(
            page,
            f"document.getElementById('audio').src.indexOf('from_ms={resumed_from}') > 0"
            " && !document.getElementById('audio').paused"
            " && document.getElementById('audio').currentTime > 1",
            30_000,
        )
        # Every try asked for the same place: where the sound stopped.
        tries = page.evaluate("window.tunerStats.audioResumes")
        assert {round(t["heardMs"]) for t in tries} == {resumed_from}, tries
        # The waits between tries grew: no storm while the link was down.
        waits = [t["waitMs"] for t in tries]
        assert waits == sorted(waits) and len(waits) <= 7, waits
        # The server started the stream there (within one ADTS frame: 1024 samples at
        # 48 kHz), well behind the live point by then, and the picture follows it.
        wait_for(page, "window.tunerStats.sync.audioStartMs !== null", 30_000)
        start = page.evaluate("window.tunerStats.sync.audioStartMs")
        assert abs(start - resumed_from) <= 1024 / 48 + 1, (start, resumed_from)
        # (The test card plays in real time: its live point is at least as far on as the
        # wall clock from the page's sound; the page waited 1 s dry and 1 s in the tunnel.)
        live = before + page.evaluate("performance.now()") - measured_at
        assert resumed_from < live - 1500, (resumed_from, live)
        wait_for(page, "window.tunerStats.sync.source === 'audio'")
        drawn = page.evaluate("window.tunerStats.framesDrawn")
        wait_for(page, f"window.tunerStats.framesDrawn > {drawn + 10}")
        page.context.close()
    assert not errors, errors
