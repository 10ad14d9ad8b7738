"""Log lines that anyone outside can cause, held to one per key per interval.

Sans-IO. A request can make the daemon log (a malformed header, an unexpected error,
forwarding headers from a peer that is not a trusted proxy); without a limit a loop
of such requests writes the disk full. :class:`LogLimit` lets the first line of each
kind through, keeps quiet for ``interval`` seconds, then lets the next one through
saying how many it held back.
"""

from __future__ import annotations

from collections.abc import Hashable

import attrs


@attrs.define
class LogLimit:
    """At most one line per key every ``interval`` seconds.

    Attributes:
        interval: seconds between two lines of one key.
        max_keys: keys remembered at most (the oldest are forgotten first), so
            that keys an attacker makes up (addresses) cannot fill the memory.
    """

    interval: float
    max_keys: int = 1024
    _last: dict[Hashable, float] = attrs.field(factory=dict, init=False)
    _held: dict[Hashable, int] = attrs.field(factory=dict, init=False)

    def allow(self, key: Hashable, now: float) -> int | None:
        """Whether to log a line of ``key`` at ``now`` (seconds, any monotonic clock).

        Returns:
            ``None`` to stay quiet; else how many lines of ``key`` were held back
            since the last one logged (0 for the first).
        """
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        held = self._held.pop(key, 0)
        self._last.pop(key, None)  # re-inserted last: the dict stays oldest first
        self._last[key] = now
        while len(self._last) > self.max_keys:
            oldest = next(iter(self._last))
            del self._last[oldest]
            self._held.pop(oldest, None)
        return held
