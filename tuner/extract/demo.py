"""``demo``: a fixed list of streams, public HLS test streams unless configured.

It does no IO of its own: the run's stream check (``[extract] check_streams``) fetches
each playlist, drops those that do not answer, and learns which are live.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from tuner.config import StreamSpec
from tuner.extract._base import Health
from tuner.extract._records import StreamKind, StreamRecord


class DemoExtractor:
    """Lists the configured streams."""

    key = "demo"
    name = "Test streams"

    def __init__(
        self, streams: Sequence[StreamSpec], *, clock: Callable[[], float] = time.time
    ) -> None:
        self._streams = tuple(streams)
        self._clock = clock

    async def extract(self) -> list[StreamRecord]:
        """The configured streams, as HLS records."""
        now = self._clock()
        return [
            StreamRecord(spec.title, spec.url, StreamKind.HLS, self.key, now)
            for spec in self._streams
        ]

    async def health_check(self) -> Health:
        """Unhealthy only when the list is empty."""
        if not self._streams:
            return Health(False, "no streams configured ([extract.demo] streams)")
        return Health(True)
