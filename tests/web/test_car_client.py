"""The client a passenger uses, in headless Chromium against a real ``tuner serve``.

Every screen at a car's size (1920x1200) and a phone's (390x844), by touch: the PIN
keypad, home, the player; every target at least 48 px, no text under 16 px, nothing
wider than the screen. Screenshots of each land in ``test-artifacts/screens/``.
Then what keeps the car going: its media keys, the queue playing on, a tunnel that
cuts every connection, a daemon restart, and a browser without the newer features.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Media
from tests.daemon_process import DaemonProcess
from tests.web.chromium import wait_for
from tests.web.relay import relay_to
from tests.web.test_client_browser import ARTIFACTS, PIN, browser, text

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the fixture, shared with the client's browser test

SCREENS = ARTIFACTS / "screens"
EVENTS_OPEN = "window.tunerPage.state.socket && window.tunerPage.state.socket.readyState === 1"
SIZES = {"car": {"width": 1920, "height": 1200}, "phone": {"width": 390, "height": 844}}
QUIET_CONFIG = "[queue]\nper_source_delay_seconds = 0\n\n[extract]\nenabled = false\n"

#: Every visible control, with its size: none may be smaller than a fingertip.
_TARGETS = """() => Array.from(document.querySelectorAll('button, select, input, a'))
  .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
  .map(e => { const r = e.getBoundingClientRect();
              return [e.id || e.className || e.textContent,
                      Math.round(r.width), Math.round(r.height)]; })"""
#: Every visible element with text of its own, with its font size in CSS px.
_TEXT_SIZES = """() => Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getClientRects().length
    && Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim()))
  .map(e => [e.id || e.className || e.tagName, parseFloat(getComputedStyle(e).fontSize)])"""
#: Records the media session's action handlers, as the car's own controls would call them.
_RECORD_MEDIA_ACTIONS = """(() => {
  window.mediaActions = {};
  const session = navigator.mediaSession;
  if (!session) return;
  const set = session.setActionHandler.bind(session);
  session.setActionHandler = (action, handler) => {
    window.mediaActions[action] = handler;
    set(action, handler);
  };
})();"""
#: What Chromium 79 lacks (or a car's browser may): the client must do without.
_REMOVE_NEWER_FEATURES = """(() => {
  delete Navigator.prototype.mediaSession;
  delete window.MediaMetadata;
  delete Element.prototype.requestFullscreen;
  delete Element.prototype.webkitRequestFullscreen;
  Object.defineProperty(Document.prototype, 'fullscreenEnabled', {get: () => false});
  Object.defineProperty(Document.prototype, 'webkitFullscreenEnabled', {get: () => false});
  delete window.ResizeObserver;
  delete String.prototype.replaceAll;
  delete Array.prototype.at;
  delete Object.hasOwn;
  delete Element.prototype.replaceChildren;
  delete Promise.any;
  delete window.structuredClone;
  delete window.AggregateError;
})();"""


def open_page(
    browser: Any, url: str, size: str, errors: list[str], init_script: str | None = None
) -> Any:
    """A page at ``url`` with a touch screen of ``size``; errors and CSP refusals are kept."""
    phone = size == "phone"
    context = browser.new_context(
        viewport=SIZES[size],
        device_scale_factor=2 if phone else 1,
        has_touch=True,
        is_mobile=phone,
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    if init_script:
        page.add_init_script(init_script)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(url)
    return page


def keypad_login(page: Any, pin: str) -> None:
    """Type ``pin`` on the on-screen keypad and log in."""
    page.wait_for_selector("body[data-state=login]")
    for digit in pin:
        page.tap(f"#keypad [data-key='{digit}']")
    page.tap("#login-button")


def check_fits_a_finger(page: Any) -> None:
    """Every visible control is 48 px or more each way, no text is under 16 px, and
    nothing is wider than the screen."""
    small = [t for t in page.evaluate(_TARGETS) if t[1] < 48 or t[2] < 48]
    assert not small, f"targets under 48 px: {small}"
    tiny = [t for t in page.evaluate(_TEXT_SIZES) if t[1] < 16]
    assert not tiny, f"text under 16 px: {tiny}"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the screen"


def shoot(page: Any, name: str, full_page: bool = False) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=full_page)


def frames_drawn(page: Any) -> int:
    drawn: int = page.evaluate("window.tunerStats.framesDrawn")
    return drawn


def wait_for_more_frames(page: Any, than: int, timeout: float = 30_000) -> None:
    wait_for(page, f"window.tunerStats.framesDrawn > {than + 5}", timeout=timeout)


def api(page: Any, method: str, path: str, body: object = None) -> Any:
    """A request from the page itself (its cookie, its origin); the JSON answer or None."""
    return page.evaluate(
        """([method, path, body]) => fetch(path, {method, credentials: 'same-origin',
             headers: body === null ? {} : {'Content-Type': 'application/json'},
             body: body === null ? undefined : JSON.stringify(body)})
           .then(r => r.status === 204 ? null : r.json())""",
        [method, path, body],
    )


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    config = tmp_path / "config.toml"
    config.write_text(QUIET_CONFIG)
    with DaemonProcess.start(tmp_path, pin=PIN, args=("--config", str(config))) as running:
        yield running


@pytest.mark.parametrize("size", ["car", "phone"])
def test_every_screen_works_by_touch_at_car_and_phone_size(
    browser: Any, daemon: DaemonProcess, size: str
) -> None:
    errors: list[str] = []
    page = open_page(browser, daemon.base_url + "/", size, errors)

    # The PIN: a keypad, so the car needs no keyboard.
    page.wait_for_selector("body[data-state=login]")
    check_fits_a_finger(page)
    for digit in "13":
        page.tap(f"#keypad [data-key='{digit}']")
    assert page.input_value("#pin") == "13"
    page.tap("#keypad [data-key='back']")
    assert page.input_value("#pin") == "1"
    shoot(page, f"login-{size}")
    page.tap("#login-button")
    wait_for(page, "document.getElementById('login-message').textContent !== ''")
    assert text(page, "#login-message") == "Wrong PIN"
    assert page.input_value("#pin") == ""
    keypad_login(page, PIN)

    # Home, idle: the search box, the queue; nothing plays.
    page.wait_for_selector("body[data-state=home]")
    page.wait_for_selector("#queue:not([hidden])")
    assert page.is_hidden("#now")
    # Finding streams is off (the config): no empty panel for it.
    assert page.is_hidden("#streams")
    check_fits_a_finger(page)
    shoot(page, f"home-{size}", full_page=True)

    # The player: the test card, its title, a live badge, the time, the quality.
    page.fill("#query", "testcard")
    page.tap("#play")
    page.wait_for_selector("body[data-state=player]", state="attached")
    wait_for(page, "window.tunerStats.framesDrawn > 10")
    wait_for(page, "document.getElementById('title').textContent === 'Test card'")
    assert page.is_visible("#live-badge")
    wait_for(page, "/^\\d+:\\d\\d$/.test(document.getElementById('time').textContent)")
    wait_for(page, "document.getElementById('quality').textContent !== ''")
    assert text(page, "#quality").startswith("low · 24 fps · ")
    assert page.is_hidden("#notice")
    # The canvas has the screen: the controls take the rest.
    stage = page.locator("#screen").bounding_box()
    assert stage is not None
    viewport = SIZES[size]
    assert stage["width"] > viewport["width"] * 0.6
    check_fits_a_finger(page)
    shoot(page, f"player-{size}")
    # Full screen, where the browser has it (headless Chromium does), and back.
    page.tap("#fullscreen")
    wait_for(page, "document.fullscreenElement === document.getElementById('player')")
    wait_for(page, "document.getElementById('fullscreen').textContent === 'Exit full screen'")
    page.tap("#fullscreen")
    wait_for(page, "document.fullscreenElement === null")
    wait_for(page, "document.getElementById('fullscreen').textContent === 'Full screen'")

    # Back home while it plays: the sound goes on, a tap brings the picture back.
    page.tap("#back")
    page.wait_for_selector("body[data-state=home]")
    assert page.is_visible("#now") and text(page, "#now-title") == "Test card"
    assert page.evaluate(
        "!document.getElementById('audio').paused || "
        "document.getElementById('audio').hasAttribute('src')"
    )
    wait_for(page, "document.querySelectorAll('#queue-history .queue-replay').length === 1")
    check_fits_a_finger(page)
    shoot(page, f"home-playing-{size}", full_page=True)
    before = frames_drawn(page)
    page.tap("#now")
    page.wait_for_selector("body[data-state=player]", state="attached")
    wait_for_more_frames(page, before)

    # Stop: the player says so and offers to play it again.
    page.tap("#stop")
    wait_for(page, "document.getElementById('status').textContent === 'idle'")
    assert page.is_visible("#replay") and text(page, "#stage-status") == "Stopped."
    page.context.close()
    assert not errors, errors


def test_the_cars_media_keys_play_stop_and_skip(browser: Any, daemon: DaemonProcess) -> None:
    errors: list[str] = []
    page = open_page(browser, daemon.base_url + "/", "car", errors, _RECORD_MEDIA_ACTIONS)
    keypad_login(page, PIN)
    page.wait_for_selector("body[data-state=home]")
    page.tap("#play")  # the test card
    wait_for(page, "window.tunerStats.framesDrawn > 5")

    # What the car shows: the title, and artwork it can fetch from the daemon.
    wait_for(
        page,
        "navigator.mediaSession.metadata && navigator.mediaSession.metadata.title === 'Test card'",
    )
    metadata = page.evaluate(
        "(() => { const m = navigator.mediaSession.metadata;"
        " return {artist: m.artist, artwork: m.artwork.map(a => a.src)}; })()"
    )
    assert metadata["artwork"] == [daemon.base_url + "/static/icon.png"]
    assert page.request.get(metadata["artwork"][0]).headers["content-type"] == "image/png"
    actions = page.evaluate("Object.keys(window.mediaActions).filter(k => window.mediaActions[k])")
    assert {"play", "pause", "stop"} <= set(actions)
    assert "nexttrack" not in actions  # nothing queued

    # Pause (the car's key) stops the session; play starts it again.
    first = api(page, "GET", "/api/status")["session_id"]
    page.evaluate("window.mediaActions.pause()")
    wait_for(page, "document.getElementById('status').textContent === 'idle'")
    assert api(page, "GET", "/api/status")["state"] == "idle"
    wait_for(page, "navigator.mediaSession.playbackState === 'none'")
    page.evaluate("window.mediaActions.play()")
    wait_for(page, "document.getElementById('status').textContent.indexOf('playing') === 0")
    assert api(page, "GET", "/api/status")["session_id"] != first

    # Something queued: "next" appears, on the page and for the car, and plays it.
    item = api(page, "POST", "/api/queue", {"query": "testcard"})
    wait_for(page, "!document.getElementById('next').disabled && !!window.mediaActions.nexttrack")
    page.evaluate("window.mediaActions.nexttrack()")
    wait_for(page, "document.getElementById('next').disabled")
    history = api(page, "GET", "/api/history")
    assert history["history"][0]["query"] == item["query"]
    wait_for(page, "window.mediaActions.nexttrack === null")
    page.context.close()
    assert not errors, errors


def test_the_second_queued_item_starts_when_the_first_ends(
    browser: Any, daemon: DaemonProcess, media: Media
) -> None:
    errors: list[str] = []
    page = open_page(browser, daemon.base_url + "/", "car", errors)
    keypad_login(page, PIN)
    page.wait_for_selector("body[data-state=home]")
    # A short video, then a longer one.
    for name in ("noaudio.mp4", "bars.mp4"):
        page.fill("#query", media.url_of(name))
        page.tap("#queue-add")
    order = "Array.from(document.querySelectorAll('#queue-list .queue-title'))"
    wait_for(page, f"{order}.map(b => b.textContent).join() === 'noaudio,bars'")
    page.wait_for_selector("#queue-list .queue-item:nth-child(2)[data-state=ready]")

    with page.expect_response("**/api/play") as played:
        page.tap("#queue-list .queue-item:nth-child(1) .queue-title")
    first = played.value.json()["session_id"]
    page.wait_for_selector("body[data-state=player]", state="attached")
    # Three seconds on, the next one plays by itself: a new session, a new picture.
    wait_for(page, "document.getElementById('title').textContent === 'bars'", 30_000)
    wait_for(page, f"window.tunerStats.lastHello.session_id !== '{first}'")
    # Its picture is drawn and its clock runs: the time shown is its own (blank at a
    # new session's start), past two seconds of thirty.
    past_two_seconds = "/^0:(0[2-9]|[12]\\d) \\/ 0:30$/"
    wait_for(page, f"{past_two_seconds}.test(document.getElementById('time').textContent)")
    assert page.is_disabled("#next")
    played_titles = [entry["title"] for entry in api(page, "GET", "/api/history")["history"]]
    assert played_titles == ["bars", "noaudio"]
    page.context.close()
    assert not errors, errors


def test_a_tunnel_and_a_daemon_restart_are_recovered_from(browser: Any, tmp_path: Path) -> None:
    errors: list[str] = []
    config = tmp_path / "config.toml"
    config.write_text(QUIET_CONFIG)
    args = ("--config", str(config))
    with ExitStack() as stack:
        first = DaemonProcess.start(tmp_path, pin=PIN, args=args)
        daemon = stack.enter_context(first)
        port = daemon.base_url.rsplit(":", 1)[1]
        # The page reaches the daemon through a relay (a tunnel), which outlives it.
        relay = stack.enter_context(relay_to(daemon.base_url))
        page = open_page(browser, f"http://127.0.0.1:{relay.port}/", "car", errors)
        keypad_login(page, PIN)
        page.wait_for_selector("body[data-state=home]")
        page.tap("#play")
        wait_for(page, "window.tunerStats.framesDrawn > 5 && window.tunerStats.audioLoads === 1")
        session = page.evaluate("window.tunerStats.lastHello.session_id")

        # A tunnel: every connection drops for three seconds while the daemon plays on.
        relay.cut()
        wait_for(page, "window.tunerStats.socketState !== 'open'")
        wait_for(page, "document.getElementById('stage-status').textContent !== ''")
        time.sleep(3)
        relay.restore()
        drawn = frames_drawn(page)
        wait_for(page, "window.tunerStats.socketState === 'open'")
        wait_for_more_frames(page, drawn)
        assert page.evaluate("window.tunerStats.lastHello.session_id") == session
        # The sound plays on (Chromium may ask for the stream again itself; else the
        # page does), the session's own, and the picture follows its clock again.
        played = page.evaluate("document.getElementById('audio').currentTime")
        wait_for(page, f"document.getElementById('audio').currentTime > {played + 2}")
        assert f"/audio?session={session}" in page.evaluate("document.getElementById('audio').src")
        wait_for(page, "window.tunerStats.sync.source === 'audio'")
        wait_for(page, EVENTS_OPEN)  # the events socket is back too
        wait_for(page, "document.getElementById('stage-status').textContent === ''")

        # A restart: the daemon goes away and comes back on its port, nothing playing.
        status, _ = daemon.terminate_and_wait(10)
        assert status == 0
        wait_for(page, "window.tunerStats.socketState !== 'open'")
        restarted = stack.enter_context(
            DaemonProcess.start(tmp_path, pin=PIN, args=(*args, "--port", port))
        )
        # The page finds it again by itself: still logged in, it shows what is.
        wait_for(page, "window.tunerStats.socketState === 'open'", 30_000)
        wait_for(page, EVENTS_OPEN, 30_000)
        wait_for(page, "document.getElementById('status').textContent === 'idle'")
        assert page.is_visible("#replay")
        assert text(page, "#stage-status") == "Stopped."
        assert not page.evaluate("document.getElementById('audio').hasAttribute('src')")
        # One tap plays it again.
        drawn = frames_drawn(page)
        page.tap("#replay")
        wait_for_more_frames(page, drawn)
        assert page.evaluate("window.tunerStats.lastHello.session_id") != session
        assert api(page, "GET", "/api/status")["state"] == "playing"
        assert "restarted" not in restarted.log()  # (its own log, for a failure's report)
        page.context.close()
    assert not errors, errors


def test_without_the_newer_browser_features_the_client_still_plays(
    browser: Any, daemon: DaemonProcess
) -> None:
    errors: list[str] = []
    page = open_page(browser, daemon.base_url + "/", "car", errors, _REMOVE_NEWER_FEATURES)
    assert page.evaluate("!('mediaSession' in navigator) && !window.ResizeObserver")
    keypad_login(page, PIN)
    page.wait_for_selector("body[data-state=home]")
    page.tap("#play")
    wait_for(page, "window.tunerStats.framesDrawn > 10")
    assert page.is_hidden("#fullscreen")  # no way to offer it
    # A new window size still refits the canvas (a resize listener stands in).
    before = page.locator("#screen").bounding_box()
    page.set_viewport_size({"width": 1280, "height": 800})
    width = "document.getElementById('screen').getBoundingClientRect().width"
    wait_for(page, f"{width} < {before['width'] - 100}")
    page.context.close()
    assert not errors, errors


def _thumbnail(path: Path, hue: int) -> None:
    """A 320x180 picture for a search result: colour bars, as a site's would be."""
    from PIL import Image, ImageDraw

    image = Image.new("HSV", (320, 180))
    draw = ImageDraw.Draw(image)
    for bar in range(8):
        draw.rectangle((bar * 40, 0, bar * 40 + 39, 179), fill=((hue + bar * 12) % 256, 200, 230))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(path)


def stub_search_site(directory: Path, media: Media) -> None:
    """The files of a search site for the test-only yt-dlp plugin (tests/stub_search.py):
    a search for ``lofi`` with four results (one live), their thumbnails and videos."""
    import json

    from tests.stub_search import search_path

    base = "http://127.0.0.1:{port}"  # filled in by the caller
    entries = []
    for n, (title, live) in enumerate(
        [("Lofi beats to drive to", False), ("Radio lofi", True), ("Bars", False), ("Rain", False)]
    ):
        video_id = f"v{n}"
        _thumbnail(directory / "thumb" / f"{video_id}.png", hue=n * 60)
        entries.append(
            {
                "id": video_id,
                "url": f"{base}/stubvideo/{video_id}",
                "title": title,
                "channel": f"Channel {n}",
                "duration": None if live else 61.0 + 600 * n,
                "live_status": "is_live" if live else None,
                "thumbnails": [
                    {"url": f"{base}/thumb/{video_id}.png", "width": 320, "height": 180}
                ],
            }
        )
        video = {
            "title": title,
            "channel": f"Channel {n}",
            "thumbnail": f"{base}/thumb/{video_id}.png",
            "media": media.url_of("bars.mp4"),
        }
        (directory / "stubvideo").mkdir(exist_ok=True)
        (directory / "stubvideo" / video_id).write_text(json.dumps(video))
    target = directory / search_path("lofi").lstrip("/")
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(entries))


def test_search_results_play_and_queue_by_touch(browser: Any, media: Media, tmp_path: Path) -> None:
    from tests.media import http_server
    from tests.stub_search import PLUGINS, PREFIX, search_path

    site = tmp_path / "site"
    site.mkdir()
    errors: list[str] = []
    config = tmp_path / "config.toml"
    config.write_text(QUIET_CONFIG)
    with http_server(site) as site_url:
        port = site_url.rsplit(":", 1)[1]
        stub_search_site(site, media)
        for page_file in [*site.rglob("v*"), site / search_path("lofi").lstrip("/")]:
            if page_file.suffix != ".png":
                page_file.write_text(page_file.read_text().replace("{port}", port))
        env = {"PYTHONPATH": str(PLUGINS), "TUNERSTUB_URL": site_url, "TUNER_SEARCH_PREFIX": PREFIX}
        args = ("--config", str(config))
        with DaemonProcess.start(tmp_path, pin=PIN, env=env, args=args) as daemon:
            page = open_page(browser, daemon.base_url + "/", "car", errors, _RECORD_MEDIA_ACTIONS)
            keypad_login(page, PIN)
            page.wait_for_selector("body[data-state=home]")

            # Words nobody answers yet: the search fails with a sentence and a retry.
            page.fill("#query", "rain")
            page.tap("#search")
            page.wait_for_selector("#notice:not([hidden])")
            assert text(page, "#message").startswith("Search failed: ")
            assert page.is_visible("#retry")
            # The site learns the words; Try again finds them.
            (site / "search" / "rain").write_text((site / "search" / "lofi").read_text())
            page.tap("#retry")
            page.wait_for_selector("#results-list .card")
            assert page.is_hidden("#notice")

            page.fill("#query", "lofi")
            page.press("#query", "Enter")  # the keyboard's own Search key
            wait_for(
                page,
                "document.getElementById('results-title').textContent === 'Results for “lofi”'",
            )
            page.wait_for_selector("#results-list .card:nth-child(4)")
            assert text(page, "#results-status") == ""  # done searching
            titles = page.eval_on_selector_all(
                "#results-list .title", "els => els.map(e => e.textContent)"
            )
            assert titles == ["Lofi beats to drive to", "Radio lofi", "Bars", "Rain"]
            metas = page.eval_on_selector_all(
                "#results-list .meta", "els => els.map(e => e.textContent)"
            )
            assert metas == [
                "Channel 0 · 1:01",
                "Channel 1",
                "Channel 2 · 21:01",
                "Channel 3 · 31:01",
            ]
            assert page.eval_on_selector_all(
                "#results-list .card", "els => els.map(e => e.classList.contains('live'))"
            ) == [False, True, False, False]
            # Thumbnails come from the daemon (one host for the car), and are pictures.
            wait_for(
                page,
                "Array.from(document.querySelectorAll('#results-list img'))"
                ".every(i => i.complete && i.naturalWidth === 320)",
            )
            sources = page.eval_on_selector_all("#results-list img", "els => els.map(e => e.src)")
            assert all(s.startswith(daemon.base_url + "/api/thumbnail/") for s in sources)
            check_fits_a_finger(page)
            shoot(page, "results-car", full_page=True)

            # + Queue lines one up; a tap on a card plays it, with its picture for the car.
            page.tap("#results-list .card:nth-child(3) .card-queue")
            wait_for(
                page,
                "document.querySelector('#results-list .card:nth-child(3) .card-queue')"
                ".textContent === 'Queued ✓'",
            )
            # Its title, once the daemon resolved it, is what plays next.
            wait_for(
                page, "document.getElementById('queue-summary').textContent === 'Up next: Bars'"
            )
            page.tap("#results-list .card:nth-child(1) .card-play")
            page.wait_for_selector("body[data-state=player]", state="attached")
            # (A still picture: after its first frame, the deltas are empty.)
            wait_for(page, "window.tunerStats.framesDrawn > 0")
            wait_for(
                page, "document.getElementById('title').textContent === 'Lofi beats to drive to'"
            )
            assert text(page, "#channel") == "Channel 0"
            wait_for(page, "!document.getElementById('next').disabled")
            artwork = page.evaluate("navigator.mediaSession.metadata.artwork[0].src")
            assert artwork.startswith(daemon.base_url + "/api/thumbnail/")
            assert page.evaluate("navigator.mediaSession.metadata.artist") == "Channel 0"
            shoot(page, "player-search-car")
            page.context.close()

            # The same results on a phone.
            phone = open_page(browser, daemon.base_url + "/", "phone", errors)
            keypad_login(phone, PIN)
            phone.wait_for_selector("body[data-state=player]", state="attached")
            phone.tap("#back")
            phone.fill("#query", "lofi")
            phone.tap("#search")
            wait_for(
                phone,
                "Array.from(document.querySelectorAll('#results-list img'))"
                ".filter(i => i.complete && i.naturalWidth === 320).length === 4",
            )
            check_fits_a_finger(phone)
            shoot(phone, "results-phone", full_page=True)
            phone.context.close()
    assert not errors, errors
