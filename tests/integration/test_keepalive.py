"""Connections a browser keeps open must neither pile up nor hold shutdown, and a
connection the server closes must say so.

Three traps of Hypercorn 0.18 under Quart-Trio, each measured before it was fixed:
an idle keep-alive connection that had served a request was never closed (not after
keep_alive_timeout, not on shutdown), Hypercorn's websocket ping task outlived its
socket by up to a ping interval (either made every shutdown wait for its deadline),
and a response sent before the request's body was read closed the connection without
``Connection: close``, so a client's next request on it could race the close and get
no answer (the fuzz suite's one flaky failure in CI).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.integration.conftest import settings_for, start_daemon
from tests.integration.helpers import close_code, next_control, open_viewer
from tuner.web import viewer_routes

#: Long enough that waiting for it would fail every bound below.
DRAIN = 5.0


async def _request_then_idle(port: int) -> trio.socket.SocketType:
    sock = trio.socket.socket()
    await sock.connect(("127.0.0.1", port))
    await sock.send(b"GET /healthz HTTP/1.1\r\nHost: tuner\r\n\r\n")
    with trio.fail_after(5):
        assert (await sock.recv(65536)).startswith(b"HTTP/1.1 200")
    return sock


async def _closed_by_server(sock: trio.socket.SocketType, within: float) -> float:
    started = trio.current_time()
    with trio.fail_after(within):
        while await sock.recv(65536):
            pass
    return trio.current_time() - started


async def test_an_idle_keepalive_connection_does_not_hold_shutdown(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path, drain_seconds=DRAIN))
        with await _request_then_idle(daemon.serving.port) as sock:
            started = trio.current_time()
            daemon.shutdown.set()
            await _closed_by_server(sock, within=1)
            await daemon.stopped.wait()
            assert trio.current_time() - started < 1


async def test_an_idle_keepalive_connection_is_closed_after_the_timeout(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path, request_timeout=3))
        with await _request_then_idle(daemon.serving.port) as sock:
            # request_timeout is Hypercorn's keep_alive_timeout.
            took = await _closed_by_server(sock, within=10)
            assert 2 < took < 5
        daemon.shutdown.set()


async def test_a_viewer_that_just_left_does_not_hold_shutdown(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path, drain_seconds=DRAIN))
        async with daemon.client() as client:
            cookie = await daemon.login(client)
            await client.post("/api/play", json={"query": "testcard"})
        async with open_viewer(daemon.url, cookie) as ws:
            await next_control(ws, "hello")
            started = trio.current_time()
            daemon.shutdown.set()
            assert await close_code(ws) == 1001
        await daemon.stopped.wait()
        assert trio.current_time() - started < 1


async def test_an_idle_viewer_gets_keepalives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(viewer_routes, "KEEPALIVE_SECONDS", 0.2)
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path))
        async with daemon.client() as client:
            cookie = await daemon.login(client)
        async with open_viewer(daemon.url, cookie) as ws:
            for _ in range(3):
                assert await next_control(ws, "keepalive", timeout=2) == {"type": "keepalive"}
        daemon.shutdown.set()


async def _exchange(sock: trio.socket.SocketType, request: bytes) -> bytes:
    """Send one request and read its response's head (lower-cased) and body."""
    await sock.send(request)
    data = b""
    with trio.fail_after(5):
        while b"\r\n\r\n" not in data:
            chunk = await sock.recv(65536)
            assert chunk, f"closed before a response: {data!r}"
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":", 1)[1]
            for line in head.lower().split(b"\r\n")
            if line.startswith(b"content-length:")
        )
    )
    with trio.fail_after(5):
        while len(body) < length:
            chunk = await sock.recv(65536)
            assert chunk, "closed mid-body"
            body += chunk
    return head.lower()


def _post(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: tuner\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@pytest.mark.parametrize(
    "body",
    # Refused before the body is read: no cookie (401), and over the size limit (413,
    # a bracket nested 100,000 deep as the fuzz suite sends).
    [b'{"position": 0}', b"[" * 100_000],
    ids=["login-required", "too-large"],
)
async def test_a_response_before_the_body_is_read_says_connection_close(
    tmp_path: Path, body: bytes
) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path))
        with trio.socket.socket() as sock:
            await sock.connect(("127.0.0.1", daemon.serving.port))
            head = await _exchange(sock, _post("/api/queue/x/move", body))
            assert head.split(b"\r\n")[0].split()[1] in (b"401", b"413")
            assert b"\r\nconnection: close" in head
            # And it is closed, as it said.
            await _closed_by_server(sock, within=5)
        daemon.shutdown.set()


async def test_a_connection_whose_body_was_read_is_kept_alive(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path))
        with trio.socket.socket() as sock:
            await sock.connect(("127.0.0.1", daemon.serving.port))
            # A wrong PIN: the body is read (and refused), the connection serves on.
            for _ in range(2):
                head = await _exchange(sock, _post("/api/login", b'{"pin": "0000"}'))
                assert head.startswith(b"http/1.1 401")
                assert b"connection: close" not in head
            head = await _exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: tuner\r\n\r\n")
            assert head.startswith(b"http/1.1 200")
        daemon.shutdown.set()
