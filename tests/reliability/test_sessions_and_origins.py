"""Cookies revoked all at once, requests from other sites, what a trusted proxy may
say (and what anyone else may not), the names the daemon answers to, who may read
``/metrics``, and the headers every answer carries."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import HandshakeError, open_websocket_url

from tests.daemon_process import DaemonProcess
from tests.integration.conftest import (
    PIN,
    RunningDaemon,
    settings_for,
    start_daemon,
)
from tests.integration.helpers import close_code, stays_open
from tests.reliability.conftest import terminate_cleanly
from tests.web.chromium import chromium, wait_for
from tuner.web.auth import COOKIE_NAME

EVIL = "http://evil.example"


def _ws_headers(cookie: str, origin: str | None = None) -> list[tuple[bytes, bytes]]:
    headers = [(b"Cookie", cookie.encode())]
    if origin is not None:
        headers.append((b"Origin", origin.encode()))
    return headers


async def test_rotating_the_secret_logs_every_browser_out(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        cookie = await daemon.login(client)
        async with (
            open_websocket_url(
                daemon.ws_url + "/ws/video", extra_headers=_ws_headers(cookie)
            ) as video,
            open_websocket_url(
                daemon.ws_url + "/ws/events", extra_headers=_ws_headers(cookie)
            ) as events,
        ):
            # The real command, on the daemon's state directory, while it runs.
            result = await trio.run_process(
                [
                    sys.executable,
                    "-m",
                    "tuner",
                    "rotate-secret",
                    "--state-dir",
                    str(daemon.state_dir),
                ],
                capture_stdout=True,
            )
            assert b"every browser must log in again" in result.stdout
            # Open streams are closed at once (the daemon looks every second)...
            assert await close_code(video, timeout=5) == 1008
            assert await close_code(events, timeout=5) == 1008
        # ... and the old cookie, replayed, opens nothing.
        assert (await client.get("/api/status")).status_code == 401
        with pytest.raises(HandshakeError):
            async with open_websocket_url(
                daemon.ws_url + "/ws/video", extra_headers=_ws_headers(cookie)
            ):
                pass
    async with daemon.client() as client:
        await daemon.login(client)
        assert (await client.get("/api/status")).status_code == 200


PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
CAR = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/109.0.5414.120 Safari/537.36 Tesla/2024.14.9"
)


async def _tuner(state_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The real ``tuner`` command on the daemon's state directory, while it runs."""
    return await trio.run_process(
        [sys.executable, "-m", "tuner", *args, "--state-dir", str(state_dir)],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )


async def _listed(state_dir: Path) -> dict[str, list[str]]:
    """``tuner sessions``: each login's row (id, device, address, last seen) by device."""
    done = await _tuner(state_dir, "sessions")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    if lines == ["no one is logged in"]:
        return {}
    header, *rows = lines
    assert header.split() == ["ID", "DEVICE", "ADDRESS", "LAST", "SEEN"]
    listed = {}
    for row in rows:
        cells = [cell.strip() for cell in row.split("  ") if cell.strip()]
        listed[cells[1]] = cells
    return listed


async def _login_as(daemon: RunningDaemon, client: httpx.AsyncClient, agent: str) -> str:
    client.headers["User-Agent"] = agent
    return await daemon.login(client)


async def _audio_until_closed(
    client: httpx.AsyncClient,
    cookie: str,
    ended: list[float],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen to ``/audio`` until the server ends the stream; note when."""
    async with client.stream("GET", "/audio", headers={"Cookie": cookie}) as response:
        assert response.status_code == 200
        task_status.started()
        async for _ in response.aiter_raw():
            pass
    ended.append(trio.current_time())


#: How soon the daemon must act on ``tuner sessions revoke`` (it looks 4 times a second).
REVOKED_WITHIN = 1.0


async def test_tuner_sessions_lists_logins_and_revoke_ends_one_at_once(
    daemon: RunningDaemon,
) -> None:
    async with daemon.client() as phone, daemon.client() as car:
        phone_cookie = await _login_as(daemon, phone, PHONE)
        car_cookie = await _login_as(daemon, car, CAR)
        listed = await _listed(daemon.state_dir)
        assert set(listed) == {"Chrome on Android", "Tesla browser"}
        phone_id, _, address, last_seen = listed["Chrome on Android"]
        assert address == "127.0.0.1"
        assert last_seen.endswith("(just now)")

        ended: list[float] = []
        async with (
            open_websocket_url(
                daemon.ws_url + "/ws/video", extra_headers=_ws_headers(phone_cookie)
            ) as video,
            open_websocket_url(
                daemon.ws_url + "/ws/video", extra_headers=_ws_headers(car_cookie)
            ) as cars_video,
            trio.open_nursery() as nursery,
        ):
            await nursery.start(_audio_until_closed, phone, phone_cookie, ended)
            assert await stays_open(video, 0.2)
            revoked = await _tuner(daemon.state_dir, "sessions", "revoke", phone_id)
            done = trio.current_time()
            assert revoked.returncode == 0, revoked.stderr
            assert (
                f"logged out {phone_id} (Chrome on Android, 127.0.0.1)" in revoked.stdout.decode()
            )
            # The phone's picture and sound stop within a second: 1008, as a rotation.
            assert await close_code(video, timeout=5) == 1008
            closed_after = trio.current_time() - done
            with trio.fail_after(5):
                while not ended:
                    await trio.sleep(0.01)
            print(
                f"\nrevoked: video closed {closed_after * 1000:.0f} ms and audio ended "
                f"{(ended[0] - done) * 1000:.0f} ms after the command"
            )
            assert closed_after < REVOKED_WITHIN
            assert ended[0] - done < REVOKED_WITHIN
            # The car watches on.
            assert await stays_open(cars_video, 0.3)

        # The phone's cookie, wherever it is, is refused everywhere; the car's is not.
        assert (await phone.get("/api/status")).status_code == 401
        assert (await phone.get("/audio")).status_code == 401
        with pytest.raises(HandshakeError) as refused:
            async with open_websocket_url(
                daemon.ws_url + "/ws/events", extra_headers=_ws_headers(phone_cookie)
            ):
                pass
        assert getattr(refused.value, "status_code", None) == 401
        assert (await car.get("/api/status")).status_code == 200
        assert set(await _listed(daemon.state_dir)) == {"Tesla browser"}
        # Ended once is ended: the same id again is an unknown one.
        again = await _tuner(daemon.state_dir, "sessions", "revoke", phone_id)
        assert again.returncode == 2
        assert again.stderr.decode() == (f"tuner: no login session has the id {phone_id!r}\n")


async def test_tuner_sessions_revoke_all_logs_everyone_out_at_once(
    daemon: RunningDaemon,
) -> None:
    async with daemon.client() as phone, daemon.client() as car:
        cookies = [await _login_as(daemon, phone, PHONE), await _login_as(daemon, car, CAR)]
        async with (
            open_websocket_url(
                daemon.ws_url + "/ws/events", extra_headers=_ws_headers(cookies[0])
            ) as phone_events,
            open_websocket_url(
                daemon.ws_url + "/ws/video", extra_headers=_ws_headers(cookies[1])
            ) as car_video,
        ):
            revoked = await _tuner(daemon.state_dir, "sessions", "revoke", "--all")
            done = trio.current_time()
            assert revoked.returncode == 0, revoked.stderr
            assert revoked.stdout.decode().count("logged out ") == 2
            assert await close_code(phone_events, timeout=5) == 1008
            assert await close_code(car_video, timeout=5) == 1008
            closed_after = trio.current_time() - done
            print(f"\nrevoked --all: both sockets closed {closed_after * 1000:.0f} ms after")
            assert closed_after < REVOKED_WITHIN
        for client in (phone, car):
            assert (await client.get("/api/status")).status_code == 401
        assert await _listed(daemon.state_dir) == {}
        nobody = await _tuner(daemon.state_dir, "sessions", "revoke", "--all")
        assert (nobody.returncode, nobody.stdout) == (0, b"tuner: no one is logged in\n")
        # A new login works as ever.
        await daemon.login(phone)
        assert (await phone.get("/api/status")).status_code == 200


@pytest.mark.parametrize(
    ("args", "state_dir_exists", "says"),
    [
        (("sessions", "revoke", "NoSuchLogin0"), True, "tuner: no login session has the id"),
        (("sessions", "revoke", "x"), True, "tuner: no login session has the id 'x'"),
        (("sessions",), False, "tuner: the state directory "),
        (("sessions", "revoke", "--all"), False, "tuner: the state directory "),
    ],
)
def test_tuner_sessions_bad_input_is_one_line_and_exit_status_2(
    tmp_path: Path, args: tuple[str, ...], state_dir_exists: bool, says: str
) -> None:
    state_dir = tmp_path / "state"
    if state_dir_exists:
        state_dir.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "tuner", *args, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(says), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    if not state_dir_exists:
        assert "does not exist" in done.stderr
        assert not state_dir.exists(), "nothing is made"


def _status_with(daemon: DaemonProcess, cookie: str) -> int:
    return httpx.get(daemon.base_url + "/api/status", headers={"Cookie": cookie}).status_code


def _process_login(daemon: DaemonProcess, agent: str) -> str:
    response = httpx.post(
        daemon.base_url + "/api/login", json={"pin": daemon.pin}, headers={"User-Agent": agent}
    )
    assert response.status_code == 204, response.text
    return f"{COOKIE_NAME}={response.cookies[COOKIE_NAME]}"


def _saved(state_dir: Path) -> dict[str, dict[str, Any]]:
    """The logins file, by device."""
    logins = json.loads((state_dir / "logins.json").read_text())["logins"]
    return {login["device"]: login for login in logins}


def test_logins_survive_a_restart_and_a_kill_9_and_revoked_ones_stay_revoked(
    tmp_path: Path,
) -> None:
    with DaemonProcess.start(tmp_path, pin=PIN) as daemon:
        phone = _process_login(daemon, PHONE)
        car = _process_login(daemon, CAR)
        stolen = _process_login(daemon, "curl/8.5.0")
        stolen_id = _saved(daemon.state_dir)["curl"]["id"]
        command = ["sessions", "revoke", stolen_id, "--state-dir", str(daemon.state_dir)]
        revoked = subprocess.run(
            [sys.executable, "-m", "tuner", *command],
            capture_output=True,
            timeout=30,
        )
        assert revoked.returncode == 0, revoked.stderr
        # The phone is used after its login; when it was is kept at shutdown.
        created = _saved(daemon.state_dir)["Chrome on Android"]["created"]
        assert _status_with(daemon, phone) == 200
        deadline = time.monotonic() + 5
        while _status_with(daemon, stolen) != 401:
            assert time.monotonic() < deadline, "the revocation was not noticed"
            time.sleep(0.05)
        assert terminate_cleanly(daemon) < 5
    assert _saved(daemon.state_dir)["Chrome on Android"]["last_seen"] > created

    with DaemonProcess.start(tmp_path, pin=PIN) as daemon:
        assert _status_with(daemon, phone) == 200
        assert _status_with(daemon, car) == 200
        assert _status_with(daemon, stolen) == 401
        # A login made a moment before a kill -9 is on the disk already.
        laptop = _process_login(daemon, "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Firefox/125.0")
        daemon.process.kill()
        daemon.process.wait(10)

    with DaemonProcess.start(tmp_path, pin=PIN) as daemon:
        for cookie in (phone, car, laptop):
            assert _status_with(daemon, cookie) == 200
        assert _status_with(daemon, stolen) == 401
        assert set(_saved(daemon.state_dir)) == {
            "Chrome on Android",
            "Tesla browser",
            "Firefox on Linux",
        }
    assert not list(daemon.state_dir.glob(".logins.json.*")), "no file left half-written"


async def test_a_deleted_secret_ends_every_session(daemon: RunningDaemon) -> None:
    """However the secret changes (here: deleted by hand), the sessions signed with it
    end with it, and ``tuner sessions`` lists none of them."""
    async with daemon.client() as phone:
        cookie = await _login_as(daemon, phone, PHONE)
        assert set(await _listed(daemon.state_dir)) == {"Chrome on Android"}
        async with open_websocket_url(
            daemon.ws_url + "/ws/video", extra_headers=_ws_headers(cookie)
        ) as video:
            (daemon.state_dir / "secret").unlink()
            assert await close_code(video, timeout=5) == 1008
        assert await _listed(daemon.state_dir) == {}
        assert (await phone.get("/api/status")).status_code == 401
        await daemon.login(phone)
        assert (await phone.get("/api/status")).status_code == 200


async def test_requests_from_another_site_are_refused(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        cookie = await daemon.login(client)
        for origin in (
            EVIL,
            "null",
            daemon.url.replace("127.0.0.1", "localhost"),
            daemon.url + "0",
        ):
            response = await client.post(
                "/api/play", json={"query": "testcard"}, headers={"Origin": origin}
            )
            assert response.status_code == 403, origin
            assert response.json()["error"] == "cross-origin request refused"
            assert (await client.get("/api/status")).json()["state"] == "idle"
        # A login from another site's page is refused too (login CSRF).
        response = await client.post("/api/login", json={"pin": PIN}, headers={"Origin": EVIL})
        assert response.status_code == 403
        for verb, path in (("DELETE", "/api/queue"), ("PUT", "/api/queue/autoplay")):
            response = await client.request(
                verb, path, json={"autoplay": False}, headers={"Origin": EVIL}
            )
            assert response.status_code == 403, path
        # This site's own page, and programs that send no Origin, are served.
        response = await client.post(
            "/api/play", json={"query": "testcard"}, headers={"Origin": daemon.url}
        )
        assert response.status_code == 202
        assert (await client.post("/api/stop")).status_code == 204
        # GETs carry no Origin check: they change nothing.
        assert (await client.get("/api/status", headers={"Origin": EVIL})).status_code == 200

        for path in ("/ws/video", "/ws/events"):
            with pytest.raises(HandshakeError) as refused:
                async with open_websocket_url(
                    daemon.ws_url + path, extra_headers=_ws_headers(cookie, EVIL)
                ):
                    pass
            assert getattr(refused.value, "status_code", None) == 403, path
            async with open_websocket_url(
                daemon.ws_url + path, extra_headers=_ws_headers(cookie, daemon.url)
            ) as ws:
                assert await stays_open(ws)


async def test_a_trusted_proxy_decides_scheme_and_host_and_no_one_else_does(
    tmp_path: Path,
) -> None:
    public = "https://tuner.example.com"
    relayed = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "tuner.example.com"}
    async with trio.open_nursery() as nursery:
        running = await start_daemon(
            nursery, settings_for(tmp_path, trusted_proxies=("127.0.0.1",))
        )
        async with running.client() as proxy:
            response = await proxy.post("/api/login", json={"pin": PIN}, headers=relayed)
            assert response.status_code == 204
            set_cookies = response.headers.get_list("set-cookie")
            assert len(set_cookies) == 2  # the session cookie and the device mark
            assert all("secure" in header.lower() for header in set_cookies)
            cookie = {"Cookie": f"{COOKIE_NAME}={response.cookies[COOKIE_NAME]}"}
            response = await proxy.post(
                "/api/stop", headers={**relayed, **cookie, "Origin": public}
            )
            assert response.status_code == 204

        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(base_url=running.url, transport=transport) as stranger:
            response = await stranger.post("/api/login", json={"pin": PIN}, headers=relayed)
            assert response.status_code == 204
            assert not any("secure" in h.lower() for h in response.headers.get_list("set-cookie"))
            cookie = {"Cookie": f"{COOKIE_NAME}={response.cookies[COOKIE_NAME]}"}
            response = await stranger.post(
                "/api/stop", headers={**relayed, **cookie, "Origin": public}
            )
            assert response.status_code == 403
        running.shutdown.set()


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/api/status", "/healthz", "/nowhere"])
async def test_every_answer_carries_the_security_headers(daemon: RunningDaemon, path: str) -> None:
    async with daemon.client() as client:
        response = await client.get(path)
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ):
        assert directive in csp, (path, csp)
    assert "unsafe" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.browser
def test_the_page_runs_under_its_policy_and_injected_script_does_not(tmp_path: Path) -> None:
    from tests.daemon_process import DaemonProcess

    violations: list[str] = []
    with DaemonProcess.start(tmp_path, pin=PIN) as running, chromium() as browser:
        page: Any = browser.new_page()
        page.on(
            "console",
            lambda message: (
                violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.goto(running.base_url + "/")
        page.fill("#pin", PIN)
        page.click("#login-button")
        page.fill("#query", "testcard")
        page.click("#play")
        # The client's own scripts, styles, socket and sound all work under the policy.
        wait_for(page, "window.tunerStats.framesDrawn > 5")
        assert not violations, violations
        # Script that is not the site's own file does not run.
        ran = page.evaluate(
            """() => new Promise((done) => {
                window.injected = false;
                document.addEventListener('securitypolicyviolation', () => done(window.injected));
                const script = document.createElement('script');
                script.textContent = 'window.injected = true';
                document.body.appendChild(script);
            })"""
        )
        assert ran is False
        assert any("inline script" in v or "script-src" in v for v in violations), violations


async def _raw_status(
    port: int, path: str, headers: dict[str, str], *, websocket: bool = False
) -> int:
    """The status of a GET (or a websocket handshake) with exactly these headers
    (``Host`` among them), from 127.0.0.1."""
    lines = [f"GET {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    if websocket:
        lines += [
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
        ]
    else:
        lines.append("Connection: close")
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    break
                head += chunk
    return int(head.split(b" ", 2)[1])


async def test_a_forged_forwarded_host_does_not_let_another_site_in(
    daemon: RunningDaemon,
) -> None:
    # Loopback was a trusted proxy by default: behind a tunnel that relays TCP
    # (ssh -R, frp, ngrok tcp) everyone is loopback, and a client naming the site
    # it came from in X-Forwarded-Host passed the Origin check (204).
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "Origin": EVIL}
    async with daemon.client() as client:
        cookie = await daemon.login(client)
        response = await client.post("/api/stop", headers={**forged, "Cookie": cookie})
        assert response.status_code == 403
        assert response.json()["error"] == "cross-origin request refused"
        # The cookie of a login that claims https is not Secure: the claim is not believed.
        login = await client.post(
            "/api/login", json={"pin": PIN}, headers={"X-Forwarded-Proto": "https"}
        )
        assert "secure" not in login.headers["set-cookie"].lower()
    for path in ("/ws/video", "/ws/events"):
        with pytest.raises(HandshakeError) as refused:
            async with open_websocket_url(
                daemon.ws_url + path,
                extra_headers=[*_ws_headers(cookie, EVIL), (b"X-Forwarded-Host", b"evil.example")],
            ):
                pass
        assert getattr(refused.value, "status_code", None) == 403, path


async def test_behind_a_trusted_proxy_the_values_it_wrote_last_count(tmp_path: Path) -> None:
    # A proxy that appends (or passes on) what the client sent leaves the client's
    # own values first; the last ones are the proxy's.
    public = "https://tuner.example.com"
    async with trio.open_nursery() as nursery:
        running = await start_daemon(
            nursery, settings_for(tmp_path, trusted_proxies=("127.0.0.1",))
        )
        async with running.client() as proxy:
            relayed = {
                "X-Forwarded-For": "198.51.100.7",
                "X-Forwarded-Proto": "http, https",
                "X-Forwarded-Host": "evil.example, tuner.example.com",
            }
            response = await proxy.post("/api/login", json={"pin": PIN}, headers=relayed)
            assert response.status_code == 204
            assert "secure" in response.headers["set-cookie"].lower()
            cookie = {"Cookie": f"{COOKIE_NAME}={response.cookies[COOKIE_NAME]}"}
            foreign = await proxy.post("/api/stop", headers={**relayed, **cookie, "Origin": EVIL})
            assert foreign.status_code == 403
            own = await proxy.post("/api/stop", headers={**relayed, **cookie, "Origin": public})
            assert own.status_code == 204
        running.shutdown.set()


async def test_forwarding_headers_from_an_untrusted_peer_are_named_in_one_warning(
    daemon: RunningDaemon, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tuner.web.forwarded")
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    async with daemon.client() as client:
        for _ in range(50):
            assert (await client.get("/healthz", headers=headers)).status_code == 200
        # Requests without them say nothing.
        assert (await client.get("/healthz")).status_code == 200
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=daemon.url, transport=transport) as other:
        assert (await other.get("/healthz", headers=headers)).status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.name == "tuner.web.forwarded"]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith(
        "ignored X-Forwarded-For/X-Forwarded-Proto from 127.0.0.1, which is not in trusted_proxies"
    )
    assert "from 127.0.0.2" in warnings[1]
    assert "203.0.113.9" not in " ".join(warnings)  # what the client wrote is not logged


@pytest.mark.parametrize(
    "relayed",
    [
        {"X-Forwarded-For": "203.0.113.9"},
        {"X-Real-IP": "203.0.113.9"},
        {"X-Client-IP": "203.0.113.9"},
        {"True-Client-IP": "203.0.113.9"},
        {"Forwarded": "for=203.0.113.9"},
        {"Via": "1.1 proxy"},
        {"X-Forwarded-Proto": "https"},
        # A proxy that adds nothing but passes on the public name as Host
        # (cloudflared, Caddy and Tailscale do).
        {"Host": "tuner.example.com"},
    ],
    ids=lambda headers: next(iter(headers)),
)
async def test_metrics_are_refused_to_whatever_a_proxy_relays(
    daemon: RunningDaemon, relayed: dict[str, str]
) -> None:
    port = daemon.serving.port
    direct = {"Host": f"127.0.0.1:{port}"}
    assert await _raw_status(port, "/metrics", direct) == 200
    assert await _raw_status(port, "/metrics", {"Host": f"localhost:{port}"}) == 200
    assert await _raw_status(port, "/metrics", {**direct, **relayed}) == 403


async def test_metrics_through_a_proxy_need_the_token(tmp_path: Path) -> None:
    relayed = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    async with trio.open_nursery() as nursery:
        running = await start_daemon(
            nursery,
            settings_for(tmp_path, trusted_proxies=("127.0.0.1",), metrics_token="s3cret"),
        )
        async with running.client() as proxy:
            assert (await proxy.get("/metrics", headers=relayed)).status_code == 403
            wrong = {**relayed, "Authorization": b"Bearer \xe9"}
            assert (await proxy.get("/metrics", headers=wrong)).status_code == 403
            right = {**relayed, "Authorization": "Bearer s3cret"}
            response = await proxy.get("/metrics", headers=right)
            assert response.status_code == 200
            assert "tuner_sessions_started_total" in response.text
        running.shutdown.set()


async def test_a_host_not_in_server_names_gets_421(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        running = await start_daemon(
            nursery,
            settings_for(
                tmp_path, server_names=("tuner.example.com",), trusted_proxies=("127.0.0.2",)
            ),
        )
        port = running.serving.port
        # A page whose name was pointed at this machine (DNS rebinding) reaches nothing.
        for path in ("/", "/healthz", "/api/status", "/static/app.js"):
            assert await _raw_status(port, path, {"Host": f"rebind.example:{port}"}) == 421
        for path in ("/ws/video", "/ws/events"):
            status = await _raw_status(port, path, {"Host": "rebind.example"}, websocket=True)
            assert status == 421, path
        async with running.client() as client:
            refused = await client.post(
                "/api/login", json={"pin": PIN}, headers={"Host": "rebind.example"}
            )
            assert refused.status_code == 421
            assert refused.json()["error"] == "misdirected request"
            # The configured name (any case, any port) and loopback are answered.
            for host in ("tuner.example.com", "TUNER.example.com:443", f"127.0.0.1:{port}"):
                response = await client.get("/healthz", headers={"Host": host})
                assert response.status_code == 200, host
            assert (
                await client.get("/healthz", headers={"Host": f"localhost:{port}"})
            ).status_code == 200
        # Behind the trusted proxy its X-Forwarded-Host is the name checked.
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(base_url=running.url, transport=transport) as proxy:
            forwarded = {"X-Forwarded-Host": "rebind.example"}
            assert (await proxy.get("/healthz", headers=forwarded)).status_code == 421
            forwarded = {"X-Forwarded-Host": "tuner.example.com"}
            assert (await proxy.get("/healthz", headers=forwarded)).status_code == 200
        running.shutdown.set()
