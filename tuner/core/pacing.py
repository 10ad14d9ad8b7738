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

    The first frame goes at once. A frame read after its due time moves the clock
    later by as much (and goes at once), so the clock settles a burst's worth behind
    ffmpeg, where every later frame can leave on time: the slack is learnt, not added
    up front, and the first frame is not held back.
    """

    #: The most a frame is ever held: lateness learnt from a hiccup long ago must not
    #: add up, or frames would fall further and further behind the sound.
    max_hold: float
    _anchor: float | None = None
    #: How often a frame came later than ``max_hold`` (ffmpeg fell behind, or the
    #: stream came back after a break).
    stalls: int = 0

    def release_at(self, pts_ms: float, now: float) -> float:
        """When to send the frame stamped ``pts_ms`` that was read at ``now``."""
        if self._anchor is None:
            self._anchor = now - pts_ms / 1000
        due = self._anchor + pts_ms / 1000
        if now > due:
            self.stalls += now - due > self.max_hold
            self._anchor += now - due
            due = now
        elif due - now > self.max_hold:
            self._anchor -= due - now - self.max_hold
            due = now + self.max_hold
        return due
