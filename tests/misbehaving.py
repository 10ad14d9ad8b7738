"""A loopback HTTP server that fails the ways real media servers do, for the tests of
what a person is told when ffmpeg (or yt-dlp) cannot play a URL.

Each path is one misbehaviour (:data:`ROUTES`); the media it serves is made with
ffmpeg's lavfi sources (:func:`make_media`). Loopback and port 0 only.
"""

from __future__ import annotations

import http.server
import socket
import struct
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.loopback import serve_threaded

_CLIP = [
    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2",
    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
]  # fmt: skip

#: What each path does (the tests' names for the failures).
ROUTES = {
    "/ignores-range.mp4": "an MP4 with its index at the end; every request gets it whole (200)",
    "/index-first.mp4": "the same MP4 with its index first (faststart), served the same way",
    "/missing.mp4": "404",
    "/forbidden.mp4": "403",
    "/login.mp4": "401",
    "/gone.mp4": "410",
    "/broken.mp4": "500",
    "/notes": "text, not media",
    "/cut.mp4": "says the MP4's whole length, sends half of it, and closes",
    "/truncated.mp4": "the first half of an MP4 (its index first), as if that were all",
    "/unknown-codec.mkv": "a Matroska file whose video codec no ffmpeg knows",
    "/reset.mp4": "resets the connection",
}


def make_media(ffmpeg: str, directory: Path) -> Path:
    """The files :func:`serve` needs, made in ``directory`` (once); returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    index_last = directory / "index-last.mp4"
    if not index_last.exists():
        run = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
        subprocess.run([*run, *_CLIP, str(index_last)], check=True, timeout=60)
        subprocess.run(
            [*run, "-i", str(index_last), "-c", "copy", "-movflags", "+faststart",
             str(directory / "index-first.mp4")],
            check=True, timeout=60,
        )  # fmt: skip
        subprocess.run([*run, *_CLIP, str(directory / "clip.mkv")], check=True, timeout=60)
        mkv = (directory / "clip.mkv").read_bytes()
        assert mkv.count(b"V_MPEG4/ISO/AVC") == 1
        (directory / "unknown-codec.mkv").write_bytes(
            mkv.replace(b"V_MPEG4/ISO/AVC", b"V_MPEG4/ISO/XYZ")
        )
    return directory


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve :data:`ROUTES` from the media in ``directory``; yields the base URL."""
    index_last = (directory / "index-last.mp4").read_bytes()
    index_first = (directory / "index-first.mp4").read_bytes()
    unknown_codec = (directory / "unknown-codec.mkv").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            statuses = {"/missing.mp4": 404, "/forbidden.mp4": 403, "/login.mp4": 401,
                        "/gone.mp4": 410, "/broken.mp4": 500}  # fmt: skip
            if path in statuses:
                self._send(statuses[path], b"<h1>no</h1>", "text/html")
            elif path in ("/ignores-range.mp4", "/index-first.mp4"):
                # 200 and the whole file, whatever Range asked for.
                body = index_last if path == "/ignores-range.mp4" else index_first
                self._send(200, body, "video/mp4")
            elif path == "/notes":
                self._send(200, b"these are notes, not a video\n" * 50, "text/plain")
            elif path == "/cut.mp4":
                self._head(200, len(index_last), "video/mp4")
                self.wfile.write(index_last[: len(index_last) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
            elif path == "/truncated.mp4":
                self._send(200, index_first[: len(index_first) // 2], "video/mp4")
            elif path == "/unknown-codec.mkv":
                self._send(200, unknown_codec, "video/x-matroska")
            elif path == "/reset.mp4":
                # SO_LINGER 0: close sends a reset, not a FIN.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()
            else:
                self._send(404, b"not here", "text/plain")

        def _head(self, status: int, length: int, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(length))
            self.end_headers()

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self._head(status, len(body), content_type)
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serve_threaded(Handler) as base:
        yield base
