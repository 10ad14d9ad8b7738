"""The web client in a real headless Chromium against a real ``tuner serve``.

Debian's chromium is used (``executable_path``), not Playwright's download, which
cannot be fetched here. Screenshots land in ``test-artifacts/`` for a person to look at.
"""

from __future__ import annotations

import io
import json
import re
import struct
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.daemon_process import DaemonProcess
from tests.web.chromium import chromium, wait_for

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
STATIC = ROOT / "tuner" / "web" / "static"
PIN = "2468"
#: A pixel brighter than this (0-255 luminance) is drawn text, not background.
LIT = 64
STATUS_LINE = "document.getElementById('status').textContent"


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright."""
    with chromium() as launched:
        yield launched


def new_page(browser: Any, errors: list[str]) -> Any:
    # A device pixel ratio of 2 checks that the canvas is drawn at device resolution.
    context = browser.new_context(viewport={"width": 1280, "height": 720}, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The client must live within the Content-Security-Policy the daemon sends:
    # Chromium reports each thing it refused as a console error.
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    return page


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    """A logged-out page on a fresh daemon's front page."""
    errors: list[str] = []
    with DaemonProcess.start(tmp_path, pin=PIN) as daemon:
        page = new_page(browser, errors)
        try:
            page.goto(daemon.base_url + "/")
            yield page
        except BaseException:
            print("daemon output:\n" + "\n".join(daemon.output[-60:]))
            raise
    assert not errors, f"JavaScript errors on the page: {errors}"


def canvas_png(page: Any, name: str) -> bytes:
    png: bytes = page.locator("#screen").screenshot()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(png)
    return png


def lit_pixels(png: bytes) -> tuple[int, int, tuple[int, int, int, int] | None]:
    """(lit pixels, all pixels, bounding box of the lit ones)."""
    from PIL import Image

    grey = Image.open(io.BytesIO(png)).convert("L")
    mask = grey.point(lambda v: 255 if v > LIT else 0)
    lit = mask.histogram()[255]
    return lit, grey.width * grey.height, mask.getbbox()


def changed_pixels(before: bytes, after: bytes) -> int:
    from PIL import Image, ImageChops

    a = Image.open(io.BytesIO(before)).convert("L")
    b = Image.open(io.BytesIO(after)).convert("L")
    assert a.size == b.size, "the canvas changed size while the grid did not"
    diff = ImageChops.difference(a, b).point(lambda v: 255 if v > LIT else 0)
    return diff.histogram()[255]


def text(page: Any, selector: str) -> str:
    return str(page.text_content(selector) or "").strip()


def test_login_play_testcard_and_stop(page: Any) -> None:
    page.wait_for_selector("body[data-state=login]")

    page.fill("#pin", "1357")
    page.click("#login-button")
    wait_for(page, "document.getElementById('login-message').textContent !== ''")
    assert text(page, "#login-message") == "Wrong PIN"

    page.fill("#pin", PIN)
    page.click("#login-button")
    # Nothing plays: home, with the pickers ready for what the next play asks for.
    page.wait_for_selector("body[data-state=home]")
    wait_for(page, "document.getElementById('preset').options.length > 0")
    assert page.input_value("#query") == "testcard"
    assert page.input_value("#preset") == "low"

    page.click("#play")
    page.wait_for_selector("body[data-state=player]", state="attached")
    wait_for(page, "window.tunerStats.framesDrawn > 10", timeout=30_000)
    stats = page.evaluate("window.tunerStats")
    hello = stats["lastHello"]
    assert hello["type"] == "hello" and hello["protocol"] == 3
    assert (hello["cols"], hello["rows"]) == (120, 50)
    assert stats["socketState"] == "open"
    assert stats["framesReceived"] >= stats["framesDrawn"]

    canvas = page.evaluate(
        """() => {
            const c = document.getElementById('screen');
            const box = c.getBoundingClientRect();
            return {w: c.width, h: c.height, cssW: box.width, cssH: box.height};
        }"""
    )
    assert canvas["w"] == pytest.approx(canvas["cssW"] * 2, abs=2), "not drawn at device pixels"
    assert canvas["cssW"] / canvas["cssH"] == pytest.approx(120 * 0.6 / 50, rel=0.02)

    first = canvas_png(page, "browser-canvas-1.png")
    time.sleep(1.0)
    second = canvas_png(page, "browser-canvas-2.png")
    page.screenshot(path=str(ARTIFACTS / "browser-page.png"))

    lit, total, bbox = lit_pixels(first)
    assert lit > total * 0.05, f"canvas is almost blank: {lit} of {total} pixels lit"
    assert bbox is not None
    width, height = bbox[2] - bbox[0], bbox[3] - bbox[1]
    size = page.locator("#screen").bounding_box()
    assert size is not None
    # The rows must span the canvas: the font is scaled to the cell width.
    assert width > size["width"] * 2 * 0.9, f"text covers only {bbox} of the canvas"
    assert height > size["height"] * 2 * 0.9, f"text covers only {bbox} of the canvas"
    changed = changed_pixels(first, second)
    assert changed > total * 0.001, f"the test card did not move: {changed} pixels changed"

    audio_src = page.evaluate("document.getElementById('audio').src")
    assert f"/audio?session={hello['session_id']}" in audio_src

    wait_for(page, f"{STATUS_LINE}.indexOf('playing') === 0")
    page.click("#stop")
    wait_for(page, f"{STATUS_LINE} === 'idle'")
    assert text(page, "#message") == ""
    assert page.is_hidden("#notice")
    assert not page.evaluate("document.getElementById('audio').hasAttribute('src')")
    # Stopped: the player offers to play it again, and home is one tap away.
    assert page.is_visible("#replay") and page.is_hidden("#stop")
    assert text(page, "#stage-status") == "Stopped."

    page.click("#back")
    page.wait_for_selector("body[data-state=home]")
    page.click("#logout")
    page.wait_for_selector("body[data-state=login]")


#: The video socket's URL, with or without a query (a resume after a drop).
VIDEO_SOCKET = re.compile(r"^wss?://[^/]+/ws/video(\?.*)?$")


def header(version: int, kind: int, seq: int, base: int = 0, cols: int = 4, rows: int = 2) -> bytes:
    """A frame header (mono, uncompressed): docs/protocol.rst, protocol version 2."""
    return struct.pack(">BBBBIIIHH", version, kind, 1, 0, seq, seq * 40, base, cols, rows)


#: Records, on the page's own clock, when the page created each socket and when it saw
#: it close, by path: a backoff runs from a close to the next open, and the waits
#: measured are the page's, not this process's (a busy machine delays this process,
#: and the page's handling of the messages before a close).
SOCKETS_AT = """(() => {
    const Real = window.WebSocket;
    window.socketsAt = {};
    window.socketsClosedAt = {};
    window.WebSocket = function (url, protocols) {
        const path = new URL(String(url)).pathname;
        (window.socketsAt[path] = window.socketsAt[path] || []).push(performance.now());
        const socket = protocols === undefined ? new Real(url) : new Real(url, protocols);
        socket.addEventListener('close', function () {
            const closed = (window.socketsClosedAt[path] = window.socketsClosedAt[path] || []);
            closed.push(performance.now());
        });
        return socket;
    };
    window.WebSocket.prototype = Real.prototype;
    window.WebSocket.OPEN = Real.OPEN;
})();"""


def fake_tuner(page: Any, answers: dict[str, Any]) -> None:
    """Serve ``page`` as a fake tuner (Playwright's routes): the static files from disk,
    ``answers`` (JSON by path), 404 for the rest; and note when each of its sockets
    opened and closed, on the page's own clock (SOCKETS_AT).
    Called after ``route_web_socket``: Playwright's stand-in for ``WebSocket`` is put
    in by an init script too, and the one put in last is the one the page calls."""

    def http(route: Any) -> None:
        path = urlsplit(route.request.url).path
        if path == "/":
            route.fulfill(path=STATIC / "index.html")
        elif path.startswith("/static/"):
            route.fulfill(path=STATIC / path.removeprefix("/static/"))
        elif path in answers:
            route.fulfill(json=answers[path])
        else:
            route.fulfill(status=404, json={"error": "not found", "detail": None})

    page.route("**/*", http)
    page.add_init_script(SOCKETS_AT)


def test_protocol_edge_cases_against_a_fake_server(browser: Any) -> None:
    """Bad messages are dropped, unknown ones ignored, and the socket comes back with backoff.

    The server here is Playwright's: the static files from disk, canned JSON, a fake socket.
    """
    errors: list[str] = []
    page = new_page(browser, errors)
    # Something plays: a page opened then goes straight to the player.
    playing = {
        "state": "playing",
        "session_id": "abc123",
        "title": "Fake",
        "is_live": True,
        "preset": "low",
        "chosen_preset": "low",
        "fps": 24,
        "mode": "mono",
    }
    presets = {
        "presets": [{"name": "low", "cols": 4, "rows": 2, "fps": 24, "description": "tiny"}],
        "modes": ["mono"],
        "default_preset": "low",
        "default_mode": "mono",
    }

    connected: list[float] = []
    asked: list[str] = []
    sockets: list[Any] = []

    def video(ws: Any) -> None:
        connected.append(time.monotonic())
        sockets.append(ws)
        ws.on_message(lambda message: asked.append(message))
        if len(connected) == 1:
            ws.send("not JSON")
            ws.send(json.dumps({"type": "from-the-future", "x": 1}))
            ws.send(
                json.dumps(
                    {
                        "type": "hello",
                        "protocol": 3,
                        "session_id": "abc123",
                        "cols": 4,
                        "rows": 2,
                        "fps": 24,
                        "mode": "mono",
                        "preset": "low",
                    }
                )
            )
            ws.send(header(1, 1, 1) + b"@" * 8)  # an older version
            ws.send(header(2, 9, 2) + b"@" * 8)  # unknown kind
            ws.send(header(2, 1, 3) + b"@" * 7)  # payload too short
            ws.send(header(2, 1, 4) + b"@" * 9)  # payload too long
            ws.send(b"\x02\x01\x00")  # truncated header
            ws.send(header(2, 1, 5) + b"@#%&*+=-")  # a good keyframe
        elif len(connected) == 2:
            ws.close(code=1001, reason="going away")

    # With or without a query: a socket after a drop asks to resume.
    page.route_web_socket(VIDEO_SOCKET, video)
    # When the page itself opened and closed each video socket (SOCKETS_AT).
    fake_tuner(page, {"/api/status": playing, "/api/presets": presets})
    page.goto("http://tuner.test/")
    page.wait_for_selector("body[data-state=player]", state="attached")
    wait_for(page, "window.tunerStats.socketState === 'open'")
    wait_for(page, "window.tunerStats.framesDrawn === 1")
    # A delta on top of a frame this client never had: it asks for a keyframe. (Sent
    # once the keyframe is drawn: sent with it, the keyframe and the delta could fall
    # due in one animation frame on a busy machine, and the newest is what is drawn.)
    sockets[0].send(header(2, 2, 6, base=99) + bytes([1, 0, 1]) + b"x")
    wait_for(page, "window.tunerStats.decodeErrors === 6")
    stats = page.evaluate("window.tunerStats")
    # Headers that parse: the two whose payload is wrong, the keyframe, the delta.
    assert stats["framesReceived"] == 4
    assert stats["lastSeq"] == 6
    assert stats["decodeErrors"] == 6
    assert stats["framesDrawn"] == 1
    assert stats["lastHello"]["session_id"] == "abc123"
    audio_src = page.evaluate("document.getElementById('audio').src")
    assert "/audio?session=abc123&listener=" in audio_src
    sockets[0].close(code=1001, reason="going away")

    # The first socket went away, and the next at once: the waits before the next tries
    # double, 0.5 s then 1 s.
    wait_for(page, "window.tunerStats.socketState === 'open'")
    deadline = time.monotonic() + 10
    while len(connected) < 3 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert len(connected) == 3, f"the client reconnected {len(connected) - 1} times, not 2"
    opened = page.evaluate("window.socketsAt['/ws/video']")
    closed = page.evaluate("window.socketsClosedAt['/ws/video']")
    assert len(opened) == 3, opened
    first_wait, second_wait = (opened[1] - closed[0]) / 1000, (opened[2] - closed[1]) / 1000
    # The video socket's waits (player.js): 0.5 s, then 1 s (the lead carries it meanwhile).
    assert 0.4 < first_wait < 1.4
    # The page still waited for a keyframe (the bad delta): the sockets after the drop
    # start afresh rather than resume after a frame it could not apply.
    assert [urllib.parse.urlsplit(ws.url).query for ws in sockets[1:]] == ["", ""], [
        ws.url for ws in sockets
    ]
    assert 0.9 < second_wait < 2.5
    # What the page sent: keyframe requests (after the bad delta), and the periodic
    # stats report when a socket lived long enough for one (a busy machine).
    sent = [json.loads(m) for m in asked]
    requests = [m for m in sent if m["type"] == "keyframe"]
    assert requests and all(m["type"] == "stats" for m in sent if m not in requests), asked
    # A request says the last frame applied, once there is one (the keyframe, seq 5).
    assert all(m.get("seq") in (None, 5) for m in requests), asked
    page.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_both_sockets_come_back_at_once_when_the_browser_is_online_again(browser: Any) -> None:
    """Out of a tunnel, neither socket waits out its backoff: the page's one reconnecting
    socket (page.js) answers the browser's ``online`` event for the events socket as for
    the video socket.

    The server here is Playwright's: each socket is dropped three times at once, so the
    next try waits 4 s; the page is told it is online while it waits.
    """
    errors: list[str] = []
    page = new_page(browser, errors)
    playing = {"state": "playing", "session_id": "abc123", "title": "Fake", "mode": "mono"}

    connected = {"events": 0, "video": 0}

    def dropped_three_times(name: str) -> Any:
        def handle(ws: Any) -> None:
            connected[name] += 1
            if connected[name] <= 3:
                ws.close(code=1001, reason="going away")

        return handle

    page.route_web_socket("**/ws/events", dropped_three_times("events"))
    page.route_web_socket(VIDEO_SOCKET, dropped_three_times("video"))
    fake_tuner(page, {"/api/status": playing})
    page.goto("http://tuner.test/")
    page.wait_for_selector("body[data-state=player]", state="attached")
    # In one turn of the page's own loop, once both wait after their third drop: the
    # online event, and how many sockets each opened by the time it returned.
    opened = page.evaluate(
        """async () => {
            const opened = () => ({
                events: (window.socketsAt['/ws/events'] || []).length,
                video: (window.socketsAt['/ws/video'] || []).length
            });
            const waiting = () => opened().events === 3 && opened().video === 3 &&
                window.tunerPage.state.socket === null &&
                window.tunerStats.socketState === 'waiting';
            const deadline = performance.now() + 30000;
            while (!waiting()) {
                if (performance.now() > deadline) return {timedOut: opened()};
                await new Promise((done) => setTimeout(done, 20));
            }
            window.dispatchEvent(new Event('online'));
            return opened();
        }"""
    )
    assert opened == {"events": 4, "video": 4}, opened
    wait_for(page, "window.tunerStats.socketState === 'open'")
    events = "window.tunerPage.state.socket"
    wait_for(page, f"{events} && {events}.readyState === 1")
    page.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
