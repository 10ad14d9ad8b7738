"""A session's timeline in the trio shell: the rings of :mod:`tuner.core.timeline`,
who waits on them, and the lead that paces ffmpeg.

ffmpeg reads its input as fast as it can; the session's video reader holds each
frame until it is at most :attr:`SessionTimeline.lead_ms` ahead of the play head
(:meth:`SessionTimeline.hold_lead`), so ffmpeg blocks on its pipe and never reads a
whole file into memory. With a lead of 0 frames leave at their presentation time, as
a real-time stream would.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from tuner.core.codec import Encoder
from tuner.core.grid import Grid
from tuner.core.timeline import (
    KEEP_BEHIND_MS,
    FrameEntry,
    Frames,
    FrameWriter,
    PlayHead,
    Sound,
    SoundEntry,
)


class SessionTimeline:
    """One session's frames and sound, its play head, and who to wake on news."""

    def __init__(self, lead_ms: float, keep_behind_ms: float = KEEP_BEHIND_MS) -> None:
        self.lead_ms = lead_ms
        self.keep_behind_ms = keep_behind_ms
        self.frames = Frames()
        self.writer = FrameWriter(self.frames, Encoder())
        self.sound = Sound()
        self.play_head = PlayHead()
        #: The newest frame made, held or not (one that changed nothing is not held).
        self.made_ms: float | None = None
        #: Called when something was added or cut (consumers wake and read on).
        self._watchers: set[Callable[[], None]] = set()
        self._shut = False
        #: Frames later than this are refused until :meth:`reopen` (after a cut, the
        #: attempt being ended may still read some of what it made before).
        self._cut_ms: float | None = None
        #: Set (and replaced) at every cut: :meth:`played_out` waits no longer.
        self._cut_event = trio.Event()

    @property
    def encoder(self) -> Encoder:
        """The session's one encoder."""
        return self.writer.encoder

    def watch(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever there is something new (until :meth:`unwatch`)."""
        self._watchers.add(wake)

    def unwatch(self, wake: Callable[[], None]) -> None:
        """Stop calling ``wake`` (idempotent)."""
        self._watchers.discard(wake)

    def _wake(self) -> None:
        for wake in list(self._watchers):
            wake()

    def now_ms(self) -> float:
        """The play head now."""
        return self.play_head.at(trio.current_time(), self.made_ms)

    def add_frame(self, grid: Grid, seq: int, pts_ms: int) -> FrameEntry | None:
        """Encode and hold a frame (nothing once the timeline is shut); the play head
        starts at the session's first frame."""
        if self.refuses(pts_ms):
            return None
        self._made(pts_ms)
        entry = self.writer.add(grid, seq, pts_ms)
        self.frames.trim_behind(self.now_ms(), self.keep_behind_ms)
        if entry is not None:
            self._wake()
        return entry

    def add_sound(self, start_ms: float, frame: bytes) -> None:
        """Hold an ADTS frame that starts at ``start_ms`` on the clock."""
        if self._shut:
            return
        self.sound.append(SoundEntry(start_ms, frame))
        self.sound.trim_behind(self.now_ms(), self.keep_behind_ms)
        self._wake()

    def cut(self, after_ms: float, *, sound: bool = False) -> int:
        """Drop the frames later than ``after_ms`` (a retune or seek at the play
        head), and with ``sound`` the sound that starts later too (a seek); returns
        the index of the first frame dropped, for the viewers' cursors."""
        first_dropped = self.writer.cut(after_ms)
        if sound:
            self.sound.cut(after_ms)
        self._cut_event.set()
        self._cut_event = trio.Event()
        self.made_ms = self.frames.newest_ms()
        self._cut_ms = after_ms
        self._wake()
        return first_dropped

    def refuses(self, pts_ms: float) -> bool:
        """Whether a frame at ``pts_ms`` would be dropped: the timeline is shut, or the
        frame is one an attempt made before a cut that ended it."""
        return self._shut or (self._cut_ms is not None and pts_ms > self._cut_ms)

    def reopen(self) -> None:
        """Take frames again, whatever their time (a new attempt starts after a cut)."""
        self._cut_ms = None

    def shut(self) -> None:
        """Take nothing more: the session is over or superseded."""
        self._shut = True
        self._wake()

    def _made(self, pts_ms: float) -> None:
        # A frame read from ffmpeg exists, held or not: the play head may reach it.
        if not self.play_head.started:
            self.play_head.move_to(pts_ms, trio.current_time())
        if self.made_ms is None or pts_ms > self.made_ms:
            self.made_ms = pts_ms

    async def hold_lead(self, pts_ms: float) -> None:
        """Wait until the frame at ``pts_ms`` (just read) is at most the lead ahead of
        the play head."""
        self._made(pts_ms)
        # A loop: the play head waits for the source, so one sleep may not do.
        while True:
            early = pts_ms - self.now_ms() - self.lead_ms
            if early <= 0:
                return
            await trio.sleep(early / 1000)

    async def played_out(self) -> None:
        """Wait until the play head has reached the newest frame (the end of a video
        that was read ahead), or until a cut (a seek meanwhile: the caller looks)."""
        cut = self._cut_event
        while not cut.is_set():
            if self.made_ms is None or (ahead := self.made_ms - self.now_ms()) <= 0:
                return
            with trio.move_on_after(ahead / 1000):
                await cut.wait()
