"""A viewer that never reads must not slow the others, nor hold shutdown."""

from __future__ import annotations

import socket

import trio

from tests.integration.conftest import RunningDaemon, settings_for, start_daemon
from tests.integration.helpers import (
    DEFAULT_LEAD,
    assert_plays_at_rate,
    close_code,
    frames_for,
    next_control,
    open_viewer,
    parse_metrics,
    wait_for_ffmpegs,
)
from tuner.core.presets import PRESETS


async def _stalled_viewer(daemon: RunningDaemon, cookie: str) -> trio.socket.SocketType:
    """Open /ws/video with a tiny receive buffer, then never read from it."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    await sock.connect(("127.0.0.1", daemon.serving.port))
    request = (
        "GET /ws/video HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{daemon.serving.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Cookie: {cookie}\r\n\r\n"
    )
    await sock.send(request.encode())
    return sock


async def _metrics(daemon: RunningDaemon) -> dict[str, dict[str, float]]:
    async with daemon.client() as client:
        return parse_metrics((await client.get("/metrics")).text)


async def test_a_stalled_viewer_neither_slows_others_nor_blocks_shutdown(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ultra = PRESETS["ultra"]
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path))
        async with daemon.client() as client:
            cookie = await daemon.login(client)
            stalled = await _stalled_viewer(daemon, cookie)
            with stalled:
                async with open_viewer(daemon.url, cookie) as ws:
                    await client.post("/api/play", json={"query": "testcard", "preset": "ultra"})
                    await next_control(ws, "hello")
                    received = await frames_for(ws, 3.0)
                    # The fast viewer kept the full rate while the other one stalled...
                    assert_plays_at_rate(received, ultra.fps, 3.0, DEFAULT_LEAD)
                    # ...which really was stalled: it was sent a fraction of the frames
                    # (its socket's buffers hold a few), and went on no further.
                    sent = (await _metrics(daemon))["tuner_viewer_frames_sent_total"]
                    fewest, most = sorted(sent.values())
                    assert fewest < most / 2, sent

                    started = trio.current_time()
                    daemon.shutdown.set()
                    with trio.fail_after(5):
                        await daemon.stopped.wait()
                    took = trio.current_time() - started
                    code = await close_code(ws, timeout=2)
            assert took < 3.0, f"shutdown took {took:.2f} s"
            assert code == 1001
        await wait_for_ffmpegs(0)


async def test_shutdown_closes_viewers_with_1001_and_kills_ffmpeg(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        cookie = await daemon.login(client)
        async with open_viewer(daemon.url, cookie) as ws:
            await client.post("/api/play", json={"query": "testcard"})
            await next_control(ws, "hello")
            await frames_for(ws, 0.2)
            await wait_for_ffmpegs(1)
            daemon.shutdown.set()
            assert await close_code(ws, timeout=3) == 1001
        with trio.fail_after(3):
            await daemon.stopped.wait()
    await wait_for_ffmpegs(0, timeout=0.5)


async def test_a_viewer_that_stops_reading_is_dropped_after_tcp_user_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Hypercorn's sends are shielded from cancellation, so the send timeout that drops
    a stalled viewer is the kernel's TCP_USER_TIMEOUT on the daemon's socket."""
    settings = settings_for(tmp_path, tcp_user_timeout=1.0)
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings)
        async with daemon.client() as client:
            cookie = await daemon.login(client)
            with await _stalled_viewer(daemon, cookie):
                await client.post("/api/play", json={"query": "testcard", "preset": "ultra"})
                with trio.fail_after(5):
                    while (await _metrics(daemon))["tuner_viewers_connected"][""] != 1:
                        await trio.sleep(0.05)
                # Its buffers fill within seconds at ultra; then 1 s without progress.
                with trio.fail_after(30):
                    while (await _metrics(daemon))["tuner_viewers_connected"][""] != 0:
                        await trio.sleep(0.1)
        daemon.shutdown.set()
