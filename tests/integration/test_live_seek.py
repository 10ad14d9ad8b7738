"""Seeking in a live stream's DVR window (issue 17): a live HLS playlist that holds
enough of the stream's past can be played from any of its segments, like a video.

The stream is the timecode clip cut into 1 s segments and published as a live
playlist whose past is there already (tests.media.simulated_live_hls): segment ``n``
shows media time ``n`` s, so what is sent after a seek is checked against where it
went. Positions in a live stream count from the oldest segment tuner first saw.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import WebSocketConnection

from tests.integration.conftest import settings_for, start_daemon
from tests.integration.helpers import live_ffmpegs, open_viewer, wait_for_ffmpegs, wait_for_state
from tests.integration.test_seek import FRAME_SLACK, _of_type, _seek_and_read, _until
from tests.media import make_timecode_segments, simulated_live_hls
from tests.timecode import media_time_of
from tuner.core.live_window import EDGE_SEGMENTS

LEAD = 10
#: Segments published when the stream is first read: a window of 35 s, seekable.
PUBLISHED = 35


@pytest.fixture(scope="module")
def segments(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> Path:
    directory = tmp_path_factory.mktemp("live-segments")
    make_timecode_segments(ffmpeg, directory)
    return directory


@pytest.fixture
def event_stream(segments: Path) -> Iterator[str]:
    with simulated_live_hls(segments, published=PUBLISHED) as stream:
        yield stream.url


def _shown_from(frames: list[Any], start: float) -> None:
    """The frames show the stream from ``start`` on, one frame after another."""
    first = frames[0].pts_ms
    for frame in frames:
        shown = media_time_of(frame.grid)
        expected = start + (frame.pts_ms - first) / 1000
        assert shown is not None and abs(shown - expected) <= FRAME_SLACK, (shown, expected)


@asynccontextmanager
async def _playing(
    tmp_path: Path, url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, WebSocketConnection]]:
    """A daemon playing ``url`` (``low``, ``mono``): a logged-in client and a viewer."""
    async with trio.open_nursery() as nursery:
        daemon = await start_daemon(nursery, settings_for(tmp_path, lead_seconds=LEAD))
        async with (
            daemon.client() as client,
            open_viewer(daemon.url, await daemon.login(client)) as ws,
        ):
            body = {"query": url, "preset": "low", "mode": "mono"}
            assert (await client.post("/api/play", json=body)).status_code == 202
            yield client, ws
        daemon.shutdown.set()


async def test_a_live_stream_with_a_window_starts_at_its_edge_and_seeks_in_it(
    tmp_path: Path, event_stream: str
) -> None:
    async with _playing(tmp_path, event_stream) as (client, ws):
        controls, frames = await _until(
            ws, lambda c, f: _of_type(c, "position") and len(f) >= 6, timeout=30
        )
        status = (await client.get("/api/status")).json()
        start = _of_type(controls, "position")[0]

        back, seek, position, new = await _seek_and_read(client, ws, {"position": 5.5})
        oldest, _, position_oldest, new_oldest = await _seek_and_read(client, ws, {"delta": -600})
        live, _, position_live, new_live = await _seek_and_read(client, ws, {"delta": 600})
        past = await client.post("/api/seek", json={"position": 500})
        after = (await client.get("/api/status")).json()
        await wait_for_ffmpegs(1)

    # It starts a few segments back from the edge (those are there to read ahead),
    # and says so: a place, a window from the oldest segment to the live point.
    # (More segments are out by the time the playlist is read: one a second.)
    edge_start = start["position"]
    assert edge_start >= PUBLISHED - EDGE_SEGMENTS and edge_start == int(edge_start), start
    assert (start["seekable"], start["duration"]) == (True, None)
    assert start["window"]["start"] == 0 and start["window"]["end"] >= edge_start
    _shown_from(frames, edge_start)
    assert status["is_live"] is True and status["seekable"] is True
    assert status["window"]["start"] == 0 and status["window"]["end"] >= edge_start
    assert edge_start <= status["position"] <= status["window"]["end"] + 1
    # A place in the window: the run starts at the segment that holds it.
    assert back["state"] == "playing" and abs(back["position"] - 5.5) < 0.5
    assert position["at_ms"] == seek["at_ms"] and position["position"] == 5.0
    _shown_from(new, 5.0)
    # Back past the oldest segment: the oldest; on past the edge: the live point.
    assert position_oldest["position"] == 0.0 and oldest["position"] == 0.0
    _shown_from(new_oldest, 0.0)
    assert position_live["position"] >= edge_start, position_live
    assert live["window"]["end"] >= position_live["position"]
    _shown_from(new_live, position_live["position"])
    # A place past the live edge is refused with a sentence, and the stream plays on.
    assert past.status_code == 400 and "past the live edge" in past.json()["detail"], past.text
    assert after["state"] == "playing"
    assert not live_ffmpegs()


async def test_a_sliding_window_keeps_its_places_as_it_slides(
    tmp_path: Path, segments: Path
) -> None:
    window = 32
    # It slides only when told: a slide between tuner's read of the playlist and
    # ffmpeg's would start ffmpeg a segment later than tuner asked (and says).
    with (
        simulated_live_hls(segments, published=PUBLISHED, window=window, every=None) as stream,
    ):
        async with _playing(tmp_path, stream.url) as (client, ws):
            controls, frames = await _until(
                ws, lambda c, f: _of_type(c, "position") and f, timeout=30
            )
            # The window slides on by two segments.
            stream.publish(2)
            _, _, position, new = await _seek_and_read(client, ws, {"position": 10})
            status = await wait_for_state(client, "playing")

    # It started at the live point: three segments back from the newest (34), so 31,
    # which is 28 s from the oldest segment first seen (3).
    origin = PUBLISHED - window
    start = _of_type(controls, "position")[0]
    assert start["position"] == PUBLISHED - EDGE_SEGMENTS - origin, start
    _shown_from(frames, PUBLISHED - EDGE_SEGMENTS)
    # Positions count from that oldest segment, whatever the window has slid since.
    assert position["position"] == 10.0
    _shown_from(new, origin + 10.0)
    # The oldest place held has moved on with the window (two segments, and the
    # clock since the read).
    assert status["window"]["start"] >= 2.0
    assert status["window"]["end"] - status["window"]["start"] <= window
