"""Split an AAC/ADTS byte stream into whole frames.

ffmpeg writes ADTS to a pipe in arbitrary chunks; a listener who joins mid-stream
must start at a frame boundary, or its decoder sees garbage first.
"""

from __future__ import annotations

_MIN_HEADER = 7


class ADTSError(ValueError):
    """The stream is not ADTS."""


class ADTSSplitter:
    """Accumulates bytes and hands back complete ADTS frames.

    Lost sync (bytes that are not an ADTS header where one should start) is skipped
    up to the next sync word, counting the bytes dropped, rather than failing the
    stream: ffmpeg's output is trusted, but not blindly.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.skipped_bytes = 0

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        """Add bytes; return every frame that is now complete, in order."""
        self._buffer += data
        frames: list[bytes] = []
        buf = self._buffer
        pos = 0
        while len(buf) - pos >= _MIN_HEADER:
            if buf[pos] != 0xFF or (buf[pos + 1] & 0xF6) != 0xF0:
                nxt = buf.find(b"\xff", pos + 1)
                skip_to = len(buf) if nxt < 0 else nxt
                self.skipped_bytes += skip_to - pos
                pos = skip_to
                continue
            length = ((buf[pos + 3] & 0x03) << 11) | (buf[pos + 4] << 3) | (buf[pos + 5] >> 5)
            if length < _MIN_HEADER:
                self.skipped_bytes += 1
                pos += 1
                continue
            if len(buf) - pos < length:
                break
            frames.append(bytes(buf[pos : pos + length]))
            pos += length
        del buf[:pos]
        return frames
