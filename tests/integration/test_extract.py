"""The extractor routes and events against the real daemon, its extractors reading
pages and playlists from a loopback server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from tests.integration.conftest import RunningDaemon, settings_for, start_daemon
from tests.integration.helpers import frames_for, next_control, open_viewer, wait_for_state
from tests.loopback import LoopbackServer, serve_loopback
from tuner.config import DemoSettings, ExtractSettings, PageSettings, PageSite, StreamSpec

LIVE = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\ns1.ts\n"
VOD = LIVE + "#EXT-X-ENDLIST\n"
#: The page answers this late, so a refresh can be sent while the first run goes on.
PAGE_DELAY = 1.0


@pytest.fixture
async def loopback() -> AsyncIterator[LoopbackServer]:
    async with serve_loopback() as server:
        server.add("/live.m3u8", LIVE)
        server.add("/vod.m3u8", VOD)
        server.add(
            "/channel", f"<title>Channel 9</title><a href='{server.url('/live.m3u8')}'>watch</a>"
        )
        server.routes["/channel"].delay = PAGE_DELAY
        yield server


def _extract_settings(server: LoopbackServer, **overrides: Any) -> ExtractSettings:
    values: dict[str, Any] = {
        "per_source_delay_seconds": 0.0,
        "demo": DemoSettings(
            enabled=True,
            streams=(
                StreamSpec("Recording", server.url("/vod.m3u8")),
                StreamSpec("Broken", server.url("/missing.m3u8")),
            ),
        ),
        "page": PageSettings(enabled=True, sites=(PageSite(server.url("/channel")),)),
    }
    values.update(overrides)
    return ExtractSettings(**values)


@pytest.fixture
async def daemon(tmp_path: Path, loopback: LoopbackServer) -> AsyncIterator[RunningDaemon]:
    settings = settings_for(tmp_path, extract=_extract_settings(loopback))
    async with trio.open_nursery() as nursery:
        running = await start_daemon(nursery, settings)
        yield running
        running.shutdown.set()
        with trio.fail_after(10):
            await running.stopped.wait()


async def _wait_for_run(client: Any, run_id: int) -> dict[str, Any]:
    with trio.fail_after(10):
        while True:
            status: dict[str, Any] = (await client.get("/api/extractors")).json()
            last = status["last_run"]
            if last is not None and last["id"] >= run_id and status["running"] is None:
                return status
            await trio.sleep(0.05)


async def test_routes_need_a_login(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        for method, path in [
            ("GET", "/api/streams"),
            ("GET", "/api/extractors"),
            ("POST", "/api/extract"),
        ]:
            response = await client.request(method, path)
            assert response.status_code == 401, path
            assert response.json()["error"] == "login required"


async def test_streams_extractors_and_a_refresh_that_joins_the_run(
    daemon: RunningDaemon, loopback: LoopbackServer
) -> None:
    async with daemon.client() as client:
        await daemon.login(client)
        # The first run started with the daemon and waits for the slow page: join it.
        joined = await client.post("/api/extract")
        assert joined.status_code == 202
        assert joined.json() == {"run_id": 1, "joined": True}
        status = await _wait_for_run(client, 1)
        assert loopback.hits["/channel"] == 1, "joining did not start a second run"

        assert status["enabled"] and status["healthy"] and status["mode"] == "idle"
        assert status["interval_seconds"] == 1800
        by_key = {e["key"]: e for e in status["extractors"]}
        assert set(by_key) == {"demo", "page"}
        assert (by_key["demo"]["state"], by_key["demo"]["count"]) == ("ok", 1)
        assert by_key["demo"]["dropped"] == 1
        assert "answered HTTP 404 Not Found" in by_key["demo"]["notes"][0]
        assert by_key["page"]["duration_seconds"] >= PAGE_DELAY
        assert by_key["page"]["next_run_in_seconds"] > 1700

        streams = (await client.get("/api/streams")).json()
        assert [(s["title"], s["is_live"], s["extractor"]) for s in streams["streams"]] == [
            ("Channel 9", True, "page"),
            ("Recording", False, "demo"),
        ], "live first; the 404 playlist is not listed"
        assert streams["streams"][0]["url"] == loopback.url("/live.m3u8")
        assert not streams["streams"][0]["stale"]

        # Idle now: a refresh starts run 2 at once, answering before it finishes.
        with trio.fail_after(PAGE_DELAY / 2):
            started = await client.post("/api/extract")
        assert (started.status_code, started.json()) == (202, {"run_id": 2, "joined": False})
        await _wait_for_run(client, 2)
        assert loopback.hits["/channel"] == 2


async def _next_event(ws: WebSocketConnection, event_type: str) -> Any:
    with trio.fail_after(10):
        while True:
            event = json.loads(await ws.get_message())
            if event["type"] == event_type:
                return event["data"]


async def test_events_carry_stream_and_extractor_changes(
    daemon: RunningDaemon, loopback: LoopbackServer
) -> None:
    async with daemon.client() as client:
        cookie = await daemon.login(client)
        await _wait_for_run(client, 1)
        async with open_websocket_url(
            daemon.ws_url + "/ws/events", extra_headers=[("Cookie", cookie)]
        ) as ws:
            snapshot = await _next_event(ws, "streams")
            assert [s["title"] for s in snapshot["streams"]] == ["Channel 9", "Recording"]
            assert (await _next_event(ws, "extractors"))["last_run"]["id"] == 1

            # The channel goes down: its stream stays listed, stale; the list changed.
            loopback.add("/channel", "down for maintenance", status=503)
            await client.post("/api/extract")
            running = await _next_event(ws, "extractors")
            assert running["running"] == 2
            finished = await _next_event(ws, "extractors")
            page = {e["key"]: e for e in finished["extractors"]}["page"]
            assert page["state"] == "error" and page["stale"]
            assert "answered HTTP 503 Service Unavailable" in page["error"]
            changed = await _next_event(ws, "streams")
            assert [(s["title"], s["stale"]) for s in changed["streams"]] == [
                ("Channel 9", True),
                ("Recording", False),
            ]


async def test_healthz_reports_a_poller_without_a_success_for_two_intervals(
    daemon: RunningDaemon, loopback: LoopbackServer
) -> None:
    async with daemon.client() as client:
        health = (await client.get("/healthz")).json()
        assert health["components"]["poller"] == "ok"
        await daemon.login(client)
        await _wait_for_run(client, 1)
        poller = daemon.serving.context.poller
        assert poller is not None and poller.last_ok_at is not None
        # Two idle intervals and a second pass without a successful run.
        poller.last_ok_at -= 2 * 1800 + 1
        response = await client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["components"]["poller"] == "stale"
        status = (await client.get("/api/extractors")).json()
        assert not status["healthy"] and "no successful run for 60 min" in status["health"]
        # A successful run makes it healthy again.
        await client.post("/api/extract")
        await _wait_for_run(client, 2)
        assert (await client.get("/healthz")).status_code == 200


async def test_with_the_poller_off(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, extract=ExtractSettings(enabled=False))
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings)
        async with daemon.client() as client:
            assert "poller" not in (await client.get("/healthz")).json()["components"]
            await daemon.login(client)
            assert (await client.get("/api/streams")).json() == {"streams": [], "count": 0}
            assert not (await client.get("/api/extractors")).json()["enabled"]
            refused = await client.post("/api/extract")
            assert refused.status_code == 503
            assert "[extract]" in refused.json()["detail"]
        daemon.shutdown.set()


async def test_a_stream_found_by_an_extractor_plays(tmp_path: Path, live_hls: str) -> None:
    """From the extractor's list to frames: the demo extractor finds a live HLS stream
    (made by ffmpeg, served on loopback), and its URL plays through /api/play."""
    demo = DemoSettings(enabled=True, streams=(StreamSpec("Loopback live", live_hls),))
    extract = ExtractSettings(per_source_delay_seconds=0.0, demo=demo)
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path, extract=extract))
        async with daemon.client() as client:
            cookie = await daemon.login(client)
            await _wait_for_run(client, 1)
            [stream] = (await client.get("/api/streams")).json()["streams"]
            assert (stream["title"], stream["url"], stream["is_live"]) == (
                "Loopback live",
                live_hls,
                True,
            ), "the check read the live playlist"
            async with open_viewer(daemon.url, cookie) as ws:
                response = await client.post("/api/play", json={"query": stream["url"]})
                assert response.status_code == 202, response.text
                await next_control(ws, "hello")
                status = await wait_for_state(client, "playing", timeout=20)
                assert status["is_live"] is True
                frames = await frames_for(ws, 1.0)
            assert len(frames) > 10
            assert (await client.post("/api/stop")).status_code == 204
            await wait_for_state(client, "idle")
        daemon.shutdown.set()
