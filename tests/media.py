"""Media the tests make for themselves with ffmpeg's lavfi sources, and a local HTTP
server that serves it, so that yt-dlp and ffmpeg fetch it over a real socket.

Shared by the integration tests and the benchmarks.
"""

from __future__ import annotations

import contextlib
import http.server
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs

from tests.loopback import serve_threaded
from tests.timecode import TIMECODE_AUDIO, TIMECODE_VIDEO

_X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30"]
_AAC = ["-c:a", "aac", "-b:a", "64k"]
_FASTSTART = ["-movflags", "+faststart"]
#: Eight vertical bars, left to right: white, yellow, cyan, green, magenta, red, blue,
#: black (each 80 pixels of 640): the colours at full or no strength, so quantising
#: cannot blur them.
BAR_COLOURS = (
    (255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0),
    (255, 0, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0),
)  # fmt: skip
BARS = (
    ";".join(
        f"color=c=0x{r:02x}{g:02x}{b:02x}:s=80x360:r=24[c{i}]"
        for i, (r, g, b) in enumerate(BAR_COLOURS)
    )
    + ";"
    + "".join(f"[c{i}]" for i in range(len(BAR_COLOURS)))
    + f"hstack=inputs={len(BAR_COLOURS)}[out0]"
)
#: A flash (white for 0.1 s) and a 1 kHz beep (0.1 s), both at every whole second.
FLASH = "color=c=black:s=320x180:r=30,drawbox=color=white:t=fill:enable='lt(mod(t,1),0.1)'"
BEEP = "aevalsrc='if(lt(mod(t,1),0.1),0.8*sin(2*PI*1000*t),0)':s=48000:c=stereo"


@attrs.frozen
class Clip:
    """A generated file: its name under the media directory and how it was made."""

    name: str
    seconds: float
    inputs: tuple[str, ...]
    output: tuple[str, ...]


CLIPS: dict[str, Clip] = {
    clip.name: clip
    for clip in (
        Clip(
            "clip720.mp4",
            4,
            ("testsrc2=size=1280x720:rate=30", "sine=frequency=440:sample_rate=48000"),
            (*_X264, *_AAC, *_FASTSTART),
        ),
        Clip("noaudio.mp4", 3, ("testsrc2=size=640x360:rate=30",), (*_X264, *_FASTSTART)),
        Clip("audioonly.m4a", 3, ("sine=frequency=220:sample_rate=48000",), (*_AAC, "-vn")),
        Clip(
            "vertical.mp4",
            3,
            ("testsrc2=size=360x640:rate=30", "sine=frequency=330:sample_rate=48000"),
            (*_X264, *_AAC, *_FASTSTART),
        ),
        Clip(
            "fps60.mp4",
            3,
            ("testsrc2=size=640x360:rate=60", "sine=frequency=550:sample_rate=48000"),
            (*_X264, "-g", "60", *_AAC, *_FASTSTART),
        ),
        Clip("avsync.mp4", 20, (FLASH, BEEP), (*_X264, *_AAC, *_FASTSTART)),
        Clip(
            "bars.mp4",
            30,
            (BARS, "sine=frequency=660:sample_rate=48000"),
            (*_X264, *_AAC, *_FASTSTART),
        ),
        # Its picture and its sound tell its media time (tests.timecode reads them).
        Clip(
            "timecode.mp4",
            30,
            (TIMECODE_VIDEO, TIMECODE_AUDIO),
            (*_X264, *_AAC, *_FASTSTART),
        ),
        # A playable HLS segment, for playlists that point at it by a file: URL.
        Clip("segment.ts", 2, ("testsrc2=size=320x180:rate=25",), tuple(_X264)),
    )
}


def make_clip(ffmpeg: str, clip: Clip, directory: Path) -> Path:
    """Generate ``clip`` in ``directory`` (once: an existing file is kept)."""
    path = directory / clip.name
    if path.exists():
        return path
    command = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    for source in clip.inputs:
        command += ["-f", "lavfi", "-i", source]
    command += ["-t", str(clip.seconds), *clip.output, "-f", _muxer(path), f"{path}.part"]
    subprocess.run(command, check=True, timeout=120)
    Path(str(path) + ".part").rename(path)
    return path


def _muxer(path: Path) -> str:
    return {".mp4": "mp4", ".m4a": "ipod", ".ts": "mpegts"}[path.suffix]


def make_all(ffmpeg: str, directory: Path) -> dict[str, Path]:
    """Every clip in :data:`CLIPS`, generated in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    return {name: make_clip(ffmpeg, clip, directory) for name, clip in CLIPS.items()}


def live_hls_command(ffmpeg: str, directory: Path) -> list[str]:
    """ffmpeg producing a live HLS stream in real time: ``stream.m3u8`` in ``directory``,
    1 s segments, a sliding window of 6 (no ``#EXT-X-ENDLIST`` while it runs)."""
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-re", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
        "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        *_X264[:-2], "-g", "25", "-c:a", "aac", "-b:a", "64k",
        "-f", "hls", "-hls_time", "1", "-hls_list_size", "6",
        "-hls_flags", "delete_segments+omit_endlist",
        str(directory / "stream.m3u8"),
    ]  # fmt: skip


#: The timecode clip cut into this many HLS segments of 1 s (its picture counts to 42 s).
LIVE_SEGMENTS = 40


def make_timecode_segments(ffmpeg: str, directory: Path) -> list[Path]:
    """The timecode clip (:mod:`tests.timecode`) as :data:`LIVE_SEGMENTS` MPEG-TS
    segments of exactly 1 s (a keyframe at each second), ``seg000.ts`` on, in
    ``directory``; made once."""
    paths = [directory / f"seg{n:03d}.ts" for n in range(LIVE_SEGMENTS)]
    if all(path.exists() for path in paths):
        return paths
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", TIMECODE_VIDEO, "-f", "lavfi", "-i", TIMECODE_AUDIO,
            "-t", str(LIVE_SEGMENTS), *_X264, "-force_key_frames", "expr:gte(t,n_forced)",
            *_AAC, "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
            "-hls_segment_filename", str(directory / "seg%03d.ts"),
            str(directory / "all.m3u8"),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    return paths


@attrs.define
class SimulatedLive:
    """A live HLS stream of :func:`make_timecode_segments`' segments whose past is
    published already (see :func:`simulated_live_hls`)."""

    url: str
    published: int
    window: int | None
    every: float | None
    started: float = attrs.field(factory=time.monotonic)

    def newest(self) -> int:
        """The newest segment published now."""
        grown = 0 if self.every is None else int((time.monotonic() - self.started) / self.every)
        return min(self.published - 1 + grown, LIVE_SEGMENTS - 1)

    def publish(self, count: int) -> None:
        """Publish ``count`` more segments now (the window slides by as many)."""
        self.published += count

    def playlist(self) -> str:
        """The playlist as a player reading it now gets it."""
        newest = self.newest()
        first = 0 if self.window is None else max(0, newest - self.window + 1)
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1"]
        lines.append(f"#EXT-X-MEDIA-SEQUENCE:{first}")
        if self.window is None:
            lines.append("#EXT-X-PLAYLIST-TYPE:EVENT")
        for n in range(first, newest + 1):
            lines += ["#EXTINF:1.000000,", f"seg{n:03d}.ts"]
        return "\n".join(lines) + "\n"


@contextlib.contextmanager
def simulated_live_hls(
    directory: Path, *, published: int, window: int | None = None, every: float | None = 1.0
) -> Iterator[SimulatedLive]:
    """A live HLS stream of :func:`make_timecode_segments`' segments in ``directory``
    whose past is published already: at first its playlist ends with segment
    ``published - 1``, and one more is published ``every`` seconds (until the last;
    ``None``: only when :meth:`SimulatedLive.publish` says). An event playlist of
    every segment from the first, or with ``window`` a sliding one of that many.
    Served from a thread on a loopback port.

    Segment ``n`` has media sequence number ``n`` and shows media time ``n`` s on.
    """
    stream = SimulatedLive("", published, window, every)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.lstrip("/").split("?")[0]
            if name == "live.m3u8":
                body, kind = stream.playlist().encode(), "application/vnd.apple.mpegurl"
            elif re.fullmatch(r"seg\d{3}\.ts", name) and (directory / name).is_file():
                body, kind = (directory / name).read_bytes(), "video/mp2t"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serve_threaded(Handler) as base:
        stream.url = f"{base}/live.m3u8"
        yield stream


@contextlib.contextmanager
def http_server(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a loopback port (a child process); yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
         "--directory", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"port (\d+)", line)
        if not match:
            raise RuntimeError(f"http.server did not start: {line!r}")
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        process.terminate()
        process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


@attrs.define
class Throttled:
    """A loopback server that sends files slowly and honours ``Range``; ``ranges``
    lists the first byte each GET asked for (0 without a ``Range`` header)."""

    url: str
    rate: list[int]
    ranges: list[int] = attrs.field(factory=list)

    def url_of(self, name: str) -> str:
        """The URL of a file in the served directory."""
        return f"{self.url}/{name}"

    def set_rate(self, bytes_per_second: int) -> None:
        """Change the pace of every download, also those under way."""
        self.rate[0] = bytes_per_second


@contextlib.contextmanager
def throttled_server(directory: Path, bytes_per_second: int) -> Iterator[Throttled]:
    """Serve ``directory`` on a loopback port at ``bytes_per_second`` per download,
    with range requests, from a thread; yields its :class:`Throttled`.

    Slow enough that a download is seen in the middle (to cancel it, restart the
    daemon, or watch its progress), which ``python -m http.server`` is not; and
    range-aware, so that a download that continues asks for the bytes it lacks.
    """
    served = Throttled("", [bytes_per_second])
    chunk = 16 * 1024

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def _answer(self, send_body: bool) -> None:
            path = directory / self.path.lstrip("/").split("?")[0]
            if not path.is_file():
                self.send_error(404)
                return
            data = path.read_bytes()
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-\d*", self.headers.get("Range", ""))
            if match and int(match.group(1)) < len(data):
                start = int(match.group(1))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            if not send_body:
                return
            served.ranges.append(start)
            try:
                for at in range(start, len(data), chunk):
                    self.wfile.write(data[at : at + chunk])
                    time.sleep(chunk / served.rate[0])
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
