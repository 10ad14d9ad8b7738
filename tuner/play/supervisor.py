"""The session supervisor: at most one session, each in its own cancel scope.

Request handlers call :meth:`Supervisor.play` and :meth:`Supervisor.stop`, which
return at once; the sessions themselves run in the supervisor's nursery, which the
root nursery owns. Superseding a session is cancelling its scope.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import trio

from tuner.core import state
from tuner.core.codec import PROTOCOL_VERSION, encode_control
from tuner.core.presets import Mode, Preset
from tuner.core.state import Status
from tuner.play.fanout import Control, Fanout, Subscriber
from tuner.play.ffmpeg import Tool
from tuner.play.session import FrameSink, Session, SessionError, run_session

log = logging.getLogger(__name__)

TESTCARD = "testcard"
TESTCARD_TITLE = "Test card"
#: Per-listener audio queue, in ADTS frames (1024 samples each: ~2.7 s at 48 kHz).
AUDIO_QUEUE_FRAMES = 128


class PlayError(ValueError):
    """A play request that cannot be served as asked; the message says why."""


class UnavailableError(RuntimeError):
    """The supervisor is not running (starting up, shutting down, or dead)."""


class Supervisor:
    """Owns the current session and everything viewers see of it."""

    def __init__(self, ffmpeg: Tool | None, ffmpeg_problem: str | None, viewer_queue: int) -> None:
        self._ffmpeg = ffmpeg
        self._ffmpeg_problem = ffmpeg_problem
        self.video: Fanout[bytes] = Fanout(viewer_queue)
        self._next_audio: Fanout[bytes] = Fanout(AUDIO_QUEUE_FRAMES)
        self._hello: Control | None = None
        self._current: Session | None = None
        self._nursery: trio.Nursery | None = None
        self._status = Status()
        #: Called with every new status (systemd's STATUS= line; later, /ws/events).
        self.on_status: list[Callable[[Status], object]] = []
        self.alive = False
        self.death: str | None = None
        self.sessions_started = 0
        self.ffmpeg_failures = 0
        #: ffmpeg started again within a session; stays 0 until sessions reconnect.
        self.ffmpeg_restarts = 0

    @property
    def status(self) -> Status:
        """What plays now."""
        return self._status

    @status.setter
    def status(self, status: Status) -> None:
        changed = status != self._status
        self._status = status
        if changed:
            for callback in self.on_status:
                callback(status)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve play and stop commands until cancelled.

        A bug that escapes a session is logged and costs only that session; one that
        escapes the supervisor itself marks it dead (``/healthz`` answers 503, the
        systemd watchdog stops) instead of taking the web server down with it.
        """
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self.alive = True
                task_status.started()
                await trio.sleep_forever()
        except Exception as exc:
            log.exception("session supervisor died")
            self.death = _describe(exc)
        finally:
            self.alive = False
            self._nursery = None
            if self._current is not None:
                self._current.end("shutting down")
            self._next_audio.close_all(1001, "shutting down", final=True)

    def play(self, query: str, preset: Preset, mode: Mode) -> Status:
        """Start a session for ``query``, superseding any current one.

        Raises:
            PlayError: the query cannot be played (only ``testcard`` for now).
            UnavailableError: the supervisor is not running.
        """
        if self._nursery is None:
            raise UnavailableError("the session supervisor is not running")
        if query.strip().lower() != TESTCARD:
            raise PlayError(
                f"cannot play {query!r} yet: this version plays only the built-in '{TESTCARD}'"
            )
        session = Session(TESTCARD, preset, mode, FrameSink(self.video), self._next_audio)
        self._next_audio = Fanout(AUDIO_QUEUE_FRAMES)
        if self._current is not None:
            log.info("session %s superseded by %s", self._current.id, session.id)
            self._current.end("superseded")
        self._current = session
        self.status = state.start(session.id, session.query, preset.name, mode.value)
        self._hello = Control(
            encode_control(
                "hello",
                protocol=PROTOCOL_VERSION,
                session_id=session.id,
                cols=preset.cols,
                rows=preset.rows,
                fps=preset.fps,
                mode=mode.value,
                preset=preset.name,
            )
        )
        self.video.publish_control(self._hello, clear=True)
        self.sessions_started += 1
        self._nursery.start_soon(self._run, session, name=f"session {session.id}")
        return self.status

    def close(self) -> None:
        """Shut down: end the session (killing its ffmpeg) and refuse new ones.

        :meth:`run` returns once every session's ffmpeg has exited.
        """
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
            self._nursery = None

    def stop(self) -> None:
        """End the current session, if any, and go idle."""
        if self._current is not None:
            log.info("session %s stopped", self._current.id)
            self._finish(self._current, None, reason="stopped")

    def subscribe_video(self) -> Subscriber[bytes]:
        """A new viewer, told about the current session first if there is one."""
        viewer = self.video.subscribe()
        if self._hello is not None:
            viewer.put_control(self._hello)
        return viewer

    def subscribe_audio(self) -> Subscriber[bytes]:
        """A listener on the current session's sound (or the next session's, when idle).

        The subscription ends with that session.
        """
        audio = self._current.audio if self._current is not None else self._next_audio
        return audio.subscribe()

    def audio_listeners(self) -> int:
        """How many ``/audio`` listeners there are now."""
        current = len(self._current.audio.subscribers) if self._current is not None else 0
        return current + len(self._next_audio.subscribers)

    async def _run(self, session: Session) -> None:
        started = time.monotonic()
        with session.scope:
            try:
                if self._ffmpeg is None:
                    raise SessionError(self._ffmpeg_problem or "ffmpeg not found")
                await run_session(session, self._ffmpeg, lambda: self._on_playing(session))
            except SessionError as exc:
                self.ffmpeg_failures += 1
                log.error("session %s failed: %s", session.id, exc)
                self._finish(session, str(exc), reason="error")
            except Exception:
                log.exception("session %s crashed", session.id)
                self._finish(session, "internal error in tuner (see its log)", reason="error")
            else:
                self._finish(session, None, reason="ended")
        log.info("session %s over after %.1f s", session.id, time.monotonic() - started)

    def _on_playing(self, session: Session) -> None:
        if state.is_current(self.status, session.id):
            self.status = state.resolved(self.status, session.id, TESTCARD_TITLE, is_live=True)

    def _finish(self, session: Session, error: str | None, reason: str) -> None:
        session.end(reason)
        if self._current is not session:
            return
        self._current = None
        self._hello = None
        if error is None:
            self.status = state.stopped()
        else:
            self.status = state.failed(self.status, session.id, error)
        self.video.publish_control(
            Control(encode_control("end", session_id=session.id, reason=reason, error=error)),
            clear=True,
        )


def _describe(exc: BaseException) -> str:
    """``Type: message`` for an error, looking inside the groups that nurseries raise."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"
