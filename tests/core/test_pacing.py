"""The frame pacer: even release times from bursty reads."""

from __future__ import annotations

import pytest

from tuner.core.pacing import Pacer

FRAME = 1 / 24


def test_bursty_reads_are_released_evenly() -> None:
    pacer = Pacer(slack=FRAME, max_late=2 * FRAME)
    # ffmpeg's cadence for 30 fps made 24: three frames 33 ms apart, then a 67 ms gap.
    reads = [0.0, 0.033, 0.067, 0.100, 0.167, 0.200, 0.233, 0.267, 0.333]
    releases = [max(read, pacer.release_at(n * 1000 / 24, read)) for n, read in enumerate(reads)]
    gaps = [b - a for a, b in zip(releases, releases[1:], strict=False)]
    assert gaps == pytest.approx([FRAME] * len(gaps), abs=1e-9)
    assert releases[0] == pytest.approx(FRAME)
    assert pacer.restarts == 0


def test_a_frame_far_behind_restarts_the_clock_instead_of_a_burst() -> None:
    pacer = Pacer(slack=FRAME, max_late=2 * FRAME)
    assert pacer.release_at(0, 10.0) == pytest.approx(10.0 + FRAME)
    # Two seconds of nothing (a reconnect), then frames whose pts moved on less.
    assert pacer.release_at(1000, 13.0) == pytest.approx(13.0 + FRAME)
    assert pacer.restarts == 1
    assert pacer.release_at(1000 + 1000 / 24, 13.01) == pytest.approx(13.0 + 2 * FRAME)
