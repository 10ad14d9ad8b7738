"""One session: resolve, run ffmpeg, read its pipes, and heal when the stream breaks.

A session lives in a cancel scope that the supervisor owns. Cancelling that scope is
the only way a session is stopped or superseded: a resolution in flight is killed,
ffmpeg's group is killed and every reader ends, with nothing to check after an await.

Within a session, each ffmpeg run is an *attempt*. An attempt ends when its video
ends (the source is over), when ffmpeg fails, or when the stall watchdog sees no frame
for too long while ffmpeg still runs. Once a session has shown a frame, a broken
attempt is followed by another, after a backoff and a fresh resolution (resolved
URLs expire): a live stream resumes at its live edge, a video where it stopped.

Clock: the session's media time is counted in ADTS frames of its sound (1024 samples
at 48 kHz each), which flow without a break from attempt to attempt. Video frames are
stamped on the same clock, so a listener's audio position maps to frame times by one
offset (see ``AudioListener.start_ms`` in :mod:`tuner.play.stage`).
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
from tuner.core.codec import Encoder, is_empty_delta
from tuner.core.modes import MODE_SPECS, frame_view, render
from tuner.core.pacing import Pacer
from tuner.core.presets import Mode, Preset
from tuner.core.query import Query, QueryKind
from tuner.core.retry import (
    AttemptEnd,
    Next,
    RetryPolicy,
    after_attempt,
    after_resolve_error,
    watch,
)
from tuner.core.source import Source
from tuner.egress_proxy import EgressProxy, child_environment
from tuner.play.command import AAC_FRAME_SAMPLES, SAMPLE_RATE, source_command, testcard_command
from tuner.play.fanout import Fanout
from tuner.play.ffmpeg import Tool
from tuner.play.resolver import ResolveError, Resolver
from tuner.procs import run_in_own_group

log = logging.getLogger(__name__)

_READ_SIZE = 1 << 16
_STDERR_LINES = 20
#: After its video ends, ffmpeg gets this long to finish on its own (its sound's tail).
_EXIT_GRACE_SECONDS = 2.0
AUDIO_FRAME_MS = AAC_FRAME_SAMPLES * 1000 / SAMPLE_RATE

TESTCARD_SOURCE = Source(title="Test card", inputs=(), is_live=True)


class SessionError(Exception):
    """A session ended in a way a person should hear about; the message says how."""


@attrs.frozen
class Playback(RetryPolicy):
    """How a session watches and heals its ffmpeg (the limits and backoff of
    :class:`~tuner.core.retry.RetryPolicy`), and where its fetches go."""

    #: Where ffmpeg's fetches go (and are checked); ``None`` fetches directly (tests).
    egress: EgressProxy | None = None


@attrs.frozen
class Hooks:
    """What a session tells its supervisor."""

    #: A source is known and an attempt showed its first frame.
    playing: Callable[[Source], None]
    #: The stream broke; the next attempt starts after ``delay`` seconds.
    reconnecting: Callable[[str, float], None]
    #: The playing stream sent no frame for a while (a sentence), or (``None``) sends
    #: frames again.
    stalled: Callable[[str | None], None]


class FrameSink:
    """Where a session's frames go; shut the moment the session is superseded, so a
    frame read just before the cancel cannot land after the next session's hello."""

    def __init__(self, fanout: Fanout[bytes]) -> None:
        self._fanout: Fanout[bytes] | None = fanout

    def publish(self, delta: bytes | None, keyframe: Callable[[], bytes]) -> None:
        """Send a frame to every viewer, unless the sink is shut (see
        :meth:`Fanout.publish_frame`)."""
        if self._fanout is not None:
            self._fanout.publish_frame(delta, keyframe)

    def shut(self) -> None:
        """Drop every later frame."""
        self._fanout = None


@attrs.define(eq=False)
class Session:
    """What one play asked for, the handles that end it, and its clock."""

    query: Query
    preset: Preset
    mode: Mode
    video: FrameSink
    audio: Fanout[bytes]
    id: str = attrs.field(factory=lambda: secrets.token_hex(6))
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    source: Source | None = None
    #: Frames sent so far (the next frame's ``seq``).
    frames: int = 0
    #: ADTS frames sent so far: the session's media clock.
    audio_frames: int = 0
    last_pts_ms: int = -1
    attempts: int = 0
    #: Encodes every frame once for all viewers (protocol v2 keyframes and deltas).
    encoder: Encoder = attrs.field(factory=Encoder)
    #: The running attempt's scope, to restart ffmpeg with another preset or mode.
    attempt_scope: trio.CancelScope | None = None
    #: :meth:`retune` asked for a new ffmpeg; the source need not be resolved again.
    retuning: bool = False
    #: A source the queue resolved (or downloaded) ahead: played instead of resolving.
    prepared: Source | None = None

    def end(self, reason: str) -> None:
        """Stop the session now: no more frames go out, ffmpeg is killed, readers end."""
        self.video.shut()
        self.scope.cancel()
        self.audio.close_all(1000, reason)

    def retune(self, preset: Preset, mode: Mode) -> None:
        """Play on with another preset or mode: ffmpeg restarts where the picture is
        (a live stream at its edge), with no new resolution and no reconnect pause."""
        if (preset, mode) == (self.preset, self.mode):
            return
        self.preset, self.mode = preset, mode
        if self.attempt_scope is not None:
            self.retuning = True
            self.attempt_scope.cancel()


@attrs.define
class _Attempt:
    """One ffmpeg run's progress, as its readers and watchdog see it."""

    origin_ms: float
    start_seconds: float
    last_progress: float
    preset: Preset
    mode: Mode
    frames: int = 0
    video_ended: bool = False
    #: ffmpeg still ran after its video ended, and was stopped.
    stopped_after_end: bool = False
    returncode: int | None = None
    stalled: str | None = None
    #: The watchdog suspects a stall (and said so), until the next frame.
    suspected: bool = False
    start_error: str | None = None
    stderr: collections.deque[str] = attrs.field(
        factory=lambda: collections.deque(maxlen=_STDERR_LINES)
    )

    @property
    def fps(self) -> int:
        """This run's frame rate."""
        return self.preset.fps

    def ended(self, played: float, egress_problem: str | None) -> AttemptEnd:
        """How the run ended, for the retry verdict; the source is at ``played`` s."""
        return AttemptEnd(
            frames=self.frames,
            played=played,
            returncode=self.returncode,
            video_ended=self.video_ended,
            stopped_after_end=self.stopped_after_end,
            stalled=self.stalled,
            start_error=self.start_error,
            stderr=tuple(self.stderr),
            egress_problem=egress_problem,
        )


async def run_session(
    session: Session,
    ffmpeg: Tool,
    resolver: Resolver | None,
    playback: Playback,
    hooks: Hooks,
) -> None:
    """Play a session until its source ends.

    Raises:
        SessionError: the source cannot be played, or broke and could not be
            reconnected; the message is for a person.
    """
    failures = 0
    position = 0.0
    while True:
        session.attempts += 1
        try:
            if session.retuning and session.source is not None:
                source = session.source
            else:
                source = await _resolve(session, resolver)
            session.retuning = False
        except ResolveError as exc:
            log.warning("session %s: %s (%s)", session.id, exc.message, exc.detail)
            verdict = after_resolve_error(playback, failures, exc.message, shown=session.frames > 0)
        else:
            was_live = session.source is not None and session.source.is_live
            if was_live and not source.is_live:
                log.info("session %s: the live stream is over", session.id)
                return
            session.source = source
            attempt = await _run_attempt(session, ffmpeg, source, position, playback, hooks)
            position = attempt.start_seconds + attempt.frames / attempt.fps
            # What the egress proxy met during this attempt (taken now, so it never
            # outlives it).
            problem = playback.egress.problem(_egress_user(session)) if playback.egress else None
            verdict = after_attempt(
                playback,
                failures,
                attempt.ended(position, problem),
                is_live=source.is_live,
                duration=source.duration,
                shown=session.frames > 0,
                retuning=session.retuning,
            )
        failures = verdict.failures
        if verdict.next is Next.END:
            return
        if verdict.next is Next.RETUNE:
            log.info("session %s: %s in %s from %.1f s", session.id,
                     session.preset.name, session.mode, position)  # fmt: skip
            continue
        assert verdict.reason is not None
        if verdict.next is Next.GIVE_UP:
            raise SessionError(verdict.reason)
        log.warning("session %s: %s; reconnecting in %.1f s",
                    session.id, verdict.reason, verdict.delay)  # fmt: skip
        if resolver is not None:
            resolver.forget(session.query)
        hooks.reconnecting(verdict.reason, verdict.delay)
        await trio.sleep(verdict.delay)


async def _resolve(session: Session, resolver: Resolver | None) -> Source:
    if session.query.kind is QueryKind.TESTCARD:
        return TESTCARD_SOURCE
    # A download never expires; resolved URLs are trusted for the first attempt only.
    if session.prepared is not None and (session.attempts == 1 or session.prepared.is_local):
        return session.prepared
    if resolver is None:
        raise ResolveError("the resolver is not running")
    return await resolver.resolve(session.query)


def _egress_user(session: Session) -> str:
    """The name this session's ffmpeg uses at the egress proxy."""
    return f"session-{session.id}"


async def _run_attempt(
    session: Session,
    ffmpeg: Tool,
    source: Source,
    position: float,
    playback: Playback,
    hooks: Hooks,
) -> _Attempt:
    start_seconds = 0.0 if source.is_live else position
    # Frames of this run start where the sound is, and never before the last frame.
    origin_ms = max(session.audio_frames * AUDIO_FRAME_MS, session.last_pts_ms + 1)
    preset, mode = session.preset, session.mode
    attempt = _Attempt(origin_ms, start_seconds, trio.current_time(), preset, mode)
    read_fd, write_fd = os.pipe()
    env = None
    if source is TESTCARD_SOURCE:
        command = testcard_command(ffmpeg.path, preset, mode, write_fd)
    else:
        proxy = playback.egress.url(_egress_user(session)) if playback.egress else None
        command = source_command(
            ffmpeg.path, source, preset, mode, write_fd, start_seconds=start_seconds
        )
        if proxy is not None:
            # Without no_proxy, which would let ffmpeg bypass the proxy.
            env = child_environment(proxy)
    audio_pipe = trio.lowlevel.FdStream(read_fd)
    async with audio_pipe, trio.open_nursery() as nursery:
        session.attempt_scope = nursery.cancel_scope
        try:
            process: trio.Process = await nursery.start(
                partial(run_in_own_group, command, pass_fds=(write_fd,), env=env)
            )
        except OSError as exc:
            attempt.start_error = f"cannot start ffmpeg ({ffmpeg.path}): {exc.strerror}"
            return attempt
        finally:
            # ffmpeg holds its own copy now; ours must go, or the pipe never ends.
            os.close(write_fd)
        log.info(
            "session %s: ffmpeg started (pid %d) for %r at %.1f s",
            session.id, process.pid, source.title, start_seconds,
        )  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        first_frame = partial(hooks.playing, source)
        nursery.start_soon(
            _read_video, process, session, attempt, first_frame, hooks, nursery.cancel_scope
        )
        nursery.start_soon(_read_audio, audio_pipe, session)
        nursery.start_soon(_read_stderr, process.stderr, session.id, attempt.stderr)
        nursery.start_soon(_watch, session.id, attempt, playback, hooks, nursery.cancel_scope)
    session.attempt_scope = None
    attempt.returncode = process.returncode
    return attempt


async def _read_video(
    process: trio.Process,
    session: Session,
    attempt: _Attempt,
    on_first_frame: Callable[[], None],
    hooks: Hooks,
    attempt_scope: trio.CancelScope,
) -> None:
    cols, rows, fps, mode = attempt.preset.cols, attempt.preset.rows, attempt.fps, attempt.mode
    frame_size = MODE_SPECS[mode].frame_bytes(cols, rows)
    encoder = session.encoder
    buffer = bytearray()
    pacer = Pacer(slack=1 / fps, max_late=2 / fps)
    stream = process.stdout
    assert stream is not None
    async with stream:
        while chunk := await stream.receive_some(_READ_SIZE):
            buffer += chunk
            while len(buffer) >= frame_size:
                grid = render(mode, frame_view(mode, buffer[:frame_size], cols, rows))
                del buffer[:frame_size]
                pts_ms = round(attempt.origin_ms + attempt.frames * 1000 / fps)
                # Evenly spaced, whatever ffmpeg's cadence (see tuner.core.pacing).
                await trio.sleep_until(pacer.release_at(pts_ms, trio.current_time()))
                # Encoded after the last await: the encoder's reference must never get
                # ahead of what viewers were sent, even when a retune cancels here.
                message = encoder.encode(grid, session.frames, pts_ms)
                delta = None if is_empty_delta(message) else message
                session.video.publish(delta, encoder.keyframe)
                session.frames += 1
                session.last_pts_ms = pts_ms
                attempt.frames += 1
                attempt.last_progress = trio.current_time()
                if attempt.frames == 1:
                    on_first_frame()
                elif attempt.suspected:
                    attempt.suspected = False
                    log.info("session %s: frames again", session.id)
                    hooks.stalled(None)
    attempt.video_ended = True
    # The picture is over: let ffmpeg finish the sound's tail, then end the attempt
    # (which kills ffmpeg if it is still at it, e.g. making silence for a silent video).
    with trio.move_on_after(_EXIT_GRACE_SECONDS):
        await process.wait()
    attempt.stopped_after_end = process.returncode is None
    attempt_scope.cancel()


async def _read_audio(stream: trio.abc.ReceiveStream, session: Session) -> None:
    splitter = ADTSSplitter()
    while chunk := await stream.receive_some(_READ_SIZE):
        for frame in splitter.feed(chunk):
            session.audio.publish(frame)
            session.audio_frames += 1


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


async def _watch(
    session_id: str,
    attempt: _Attempt,
    playback: Playback,
    hooks: Hooks,
    attempt_scope: trio.CancelScope,
) -> None:
    """The stall watchdog: ffmpeg can stop producing without exiting. A short gap is
    said at once (:attr:`Hooks.stalled`); a long one ends the attempt."""
    while True:
        look = watch(playback, trio.current_time(), attempt.last_progress, attempt.frames)
        if look.stalled is not None:
            attempt.stalled = look.stalled
            attempt_scope.cancel()
            return
        if look.suspected is not None and not attempt.suspected:
            attempt.suspected = True
            log.warning("session %s: %s", session_id, look.suspected)
            hooks.stalled(look.suspected)
        await trio.sleep_until(look.wake_at)
