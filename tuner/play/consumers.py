"""Viewers and listeners: each reads the current session's timeline from a cursor of
its own, as fast as its link takes it.

A :class:`Viewer` (``/ws/video``) gets control messages first (a session's
``hello``, the audio clocks, its ``end``), then the frames from its
:class:`~tuner.core.timeline.FrameCursor`; a :class:`Listener` (``/audio``) gets
ADTS frames from its :class:`~tuner.core.timeline.SoundCursor`, after a preroll
when it starts with nothing to burst. Neither ever slows the session or another
consumer: one that falls behind what the timeline holds goes on from the play head.
"""

from __future__ import annotations

import collections
import itertools
import math

import trio

from tuner.core.resume import ResumePoint, SentLog
from tuner.core.timeline import FrameCursor, SoundCursor, send_ahead_ms, sendable_at_ms
from tuner.play.command import AUDIO_FRAME_MS
from tuner.play.fanout import Control, SubscriberClosed
from tuner.play.timeline import SessionTimeline

#: How far behind the play head a viewer's next frame may be before it is moved to
#: the play head: frames older than that would come too late to be shown.
MAX_BEHIND_MS = 1000.0
#: Sound a listener must be able to get at once to go without the preroll: Chromium
#: plays nothing until it holds a 32 KB block, about 2.7 s of tuner's sound.
BURST_MS = 3000.0
#: How long a new listener waits for that much sound before it takes the preroll
#: after all, if the sound does not come faster than real time (a source that
#: cannot be read ahead: a live stream at its edge). One that does (a busy machine
#: reading a video ahead slowly) is waited for: the preroll would cost 3 s more.
BURST_WAIT_SECONDS = 1.0
#: The most a listener sends in one write (more than Chromium's first block).
SEND_BYTES = 64 * 1024
#: Sound made this much faster than the wall clock is being read ahead.
_AHEAD_RATE = 1.5


class _Consumer:
    """What viewers and listeners share: an id, a wake-up, and a way to end."""

    _ids = itertools.count(1)

    def __init__(self) -> None:
        self.id = next(self._ids)
        self._wakeup = trio.Event()
        self._closed: SubscriberClosed | None = None
        self.timeline: SessionTimeline | None = None
        self.delivered = 0

    def wake(self) -> None:
        """Something new may be there to send."""
        self._wakeup.set()

    def close(self, code: int, reason: str) -> None:
        """End the stream (``code`` as a websocket close code); ``get`` raises once
        what must still go has gone."""
        if self._closed is None:
            self._closed = SubscriberClosed(code, reason)
            self.wake()

    def detach(self) -> None:
        """Stop reading the current session's timeline (idempotent)."""
        if self.timeline is not None:
            self.timeline.unwatch(self.wake)
            self.timeline = None
        self.wake()

    async def _wait(self) -> None:
        self._wakeup = trio.Event()
        await self._wakeup.wait()


class Viewer(_Consumer):
    """One ``/ws/video`` socket."""

    def __init__(self) -> None:
        super().__init__()
        self.cursor = FrameCursor()
        self._control: collections.deque[Control] = collections.deque()
        #: The next frame is held until then (trio's clock): a session's start.
        self._hold_until: float | None = None

    @property
    def resyncs(self) -> int:
        """Times it fell behind and was moved to the play head."""
        return self.cursor.resyncs

    @property
    def dropped(self) -> int:
        """Frames it did not get because of that."""
        return self.cursor.skipped

    def attach(self, timeline: SessionTimeline) -> None:
        """Read ``timeline`` from its play head on (a new session)."""
        self.detach()
        self.timeline = timeline
        self.cursor.restart()
        timeline.watch(self.wake)
        self.wake()

    def put_control(self, message: Control) -> None:
        """Queue a control message, sent before any frame."""
        self._control.append(message)
        self.wake()

    def lost_step(self, seq: int | None) -> None:
        """It could not apply a frame after ``seq`` (the last it applied, if known)."""
        if self.timeline is not None:
            self.cursor.lost_step(self.timeline.frames, seq)
            self.wake()

    def cut_at(self, index: int) -> None:
        """The timeline was cut from ``index`` on."""
        self.cursor.cut_at(index)
        self.wake()

    async def get(self) -> bytes | Control:
        """The next control message, else the next frame; waits for one.

        Raises:
            SubscriberClosed: the stream ended (after its last control message).
        """
        while True:
            if self._control:
                return self._control.popleft()
            if self._closed is not None:
                raise self._closed
            timeline = self.timeline
            self._hold_until = None
            if timeline is not None:
                message = self._next_frame(timeline)
                if message is not None:
                    self.delivered += 1
                    return message
            with trio.move_on_at(self._hold_until or math.inf):
                await self._wait()

    def _next_frame(self, timeline: SessionTimeline) -> bytes | None:
        play_head = timeline.now_ms()
        cursor, frames = self.cursor, timeline.frames
        if cursor.next is not None:
            entry = frames.get(cursor.next)
            if entry is not None and entry.pts_ms < play_head - MAX_BEHIND_MS:
                # Too late to be shown: on from the play head.
                start = frames.start_at_or_before(play_head)
                if start is not None and start > cursor.next:
                    cursor.resyncs += 1
                    cursor.skipped += start - cursor.next
                    cursor.restart()
        if cursor.next is not None:
            entry = frames.get(cursor.next)
            if entry is not None and entry.pts_ms > play_head + send_ahead_ms(play_head):
                # A session's first moments: the sound first (see send_ahead_ms).
                wait_ms = sendable_at_ms(entry.pts_ms) - play_head
                self._hold_until = trio.current_time() + max(wait_ms, 1.0) / 1000
                return None
        return cursor.take(frames, play_head)


class Listener(_Consumer):
    """One ``/audio`` stream: the session's sound from a cursor, after the preroll
    when there is not enough sound to burst.

    With ``burst`` (the session reads ahead), the stream starts with real sound when
    the timeline holds :data:`BURST_MS` of it from the cursor, which fills the
    browser's first block as the preroll would; when it does not within
    :data:`BURST_WAIT_SECONDS` of the first sound there (the source is found and
    ffmpeg started by then), the preroll goes first after all. Without ``burst``,
    the preroll always goes first.
    """

    def __init__(
        self, preroll: tuple[bytes, ...], *, burst: bool = False, log: SentLog | None = None
    ) -> None:
        super().__init__()
        self.preroll = preroll
        #: What the stream sent, for a resume by bytes (a stream resumed goes on with
        #: the log of the one it resumes).
        self.log = SentLog(preroll) if log is None else log
        #: A resumed stream's first bytes: the rest of the frame it broke in.
        self._head = b""
        #: Frames a resumed stream's first stream sent before it (see :meth:`resume`).
        self._frames_before = 0
        self.cursor: SoundCursor | None = None
        self._preroll_left = collections.deque(preroll)
        self._first_index = 0
        #: Whether the preroll goes first is still open (until then nothing is sent).
        self._deciding = burst and bool(preroll)
        self._burst_deadline = math.inf
        #: When the first sound was there, and the newest sound's time then.
        self._first_sound: tuple[float, float] | None = None

    @property
    def dropped(self) -> int:
        """ADTS frames it did not get (it fell behind what the timeline holds)."""
        return self.cursor.skipped if self.cursor is not None else 0

    def attach(
        self, timeline: SessionTimeline, from_ms: float | None = None, *, index: int | None = None
    ) -> None:
        """Read ``timeline``'s sound from ``from_ms`` (else the play head) on, or from
        the sound ring's ``index``."""
        self.detach()
        self.timeline = timeline
        if index is None:
            at = timeline.now_ms() if from_ms is None else from_ms
            index = timeline.sound.index_at(at)
            before = timeline.sound.get(index - 1)
            if before is not None and before.start_ms + AUDIO_FRAME_MS > at:
                index -= 1  # the frame that holds ``at``, not the one after it
        self.cursor = SoundCursor(next=index)
        self.log.started(index)
        self._first_index = self.cursor.next
        self._burst_deadline = math.inf
        self._first_sound = None
        timeline.watch(self.wake)
        self.wake()

    def start_ms(self) -> float | None:
        """Where this stream starts on the session's clock (its first byte, preroll
        included), or None while it waits for a session. It changes when the
        listener skipped frames.

        The sound's index ``k`` in the timeline is the session's ADTS frame ``k``,
        which starts at ``(k - 1)`` frames: the first one carries the encoder's
        priming.
        """
        if self.cursor is None:
            return None
        before = len(self.preroll) + self._frames_before
        return (self._first_index + self.cursor.skipped - 1 - before) * AUDIO_FRAME_MS

    def resume(self, timeline: SessionTimeline, point: ResumePoint) -> None:
        """Go on with the stream of :attr:`log` (one that broke) from ``point``: its
        bytes are those that stream would have sent from there, and it starts on the
        session's clock where that one did."""
        self.attach(timeline, index=point.next_index)
        self._head = point.head
        self._frames_before = point.frames_sent

    async def get(self) -> bytes:
        """The next ADTS frame: the preroll's, then the session's; waits for one.

        Raises:
            SubscriberClosed: the stream ended.
        """
        while True:
            if self._closed is not None:
                raise self._closed
            if self._deciding and not self._decide():
                with trio.move_on_at(self._burst_deadline):
                    await self._wait()
                continue
            frame = self._take()
            if frame is not None:
                return frame
            await self._wait()

    async def get_many(self, most: int = SEND_BYTES) -> bytes:
        """The next ADTS frames: all there are now, up to about ``most`` bytes (at
        least one frame); waits for one.

        A burst goes in one write: sent a frame at a time, each write waits its turn
        on an event loop that is busy making the session's frames, and 3 s of sound
        took ~0.3 s to leave at a start.

        Raises:
            SubscriberClosed: the stream ended.
        """
        frames = [await self.get()]
        size = len(frames[0])
        while size < most and self._closed is None:
            frame = self._take()
            if frame is None:
                break
            frames.append(frame)
            size += len(frame)
        return b"".join(frames)

    def _take(self) -> bytes | None:
        """The next piece of the stream if there is one now (once the preroll is
        settled): the rest of the frame a resumed stream broke in, a preroll frame,
        or the session's next ADTS frame."""
        if self._head:
            head, self._head = self._head, b""
            return head
        if self._preroll_left:
            self.delivered += 1
            preroll = self._preroll_left.popleft()
            self.log.add_preroll(preroll)
            return preroll
        timeline, cursor = self.timeline, self.cursor
        if timeline is not None and cursor is not None:
            frame = cursor.take(timeline.sound)
            if frame is not None:
                self.delivered += 1
                self.log.add(cursor.next - 1, frame, timeline.sound.first)
                return frame
        return None

    def _decide(self) -> bool:
        """Settle whether the preroll goes first; False while that is still open."""
        timeline, cursor = self.timeline, self.cursor
        if timeline is None or cursor is None:
            return False
        first = timeline.sound.get(max(cursor.next, timeline.sound.first))
        newest = timeline.sound.newest_ms()
        if first is None or newest is None:
            return False  # no sound yet: the source is being found, ffmpeg starting
        now = trio.current_time()
        if self._first_sound is None:
            self._first_sound = (now, newest)
            self._burst_deadline = now + BURST_WAIT_SECONDS
        if newest - first.start_ms >= BURST_MS:
            self.preroll = ()
            self._preroll_left.clear()
        elif now < self._burst_deadline:
            return False
        else:
            since, newest_then = self._first_sound
            if newest - newest_then > _AHEAD_RATE * (now - since) * 1000:
                # Read ahead, only slowly: look again soon rather than wait for news.
                self._burst_deadline = now + BURST_WAIT_SECONDS / 4
                return False
        self._deciding = False
        return True
