"""Resuming an audio stream by bytes: where each byte a listener was sent came from.

Sans-IO. A browser whose ``<audio>`` stream broke asks for the rest of the same URL
from the first byte it lacks (``Range: bytes=N-``) and glues what comes on to what it
holds, mid-frame if the break was mid-frame: so the rest must be exactly the bytes an
unbroken stream would have sent from ``N``. A listener's stream is deterministic: the
preroll's frames, if any, then the session's ADTS frames from some index of its sound
ring on (with a jump where the listener fell behind the ring). :class:`SentLog`
keeps, for every frame sent whose place the ring still holds, where it starts in the
stream; :meth:`SentLog.rewind` finds byte ``N`` and says how the stream goes on from
there (:class:`ResumePoint`).
"""

from __future__ import annotations

import collections

import attrs

from tuner.core.timeline import Sound


@attrs.frozen
class _Piece:
    """One frame of a stream, as sent."""

    #: Where its first byte is in the stream.
    at: int
    #: Frames of the stream before it.
    number: int
    #: Its index in the session's sound ring; None for a preroll frame.
    index: int | None
    frame: bytes

    @property
    def end(self) -> int:
        return self.at + len(self.frame)


@attrs.frozen
class ResumePoint:
    """How a stream goes on from a byte: ``head``, then the ``preroll`` frames, then the
    sound ring from ``next_index`` on."""

    #: The rest of the frame that holds the byte (empty at a frame's end).
    head: bytes
    #: Whole preroll frames still to come (a stream that broke inside its preroll).
    preroll: tuple[bytes, ...]
    #: The sound ring's index to go on from after them.
    next_index: int
    #: Frames of the stream wholly or partly sent before the preroll frames and the
    #: sound that follow (``head``'s frame counts): where the stream's first byte is
    #: on the session's clock follows from this and ``next_index``.
    frames_sent: int


class SentLog:
    """One listener's stream as sent, for as long as the sound ring holds its frames.

    ``preroll`` is the preroll the stream would start with; :meth:`started` says where
    its sound starts in the ring, :meth:`add_preroll` and :meth:`add` record each frame
    as it is sent. A resumed stream goes on with the same log (:meth:`rewind` forgets
    what followed the byte it resumed at), so it can be resumed again.
    """

    def __init__(self, preroll: tuple[bytes, ...] = ()) -> None:
        self.preroll = preroll
        #: The sound ring's index the stream's sound starts at, once it has a session.
        self.first_index: int | None = None
        #: Bytes sent so far.
        self.sent = 0
        self._frames = 0
        self._pieces: collections.deque[_Piece] = collections.deque()

    def started(self, index: int) -> None:
        """The stream's sound starts at ``index`` of the ring (after its preroll); a
        resumed stream's goes on from elsewhere, but its first stream's started here."""
        if self.first_index is None:
            self.first_index = index

    def add_preroll(self, frame: bytes) -> None:
        """The next preroll frame was sent."""
        self._append(None, frame)

    def add(self, index: int, frame: bytes, held_from: int) -> None:
        """The ring's frame ``index`` was sent; the ring holds frames from ``held_from``
        on (what was sent before that can no longer be resumed, and is forgotten)."""
        self._append(index, frame)
        pieces = self._pieces
        while pieces and self._index_of(pieces[0]) < held_from:
            pieces.popleft()

    def _append(self, index: int | None, frame: bytes) -> None:
        self._pieces.append(_Piece(self.sent, self._frames, index, frame))
        self.sent += len(frame)
        self._frames += 1

    def _index_of(self, piece: _Piece) -> int:
        """The ring's index a resume at ``piece`` needs held (a preroll frame needs the
        first sound frame after it)."""
        if piece.index is not None:
            return piece.index
        return self.first_index if self.first_index is not None else -1

    def resumable(self, sound: Sound) -> bool:
        """Whether some byte of the stream could still be resumed from ``sound``."""
        return bool(self._pieces) and self._held(self._pieces[-1], sound)

    def _held(self, piece: _Piece, sound: Sound) -> bool:
        if piece.index is None:
            return self.first_index is not None and self.first_index >= sound.first
        entry = sound.get(piece.index)
        # The very frame sent: not one that a cut (a seek) put at the same index.
        return entry is not None and entry.frame is piece.frame

    def rewind(self, offset: int, sound: Sound) -> ResumePoint | None:
        """How the stream goes on from byte ``offset`` (one it sent), reading ``sound``;
        None when it cannot: the byte was not sent, or its frame or what follows it
        is no longer held. Forgets what was sent after that frame: the stream goes on
        from there."""
        if offset > self.sent or offset < 0:
            return None
        position = self._position(offset)
        if position is None:
            return None
        piece = self._pieces[position]
        if not self._held(piece, sound):
            return None
        head = piece.frame[offset - piece.at :]
        preroll: tuple[bytes, ...] = ()
        if piece.index is not None:
            next_index = piece.index + 1
        else:
            assert self.first_index is not None  # _held checked it
            next_index, preroll = self.first_index, self.preroll[piece.number + 1 :]
        # What followed is sent again (the same frames, unless the ring moved on).
        while len(self._pieces) > position + 1:
            self._pieces.pop()
        self.sent, self._frames = piece.end, piece.number + 1
        return ResumePoint(head, preroll, next_index, piece.number + 1)

    def _position(self, offset: int) -> int | None:
        """The position in ``_pieces`` of the frame that holds byte ``offset`` (the last
        frame, when ``offset`` is the stream's end), or None if it is forgotten."""
        pieces = self._pieces
        if not pieces or offset < pieces[0].at:
            return None
        # Mostly near the end: a browser asks for the byte after the last it got.
        # (The frames held are contiguous in the stream, a jump in the ring or not.)
        for position in range(len(pieces) - 1, -1, -1):
            if pieces[position].at <= offset:
                return position
        return None
