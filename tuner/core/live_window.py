"""A live stream's DVR window, sans IO: which part of a live HLS stream can still be
played, on a line of media time that stays put while the window slides.

A live HLS playlist lists its last segments (a *sliding* window), or every segment
since the event began (``#EXT-X-PLAYLIST-TYPE:EVENT``); ffmpeg can start at any of
them (``-live_start_index``), and reads those already published as fast as it is let
(so a stream started behind its edge has a lead to play from).

Positions in a live stream are seconds from its *origin*: the start of the oldest
segment in the playlist when the session first read it. Segments are named by their
media sequence numbers, so each later read (the window slid, segments were added)
lands on the same line: a segment starts where the one before it ended; a segment
after a gap of unseen ones is placed by the target duration. Between reads the stream
grows in real time: the edge (and a sliding window's start) moves on with the clock.
"""

from __future__ import annotations

import attrs

from tuner.core.hls import Playlist

#: A window shorter than this is not worth a scrub bar (most live streams keep a few
#: segments only, to start from): such a stream plays at its edge and cannot seek.
MIN_WINDOW_SECONDS = 30.0
#: A live stream starts this many segments back from its edge (ffmpeg's own default):
#: those are published already, so they make a lead; a seek lands no nearer the edge.
EDGE_SEGMENTS = 3


@attrs.frozen
class Segment:
    """One segment: its media sequence number, and where it lies on the media line."""

    sequence: int
    start: float
    duration: float

    @property
    def end(self) -> float:
        """Where the next segment starts."""
        return self.start + self.duration


@attrs.frozen
class Placement:
    """Where a run starts: the segment's ``index`` in the playlist as last read (for
    ``-live_start_index``), and its ``position`` on the media line."""

    index: int
    position: float


@attrs.define
class LiveWindow:
    """The segments of the playlist as last read, placed on the media line."""

    segments: tuple[Segment, ...] = ()
    #: When it was read (seconds on the caller's clock).
    read_at: float = 0.0
    #: An event playlist: its start stays while it grows.
    event: bool = False

    def update(self, playlist: Playlist, now: float) -> None:
        """Take a new read of the playlist, read at ``now``.

        Segments seen before keep their place; the others are placed from them (or,
        when none is seen again, after the newest one known: the line never runs back,
        even when a stream restarts its sequence numbers).
        """
        durations = playlist.durations
        target = playlist.target_duration or (max(durations) if durations else 0.0)
        first = playlist.media_sequence
        known = {segment.sequence: segment for segment in self.segments}
        overlap = next((n for n in range(len(durations)) if first + n in known), None)
        if overlap is not None:
            anchor_index, anchor_start = overlap, known[first + overlap].start
        elif self.segments and first > self.segments[-1].sequence:
            newest = self.segments[-1]
            anchor_index = 0
            anchor_start = newest.end + (first - newest.sequence - 1) * target
        else:  # the first read, or a sequence that started again
            anchor_index, anchor_start = 0, self.segments[-1].end if self.segments else 0.0
        starts = [0.0] * len(durations)
        position = anchor_start
        for n in range(anchor_index, len(durations)):
            starts[n] = position
            position += durations[n]
        position = anchor_start
        for n in range(anchor_index - 1, -1, -1):
            position -= durations[n]
            starts[n] = position
        self.segments = tuple(
            Segment(first + n, start, duration)
            for n, (start, duration) in enumerate(zip(starts, durations, strict=True))
        )
        self.read_at = now
        self.event = playlist.event

    @property
    def length(self) -> float:
        """Seconds of the stream the playlist held when read."""
        if not self.segments:
            return 0.0
        return self.segments[-1].end - self.segments[0].start

    @property
    def seekable(self) -> bool:
        """Whether the window is long enough to seek in (:data:`MIN_WINDOW_SECONDS`)."""
        return self.length >= MIN_WINDOW_SECONDS

    def edge_at(self, now: float) -> float:
        """The live edge at ``now``: the newest segment's end, moved on by the time
        since the read (the stream goes on in real time)."""
        if not self.segments:
            return 0.0
        return self.segments[-1].end + max(0.0, now - self.read_at)

    def start_at(self, now: float) -> float:
        """The oldest position still held at ``now`` (an event's start stays put)."""
        if not self.segments:
            return 0.0
        start = self.segments[0].start
        if not self.event:
            start += max(0.0, now - self.read_at)
        return min(start, self.live_point_at(now))

    def live_point_at(self, now: float) -> float:
        """The newest place a run can start at ``now`` (:meth:`latest_start`, moved on
        by the time since the read): where a stream played at its edge is."""
        if not self.segments:
            return 0.0
        return self.latest_start() + max(0.0, now - self.read_at)

    def latest_start(self) -> float:
        """The latest place a run may start: :data:`EDGE_SEGMENTS` back from the edge."""
        return self.segments[max(0, len(self.segments) - EDGE_SEGMENTS)].start

    def locate(self, position: float | None) -> Placement:
        """Where a run that should show ``position`` starts: the segment that holds it
        (at most :data:`EDGE_SEGMENTS` back from the edge; the oldest one for a place
        the window no longer holds). ``None``: at the edge, as a live stream starts.

        Raises:
            ValueError: the window has no segment.
        """
        if not self.segments:
            raise ValueError("a live window without segments has no place to start")
        latest = max(0, len(self.segments) - EDGE_SEGMENTS)
        index = latest
        if position is not None:
            index = 0
            for n, segment in enumerate(self.segments[: latest + 1]):
                if segment.start <= position + 1e-6:
                    index = n
        return Placement(index, self.segments[index].start)
