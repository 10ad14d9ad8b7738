"""/healthz, /readyz and /metrics, as a monitor sees them."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.integration.conftest import RunningDaemon, settings_for, start_daemon
from tests.integration.helpers import parse_metrics, wait_for_state


async def test_healthz_and_readyz_when_all_is_well(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        health = await client.get("/healthz")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "ok"
        assert body["components"] == {
            "web": "ok",
            "supervisor": "ok",
            "ffmpeg": "ok",
            "playback": "ok",
            "poller": "ok",
            "extractors": "ok",
            "queue": "ok",
            "logins": "ok",
        }
        assert body["logins_paused_until"] is None
        # Nothing private: no PIN, no query, no title, no paths.
        assert set(body) == {
            "status",
            "version",
            "uptime_seconds",
            "session",
            "components",
            "logins_paused_until",
        }
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"ready": True})


async def test_healthz_is_503_when_the_supervisor_died(daemon: RunningDaemon) -> None:
    supervisor = daemon.serving.context.supervisor

    async def crash() -> None:
        raise RuntimeError("a bug in the supervisor")

    assert supervisor._nursery is not None
    supervisor._nursery.start_soon(crash)
    async with daemon.client() as client:
        with trio.fail_after(5):
            while (health := await client.get("/healthz")).status_code != 503:
                await trio.sleep(0.02)
        assert health.json()["components"]["supervisor"] == "dead"
        assert "a bug in the supervisor" in (supervisor.death or "")
        assert (await client.get("/readyz")).status_code == 503
        await daemon.login(client)
        response = await client.post("/api/play", json={"query": "testcard"})
        assert response.status_code == 503
        assert "supervisor" in response.json()["detail"]


async def test_readyz_is_503_and_play_explains_when_ffmpeg_is_missing(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ffmpeg=str(tmp_path / "no-such-ffmpeg"))
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings)
        async with daemon.client() as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert "not an executable" in ready.json()["reason"]
            assert (await client.get("/healthz")).json()["components"]["ffmpeg"] == "missing"
            await daemon.login(client)
            await client.post("/api/play", json={"query": "testcard"})
            status = await wait_for_state(client, "error", timeout=5)
            assert "ffmpeg" in status["error"] and "not an executable" in status["error"]
        daemon.shutdown.set()


async def test_metrics_count_sessions_and_are_loopback_only(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        await daemon.login(client)
        for _ in range(2):
            await client.post("/api/play", json={"query": "testcard"})
        await client.post("/api/stop")
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        samples = parse_metrics(response.text)
        assert samples["tuner_sessions_started_total"] == {"": 2}
        assert samples["tuner_supervisor_alive"] == {"": 1}
        assert samples["tuner_viewers_connected"] == {"": 0}
        assert "tuner_ffmpeg_restarts_total" in samples
        # Through a reverse proxy on the same host the peer is loopback too: refused.
        proxied = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 403


async def test_metrics_token_opens_metrics_to_bearers_only(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path, metrics_token="s3cret"))
        async with daemon.client() as client:
            assert (await client.get("/metrics")).status_code == 403
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 403
            right = await client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
            assert right.status_code == 200
            assert "tuner_sessions_started_total" in right.text
        daemon.shutdown.set()
