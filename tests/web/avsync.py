"""Measure A/V sync in a real headless Chromium: the offset between a flash on the
canvas and the beep in the speakers, for a clip that has both every second.

Shared by ``tests/web/test_av_sync.py`` and ``bench/bench_av.py``.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import attrs

PROBE = (Path(__file__).parent / "avprobe.js").read_text()
#: Chromium plays sound without a tap (the test cannot tap) and has a fake audio sink.
AUTOPLAY_ARGS = ["--autoplay-policy=no-user-gesture-required"]


@attrs.frozen
class AVResult:
    """Flash-minus-beep offsets (ms), and the client's own pts-minus-clock offsets."""

    offsets_ms: list[float]
    client_offsets_ms: list[float]
    clock_source: str
    late_frames: int

    def median_abs(self) -> float:
        return statistics.median(abs(o) for o in self.offsets_ms)

    def p95_abs(self) -> float:
        values = sorted(abs(o) for o in self.offsets_ms)
        return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


def pair_offsets(flashes: list[dict[str, Any]], beeps: list[dict[str, Any]]) -> list[float]:
    """Each flash against the nearest beep (within half a second), flash minus beep."""
    offsets = []
    for flash in flashes:
        nearest = min(beeps, key=lambda b: abs(b["at"] - flash["at"]), default=None)
        if nearest is not None and abs(nearest["at"] - flash["at"]) < 500:
            offsets.append(flash["at"] - nearest["at"])
    return offsets


def measure(page: Any, base_url: str, pin: str, query: str, seconds: float) -> AVResult:
    """Log in, play ``query`` from the page's own controls, watch for ``seconds``."""
    page.goto(base_url + "/")
    page.wait_for_selector("body[data-state=login]")
    page.fill("#pin", pin)
    page.click("#login-button")
    page.wait_for_selector("body[data-state=player]")
    page.evaluate(PROBE)
    page.fill("#query", query)
    page.click("#play")
    page.wait_for_function("window.tunerStats.sync.source === 'audio'", timeout=30_000)
    page.wait_for_timeout(seconds * 1000)
    log = page.evaluate("window.avlog")
    stats = page.evaluate("window.tunerStats.sync")
    assert not log["errors"], log["errors"]
    return AVResult(
        offsets_ms=pair_offsets(log["flashes"], log["beeps"]),
        client_offsets_ms=list(stats["offsets"]),
        clock_source=stats["source"],
        late_frames=stats["late"],
    )
