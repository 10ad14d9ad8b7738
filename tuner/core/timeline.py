"""A session's timeline: its encoded frames and sound, held around the play head.

Sans-IO. The session reads ffmpeg ahead of the clock and appends what it makes here,
once for everyone; each viewer and listener reads on from a cursor of its own, as fast
as its link takes it. So a consumer whose link stalls goes on, when it comes back,
from the message after the last one it was sent, and one that reconnects can ask to
go on from the last one it applied, as long as the buffer still holds it.

Positions are absolute *indices*: entry ``i`` keeps its index while it is held, so a
cursor is one number. The buffer drops entries from its front as the play head moves
on (:meth:`Ring.trim`), and from its back when what lies ahead of the play head is
replaced (:meth:`Ring.cut`: a retune, a seek); indices from the cut on are then given
again to new entries, and a cursor past the cut is moved back by its owner.

Frames are delta-coded (:mod:`tuner.core.codec`): a delta applies only on top of the
state left by the message before it. Some entries are *start points*: they carry,
besides their message, a keyframe of the state after it, so that a consumer can start
there (one that joins, fell behind the buffer, or lost step). The session makes a
start point at least every :data:`START_EVERY_MS`, and every keyframe is one.

The play head is where the clients' clocks are (what they play now), as the server
estimates it (:class:`PlayHead`): the lead is what lies between it and the newest
entry, and what is held behind it lets a client that fell a little behind catch up.
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Iterator
from typing import Generic, TypeVar

import attrs

from tuner.core.codec import Encoder, MessageKind, is_empty_delta, parse_header
from tuner.core.grid import Grid

#: The longest stretch of frames without a start point.
START_EVERY_MS = 1000
#: What is kept behind the play head for a consumer that fell behind or reconnects.
KEEP_BEHIND_MS = 10_000
#: At a session's start a viewer is sent frames at most this far ahead of the play
#: head for :data:`START_HOLD_MS`, then :data:`START_AHEAD_GROWTH` ms further for each
#: ms played, up to the lead (9 s ahead 2 s in): in the first second the CPU (the
#: daemon's, ffmpeg's, the browser's, on a small machine all the same cores) goes to
#: making and starting the sound that the picture waits for, not to frames that are
#: shown seconds later.
START_AHEAD_MS = 1000.0
START_HOLD_MS = 1000.0
START_AHEAD_GROWTH = 8.0


def send_ahead_ms(play_head_ms: float) -> float:
    """How far ahead of the play head a viewer may be sent frames now."""
    return START_AHEAD_MS + START_AHEAD_GROWTH * max(0.0, play_head_ms - START_HOLD_MS)


def sendable_at_ms(pts_ms: float) -> float:
    """The play head from which a frame at ``pts_ms`` may be sent (the inverse of
    :func:`send_ahead_ms`)."""
    if pts_ms <= START_AHEAD_MS + START_HOLD_MS:
        return pts_ms - START_AHEAD_MS
    growth = START_AHEAD_GROWTH
    return (pts_ms - START_AHEAD_MS + growth * START_HOLD_MS) / (1 + growth)


@attrs.frozen
class FrameEntry:
    """One frame message of the session, as every viewer is sent it."""

    seq: int
    pts_ms: int
    message: bytes
    #: A keyframe of the state after ``message`` (``message`` itself when it is a
    #: keyframe), when a viewer may start here.
    start: bytes | None = None


@attrs.frozen
class SoundEntry:
    """One ADTS frame of the session's sound, and where it starts on its clock."""

    start_ms: float
    frame: bytes


E = TypeVar("E", FrameEntry, SoundEntry)


class Ring(Generic[E]):
    """Entries in clock order, each at an absolute index."""

    def __init__(self) -> None:
        self._entries: collections.deque[E] = collections.deque()
        #: The index of ``_entries[0]``.
        self.first = 0
        #: Entries appended over the ring's life (cut ones included).
        self.appended = 0
        #: Bytes held now.
        self.size = 0

    @property
    def end(self) -> int:
        """The index the next entry gets."""
        return self.first + len(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[E]:
        return iter(self._entries)

    def get(self, index: int) -> E | None:
        """The entry at ``index``, or None if it is not held (yet, or any more)."""
        if self.first <= index < self.end:
            return self._entries[index - self.first]
        return None

    def append(self, entry: E) -> int:
        """Add ``entry`` after the last one; returns its index."""
        self._entries.append(entry)
        self.appended += 1
        self.size += _size(entry)
        return self.end - 1

    def newest_ms(self) -> float | None:
        """The clock time of the newest entry, or None when empty."""
        return _time(self._entries[-1]) if self._entries else None

    def index_at(self, ms: float) -> int:
        """The index of the first entry at or after ``ms`` on the clock (``end`` when
        every entry is before it)."""
        times = _Times(self._entries)
        return self.first + bisect.bisect_left(times, ms)

    def cut(self, after_ms: float) -> int:
        """Drop every entry later than ``after_ms``; returns the index of the first
        entry dropped (``end`` when none was), which the next append gets."""
        while self._entries and _time(self._entries[-1]) > after_ms:
            self.size -= _size(self._entries.pop())
        return self.end

    def trim(self, before: int) -> None:
        """Drop the entries before index ``before``."""
        while self._entries and self.first < before:
            self.size -= _size(self._entries.popleft())
            self.first += 1

    def clear(self) -> None:
        """Drop everything (indices go on from where they were)."""
        self.trim(self.end)


class _Times(Generic[E]):
    """The clock times of a deque of entries, as a sequence :mod:`bisect` can search."""

    def __init__(self, entries: collections.deque[E]) -> None:
        self._entries: collections.deque[E] = entries

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> float:
        return _time(self._entries[index])


def _time(entry: FrameEntry | SoundEntry) -> float:
    return entry.pts_ms if isinstance(entry, FrameEntry) else entry.start_ms


def _size(entry: FrameEntry | SoundEntry) -> int:
    if isinstance(entry, FrameEntry):
        start = entry.start
        extra = len(start) if start is not None and start is not entry.message else 0
        return len(entry.message) + extra
    return len(entry.frame)


class Frames(Ring[FrameEntry]):
    """The frame ring, with its start points."""

    def start_at_or_before(self, ms: float) -> int | None:
        """The last start point at or before ``ms`` (else the first one after it), or
        None when no start point is held."""
        before = self._last_start_at_or_before(ms)
        return before if before is not None else self.start_from(self.first)

    def _last_start_at_or_before(self, ms: float) -> int | None:
        at = None
        for offset, entry in enumerate(self._entries):
            if entry.pts_ms > ms:
                break
            if entry.start is not None:
                at = self.first + offset
        return at

    def start_at_or_before_index(self, index: int) -> int | None:
        """The last start point at or before ``index`` (else the first one held), or
        None when no start point is held."""
        for at in range(min(index, self.end - 1), self.first - 1, -1):
            entry = self.get(at)
            if entry is not None and entry.start is not None:
                return at
        return self.start_from(self.first)

    def start_from(self, index: int) -> int | None:
        """The first start point at or after ``index``, or None when none is held yet."""
        for offset, entry in enumerate(self._entries):
            if self.first + offset >= index and entry.start is not None:
                return self.first + offset
        return None

    def index_of_seq(self, seq: int) -> int | None:
        """The index of the entry whose message has ``seq``, if it is held."""
        for offset, entry in enumerate(self._entries):
            if entry.seq == seq:
                return self.first + offset
            if entry.seq > seq:
                return None
        return None

    def trim_behind(self, play_head_ms: float, keep_ms: float = KEEP_BEHIND_MS) -> None:
        """Drop what lies more than ``keep_ms`` behind the play head, keeping the ring
        starting at a start point (so that whatever is held can be started from)."""
        keep_from = self._last_start_at_or_before(play_head_ms - keep_ms)
        if keep_from is not None:
            self.trim(keep_from)


class Sound(Ring[SoundEntry]):
    """The sound ring."""

    def trim_behind(self, play_head_ms: float, keep_ms: float = KEEP_BEHIND_MS) -> None:
        """Drop what lies more than ``keep_ms`` behind the play head."""
        self.trim(self.index_at(play_head_ms - keep_ms))


@attrs.define
class FrameWriter:
    """Encodes a session's grids once, into its frame ring, with its start points."""

    frames: Frames
    encoder: Encoder = attrs.field(factory=Encoder)
    _last_start_ms: float | None = None
    #: The next frame must be a keyframe: the first one, or the first after a cut
    #: (the encoder's reference is then ahead of what the ring holds).
    _keyframe_next: bool = True

    def add(self, grid: Grid, seq: int, pts_ms: int) -> FrameEntry | None:
        """Encode ``grid`` as frame ``seq`` at ``pts_ms`` and hold it; returns the entry,
        or None when it changed nothing (no viewer needs it)."""
        message = self.encoder.encode(grid, seq, pts_ms, keyframe=self._keyframe_next)
        self._keyframe_next = False
        if is_empty_delta(message):
            return None
        start = None
        if parse_header(message).kind is MessageKind.KEYFRAME:
            start = message
        elif self._last_start_ms is None or pts_ms - self._last_start_ms >= START_EVERY_MS:
            start = self.encoder.keyframe()  # the state after this very message
        if start is not None:
            self._last_start_ms = pts_ms
        entry = FrameEntry(seq, pts_ms, message, start)
        self.frames.append(entry)
        return entry

    def cut(self, after_ms: float) -> int:
        """Drop the frames later than ``after_ms`` (see :meth:`Ring.cut`); the next one
        is a keyframe. Returns the index of the first frame dropped."""
        self._keyframe_next = True
        self._last_start_ms = None
        return self.frames.cut(after_ms)


@attrs.define
class FrameCursor:
    """Where one viewer is in the frame ring.

    ``next`` is the index of the next message to send; None means the viewer needs a
    start point first (it just joined, or fell behind the ring), which :meth:`take`
    finds at the play head.
    """

    next: int | None = None
    #: Times this viewer fell behind the ring and was moved to the play head.
    resyncs: int = 0
    #: Frames it did not get because of that.
    skipped: int = 0
    #: Start again from this start point (a viewer that lost step).
    _start_at: int | None = None

    def restart(self) -> None:
        """Start again at the play head's start point (a new session, a cut)."""
        self.next, self._start_at = None, None

    def lost_step(self, frames: Frames, seq: int | None = None) -> None:
        """The viewer cannot apply a delta: it gets the picture again from the last
        start point at or before the frame ``seq`` (the last one it applied, if it
        says), else before the next one it would be sent. What follows that start
        point is sent again, so nothing is skipped."""
        index = frames.index_of_seq(seq) if seq is not None else None
        if index is None:
            index = (self.next if self.next is not None else frames.end) - 1
        self._start_at = frames.start_at_or_before_index(index)
        if self._start_at is None:
            self.restart()

    def resume_after(self, frames: Frames, seq: int) -> bool:
        """Go on after the message with ``seq``, if it is still held; returns whether."""
        index = frames.index_of_seq(seq)
        if index is None:
            return False
        self.next, self._start_at = index + 1, None
        return True

    def take(self, frames: Frames, play_head_ms: float) -> bytes | None:
        """The next message to send, or None when there is nothing new yet."""
        if self._start_at is not None:
            pending, self._start_at = self._start_at, None
            if frames.get(pending) is not None:
                return self._start(frames, pending)
            self.next = None  # trimmed since: from the play head
        if self.next is not None and self.next < frames.first:
            # Fell behind what the ring holds: on from the play head.
            self.resyncs += 1
            self.skipped += frames.first - self.next
            self.next = None
        if self.next is None:
            start = frames.start_at_or_before(play_head_ms)
            if start is None:
                return None
            return self._start(frames, start)
        entry = frames.get(self.next)
        if entry is None:
            return None
        self.next += 1
        return entry.message

    def _start(self, frames: Frames, index: int) -> bytes:
        entry = frames.get(index)
        assert entry is not None and entry.start is not None
        self.next = index + 1
        return entry.start

    def cut_at(self, index: int) -> None:
        """The ring was cut from ``index`` on: what this viewer was sent from there is
        void. It goes on at ``index``, where the next frame held is a keyframe (see
        :meth:`FrameWriter.cut`): what it holds before the cut stays good."""
        if self._start_at is not None and self._start_at >= index:
            self.restart()
        if self.next is not None and self.next > index:
            self.next = index


@attrs.define
class SoundCursor:
    """Where one listener is in the sound ring: ``next`` is the index of the next ADTS
    frame to send."""

    next: int
    #: ADTS frames this listener did not get (it fell behind the ring).
    skipped: int = 0

    def take(self, sound: Sound) -> bytes | None:
        """The next ADTS frame to send, or None when there is nothing new yet."""
        if self.next < sound.first:
            self.skipped += sound.first - self.next
            self.next = sound.first
        entry = sound.get(self.next)
        if entry is None:
            return None
        self.next += 1
        return entry.frame


@attrs.define
class PlayHead:
    """The server's estimate of where the clients play, on the session's clock (ms).

    It runs with the wall clock from where the session started playing, but not
    further ahead of the newest frame or sound there is than ``max_late_ms``: a
    client cannot play what was not made, so when the source falls behind, the
    clients wait, and so does the play head, from the newest frame on. Within
    ``max_late_ms`` it runs on: a frame that much late goes at once and the ones
    after it catch up (ffmpeg's output comes in bursts). :meth:`move_to` places it
    (a seek, a retune).
    """

    max_late_ms: float = 100.0
    _anchor_ms: float | None = None
    _anchor_at: float = 0.0
    #: Times the source fell behind by more than ``max_late_ms``.
    waits: int = 0

    @property
    def started(self) -> bool:
        """Whether the session has started playing."""
        return self._anchor_ms is not None

    def move_to(self, ms: float, now: float) -> None:
        """The clients play ``ms`` at ``now`` (seconds)."""
        self._anchor_ms, self._anchor_at = ms, now

    def at(self, now: float, newest_ms: float | None = None) -> float:
        """Where the clients play at ``now``; ``newest_ms`` is the newest thing made.

        Before the session started: 0 (or the anchor a seek placed).
        """
        if self._anchor_ms is None:
            return 0.0
        ms = self._anchor_ms + (now - self._anchor_at) * 1000
        if newest_ms is not None and ms > newest_ms + self.max_late_ms:
            # The source is behind: the clients wait for it, from where it is.
            self.waits += 1
            self.move_to(newest_ms, now)
            return newest_ms
        return ms


def lead_ms(play_head_ms: float, newest_ms: float | None) -> float:
    """How far the newest entry is ahead of the play head (0 when nothing is)."""
    if newest_ms is None:
        return 0.0
    return max(0.0, newest_ms - play_head_ms)
