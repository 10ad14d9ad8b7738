"""Cookies revoked all at once, requests from other sites, what a trusted proxy may
say, and the headers every answer carries."""

from __future__ import annotations

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
