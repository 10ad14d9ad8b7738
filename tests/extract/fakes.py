"""Fake extractors for the poller, fan-out and benchmark tests: no IO, only trio time."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import trio

from tuner.extract import ExtractorError, Health, StreamKind, StreamRecord

#: A Monday, 2025-06-02 00:00 UTC: simulated weeks start here.
EPOCH = 1748822400.0


def mock_now() -> float:
    """Wall-clock time tied to trio's (mock) clock, from :data:`EPOCH`."""
    return EPOCH + trio.current_time()


class FakeExtractor:
    """Answers after ``latency`` seconds with ``titles`` as streams; or fails, or hangs."""

    def __init__(
        self,
        key: str,
        titles: Sequence[str] = ("a",),
        *,
        latency: float = 0.0,
        error: Exception | None = None,
        hang: bool = False,
        live: bool = True,
        clock: Callable[[], float] = mock_now,
    ) -> None:
        self.key = key
        self.name = f"Fake {key}"
        self.titles = list(titles)
        self.latency = latency
        self.error = error
        self.hang = hang
        self.live = live
        self.clock = clock
        self.calls: list[float] = []

    async def extract(self) -> list[StreamRecord]:
        self.calls.append(self.clock())
        await trio.sleep(self.latency)
        if self.hang:
            await trio.sleep_forever()
        if self.error is not None:
            raise self.error
        return [
            StreamRecord(
                title,
                f"https://{self.key}.example/{title}.m3u8",
                StreamKind.HLS,
                self.key,
                self.clock(),
                is_live=self.live,
            )
            for title in self.titles
        ]

    async def health_check(self) -> Health:
        return Health(True)


def failing(key: str, message: str = "site is down") -> FakeExtractor:
    """An extractor that raises an expected error."""
    return FakeExtractor(key, error=ExtractorError(message))
