"""One session: one ffmpeg process and the tasks that read its pipes.

A session lives in a cancel scope that the supervisor owns. Cancelling that scope is
the only way a session is stopped or superseded: ffmpeg's group is killed and every
reader ends, with nothing to check after an await.
"""

from __future__ import annotations

import collections
import logging
import os
import secrets
from collections.abc import Callable
from functools import partial

import attrs
import trio

from tuner.core.adts import ADTSSplitter
from tuner.core.codec import encode_mono_frame
from tuner.core.presets import Mode, Preset
from tuner.core.render import frame_from_bytes, render_mono
from tuner.play.fanout import Fanout
from tuner.play.ffmpeg import Tool, run_in_own_group, testcard_command

log = logging.getLogger(__name__)

_READ_SIZE = 1 << 16
_STDERR_LINES = 20


class SessionError(Exception):
    """A session ended in a way a person should hear about; the message says how."""


class FrameSink:
    """Where a session's frames go; shut the moment the session is superseded, so a
    frame read just before the cancel cannot land after the next session's hello."""

    def __init__(self, fanout: Fanout[bytes]) -> None:
        self._fanout: Fanout[bytes] | None = fanout

    def publish(self, message: bytes) -> None:
        """Send a frame to every viewer, unless the sink is shut."""
        if self._fanout is not None:
            self._fanout.publish(message)

    def shut(self) -> None:
        """Drop every later frame."""
        self._fanout = None


@attrs.define(eq=False)
class Session:
    """What one play asked for, and the handles that end it."""

    query: str
    preset: Preset
    mode: Mode
    video: FrameSink
    audio: Fanout[bytes]
    id: str = attrs.field(factory=lambda: secrets.token_hex(6))
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)

    def end(self, reason: str) -> None:
        """Stop the session now: no more frames go out, ffmpeg is killed, readers end."""
        self.video.shut()
        self.scope.cancel()
        self.audio.close_all(1000, reason)


async def run_session(session: Session, ffmpeg: Tool, on_first_frame: Callable[[], None]) -> None:
    """Play a session until its source ends.

    Returns when ffmpeg exits cleanly (the video ended).

    Raises:
        SessionError: ffmpeg could not start or failed; the message is for a person.
    """
    read_fd, write_fd = os.pipe()
    audio_pipe = trio.lowlevel.FdStream(read_fd)
    stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
    command = testcard_command(ffmpeg.path, session.preset, write_fd)
    async with audio_pipe, trio.open_nursery() as nursery:
        try:
            process: trio.Process = await nursery.start(
                partial(run_in_own_group, command, pass_fds=(write_fd,))
            )
        except OSError as exc:
            raise SessionError(f"cannot start ffmpeg ({ffmpeg.path}): {exc.strerror}") from None
        finally:
            # ffmpeg holds its own copy now; ours must go, or the pipe never ends.
            os.close(write_fd)
        log.info("session %s: ffmpeg started (pid %d)", session.id, process.pid)
        assert process.stdout is not None and process.stderr is not None
        nursery.start_soon(_read_video, process.stdout, session, on_first_frame)
        nursery.start_soon(_read_audio, audio_pipe, session.audio)
        nursery.start_soon(_read_stderr, process.stderr, session.id, stderr_tail)

    status = process.returncode
    if status == 0:
        return
    detail = f": {stderr_tail[-1]}" if stderr_tail else ""
    if status is not None and status < 0:
        raise SessionError(f"ffmpeg was killed by signal {-status}{detail}")
    raise SessionError(f"ffmpeg failed with exit status {status}{detail}")


async def _read_video(
    stream: trio.abc.ReceiveStream, session: Session, on_first_frame: Callable[[], None]
) -> None:
    cols, rows, fps = session.preset.cols, session.preset.rows, session.preset.fps
    frame_size = cols * rows
    buffer = bytearray()
    seq = 0
    async with stream:
        while chunk := await stream.receive_some(_READ_SIZE):
            buffer += chunk
            while len(buffer) >= frame_size:
                raw = bytes(buffer[:frame_size])
                del buffer[:frame_size]
                cells = render_mono(frame_from_bytes(raw, cols, rows))
                pts_ms = seq * 1000 // fps
                session.video.publish(encode_mono_frame(seq, pts_ms, cols, rows, cells))
                if seq == 0:
                    on_first_frame()
                seq += 1


async def _read_audio(stream: trio.abc.ReceiveStream, audio: Fanout[bytes]) -> None:
    splitter = ADTSSplitter()
    while chunk := await stream.receive_some(_READ_SIZE):
        for frame in splitter.feed(chunk):
            audio.publish(frame)


async def _read_stderr(
    stream: trio.abc.ReceiveStream, session_id: str, tail: collections.deque[str]
) -> None:
    pending = b""
    async with stream:
        while chunk := await stream.receive_some(_READ_SIZE):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                text = line.decode(errors="replace").strip()
                if text:
                    tail.append(text)
                    log.warning("session %s: ffmpeg: %s", session_id, text)
        if pending.strip():
            tail.append(pending.decode(errors="replace").strip())
