"""Resuming ``/audio`` by bytes (issue 17, a link that drops): a browser whose stream
broke asks for the rest of the same URL from the first byte it lacks
(``Range: bytes=N-``) and glues what comes on to what it holds, mid-frame or not. The
daemon answers ``206`` with exactly the bytes the unbroken stream would have sent
from ``N``, while its timeline holds them; otherwise ``416``, and the page asks
again with ``from_ms``.

Real daemon, real ffmpeg, a real HTTP client; the reference is a second stream of the
same session from the same place (``from_ms=0``, so no preroll): two streams from one
place are the same bytes, and a stream broken and resumed must be too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import trio
from trio_websocket import WebSocketConnection

from tests.conftest import Media
from tests.integration.conftest import start_daemon
from tests.integration.helpers import decode, next_control, open_viewer, parse_metrics
from tests.integration.test_read_ahead import LEAD, settings_for
from tuner.core.adts import ADTSSplitter

REFERENCE_BYTES = 90_000  # 7.5 s of sound: the lead sends it at once


async def _read(
    client: httpx.AsyncClient,
    path: str,
    cookie: str,
    until: int,
    start: int = 0,
) -> tuple[httpx.Response, bytes]:
    """Read ``path`` from byte ``start`` (a ``Range`` when not 0) until ``until`` bytes
    of the stream are there, then break the connection; the response and its bytes."""
    headers = {"Cookie": cookie}
    if start:
        headers["Range"] = f"bytes={start}-"
    got = b""
    with trio.fail_after(20):
        async with client.stream("GET", path, headers=headers) as response:
            if response.status_code in (200, 206):
                async for chunk in response.aiter_raw():
                    got += chunk
                    if start + len(got) >= until:
                        break
            else:
                await response.aread()
    return response, got


def _boundaries(stream: bytes) -> list[int]:
    """Where each ADTS frame of ``stream`` starts."""
    at, starts = 0, []
    for frame in ADTSSplitter().feed(stream):
        starts.append(at)
        at += len(frame)
    return starts


async def _listeners(client: httpx.AsyncClient) -> float:
    """``tuner_audio_listeners`` on ``/metrics``."""
    return parse_metrics((await client.get("/metrics")).text)["tuner_audio_listeners"][""]


async def _until_pts(ws: WebSocketConnection, pts_ms: int) -> None:
    """Read the viewer's frames until one at ``pts_ms`` or later: the timeline holds
    the sound from the start to there (so two streams from 0 start at one frame)."""
    with trio.fail_after(15):
        while True:
            message = await ws.get_message()
            if isinstance(message, bytes) and decode(ws, message).pts_ms >= pts_ms:
                return


async def _audio_clocks(ws: WebSocketConnection, count: int) -> list[dict[str, Any]]:
    return [await next_control(ws, "audio") for _ in range(count)]


async def test_a_broken_stream_goes_on_from_the_byte_asked_as_if_it_never_broke(
    tmp_path: Path, media: Media
) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path, lead_seconds=LEAD))
        async with daemon.client() as client, daemon.client() as other:
            cookie = await daemon.login(client)
            body = {"query": media.url_of("timecode.mp4"), "preset": "low", "mode": "mono"}
            async with open_viewer(daemon.url, cookie) as ws:
                session_id = (await client.post("/api/play", json=body)).json()["session_id"]
                await next_control(ws, "hello")
                await _until_pts(ws, 3000)
                base = f"/audio?session={session_id}&from_ms=0&listener="
                _, reference = await _read(other, base + "ref", cookie, REFERENCE_BYTES)
                starts = _boundaries(reference)
                # Broken after 30 KB; the browser got less than that (it asks from
                # where its bytes end, here inside a frame).
                first, sent = await _read(client, base + "car", cookie, 30_000)
                mid_frame = next(s for s in starts if s > 20_000) + 7
                again, resumed = await _read(client, base + "car", cookie, 60_000, mid_frame)
                # Broken again, and asked for from a frame's start this time.
                boundary = next(s for s in starts if s > 50_000)
                third, rest = await _read(client, base + "car", cookie, REFERENCE_BYTES, boundary)
                clocks = await _audio_clocks(ws, 4)

                # Once the timeline lets go of a stream's bytes (10 s behind the play
                # head), they cannot be resumed: 416, with what to do instead.
                with trio.fail_after(30):
                    while True:
                        position = (await client.get("/api/status")).json()["position"]
                        if position is not None and position > 11:
                            break
                        await trio.sleep(0.25)
                gone = await client.get(
                    base + "ref", headers={"Cookie": cookie, "Range": "bytes=100-"}
                )
        daemon.shutdown.set()

    assert first.status_code == 200 and len(sent) >= 30_000
    assert (again.status_code, third.status_code) == (206, 206)
    assert again.headers["content-range"].startswith(f"bytes {mid_frame}-")
    assert again.headers["content-range"].endswith("/*")
    assert third.headers["content-range"].startswith(f"bytes {boundary}-")
    # Byte for byte what the unbroken stream sent, across both breaks.
    glued = sent[:mid_frame] + resumed[: boundary - mid_frame] + rest
    assert len(glued) >= REFERENCE_BYTES
    assert glued[:REFERENCE_BYTES] == reference[:REFERENCE_BYTES]
    # Its start on the session's clock is told again, the same: the browser's clock
    # for it goes on.
    car = [c["start_ms"] for c in clocks if c["listener"] == "car"]
    ref = [c["start_ms"] for c in clocks if c["listener"] == "ref"]
    assert len(car) == 3 and len(set(car)) == 1 and car[0] == ref[0], clocks
    assert gone.status_code == 416 and "from_ms" in gone.json()["detail"], gone.text
    assert gone.headers["content-range"] == "bytes */*"


async def test_a_resume_replaces_its_stream_and_what_it_cannot_serve_is_refused(
    tmp_path: Path, media: Media
) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path, lead_seconds=LEAD))
        async with daemon.client() as client, daemon.client() as second:
            cookie = await daemon.login(client)
            body = {"query": media.url_of("timecode.mp4"), "preset": "low", "mode": "mono"}
            async with open_viewer(daemon.url, cookie) as ws:
                session_id = (await client.post("/api/play", json=body)).json()["session_id"]
                await next_control(ws, "hello")
                path = f"/audio?session={session_id}&listener=car"
                with trio.fail_after(20):
                    async with client.stream("GET", path, headers={"Cookie": cookie}) as old:
                        got, chunks = b"", old.aiter_raw()
                        async for chunk in chunks:
                            got += chunk
                            if len(got) >= 20_000:
                                break
                        # The daemon has not seen this one go (it is still open) when
                        # the browser asks for the rest: the resume replaces it, one
                        # listener all along.
                        headers = {"Cookie": cookie, "Range": "bytes=10000-"}
                        async with second.stream("GET", path, headers=headers) as new:
                            assert new.status_code == 206
                            # Held in a name: an iterator left behind by a break is
                            # finalised at once, which closes the response (and the
                            # daemon rightly counts the stream gone).
                            new_chunks = new.aiter_raw()
                            async for _ in new_chunks:
                                break
                            assert await _listeners(client) == 1
                            async for _ in chunks:
                                pass  # ... and the old stream ends
                answers = {}
                for query, range_header in [
                    (f"session={session_id}&listener=nobody", "bytes=10000-"),  # no such
                    (f"session={session_id}&listener=car", f"bytes={10**12}-"),  # never sent
                    (f"session={session_id}", "bytes=10000-"),  # no token: nothing to resume
                    ("session=other&listener=car", "bytes=10000-"),  # not this session's
                    ("listener=car", "bytes=10000-"),
                    (f"session={session_id}&listener=car", "bytes=10000-20000"),  # no end
                    (f"session={session_id}&listener=car", "bytes=-500"),
                    (f"session={session_id}&listener=car", "bytes=1-2, 5-"),
                    (f"session={session_id}&listener=car", "items=1-"),
                    (f"session={session_id}&listener=car", "bytes=abc"),  # not a range
                    (f"session={session_id}&listener=car", "nonsense"),
                ]:
                    url = f"/audio?{query}"
                    response = await client.get(
                        url, headers={"Cookie": cookie, "Range": range_header}
                    )
                    answers[(query, range_header)] = (
                        response.status_code,
                        response.json()["detail"],
                    )
                # And a stream from its start is a stream as ever.
                fresh, _ = await _read(client, path, cookie, 1000, 0)
        daemon.shutdown.set()
    for (query, range_header), (status, detail) in answers.items():
        expected = 400 if range_header in ("bytes=abc", "nonsense") else 416
        assert status == expected, (query, range_header, status, detail)
        assert isinstance(detail, str) and detail, (query, range_header)
    assert "from_ms" in answers[(f"session={session_id}&listener=nobody", "bytes=10000-")][1]
    assert fresh.status_code == 200


async def test_after_a_seek_a_broken_stream_is_not_resumed_by_bytes(
    tmp_path: Path, media: Media
) -> None:
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path, lead_seconds=LEAD))
        async with daemon.client() as client:
            cookie = await daemon.login(client)
            body = {"query": media.url_of("timecode.mp4"), "preset": "low", "mode": "mono"}
            async with open_viewer(daemon.url, cookie) as ws:
                session_id = (await client.post("/api/play", json=body)).json()["session_id"]
                await next_control(ws, "position")
                path = f"/audio?session={session_id}&listener=car"
                await _read(client, path, cookie, 20_000)
                headers = {"Cookie": cookie, "Range": "bytes=10000-"}
                before = await _read(client, path, cookie, 20_001, 10_000)
                seek = await client.post("/api/seek", json={"position": 12})
                assert seek.status_code == 200, seek.text
                await next_control(ws, "seek")
                after = await client.get(path, headers=headers)
        daemon.shutdown.set()
    # Resumable before the seek; after it, the bytes it sent are void.
    assert before[0].status_code == 206
    assert after.status_code == 416 and "from_ms" in after.json()["detail"], after.text
