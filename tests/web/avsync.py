"""Measure A/V sync in a real headless Chromium: the offset between a flash on the
canvas and the beep in the speakers, for a clip that has both every second.

Shared by ``tests/web/test_av_sync.py`` and ``bench/bench_av.py``.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import attrs

from tests.web.chromium import wait_for

PROBE = (Path(__file__).parent / "avprobe.js").read_text()
#: Chromium plays sound without a tap (the test cannot tap) and has a fake audio sink.
AUTOPLAY_ARGS = ["--autoplay-policy=no-user-gesture-required"]


@attrs.frozen
class AVResult:
    """Flash-minus-beep offsets (ms), and the client's own pts-minus-clock offsets."""

    offsets_ms: list[float]
    #: The same, had each frame been drawn when it arrived (no sync).
    arrival_offsets_ms: list[float]
    client_offsets_ms: list[float]
    clock_source: str
    late_frames: int

    def median_abs(self) -> float:
        return median_abs(self.offsets_ms)

    def p95_abs(self) -> float:
        return p95_abs(self.offsets_ms)


def median_abs(values: list[float]) -> float:
    """The median of the absolute values."""
    return statistics.median(abs(v) for v in values)


def p95_abs(values: list[float]) -> float:
    """The 95th percentile (nearest rank) of the absolute values."""
    ordered = sorted(abs(v) for v in values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def pair_offsets(flashes: list[dict[str, Any]], beeps: list[dict[str, Any]]) -> list[float]:
    """Each flash against the beep of the same second of the clip: flash minus beep (ms)."""
    offsets = []
    for flash in flashes:
        if flash.get("source") == "held":
            continue  # the first picture, held on screen before its time on purpose
        second = round(flash["pts"] / 1000)
        same = [b for b in beeps if b["clipMs"] is not None and round(b["clipMs"] / 1000) == second]
        if same:
            nearest = min(same, key=lambda b: abs(b["at"] - flash["at"]))
            offsets.append(flash["at"] - nearest["at"])
    return offsets


def measure(page: Any, base_url: str, pin: str, query: str, seconds: float) -> AVResult:
    """Log in, play ``query`` from the page's own controls, watch for ``seconds``."""
    page.goto(base_url + "/")
    page.wait_for_selector("body[data-state=login]")
    page.fill("#pin", pin)
    page.click("#login-button")
    page.wait_for_selector("body[data-state=home]")
    page.evaluate(PROBE)
    page.fill("#query", query)
    page.click("#play")
    wait_for(page, "window.tunerStats.sync.source === 'audio'", timeout=30_000)
    page.wait_for_timeout(seconds * 1000)
    log = page.evaluate("window.avlog")
    stats = page.evaluate("window.tunerStats.sync")
    assert not log["errors"], log["errors"]
    return AVResult(
        offsets_ms=pair_offsets(log["flashes"], log["beeps"]),
        arrival_offsets_ms=pair_offsets(log["arrivals"], log["beeps"]),
        client_offsets_ms=list(stats["offsets"]),
        clock_source=stats["source"],
        late_frames=stats["late"],
    )
