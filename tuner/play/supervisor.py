"""The session supervisor: at most one session, each in its own cancel scope.

Request handlers call :meth:`Supervisor.play` and :meth:`Supervisor.stop`, which
return at once; the sessions themselves run in the supervisor's nursery, which the
root nursery owns. Superseding a session is cancelling its scope.

The supervisor keeps lifetimes (which session runs, its status, adaptive quality);
what viewers and listeners see of it is its :class:`~tuner.play.stage.Stage`.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable

import trio

from tuner.core import state
from tuner.core.adapt import Adapter, Report
from tuner.core.adts import ADTSSplitter
from tuner.core.health import Health, Level
from tuner.core.live_window import MIN_WINDOW_SECONDS
from tuner.core.presets import Mode, Preset
from tuner.core.query import Query, QueryError, QueryKind, parse_query
from tuner.core.seek import NotSeekableError, SeekRequest, live_seek_target, seek_target
from tuner.core.source import Source
from tuner.core.state import State, Status
from tuner.play.command import preroll_command
from tuner.play.consumers import Viewer
from tuner.play.ffmpeg import Tool
from tuner.play.resolver import Resolver
from tuner.play.session import Hooks, Playback, Session, SessionError, run_session
from tuner.play.stage import Stage
from tuner.procs import run_captured

log = logging.getLogger(__name__)

#: A stream that broke (reconnecting) or failed.
_BROKEN_SESSION = (State.RECONNECTING, State.ERROR)


class PlayError(ValueError):
    """A play request that cannot be served as asked; the message says why."""


class UnavailableError(RuntimeError):
    """The supervisor is not running (starting up, shutting down, or dead)."""


class NothingPlayingError(LookupError):
    """A change to the current session when there is none."""


class Supervisor:
    """Owns the current session's lifetime; :attr:`stage` is what viewers see of it."""

    def __init__(
        self,
        ffmpeg: Tool | None,
        ffmpeg_problem: str | None,
        lead_seconds: float,
        *,
        resolver: Resolver | None = None,
        playback: Playback | None = None,
        adaptive: bool = True,
        thumbnail_path: Callable[[str | None], str | None] | None = None,
    ) -> None:
        self._ffmpeg = ffmpeg
        #: The same-origin path for a source's thumbnail URL (tuner.core.thumbnails).
        self._thumbnail_path = thumbnail_path or (lambda url: None)
        self._ffmpeg_problem = ffmpeg_problem
        self._resolver = resolver
        self._playback = playback or Playback()
        #: What viewers and listeners see of the current session.
        self.stage = Stage(lead_seconds)
        self._current: Session | None = None
        #: Adaptive quality for the current session (None when switched off).
        self._adapter: Adapter | None = None
        self._adaptive = adaptive
        self._nursery: trio.Nursery | None = None
        self._status = Status()
        #: Called with every new status (systemd's STATUS= line; later, /ws/events).
        self.on_status: list[Callable[[Status], object]] = []
        #: Called when the current session's source simply ended (the queue's autoplay).
        self.on_ended: list[Callable[[Session], object]] = []
        self.alive = False
        self.death: str | None = None
        self.sessions_started = 0
        self.ffmpeg_failures = 0
        #: ffmpeg started again within a session, to heal a broken stream.
        self.ffmpeg_restarts = 0
        #: Preset changes adaptive quality made, down and up.
        self.quality_steps = {"down": 0, "up": 0}

    @property
    def resolver(self) -> Resolver | None:
        """The resolver sessions use (for its figures in ``/metrics``)."""
        return self._resolver

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

    def health(self) -> Health:
        """The ``supervisor``, ``ffmpeg`` and ``playback`` components of ``/healthz``."""
        level = Level.OK if self.alive else Level.UNHEALTHY
        problems = []
        if not self.alive:
            problems.append(f"the session supervisor is not running ({self.death or 'stopped'})")
        if self._ffmpeg_problem is not None:
            problems.append(self._ffmpeg_problem)
        # A stream that broke or failed: the session's own error says why in
        # /api/status; the daemon itself is fine, hence degraded only.
        session = self._status.state
        playback = session.value if session in _BROKEN_SESSION else "ok"
        # No frame for a while: said at once, long before the watchdog restarts ffmpeg
        # (``stalled`` in /api/status says for how long).
        if session is State.PLAYING and self._status.stalled is not None:
            playback = "stalled"
        if playback != "ok":
            level = max(level, Level.DEGRADED)
        components = {
            "supervisor": "ok" if self.alive else "dead",
            "ffmpeg": "ok" if self._ffmpeg_problem is None else "missing",
            "playback": playback,
        }
        return Health(components, level, tuple(problems))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve play and stop commands until cancelled.

        A bug that escapes a session is logged and costs only that session; one that
        escapes the supervisor itself marks it dead (``/healthz`` answers 503, the
        systemd watchdog stops) instead of taking the web server down with it.
        """
        if self._ffmpeg is not None:
            self.stage.preroll = await make_preroll(self._ffmpeg)
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
            self.stage.refuse_listeners(1001, "shutting down")

    def play(
        self, query: str, preset: Preset, mode: Mode, *, prepared: Source | None = None
    ) -> Status:
        """Start a session for ``query``, superseding any current one; ``prepared`` is
        its source resolved (or downloaded) ahead by the queue, played without resolving.

        Raises:
            PlayError: the query cannot be played (a local path, a scheme other than
                http/https, empty, or a URL of an address the egress policy refuses).
            UnavailableError: the supervisor is not running.
        """
        if self._nursery is None:
            raise UnavailableError("the session supervisor is not running")
        parsed = self.check_query(query)
        session = Session(parsed, preset, mode, self.stage.timeline_for_next())
        session.prepared = prepared
        if self._current is not None:
            log.info("session %s superseded by %s", self._current.id, session.id)
            self._current.end("superseded")
        self._current = session
        self._adapter = Adapter(preset) if self._adaptive else None
        if self._adapter is not None:
            self._adapter.settle(trio.current_time())
        self.status = state.start(session.id, parsed.text, preset.name, preset.fps, mode.value)
        self.stage.enter(session, chosen=self._chosen(preset), adaptive=self._adapter is not None)
        self.sessions_started += 1
        self._nursery.start_soon(self._run, session, name=f"session {session.id}")
        return self.status

    def check_query(self, query: str) -> Query:
        """``query`` parsed, and refused now if it cannot be played: a local path, a
        scheme other than http/https, or a URL whose host the egress policy refuses
        without looking it up (an address, ``localhost``).

        Raises:
            PlayError: why, as a sentence.
        """
        try:
            parsed = parse_query(query)
        except QueryError as exc:
            raise PlayError(str(exc)) from None
        egress = self._playback.egress
        if parsed.kind is QueryKind.URL and egress is not None:
            refused = egress.policy.precheck(parsed.target)
            if refused is not None:
                raise PlayError(refused)
        return parsed

    def retune(self, preset: Preset | None = None, mode: Mode | None = None) -> Status:
        """Play the current session on at another preset or mode, from where it is.

        The preset becomes the new top of adaptive quality's ladder.

        Raises:
            NothingPlayingError: no session is running.
        """
        session = self._current
        if session is None:
            raise NothingPlayingError("nothing is playing")
        if preset is not None:
            self._adapter = Adapter(preset) if self._adaptive else None
        self._apply(session, preset or session.preset, mode or session.mode)
        return self.status

    def seek(self, request: SeekRequest) -> Status:
        """Play the current session on from another place in its source, at once.

        Raises:
            NothingPlayingError: no session is running.
            NotSeekableError: its source cannot seek (a sentence says why).
            SeekError: a position past the end of the source.
        """
        session = self._current
        if session is None:
            raise NothingPlayingError("nothing is playing")
        source = session.source
        if source is None:
            raise NotSeekableError("the source is still being found: seek once it plays")
        if not session.can_seek():
            raise NotSeekableError(_why_not_seekable(session, source))
        before = session.position()
        if session.live is not None and source.is_live:
            now = trio.current_time()
            earliest, edge = session.live.start_at(now), session.live.live_point_at(now)
            target = live_seek_target(request, before, earliest, edge)
        else:
            target = seek_target(request, before, source.duration)
        at_ms = session.seek(target)
        log.info("session %s: seek from %s to %.1f s", session.id, _seconds(before),
                 target)  # fmt: skip
        self.stage.seeked(session, at_ms)
        return self.status

    def position(self) -> float | None:
        """Where the current session's source is at the play head (seconds)."""
        return self._current.position() if self._current is not None else None

    def status_json(self) -> dict[str, object]:
        """The status as the API shows it, with the position at the play head now."""
        status = self.status
        session = self._current
        if session is None:
            return {**status.to_json(), "position": None, "window": None}
        return {
            **status.to_json(),
            "position": session.shown_position(),
            "window": session.window_json(),
        }

    def report(self, viewer: Viewer, frames: int, late: int, render_ms: float) -> None:
        """A viewer's ``stats`` message: how it kept up since its last one."""
        session, adapter = self._current, self._adapter
        if session is None or adapter is None:
            return
        now = trio.current_time()
        level = adapter.level
        wanted = adapter.observe(Report(viewer.id, now, frames, late, render_ms, viewer.resyncs))
        if wanted is not None:
            # Down the ladder is a higher level.
            step = "down" if adapter.level > level else "up"
            self.quality_steps[step] += 1
            log.info(
                "session %s: adaptive quality steps %s to %s at %d fps (viewer %d: %d drawn, "
                "%d late, %.1f ms a frame, %d resyncs)", session.id, step, wanted.name,
                wanted.fps, viewer.id, frames, late, render_ms, viewer.resyncs,
            )  # fmt: skip
            self._apply(session, wanted, session.mode)

    def viewer_left(self, viewer: Viewer) -> None:
        """A viewer went away: it no longer holds adaptive quality back."""
        if self._adapter is not None:
            self._adapter.forget(viewer.id)

    def _apply(self, session: Session, preset: Preset, mode: Mode) -> None:
        if (preset, mode) == (session.preset, session.mode):
            return
        session.retune(preset, mode)
        if self._adapter is not None:
            self._adapter.settle(trio.current_time())
        chosen = self._chosen(preset)
        self.status = state.retuned(
            self.status, session.id, preset.name, preset.fps, mode.value, chosen.name
        )
        self.stage.retuned(session, chosen=chosen, adaptive=self._adapter is not None)

    def _chosen(self, preset: Preset) -> Preset:
        """What was asked for: the top of adaptive quality's ladder, else ``preset``."""
        return self._adapter.chosen if self._adapter is not None else preset

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

    async def _run(self, session: Session) -> None:
        started = time.monotonic()
        hooks = Hooks(
            playing=lambda source: self._on_playing(session, source),
            reconnecting=lambda reason, delay: self._on_reconnecting(session, reason),
            stalled=lambda sentence: self._on_stalled(session, sentence),
        )
        with session.scope:
            try:
                if self._ffmpeg is None:
                    raise SessionError(self._ffmpeg_problem or "ffmpeg not found")
                await run_session(session, self._ffmpeg, self._resolver, self._playback, hooks)
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

    def _on_playing(self, session: Session, source: Source) -> None:
        self.stage.positioned(session)
        if state.is_current(self.status, session.id):
            self.status = state.resolved(
                self.status,
                session.id,
                source.title,
                source.is_live,
                source.duration,
                thumbnail=self._thumbnail_path(source.thumbnail),
                channel=source.channel,
                seekable=session.can_seek(),
            )

    def _on_stalled(self, session: Session, sentence: str | None) -> None:
        if state.is_current(self.status, session.id) and self.status.state is State.PLAYING:
            self.status = state.stalled(self.status, session.id, sentence)

    def _on_reconnecting(self, session: Session, reason: str) -> None:
        self.ffmpeg_restarts += 1
        if state.is_current(self.status, session.id):
            self.status = state.reconnecting(self.status, session.id, reason)

    def _finish(self, session: Session, error: str | None, reason: str) -> None:
        session.end(reason)
        if self._current is not session:
            return
        self._current = None
        self._adapter = None
        if error is None:
            self.status = state.stopped()
        else:
            self.status = state.failed(self.status, session.id, error)
        self.stage.exit(session, reason, error)
        if reason == "ended":
            for hook in self.on_ended:
                hook(session)


def _why_not_seekable(session: Session, source: Source) -> str:
    if source.is_live and not source.inputs:
        return "the test card cannot seek"
    if source.is_live and session.live is not None:
        return (
            f"this live stream cannot seek: its playlist holds {session.live.length:.0f} s, "
            f"and a window of at least {MIN_WINDOW_SECONDS:.0f} s is needed"
        )
    if source.is_live:
        return "this live stream cannot seek: tuner plays it at its live edge"
    return "this source's length is not known, so tuner cannot seek in it"


def _seconds(value: float | None) -> str:
    return "an unknown position" if value is None else f"{value:.1f} s"


async def make_preroll(ffmpeg: Tool) -> tuple[bytes, ...]:
    """Encode the preroll once; without it, listeners only start later."""
    try:
        with trio.fail_after(15):
            done = await run_captured(preroll_command(ffmpeg.path))
        done.check_returncode()
    except (OSError, trio.TooSlowError, subprocess.CalledProcessError) as exc:
        log.warning("no audio preroll (%s): browsers will start the sound later", exc)
        return ()
    return tuple(ADTSSplitter().feed(done.stdout))


def _describe(exc: BaseException) -> str:
    """``Type: message`` for an error, looking inside the groups that nurseries raise."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"
