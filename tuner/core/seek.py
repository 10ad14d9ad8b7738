"""Seeking, sans IO: what a seek request asks for, where it lands in the source, and
the media clock that maps the session's clock to positions in the source.

The session's clock (frames' ``pts_ms``, the listeners' ``start_ms``) runs on from
the session's first frame and never goes back; a position is a time in the source
(what a scrub bar shows). Each ffmpeg run starts at a known position at a known clock
time (an *anchor*); from there, position = anchor's position + clock time since it.
A seek cuts the timeline at the play head and starts a run there, at the new position.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping

import attrs

#: A seek lands at most this long before the end, so that ffmpeg has a frame to show
#: (a seek to the very end would make no frame, which is a failed run).
END_MARGIN_SECONDS = 1.0
_ANCHORS_KEPT = 16


class SeekError(ValueError):
    """A seek request that does not say a place in the source; the message says why."""


class NotSeekableError(Exception):
    """The source cannot seek (the test card, a live stream without a window)."""


@attrs.frozen
class SeekRequest:
    """An absolute ``position`` or a relative ``delta`` (seconds); exactly one is set."""

    position: float | None = None
    delta: float | None = None


def parse_seek(body: Mapping[str, object]) -> SeekRequest:
    """The seek a request body asks for: ``{"position": s}`` or ``{"delta": ±s}``.

    Raises:
        SeekError: neither or both keys, another key, or a value that is not a finite
            number (a bool is not a number here), or a negative position.
    """
    unknown = set(body) - {"position", "delta"}
    if unknown:
        raise SeekError(f"unknown keys {sorted(unknown)}: send 'position' or 'delta'")
    if ("position" in body) == ("delta" in body):
        raise SeekError(
            "send either 'position' (seconds from the start) or 'delta' (seconds to move)"
        )
    key = "position" if "position" in body else "delta"
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SeekError(f"'{key}' must be a finite number of seconds")
    if key == "position":
        if value < 0:
            raise SeekError("'position' must not be negative")
        return SeekRequest(position=float(value))
    return SeekRequest(delta=float(value))


def seek_target(request: SeekRequest, now: float | None, duration: float | None) -> float:
    """Where in the source (seconds) ``request`` lands, with the play head at ``now``.

    A delta is clamped into the source; a position past the end is refused. Either
    lands at most :data:`END_MARGIN_SECONDS` before the end.

    Raises:
        SeekError: a position past the end of the source.
    """
    last = math.inf if duration is None else max(0.0, duration - END_MARGIN_SECONDS)
    if request.position is not None:
        if duration is not None and request.position > duration:
            raise SeekError(f"'position' {request.position:g} s is past the end ({duration:g} s)")
        target = request.position
    else:
        assert request.delta is not None
        target = (now or 0.0) + request.delta
    return min(max(0.0, target), last)


def live_seek_target(
    request: SeekRequest, now: float | None, earliest: float, edge: float
) -> float:
    """Where in a live stream's window (:mod:`tuner.core.live_window`) ``request``
    lands, with the play head at ``now``: between the oldest place still held and the
    live edge (the run then starts at the segment that holds it).

    Raises:
        SeekError: a position past the live edge.
    """
    if request.position is not None:
        if request.position > edge:
            raise SeekError(
                f"'position' {request.position:g} s is past the live edge ({edge:.0f} s)"
            )
        target = request.position
    else:
        assert request.delta is not None
        target = (now if now is not None else edge) + request.delta
    return min(max(earliest, target), edge)


@attrs.frozen
class Anchor:
    """From clock time ``at_ms`` on, the source plays from ``position`` seconds."""

    at_ms: float
    position: float


@attrs.define
class MediaClock:
    """The anchors of a session's runs, in clock order."""

    anchors: list[Anchor] = attrs.field(factory=list)

    def mark(self, at_ms: float, position: float) -> Anchor:
        """A run shows the source from ``position`` at ``at_ms`` on (replacing any
        anchor at or after it, which a cut made void)."""
        self.cut(at_ms - 1e-6)
        anchor = Anchor(at_ms, position)
        self.anchors.append(anchor)
        # Only the newest matter (the play head is never long behind them); a stream
        # that reconnects all day must not grow this.
        del self.anchors[:-_ANCHORS_KEPT]
        return anchor

    def cut(self, after_ms: float) -> None:
        """Forget the anchors later than ``after_ms`` (what was read ahead of a seek)."""
        keep = bisect.bisect_right([a.at_ms for a in self.anchors], after_ms)
        del self.anchors[keep:]

    def position_at(self, clock_ms: float) -> float | None:
        """The source's position (seconds) at ``clock_ms``, or None before any anchor."""
        index = bisect.bisect_right([a.at_ms for a in self.anchors], clock_ms)
        if index == 0:
            return None
        anchor = self.anchors[index - 1]
        return anchor.position + (clock_ms - anchor.at_ms) / 1000
