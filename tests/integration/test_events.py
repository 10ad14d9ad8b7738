"""``/ws/events`` against a real daemon: the session's state changes, as JSON."""

from __future__ import annotations

import json

import pytest
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    WebSocketConnection,
    open_websocket_url,
)

from tests.integration.conftest import RunningDaemon


async def _next_session_state(ws: WebSocketConnection) -> dict[str, object]:
    with trio.fail_after(10):
        while True:
            event = json.loads(await ws.get_message())
            if event["type"] == "session":
                data: dict[str, object] = event["data"]
                return data


async def test_events_follow_a_session_from_idle_to_playing_to_idle(
    daemon: RunningDaemon,
) -> None:
    async with daemon.client() as client:
        cookie = await daemon.login(client)
        async with open_websocket_url(
            daemon.ws_url + "/ws/events", extra_headers=[("Cookie", cookie)]
        ) as ws:
            assert (await _next_session_state(ws))["state"] == "idle"
            session_id = (await client.post("/api/play", json={"query": "testcard"})).json()[
                "session_id"
            ]
            resolving = await _next_session_state(ws)
            assert (resolving["state"], resolving["session_id"]) == ("resolving", session_id)
            playing = await _next_session_state(ws)
            assert (playing["state"], playing["title"]) == ("playing", "Test card")
            assert (await client.post("/api/stop")).status_code == 204
            assert (await _next_session_state(ws))["state"] == "idle"
            daemon.shutdown.set()
            with pytest.raises(ConnectionClosed) as closed:
                with trio.fail_after(5):
                    while True:
                        await ws.get_message()
            assert closed.value.reason.code == 1001


async def test_events_need_a_login(daemon: RunningDaemon) -> None:
    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(daemon.ws_url + "/ws/events"):
            pass
    assert rejected.value.status_code == 401
