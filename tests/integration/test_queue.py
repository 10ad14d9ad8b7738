"""The queue against a real daemon on loopback: its routes and errors, its events,
autoplay from the cache, a cancelled download, and ``tuner queue``.

Media are made by ffmpeg and served over loopback HTTP, so yt-dlp resolves and
downloads them for real; a throttled server makes a download last long enough to be
seen (and cancelled) in the middle.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from tests.conftest import Media
from tests.integration.conftest import PIN, RunningDaemon, settings_for, start_daemon
from tests.integration.helpers import live_ffmpegs, open_viewer, running_with
from tests.media import Throttled, throttled_server
from tuner.cli import main as tuner_main
from tuner.config import QueueSettings
from tuner.core.control import decode_control


def download_workers() -> list[psutil.Process]:
    """The daemon's download worker processes."""
    return running_with("tuner.ytdlp.download")


async def queued(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/queue")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_for_item(
    client: httpx.AsyncClient, item_id: str, done: Any, timeout: float = 30
) -> dict[str, Any]:
    """Poll ``GET /api/queue`` until the item satisfies ``done``; returns it."""
    with trio.fail_after(timeout):
        while True:
            items = {i["id"]: i for i in (await queued(client))["items"]}
            if done(items[item_id]):
                return items[item_id]
            await trio.sleep(0.05)


async def next_event(ws: WebSocketConnection, kind: str) -> dict[str, Any]:
    with trio.fail_after(10):
        while True:
            event = json.loads(await ws.get_message())
            if event["type"] == kind:
                data: dict[str, Any] = event["data"]
                return data


@pytest.fixture
def slow_media(media: Media) -> Iterator[Throttled]:
    """The test clips, served at 400 kB/s (the 720p clip takes ~9 s)."""
    with throttled_server(media.directory, 400_000) as served:
        yield served


@pytest.fixture
async def media_daemon(tmp_path: Path) -> AsyncIterator[RunningDaemon]:
    """A daemon whose queue does not wait between the starts of jobs on one host."""
    async with trio.open_nursery() as nursery:
        queue = QueueSettings(per_source_delay_seconds=0)
        running = await start_daemon(nursery, settings_for(tmp_path, queue=queue))
        yield running
        running.shutdown.set()
        with trio.fail_after(10):
            await running.stopped.wait()


async def test_queue_edits_answer_with_the_queue_and_refuse_bad_input(
    daemon: RunningDaemon,
) -> None:
    async with daemon.client() as client:
        assert (await client.get("/api/queue")).status_code == 401
        cookie = await daemon.login(client)
        async with open_websocket_url(
            daemon.ws_url + "/ws/events", extra_headers=[("Cookie", cookie)]
        ) as ws:
            snapshot = await next_event(ws, "queue")
            assert (snapshot["items"], snapshot["next"], snapshot["autoplay"]) == ([], None, True)

            added = await client.post("/api/queue", json={"query": "testcard"})
            assert added.status_code == 201
            first = added.json()
            assert {"id", "query", "title", "state"} <= first.keys()
            assert (first["query"], first["state"]) == ("testcard", "pending")
            assert [i["id"] for i in (await next_event(ws, "queue"))["items"]] == [first["id"]]
            job = await next_event(ws, "job")
            while job["state"] != "ready":
                job = await next_event(ws, "job")
            assert (job["id"], job["title"]) == (first["id"], "Test card")

            second = (await client.post("/api/queue", json={"query": "testcard"})).json()
            third = (
                await client.post("/api/queue", json={"query": "testcard", "position": 0})
            ).json()
            ids = [i["id"] for i in (await queued(client))["items"]]
            assert ids == [third["id"], first["id"], second["id"]]
            moved = await client.post(f"/api/queue/{third['id']}/move", json={"position": 9})
            assert [i["id"] for i in moved.json()["items"]] == [
                first["id"],
                second["id"],
                third["id"],
            ]
            assert (await client.delete(f"/api/queue/{second['id']}")).status_code == 204
            assert (await queued(client))["next"] == first["id"]
            off = await client.put("/api/queue/autoplay", json={"autoplay": False})
            assert off.json() == {"autoplay": False}
            assert (await queued(client))["autoplay"] is False

        bad = {
            ("POST", "/api/queue", b"not json"): 400,
            ("POST", "/api/queue", b"{}"): 400,
            ("POST", "/api/queue", b'{"query": 5}'): 400,
            ("POST", "/api/queue", b'{"query": "file:///etc/passwd"}'): 400,
            ("POST", "/api/queue", b'{"query": "/etc/passwd"}'): 400,
            ("POST", "/api/queue", b'{"query": "testcard", "position": -1}'): 400,
            ("POST", f"/api/queue/{first['id']}/move", b'{"position": "top"}'): 400,
            ("PUT", "/api/queue/autoplay", b'{"autoplay": "yes"}'): 400,
            ("DELETE", "/api/queue/nope", b""): 404,
            ("POST", "/api/queue/nope/move", b'{"position": 0}'): 404,
            ("POST", "/api/queue/nope/cancel", b""): 404,
            ("POST", "/api/queue/nope/play", b""): 404,
            ("POST", "/api/play", b'{"item_id": "nope"}'): 404,
            ("POST", "/api/history/999/replay", b""): 404,
            ("POST", f"/api/queue/{first['id']}/retry", b""): 409,
        }
        for (method, path, body), status in bad.items():
            response = await client.request(method, path, content=body)
            assert response.status_code == status, (method, path, body, response.text)
            error = response.json()
            assert isinstance(error["error"], str) and error["detail"], error
        assert "nope" in (await client.delete("/api/queue/nope")).json()["detail"]

        assert (await client.delete("/api/queue")).status_code == 204
        assert (await queued(client))["items"] == []


async def test_the_end_of_a_video_plays_the_next_item_from_the_cache(
    media_daemon: RunningDaemon, media: Media, ffmpeg: str
) -> None:
    daemon = media_daemon
    resolver = daemon.serving.context.supervisor.resolver
    assert resolver is not None
    async with daemon.client() as client:
        cookie = await daemon.login(client)
        first, second = [
            (await client.post("/api/queue", json={"query": media.url_of(name)})).json()
            for name in ("noaudio.mp4", "vertical.mp4")
        ]
        for item in (first, second):
            ready = await wait_for_item(client, item["id"], lambda i: i["state"] == "ready")
            assert ready["cached"] is True, ready
        resolutions = resolver.resolutions

        async with open_viewer(daemon.url, cookie) as viewer:
            played = await client.post("/api/play", json={"item_id": first["id"]})
            assert played.status_code == 202
            first_session = played.json()["session_id"]
            # The first plays to its end (3 s); the queue goes on with the second.
            with trio.fail_after(20):
                while True:
                    message = await viewer.get_message()
                    if isinstance(message, str):
                        control = decode_control(message)
                        if control["type"] == "end":
                            assert control["session_id"] == first_session
                            assert control["reason"] == "ended"
                            break
            ended_at = trio.current_time()
            with trio.fail_after(10):
                hello = None
                while True:
                    message = await viewer.get_message()
                    if isinstance(message, str):
                        if decode_control(message)["type"] == "hello":
                            hello = decode_control(message)
                    elif hello is not None:
                        break
            first_frame = trio.current_time() - ended_at
            assert hello["type"] == "hello" and hello["session_id"] != first_session
            commands = [p.cmdline() for p in live_ffmpegs()]
            # Played from the cache: a local file, read with only the file protocol.
            cache = str(daemon.state_dir / "cache")
            assert any(
                any(arg.startswith("file:" + cache) for arg in cmd)
                and cmd[cmd.index("-protocol_whitelist") + 1] == "file"
                for cmd in commands
            ), commands
            assert resolver.resolutions == resolutions, "nothing was resolved to play them"
            # Generous: what matters is that it is not a resolution plus a download.
            assert first_frame < 3.0, first_frame
            assert (await client.post("/api/stop")).status_code == 204

        # The history is written when a session starts playing, by the queue's own
        # task: it may land a moment after the stop, never much later.
        with trio.fail_after(10):
            while len((body := await queued(client))["history"]) < 2:
                await trio.sleep(0.05)
        assert body["items"] == []
        assert [h["title"] for h in body["history"]] == ["vertical", "noaudio"]
        replay = await client.post(f"/api/history/{body['history'][1]['id']}/replay")
        assert replay.status_code == 202
        await client.post("/api/stop")


async def test_a_cancelled_download_leaves_no_process_and_no_partial_file(
    media_daemon: RunningDaemon, slow_media: Throttled
) -> None:
    daemon = media_daemon
    async with daemon.client() as client:
        await daemon.login(client)
        item = (
            await client.post("/api/queue", json={"query": slow_media.url_of("clip720.mp4")})
        ).json()
        downloading = await wait_for_item(
            client,
            item["id"],
            lambda i: i["state"] == "downloading" and (i["progress"] or {}).get("bytes"),
        )
        assert downloading["progress"]["total_bytes"] > downloading["progress"]["bytes"]
        assert download_workers(), "the download runs in a worker process"
        partial = daemon.state_dir / "cache" / "partial" / item["id"]
        assert any(partial.iterdir())

        cancelled = await client.post(f"/api/queue/{item['id']}/cancel")
        assert cancelled.status_code == 200
        assert cancelled.json()["state"] == "cancelled"
        with trio.fail_after(5):
            while download_workers() or partial.exists():
                await trio.sleep(0.05)
        assert (await queued(client))["items"][0]["state"] == "cancelled"
        conflict = await client.post(f"/api/queue/{item['id']}/cancel")
        assert conflict.status_code == 409
        assert "nothing to cancel" in conflict.json()["detail"]


async def test_tuner_queue_adds_lists_follows_and_removes(
    media_daemon: RunningDaemon, slow_media: Throttled, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNER_PIN", PIN)
    monkeypatch.setenv("TUNER_STATE_DIR", str(media_daemon.state_dir))

    async def tuner(*args: str) -> tuple[int, str]:
        out = io.StringIO()

        def run() -> int:
            import contextlib

            with contextlib.redirect_stdout(out):
                return tuner_main(["queue", "--url", media_daemon.url, *args])

        status = await trio.to_thread.run_sync(run)
        return status, out.getvalue()

    # 0.8 MB at 400 kB/s: about 2 s of progress to show.
    status, out = await tuner("add", slow_media.url_of("vertical.mp4"), "--follow")
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("queued ")
    item_id = lines[0].split()[1].rstrip(":")
    assert any(re.search(r"downloading \d+% of 0\.8 MB at", line) for line in lines), out
    assert lines[-1] == f"{item_id}  ready (downloaded)", out

    status, out = await tuner("add", "testcard", "--position", "0")
    assert status == 0
    status, out = await tuner("list")
    rows = out.splitlines()
    assert rows[0].endswith("testcard") or "Test card" in rows[0], out
    assert item_id in rows[1] and "ready (downloaded)" in rows[1] and "vertical" in rows[1]
    assert rows[-1].startswith("autoplay on; next: ")

    status, out = await tuner("remove", "nope")
    assert status == 1
    status, out = await tuner("remove", item_id)
    assert (status, out.strip()) == (0, f"removed {item_id}")
    status, out = await tuner("clear")
    assert status == 0
    status, out = await tuner("list")
    assert "the queue is empty" in out


async def test_an_unusable_database_is_kept_and_said_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path)
    unusable = b"SQLite format 3\x00" + b"\xff" * 5000  # a damaged file
    (settings.state_dir / "queue.db").write_bytes(unusable)
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings)
        async with daemon.client() as client:
            health = (await client.get("/healthz")).json()
            assert health["components"]["queue"] == "recovered"
            assert "unusable" not in json.dumps(health), "no paths in /healthz"
            await daemon.login(client)
            queue = await queued(client)
            assert queue["items"] == [] and "queue starts empty" in queue["notice"]
            added = await client.post("/api/queue", json={"query": "testcard"})
            assert added.status_code == 201, "the fresh database works"
        daemon.shutdown.set()
    kept = [p for p in settings.state_dir.iterdir() if p.name.startswith("queue.db.unusable-")]
    assert [p.read_bytes() for p in kept] == [unusable]
    assert str(kept[0]) in queue["notice"]
    assert any(
        r.levelname == "ERROR" and "could not be used" in r.getMessage() for r in caplog.records
    )
