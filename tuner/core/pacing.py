"""When to send each frame: evenly, at its presentation time on a wall clock.

ffmpeg's ``-re`` paces its *input*; frames leave its output in the input's cadence
(a 30 fps source made 24 fps comes out 33, 33, 33, 67 ms apart) and in bursts when
it decodes ahead. Sending each frame at ``anchor + pts`` instead, a frame interval
after the first one arrived, gives viewers (and a car's LTE link) an even stream.
"""

from __future__ import annotations

import attrs


@attrs.define
class Pacer:
    """Release times for frames, from their pts (ms) and the time they were read (s)."""

    #: How long after its due time a frame is held at most, in seconds: the slack
    #: that absorbs ffmpeg's bursts (one frame interval is enough for its cadence).
    slack: float
    #: A frame later than this (ffmpeg fell behind, or the stream came back after a
    #: break) restarts the clock from itself rather than rushing to catch up.
    max_late: float
    _anchor: float | None = None
    restarts: int = 0

    def release_at(self, pts_ms: float, now: float) -> float:
        """When to send the frame stamped ``pts_ms`` that was read at ``now``."""
        if self._anchor is None:
            self._anchor = now + self.slack - pts_ms / 1000
        due = self._anchor + pts_ms / 1000
        if now - due > self.max_late:
            self.restarts += 1
            self._anchor = now + self.slack - pts_ms / 1000
            due = now + self.slack
        return due
