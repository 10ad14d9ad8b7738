"""Logging in, and every way a cookie can be wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time

import httpx
import pytest
import trio
from trio_websocket import HandshakeError, open_websocket_url

from tests.integration.conftest import PIN, RunningDaemon
from tests.integration.helpers import close_code, open_viewer, stays_open
from tuner.core.tokens import TokenSigner
from tuner.web.auth import COOKIE_NAME, DEVICE_COOKIE

PRIVATE_ROUTES = [
    ("GET", "/api/status"),
    ("GET", "/api/presets"),
    ("POST", "/api/play"),
    ("POST", "/api/stop"),
    ("POST", "/api/logout"),
    ("GET", "/audio"),
]


def _set_cookies(response: httpx.Response) -> dict[str, dict[str, str]]:
    """Each cookie the response sets: its attributes (lower-case names) and values."""
    cookies: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = (part.strip() for part in header.split(";"))
        name = first.split("=", 1)[0]
        cookies[name] = {
            attribute.split("=", 1)[0].lower(): attribute.partition("=")[2]
            for attribute in attributes
        }
    return cookies


async def test_right_pin_sets_a_strict_httponly_cookie_and_a_device_mark(
    daemon: RunningDaemon,
) -> None:
    async with daemon.client() as client:
        response = await client.post("/api/login", json={"pin": PIN})
        assert response.status_code == 204
        cookies = _set_cookies(response)
        assert set(cookies) == {COOKIE_NAME, DEVICE_COOKIE}
        for name, attributes in cookies.items():
            assert {"httponly", "samesite", "max-age", "path"} <= set(attributes), name
            assert attributes["samesite"] == "Strict", name
            assert "secure" not in attributes, "plain http must not get a Secure cookie"
        assert int(cookies[COOKIE_NAME]["max-age"]) == 30 * 86400
        # The device mark outlives many logins: 400 days, the most browsers keep.
        assert int(cookies[DEVICE_COOKIE]["max-age"]) == 400 * 86400
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


def _forge(
    daemon: RunningDaemon,
    login_id: str,
    now: float,
    ttl: float,
    secret: bytes | None = None,
) -> str:
    secret = secret if secret is not None else (daemon.state_dir / "secret").read_bytes()
    return TokenSigner(secret).issue(login_id, now, ttl)


def _old_cookie(daemon: RunningDaemon, now: float) -> str:
    """A cookie as tuner made them before logins had ids (token version 1)."""
    secret = (daemon.state_dir / "secret").read_bytes()
    claims = {"v": 1, "iat": int(now), "exp": int(now) + 3600}
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    digest = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return body + "." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def test_tampered_foreign_and_expired_cookies_are_refused(
    daemon: RunningDaemon, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tuner")
    async with daemon.client() as client:
        await daemon.login(client)
        good = client.cookies[COOKIE_NAME]
    login_id = daemon.serving.context.signer.verify(good, time.time())
    body, _, signature = good.partition(".")
    now = time.time()
    bad_cookies = {
        "tampered payload": _forge(daemon, login_id, now, 10**9).partition(".")[0]
        + "."
        + signature,
        "tampered signature": body
        + "."
        + signature[:-2]
        + ("AA" if signature[-2:] != "AA" else "BB"),
        "foreign secret": _forge(daemon, login_id, now, 3600, secret=b"x" * 32),
        "expired": _forge(daemon, login_id, now - 7200, 3600),
        "garbage": "not-a-token",
        # The right secret, but no such login: a signature alone lets no one in.
        "unknown login": _forge(daemon, "NoSuchLogin0", now, 3600),
        "made by an older tuner": _old_cookie(daemon, now),
    }
    for label, cookie in bad_cookies.items():
        async with daemon.client() as client:
            client.cookies.set(COOKIE_NAME, cookie)
            response = await client.get("/api/status")
            assert response.status_code == 401, label
    async with daemon.client() as client:
        client.cookies.set(COOKIE_NAME, _forge(daemon, login_id, now, 3600))
        assert (await client.get("/api/status")).status_code == 200
    assert "made by an older tuner, before logins had ids" in caplog.text
    assert "the page asks for the PIN once" in caplog.text
    assert "login NoSuchLogin0 has ended" in caplog.text


async def test_logout_clears_the_cookie(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        await daemon.login(client)
        response = await client.post("/api/logout")
        assert response.status_code == 204
        assert COOKIE_NAME not in client.cookies
        assert (await client.get("/api/status")).status_code == 401


async def test_a_logout_ends_the_login_for_every_copy_of_its_cookie(
    daemon: RunningDaemon,
) -> None:
    """A cookie copied before its logout (from a stolen laptop's disk, a shared
    machine) opens nothing afterwards, and the login's open streams close."""
    async with daemon.client() as client, daemon.client() as other:
        cookie = await daemon.login(client)
        other_cookie = await daemon.login(other)
        async with (
            open_viewer(daemon.url, cookie) as video,
            open_websocket_url(
                daemon.ws_url + "/ws/events", extra_headers=[("Cookie", other_cookie)]
            ) as others_events,
        ):
            assert await stays_open(video, 0.2)
            response = await client.post("/api/logout")
            assert response.status_code == 204
            assert await close_code(video, timeout=5) == 1008
            # Another login's stream is not touched.
            assert await stays_open(others_events, 0.3)

    async with daemon.client() as thief:
        copied = {"Cookie": cookie}
        for method, path in PRIVATE_ROUTES:
            response = await thief.request(method, path, json={}, headers=copied)
            assert response.status_code == 401, path
        for path in ("/ws/video", "/ws/events"):
            with pytest.raises(HandshakeError) as refused:
                async with open_websocket_url(
                    daemon.ws_url + path, extra_headers=[("Cookie", cookie)]
                ):
                    pass
            assert getattr(refused.value, "status_code", None) == 401, path
        # The other login goes on.
        response = await thief.get("/api/status", headers={"Cookie": other_cookie})
        assert response.status_code == 200


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
