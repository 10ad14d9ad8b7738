"""Cookies revoked all at once, requests from other sites, what a trusted proxy may
say (and what anyone else may not), the names the daemon answers to, who may read
``/metrics``, and the headers every answer carries."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import HandshakeError, open_websocket_url

from tests.integration.conftest import (
    PIN,
    RunningDaemon,
    settings_for,
    start_daemon,
)
from tests.integration.helpers import close_code, stays_open
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
            assert "secure" in response.headers["set-cookie"].lower()
            cookie = {"Cookie": f"{COOKIE_NAME}={response.cookies[COOKIE_NAME]}"}
            response = await proxy.post(
                "/api/stop", headers={**relayed, **cookie, "Origin": public}
            )
            assert response.status_code == 204

        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(base_url=running.url, transport=transport) as stranger:
            response = await stranger.post("/api/login", json={"pin": PIN}, headers=relayed)
            assert response.status_code == 204
            assert "secure" not in response.headers["set-cookie"].lower()
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
