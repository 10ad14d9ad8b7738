"""Logging in, and every way a cookie can be wrong."""

from __future__ import annotations

import time

import pytest
import trio
from trio_websocket import HandshakeError, open_websocket_url

from tests.integration.conftest import PIN, RunningDaemon
from tuner.core.tokens import TokenSigner
from tuner.web.auth import COOKIE_NAME

PRIVATE_ROUTES = [
    ("GET", "/api/status"),
    ("GET", "/api/presets"),
    ("POST", "/api/play"),
    ("POST", "/api/stop"),
    ("POST", "/api/logout"),
    ("GET", "/audio"),
]


async def test_right_pin_sets_a_strict_httponly_cookie(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        response = await client.post("/api/login", json={"pin": PIN})
        assert response.status_code == 204
        set_cookie = response.headers["set-cookie"]
        assert set_cookie.startswith(f"{COOKIE_NAME}=")
        attributes = {part.strip().split("=")[0].lower() for part in set_cookie.split(";")}
        assert {"httponly", "samesite", "max-age", "path"} <= attributes
        assert "SameSite=Strict" in set_cookie
        assert "secure" not in attributes, "plain http must not get a Secure cookie"
        assert (await client.get("/api/status")).status_code == 200


@pytest.mark.parametrize("body", [{"pin": "0000"}, {"pin": 2468}, {"pin": ""}, {}, [PIN]])
async def test_wrong_pin_is_401(daemon: RunningDaemon, body: object) -> None:
    async with daemon.client() as client:
        response = await client.post("/api/login", json=body)
        assert response.status_code in (400, 401)
        assert "error" in response.json()
        assert COOKIE_NAME not in client.cookies
        assert (await client.get("/api/status")).status_code == 401


@pytest.mark.parametrize(("method", "path"), PRIVATE_ROUTES)
async def test_private_routes_need_a_cookie(daemon: RunningDaemon, method: str, path: str) -> None:
    async with daemon.client() as client:
        response = await client.request(method, path, json={"query": "testcard"})
        assert response.status_code == 401
        assert response.json()["error"] == "login required"


async def test_websocket_without_cookie_is_refused(daemon: RunningDaemon) -> None:
    with pytest.raises(HandshakeError) as refused:
        async with open_websocket_url(daemon.ws_url + "/ws/video"):
            pass
    assert getattr(refused.value, "status_code", None) == 401


def _forge(daemon: RunningDaemon, now: float, ttl: float, secret: bytes | None = None) -> str:
    secret = secret if secret is not None else (daemon.state_dir / "secret").read_bytes()
    return TokenSigner(secret).issue(now, ttl)


async def test_tampered_foreign_and_expired_cookies_are_refused(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        await daemon.login(client)
        good = client.cookies[COOKIE_NAME]
    body, _, signature = good.partition(".")
    now = time.time()
    bad_cookies = {
        "tampered payload": _forge(daemon, now, 10**9).partition(".")[0] + "." + signature,
        "tampered signature": body
        + "."
        + signature[:-2]
        + ("AA" if signature[-2:] != "AA" else "BB"),
        "foreign secret": _forge(daemon, now, 3600, secret=b"x" * 32),
        "expired": _forge(daemon, now - 7200, 3600),
        "garbage": "not-a-token",
    }
    for label, cookie in bad_cookies.items():
        async with daemon.client() as client:
            client.cookies.set(COOKIE_NAME, cookie)
            response = await client.get("/api/status")
            assert response.status_code == 401, label
    async with daemon.client() as client:
        client.cookies.set(COOKIE_NAME, _forge(daemon, now, 3600))
        assert (await client.get("/api/status")).status_code == 200


async def test_logout_clears_the_cookie(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        await daemon.login(client)
        response = await client.post("/api/logout")
        assert response.status_code == 204
        assert COOKIE_NAME not in client.cookies
        assert (await client.get("/api/status")).status_code == 401


async def test_login_keeps_working_after_many_bad_requests(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        for body in (b"{", b"[]", b"null", b'{"pin": null}', b"\xff\xfe"):
            response = await client.post("/api/login", content=body)
            assert response.status_code in (400, 401)
        with trio.fail_after(5):
            await daemon.login(client)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html"),
        ("/static/app.js", "text/javascript"),
        ("/static/style.css", "text/css"),
        ("/healthz", "application/json"),
        ("/readyz", "application/json"),
    ],
)
async def test_public_routes_need_no_cookie(
    daemon: RunningDaemon, path: str, content_type: str
) -> None:
    async with daemon.client() as client:
        response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
