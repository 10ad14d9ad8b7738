"""The queue survives its daemon: a restart in the middle of a download, and a
``kill -9`` in the middle of a burst of edits. Real ``tuner serve`` processes, a
real SQLite file, yt-dlp downloading from a throttled loopback server."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.conftest import Media
from tests.daemon_process import DaemonProcess
from tests.media import throttled_server
from tuner.jobs import cache_name


def _config(tmp_path: Path) -> tuple[str, str]:
    config = tmp_path / "config.toml"
    # No waiting between jobs on one host (the loopback server), no extractors.
    config.write_text("[queue]\nper_source_delay_seconds = 0\n\n[extract]\nenabled = false\n")
    return ("--config", str(config))


@contextmanager
def _client(daemon: DaemonProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=daemon.base_url, timeout=10) as client:
        assert client.post("/api/login", json={"pin": daemon.pin}).status_code == 204
        yield client


def _wait(client: httpx.Client, done: Callable[[dict[str, Any]], bool], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        queue = client.get("/api/queue").json()
        if done(queue):
            return queue
        assert time.monotonic() < deadline, f"not done in {timeout} s: {queue}"
        time.sleep(0.05)


def _item(queue: dict[str, Any], item_id: str) -> dict[str, Any]:
    item: dict[str, Any] = next(i for i in queue["items"] if i["id"] == item_id)
    return item


def test_a_restart_in_the_middle_of_a_download_keeps_the_queue_and_resumes(
    tmp_path: Path, media: Media
) -> None:
    args = _config(tmp_path)
    clip = media.directory / "clip720.mp4"
    with throttled_server(media.directory, 300_000) as served:
        with DaemonProcess.start(tmp_path, args=args) as daemon, _client(daemon) as client:
            assert client.post("/api/play", json={"query": "testcard"}).status_code == 202
            _wait(client, lambda q: q["history"])  # it played: it is in the history
            client.post("/api/stop")
            first = client.post("/api/queue", json={"query": "testcard"}).json()
            video = client.post("/api/queue", json={"query": served.url_of("clip720.mp4")}).json()
            last = client.post("/api/queue", json={"query": "testcard", "position": 0}).json()
            client.put("/api/queue/autoplay", json={"autoplay": False})

            def halfway(queue: dict[str, Any]) -> bool:
                progress = _item(queue, video["id"])["progress"] or {}
                return progress.get("bytes", 0) > 200_000

            before = _wait(client, halfway)
            assert _item(before, video["id"])["state"] == "downloading"
        # Stopped (SIGTERM) with the download half done: its partial file stays.
        partial = tmp_path / "state" / "cache" / "partial" / video["id"]
        kept = sum(p.stat().st_size for p in partial.iterdir())
        assert 0 < kept < clip.stat().st_size
        served.set_rate(50_000_000)
        asked_before = len(served.ranges)

        with DaemonProcess.start(tmp_path, args=args) as daemon, _client(daemon) as client:
            after = client.get("/api/queue").json()
            assert [i["id"] for i in after["items"]] == [last["id"], first["id"], video["id"]]
            assert [i["id"] for i in before["items"]] == [i["id"] for i in after["items"]]
            assert after["history"] == before["history"] and after["autoplay"] is False
            done = _wait(client, lambda q: _item(q, video["id"])["state"] == "ready")
            assert _item(done, video["id"])["cached"] is True
            assert not partial.exists()

    # It went on from where it stopped (a range request), and the file is whole.
    assert any(start >= kept // 2 for start in served.ranges[asked_before:]), served.ranges
    cached = tmp_path / "state" / "cache" / (cache_name(served.url_of("clip720.mp4")) + ".mp4")
    assert cached.read_bytes() == clip.read_bytes()


def test_kill_9_in_a_burst_of_edits_keeps_every_acknowledged_edit(tmp_path: Path) -> None:
    acknowledged: list[str] = []  # the queue as the answers say it is
    in_flight: list[str] | None = None  # as it will be if the edit sent last went through
    with DaemonProcess.start(tmp_path, args=_config(tmp_path)) as daemon, _client(daemon) as client:
        edits = 0
        children = daemon.children()

        def kill_after_some_edits() -> None:
            while edits < 40:
                time.sleep(0.005)
            daemon.process.kill()

        killer = threading.Thread(target=kill_after_some_edits)
        killer.start()
        try:
            for n in range(100_000):
                if len(acknowledged) < 4 or n % 3 == 0:
                    in_flight = None  # an add's id is known only from its answer
                    response = client.post("/api/queue", json={"query": "testcard"})
                    assert response.status_code == 201, response.text
                    acknowledged = [*acknowledged, response.json()["id"]]
                elif n % 3 == 1:
                    moved, to = acknowledged[-1], n % len(acknowledged)
                    in_flight = [i for i in acknowledged if i != moved]
                    in_flight.insert(to, moved)
                    response = client.post(f"/api/queue/{moved}/move", json={"position": to})
                    assert response.status_code == 200, response.text
                    acknowledged = in_flight
                else:
                    in_flight = acknowledged[1:]
                    response = client.delete(f"/api/queue/{acknowledged[0]}")
                    assert response.status_code == 204, response.text
                    acknowledged = in_flight
                edits += 1
        except httpx.TransportError:
            pass  # killed: the edit in flight may or may not be on disk
        finally:
            killer.join(10)
        assert daemon.process.wait(10) == -9
        # Its resolver's spare worker reads its stdin: it exits once the daemon is gone.
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, alive

    assert edits >= 40
    database = sqlite3.connect(tmp_path / "state" / "queue.db")
    assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    on_disk = [row[0] for row in database.execute("SELECT id FROM items ORDER BY position")]
    database.close()
    if in_flight is None:
        # An add in flight: on disk, or not; either way after every acknowledged edit.
        assert on_disk[: len(acknowledged)] == acknowledged
        assert len(on_disk) - len(acknowledged) in (0, 1)
    else:
        assert on_disk in (acknowledged, in_flight)

    with DaemonProcess.start(tmp_path, args=_config(tmp_path)) as daemon, _client(daemon) as c:
        queue = c.get("/api/queue").json()
        assert [i["id"] for i in queue["items"]] == on_disk
        assert queue["notice"] is None
