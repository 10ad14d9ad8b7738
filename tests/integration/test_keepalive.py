"""Connections a browser keeps open must neither pile up nor hold shutdown.

Two traps of Hypercorn 0.18 under Quart-Trio, both measured before they were fixed:
an idle keep-alive connection that had served a request was never closed (not after
keep_alive_timeout, not on shutdown), and Hypercorn's websocket ping task outlived its
socket by up to a ping interval. Either made every shutdown wait for its deadline.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.integration.conftest import settings_for, start_daemon
from tests.integration.helpers import close_code, next_control, open_viewer
from tuner.web import streams

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
    monkeypatch.setattr(streams, "KEEPALIVE_SECONDS", 0.2)
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path))
        async with daemon.client() as client:
            cookie = await daemon.login(client)
        async with open_viewer(daemon.url, cookie) as ws:
            for _ in range(3):
                assert await next_control(ws, "keepalive", timeout=2) == {"type": "keepalive"}
        daemon.shutdown.set()
