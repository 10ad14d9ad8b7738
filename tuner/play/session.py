"""One session: resolve, run ffmpeg, read its pipes, and heal when the stream breaks.

A session lives in a cancel scope that the supervisor owns. Cancelling that scope is
the only way a session is stopped or superseded: a resolution in flight is killed,
ffmpeg's group is killed and every reader ends, with nothing to check after an await.

Within a session, each ffmpeg run is an *attempt*. An attempt ends when its video
ends (the source is over), when ffmpeg fails, or when the stall watchdog sees no frame
for too long while ffmpeg still runs. Once a session has shown a frame, a broken
attempt is followed by another, after a backoff and a fresh resolution (resolved
URLs expire): a live stream resumes at its live edge, a video where it stopped.

A live HLS stream's playlist is read before each run (:mod:`tuner.play.live`): when
it holds a window long enough to seek in (:mod:`tuner.core.live_window`), the stream
has positions like a video, and each run starts at the segment that holds its place.

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
from tuner.core.live_window import LiveWindow
from tuner.core.modes import MODE_SPECS, frame_view, render
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
from tuner.core.seek import MediaClock
from tuner.core.source import MediaInput, Source
from tuner.egress_proxy import EgressProxy, child_environment
from tuner.play.command import AUDIO_FRAME_MS, source_command, testcard_command
from tuner.play.ffmpeg import Tool
from tuner.play.live import WindowReadError, hls_input, read_window
from tuner.play.resolver import ResolveError, Resolver
from tuner.play.timeline import SessionTimeline
from tuner.procs import run_in_own_group

log = logging.getLogger(__name__)

_READ_SIZE = 1 << 16
_STDERR_LINES = 20
#: After its video ends, ffmpeg gets this long to finish on its own (its sound's tail).
_EXIT_GRACE_SECONDS = 2.0

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


@attrs.define(eq=False)
class Session:
    """What one play asked for, the handles that end it, and its clock."""

    query: Query
    preset: Preset
    mode: Mode
    #: Its frames and sound, held around the play head for every viewer and listener.
    timeline: SessionTimeline
    id: str = attrs.field(factory=lambda: secrets.token_hex(6))
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    source: Source | None = None
    #: Frames sent so far (the next frame's ``seq``).
    frames: int = 0
    #: ADTS frames sent so far: the session's media clock.
    audio_frames: int = 0
    last_pts_ms: int = -1
    attempts: int = 0
    #: The running attempt's scope, to restart ffmpeg with another preset or mode.
    attempt_scope: trio.CancelScope | None = None
    #: :meth:`retune` asked for a new ffmpeg; the source need not be resolved again.
    retuning: bool = False
    #: A source the queue resolved (or downloaded) ahead: played instead of resolving.
    prepared: Source | None = None
    #: The running attempt.
    attempt: _Attempt | None = None
    #: Where the next attempt starts after a retune or a seek (on the clock, and in
    #: the source).
    resume_at: _Resume | None = None
    #: Which position in the source plays at which clock time.
    media: MediaClock = attrs.field(factory=MediaClock)
    #: A seek's target, until the run it started shows its first frame.
    seeking_to: float | None = None
    #: The source was read to its end; its clients play out what they hold.
    playing_out: bool = False
    #: A live HLS stream's window, as its playlist was last read.
    live: LiveWindow | None = None

    #: Called with the index of the first frame dropped when a retune cuts what lies
    #: ahead of the play head (the stage moves its viewers' cursors).
    on_cut: Callable[[int], None] | None = None

    def end(self, reason: str) -> None:
        """Stop the session now: no more frames are taken, ffmpeg is killed, readers end."""
        self.timeline.shut()
        self.scope.cancel()

    def retune(self, preset: Preset, mode: Mode) -> None:
        """Play on with another preset or mode: ffmpeg restarts where the picture is
        (a live stream at its edge), with no new resolution and no reconnect pause."""
        if (preset, mode) == (self.preset, self.mode):
            return
        self.preset, self.mode = preset, mode
        if self.attempt_scope is not None and self.attempt is not None:
            self.retuning = True
            # At once, before anyone is told of the new grid: what was read ahead of
            # the play head goes, and the next attempt starts there.
            self.resume_at = _cut_at_play_head(self, self.attempt)
            self.attempt_scope.cancel()
        elif self.playing_out and self.position() is not None:
            # The source was read to its end in the old grid: the rest is made again.
            self.resume_at = _cut_at_play_head(self, None)

    def seek(self, position: float) -> float:
        """Play on from ``position`` seconds into the source: what was read ahead of
        the play head goes, picture and sound, and ffmpeg starts again there. Returns
        the clock time from which everything a client holds is void (the new run's
        frames and sound start there)."""
        timeline = self.timeline
        head = timeline.now_ms()
        if self.attempt is not None:
            self.attempt.cut_off = True
        first_dropped = timeline.cut(head, sound=True)
        if self.on_cut is not None:
            self.on_cut(first_dropped)
        newest = timeline.frames.newest_ms()
        self.last_pts_ms = round(newest) if newest is not None else -1
        # The sound's next ADTS frame is the ring's next index (see _read_audio).
        self.audio_frames = timeline.sound.end
        self.media.cut(head)
        origin_ms = max(_sound_end(self), self.last_pts_ms + 1)
        self.resume_at = _Resume(origin_ms, origin_ms, position, seek=True)
        self.seeking_to = position
        if self.attempt_scope is not None:
            self.retuning = True
            self.attempt_scope.cancel()
        return origin_ms

    def position(self) -> float | None:
        """Where the source is at the play head (seconds), when it is known (a seek's
        target from the moment it is asked)."""
        if self.seeking_to is not None:
            return self.seeking_to
        return self.media.position_at(self.timeline.now_ms())

    def can_seek(self) -> bool:
        """Whether a seek can move this session: a video of known length (a file,
        HTTP media, a download, a YouTube video), or a live stream whose playlist
        holds a window long enough; not the test card or another live stream."""
        source = self.source
        if source is None:
            return False
        if source.is_live:
            return self.live is not None and self.live.seekable
        return source.duration is not None

    def shown_position(self) -> float | None:
        """:meth:`position`, for clients: only where the source has places (a video,
        a live stream with a window), not for one played at its edge."""
        source = self.source
        if source is None or (source.is_live and not self.can_seek()):
            return None
        return self.position()

    def window_json(self) -> dict[str, float] | None:
        """A seekable live stream's window now, for clients: ``start``, the oldest place
        still held, and ``end``, the newest place a run can start (the live point)."""
        if self.live is None or not self.can_seek():
            return None
        now = trio.current_time()
        return {
            "start": round(self.live.start_at(now), 3),
            "end": round(self.live.live_point_at(now), 3),
        }


@attrs.define
class _Attempt:
    """One ffmpeg run's progress, as its readers and watchdog see it."""

    origin_ms: float
    start_seconds: float
    last_progress: float
    preset: Preset
    mode: Mode
    #: ``start_seconds`` is a known place in the source (not a live edge's).
    placed: bool = False
    frames: int = 0
    video_ended: bool = False
    #: ffmpeg still ran after its video ended, and was stopped.
    stopped_after_end: bool = False
    #: A retune or seek cut the timeline: what this run still reads is not kept.
    cut_off: bool = False
    returncode: int | None = None
    #: This run's sound is held from this clock time on (a retune's sound overlaps
    #: what was sent already).
    sound_from_ms: float = 0.0
    #: ADTS frames this run made.
    sound_frames: int = 0
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
            # Where the next attempt's frames start on the clock, when not after the
            # last frame (a retune or seek starts at the play head; a seek elsewhere
            # in the source).
            resume_at, session.resume_at = session.resume_at, None
            if resume_at is not None:
                position = (
                    resume_at.position if resume_at.seek else min(position, resume_at.position)
                )
            if source.is_live and (media := hls_input(source)) is not None:
                await _read_live_window(session, media, playback)
            attempt = await _run_attempt(
                session, ffmpeg, source, position, playback, hooks, resume_at
            )
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
            # What was read ahead plays out before the session ends...
            session.playing_out = True
            await session.timeline.played_out()
            session.playing_out = False
            if session.resume_at is None:
                return
            # ...unless a seek or retune cut it meanwhile: the source was fine.
            session.retuning = True
            continue
        if verdict.next is Next.RETUNE:
            log.info("session %s: %s in %s, again", session.id,
                     session.preset.name, session.mode)  # fmt: skip
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


@attrs.frozen
class _Resume:
    """Where a retuned or seeking attempt starts: its frames at ``origin_ms``; its
    sound only from ``sound_from_ms`` on (what is before that was sent already); in
    the source at ``position`` seconds (a retune: at most there, as the run before
    may have ended sooner)."""

    origin_ms: float
    sound_from_ms: float
    position: float
    seek: bool = False


def _cut_at_play_head(session: Session, attempt: _Attempt | None) -> _Resume:
    """A retune takes effect at the play head: the frames read ahead of it (by
    ``attempt``, or by one that ended) are dropped, and the next attempt starts there,
    on the clock and in the source."""
    timeline = session.timeline
    head = timeline.now_ms()
    # Read before the cut forgets what was marked after the play head.
    known = session.media.position_at(head)
    if attempt is not None:
        attempt.cut_off = True
    first_dropped = timeline.cut(head)
    if session.on_cut is not None:
        session.on_cut(first_dropped)
    newest = timeline.frames.newest_ms()
    session.last_pts_ms = round(newest) if newest is not None else -1
    session.media.cut(head)
    if known is not None:
        at_head = known
    else:  # a live stream (which restarts at its edge) or a run with no frame yet
        assert attempt is not None
        at_head = attempt.start_seconds + max(0.0, head - attempt.origin_ms) / 1000
    return _Resume(
        origin_ms=max(head, session.last_pts_ms + 1),
        sound_from_ms=_sound_end(session),
        position=at_head,
    )


def _sound_end(session: Session) -> float:
    """Where the sound held so far ends on the clock."""
    return session.audio_frames * AUDIO_FRAME_MS


async def _resolve(session: Session, resolver: Resolver | None) -> Source:
    if session.query.kind is QueryKind.TESTCARD:
        return TESTCARD_SOURCE
    # A download never expires; resolved URLs are trusted for the first attempt only.
    if session.prepared is not None and (session.attempts == 1 or session.prepared.is_local):
        return session.prepared
    if resolver is None:
        raise ResolveError("the resolver is not running")
    return await resolver.resolve(session.query)


async def _read_live_window(session: Session, media: MediaInput, playback: Playback) -> None:
    """Read the live stream's playlist into the session's window; a read that fails
    leaves the window as it was (the run starts at the edge without one)."""
    # Its own name at the egress proxy: a problem there is not the run's.
    proxy = playback.egress.url(f"{_egress_user(session)}-window") if playback.egress else None
    window = session.live or LiveWindow()
    try:
        await read_window(window, media, proxy)
    except WindowReadError as exc:
        log.warning("session %s: cannot read the live playlist (%s)", session.id, exc)
        return
    if session.live is None:
        log.info(
            "session %s: the live playlist holds %.0f s%s", session.id, window.length,
            "" if window.seekable else " (too little to seek in)",
        )  # fmt: skip
    session.live = window


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
    resume_at: _Resume | None = None,
) -> _Attempt:
    live_start_index = None
    if not source.is_live:
        start_seconds, placed = position, True
    elif session.live is not None and session.live.seekable:
        # A place that was played before (a reconnect, a retune, a seek), else the edge.
        again = resume_at is not None or bool(session.media.anchors)
        placement = session.live.locate(position if again else None)
        live_start_index, start_seconds, placed = placement.index, placement.position, True
    else:
        start_seconds, placed = 0.0, False
    if resume_at is None:
        # Frames of this run start where the sound is, and never before the last frame.
        origin_ms = max(_sound_end(session), session.last_pts_ms + 1)
        sound_from_ms = origin_ms
    else:
        origin_ms, sound_from_ms = resume_at.origin_ms, resume_at.sound_from_ms
    preset, mode = session.preset, session.mode
    attempt = _Attempt(origin_ms, start_seconds, trio.current_time(), preset, mode)
    attempt.placed = placed
    attempt.sound_from_ms = sound_from_ms
    read_fd, write_fd = os.pipe()
    env = None
    if source is TESTCARD_SOURCE:
        command = testcard_command(ffmpeg.path, preset, mode, write_fd)
    else:
        proxy = playback.egress.url(_egress_user(session)) if playback.egress else None
        command = source_command(
            ffmpeg.path,
            source,
            preset,
            mode,
            write_fd,
            start_seconds=start_seconds,
            live_start_index=live_start_index,
        )
        if proxy is not None:
            # Without no_proxy, which would let ffmpeg bypass the proxy.
            env = child_environment(proxy)
    audio_pipe = trio.lowlevel.FdStream(read_fd)
    # Stays None when a retune or seek cancels the attempt before ffmpeg started.
    process: trio.Process | None = None
    async with audio_pipe, trio.open_nursery() as nursery:
        session.attempt_scope, session.attempt = nursery.cancel_scope, attempt
        session.timeline.reopen()
        try:
            process = await nursery.start(
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
        nursery.start_soon(_read_audio, audio_pipe, session, attempt)
        nursery.start_soon(_read_stderr, process.stderr, session.id, attempt.stderr)
        nursery.start_soon(_watch, session.id, attempt, playback, hooks, nursery.cancel_scope)
    session.attempt_scope, session.attempt = None, None
    attempt.returncode = None if process is None else process.returncode
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
    timeline = session.timeline
    buffer = bytearray()
    stream = process.stdout
    assert stream is not None
    async with stream:
        while chunk := await stream.receive_some(_READ_SIZE):
            buffer += chunk
            while len(buffer) >= frame_size:
                grid = render(mode, frame_view(mode, buffer[:frame_size], cols, rows))
                del buffer[:frame_size]
                pts_ms = round(attempt.origin_ms + attempt.frames * 1000 / fps)
                # At most the lead ahead of the play head (with no lead: at its time).
                # ffmpeg waits on its pipe meanwhile; that is not a stall.
                await timeline.hold_lead(pts_ms)
                if timeline.refuses(pts_ms):
                    continue  # made before a retune's cut, read after it
                # Encoded after the last await: a retune that cancels here must not
                # leave the encoder's reference ahead of what the timeline holds.
                timeline.add_frame(grid, session.frames, pts_ms)
                session.frames += 1
                session.last_pts_ms = pts_ms
                attempt.frames += 1
                attempt.last_progress = trio.current_time()
                if attempt.frames == 1:
                    if attempt.placed:
                        session.media.mark(attempt.origin_ms, attempt.start_seconds)
                    session.seeking_to = None
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


async def _read_audio(stream: trio.abc.ReceiveStream, session: Session, attempt: _Attempt) -> None:
    splitter = ADTSSplitter()
    while chunk := await stream.receive_some(_READ_SIZE):
        if attempt.cut_off:
            return  # what it made after a cut is not this session's any more
        for frame in splitter.feed(chunk):
            at = attempt.origin_ms + attempt.sound_frames * AUDIO_FRAME_MS
            attempt.sound_frames += 1
            if at + AUDIO_FRAME_MS / 2 < attempt.sound_from_ms:
                continue  # a retune's sound, where the sound already held is
            # A session's first ADTS frame carries the encoder's priming: its frame k
            # starts at (k - 1) frames.
            session.timeline.add_sound((session.audio_frames - 1) * AUDIO_FRAME_MS, frame)
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
