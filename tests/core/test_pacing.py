"""The frame pacer: even release times from bursty reads."""

from __future__ import annotations

import itertools

import pytest

from tuner.core.pacing import Pacer

FRAME = 1 / 24


def test_the_first_frame_goes_at_once_and_bursts_are_evened_out() -> None:
    pacer = Pacer(slack=FRAME, max_late=2 * FRAME)
    # ffmpeg's cadence for 30 fps made 24: three frames 33 ms apart, then a 67 ms gap.
    reads = [0.0, 0.033, 0.067, 0.100, 0.167, 0.200, 0.233, 0.267, 0.333, 0.367, 0.400]
    releases = [pacer.release_at(n * 1000 / 24, read) for n, read in enumerate(reads)]
    assert releases[0] == 0.0
    assert all(release >= read for release, read in zip(releases, reads, strict=True))
    gaps = [b - a for a, b in itertools.pairwise(releases)]
    # One longer gap after the first frame (the slack), then even.
    assert gaps[0] == pytest.approx(2 * FRAME)
    assert gaps[1:] == pytest.approx([FRAME] * len(gaps[1:]), abs=1e-9)
    assert pacer.restarts == 0


def test_a_frame_far_behind_restarts_the_clock_instead_of_a_burst() -> None:
    pacer = Pacer(slack=FRAME, max_late=2 * FRAME)
    assert pacer.release_at(0, 10.0) == 10.0
    # Two seconds of nothing (a reconnect), then frames whose pts moved on less.
    assert pacer.release_at(1000, 13.0) == 13.0
    assert pacer.restarts == 1
    # The frames after it are even again, not rushed out.
    assert pacer.release_at(1000 + 1000 / 24, 13.01) == pytest.approx(13.0 + 2 * FRAME)


def test_a_little_late_goes_at_once_without_moving_the_clock() -> None:
    pacer = Pacer(slack=FRAME, max_late=2 * FRAME)
    pacer.release_at(0, 0.0)
    assert pacer.release_at(1000 / 24, 2 * FRAME + 0.01) == pytest.approx(2 * FRAME + 0.01)
    assert pacer.release_at(2000 / 24, 0.09) == pytest.approx(3 * FRAME)
