"""When to send each frame: evenly, at its presentation time on a wall clock.

ffmpeg's ``-re`` paces its *input*; frames leave its output in the input's cadence
(a 30 fps source made 24 fps comes out 33, 33, 33, 67 ms apart) and in bursts when
it decodes ahead. Sending each frame at ``anchor + pts`` instead gives viewers
(and a car's LTE link) an even stream.
"""

from __future__ import annotations

import attrs


@attrs.define
class Pacer:
    """Release times for frames, from their pts (ms) and the time they were read (s).

    The clock runs ``slack`` behind the first frame, which goes at once: every later
    frame has that long to arrive from ffmpeg before it is due, which absorbs the
    cadence and the bursts. A frame later than ``max_late`` (ffmpeg fell behind, or
    the stream came back after a break) restarts the clock from itself, rather than
    rushing the frames after it out to catch up.
    """

    slack: float
    max_late: float
    _anchor: float | None = None
    restarts: int = 0

    def release_at(self, pts_ms: float, now: float) -> float:
        """When to send the frame stamped ``pts_ms`` that was read at ``now``."""
        if self._anchor is not None:
            due = self._anchor + pts_ms / 1000
            if now - due <= self.max_late:
                return max(due, now)
            self.restarts += 1
        self._anchor = now + self.slack - pts_ms / 1000
        return now
