"""Small clients for the daemon's endpoints, shared by the integration tests."""

from __future__ import annotations

import subprocess
import weakref
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import attrs
import httpx
import psutil
import trio
from prometheus_client.parser import text_string_to_metric_families
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from tuner.config import Settings
from tuner.core.codec import Decoder, MessageKind
from tuner.core.control import decode_control
from tuner.core.grid import Grid


def open_viewer(base_url: str, cookie: str) -> AbstractAsyncContextManager[WebSocketConnection]:
    """Connect to ``/ws/video`` of the daemon at ``base_url`` (http://...) with a cookie."""
    ws_url = "ws" + base_url.removeprefix("http") + "/ws/video"
    return open_websocket_url(ws_url, extra_headers=[("Cookie", cookie)])


async def stays_open(ws: WebSocketConnection, seconds: float = 0.5) -> bool:
    """Whether the server keeps ``ws`` open for ``seconds`` (reading what it sends):
    a socket it refuses is closed at once, and an idle one may send nothing for long."""
    with trio.move_on_after(seconds):
        try:
            while True:
                await ws.get_message()
        except ConnectionClosed:
            return False
    return True


async def close_code(ws: WebSocketConnection, timeout: float = 5) -> int | None:
    """Read (and drop) messages until the server closes; returns its close code."""
    try:
        with trio.fail_after(timeout):
            while True:
                await ws.get_message()
    except ConnectionClosed as closed:
        return closed.reason.code


@attrs.frozen
class Frame:
    """A frame as a viewer holds it after decoding its message."""

    seq: int
    pts_ms: int
    kind: MessageKind
    #: The message's size on the wire.
    size: int
    grid: Grid

    @property
    def cols(self) -> int:
        return self.grid.cols

    @property
    def rows(self) -> int:
        return self.grid.rows

    @property
    def cells(self) -> bytes:
        """The symbol of every cell, row-major (the characters, for ``mono``)."""
        return self.grid.planes[0].tobytes()


# Each viewer's decoder: a delta applies to what the messages before it left.
_decoders: weakref.WeakKeyDictionary[WebSocketConnection, Decoder] = weakref.WeakKeyDictionary()


def decode(ws: WebSocketConnection, message: bytes) -> Frame:
    """Apply a frame message to the viewer ``ws``'s grid; the grid after it."""
    decoder = _decoders.setdefault(ws, Decoder())
    info = decoder.decode(message)
    assert decoder.grid is not None
    return Frame(info.seq, info.pts_ms, info.kind, len(message), decoder.grid)


def carry_on(new: WebSocketConnection, old: WebSocketConnection) -> None:
    """``new`` replaces ``old`` (a viewer that reconnected): it decodes on from the
    grid ``old`` held, as a client keeps its picture across a reconnect."""
    _decoders[new] = _decoders[old]


async def next_control(
    ws: WebSocketConnection, type_: str, timeout: float = 10
) -> dict[str, object]:
    """Skip frames (decoding them) until a control message of ``type_`` arrives."""
    with trio.fail_after(timeout):
        while True:
            message = await ws.get_message()
            if isinstance(message, str):
                control = decode_control(message)
                if control["type"] == type_:
                    return control
            else:
                decode(ws, message)


async def frames_for(ws: WebSocketConnection, seconds: float) -> list[tuple[float, Frame]]:
    """Receive frames for ``seconds`` after the first one; each with its arrival time."""
    received: list[tuple[float, Frame]] = []
    with trio.fail_after(15):
        first = await ws.get_message()
        while isinstance(first, str):
            first = await ws.get_message()
    start = trio.current_time()
    received.append((start, decode(ws, first)))
    with trio.move_on_after(seconds):
        while True:
            message = await ws.get_message()
            if isinstance(message, bytes):
                received.append((trio.current_time(), decode(ws, message)))
    return received


#: The lead of a daemon the tests start without saying one (the setting's default).
DEFAULT_LEAD = attrs.fields(Settings).lead_seconds.default


def assert_plays_at_rate(
    received: list[tuple[float, Frame]], fps: int, seconds: float, lead_seconds: float
) -> None:
    """Frames received for ``seconds`` (by :func:`frames_for`) are the preset's rate.

    The rate itself is exact on the wire: each frame is stamped ``seq * 1000 / fps``
    ms. How many arrive in a wall-clock window depends on the machine's load (a busy
    CI box starves ffmpeg for a moment), so the count is only bounded to catch a
    stream that is not paced at all or is held back by a large factor; with a lead,
    up to ``lead_seconds`` more arrive at once. In real time (no lead) no frame is
    skipped; with one, a client that is starved for a second while the lead bursts
    in is moved on to the play head (as a slow viewer is), so only the order holds.
    """
    frames = [frame for _, frame in received]
    seqs = [f.seq for f in frames]
    if lead_seconds == 0:
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"frames were skipped: {seqs}"
    else:
        assert seqs == sorted(set(seqs)), f"frames out of order: {seqs}"
    assert [f.pts_ms for f in frames] == [round(s * 1000 / fps) for s in seqs]
    nominal = seconds * fps
    most = 1.5 * nominal + lead_seconds * fps
    assert 0.5 * nominal <= len(frames) - 1 <= most, (len(frames) - 1, nominal, most)


def parse_metrics(text: str) -> dict[str, dict[str, float]]:
    """``/metrics`` text as {sample name: {label values joined by "," (or ""): value}}."""
    samples: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[",".join(sample.labels.values())] = sample.value
    return samples


async def wait_for_state(
    client: httpx.AsyncClient, state: str, timeout: float = 10
) -> dict[str, object]:
    """Poll ``/api/status`` until the session is in ``state``; returns that status."""
    with trio.fail_after(timeout):
        while (status := (await client.get("/api/status")).json())["state"] != state:
            await trio.sleep(0.02)
    return status


async def read_audio(client: httpx.AsyncClient, cookie: str, nbytes: int) -> bytes:
    """Read ``nbytes`` of ``/audio``."""
    data = bytearray()
    with trio.fail_after(15):
        async with client.stream("GET", "/audio", headers={"Cookie": cookie}) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"] == "audio/aac"
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) >= nbytes:
                    break
    return bytes(data)


def probe_codec(ffprobe: str, path: Path) -> str:
    """The codec ffprobe reads in the file's first audio stream."""
    done = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=codec_name", "-of", "default=nw=1:nk=1", str(path)],
        capture_output=True, text=True, check=True, timeout=20,
    )  # fmt: skip
    return done.stdout.strip()


def running_with(argument: str, root: psutil.Process | None = None) -> list[psutil.Process]:
    """The live descendants of ``root`` (this process by default) that have
    ``argument`` among their command-line arguments; zombies and processes that exit
    while we look are left out."""
    found = []
    for child in (root or psutil.Process()).children(recursive=True):
        try:
            if argument in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def live_ffmpegs() -> list[psutil.Process]:
    """The daemon's playback ffmpegs (writing frames to ``pipe:1``) among this process's
    descendants; not the ones a test runs to make media, nor the resolver's probes."""
    return [p for p in running_with("pipe:1") if "ffmpeg" in p.name()]


async def wait_for_ffmpegs(count: int, timeout: float = 5) -> list[psutil.Process]:
    """Wait until exactly ``count`` ffmpeg children are alive."""
    with trio.move_on_after(timeout):
        while len(found := live_ffmpegs()) != count:
            await trio.sleep(0.05)
        return found
    raise AssertionError(f"expected {count} ffmpeg processes, found {live_ffmpegs()}")
