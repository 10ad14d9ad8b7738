"""Seek requests, where they land, and the media clock (tuner.core.seek)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.core.seek import (
    END_MARGIN_SECONDS,
    MediaClock,
    SeekError,
    SeekRequest,
    parse_seek,
    seek_target,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"position": 12}, SeekRequest(position=12.0)),
        ({"position": 0}, SeekRequest(position=0.0)),
        ({"position": 7.25}, SeekRequest(position=7.25)),
        ({"delta": -10}, SeekRequest(delta=-10.0)),
        ({"delta": 10.5}, SeekRequest(delta=10.5)),
    ],
)
def test_a_position_or_a_delta_is_read(body: dict[str, object], expected: SeekRequest) -> None:
    assert parse_seek(body) == expected


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "either"),
        ({"position": 1, "delta": 1}, "either"),
        ({"position": "12"}, "finite number"),
        ({"position": None}, "finite number"),
        ({"position": True}, "finite number"),
        ({"delta": math.nan}, "finite number"),
        ({"delta": -math.inf}, "finite number"),
        ({"position": [1]}, "finite number"),
        ({"position": -0.5}, "negative"),
        ({"position": 1, "speed": 2}, "unknown keys ['speed']"),
    ],
)
def test_a_bad_seek_says_what_is_wrong(body: dict[str, object], says: str) -> None:
    with pytest.raises(SeekError) as error:
        parse_seek(body)
    assert says in str(error.value)


@given(st.dictionaries(st.sampled_from(["position", "delta", "x"]), json_values, max_size=3))
def test_any_body_is_a_seek_or_a_sentence(body: dict[str, object]) -> None:
    try:
        request = parse_seek(body)
    except SeekError as exc:
        assert str(exc)
    else:
        value = request.position if request.position is not None else request.delta
        assert value is not None and math.isfinite(value)
        assert (request.position is None) != (request.delta is None)


def test_a_delta_is_clamped_into_the_source_and_a_position_past_the_end_refused() -> None:
    assert seek_target(SeekRequest(delta=10), 5.0, 60.0) == 15.0
    assert seek_target(SeekRequest(delta=-10), 5.0, 60.0) == 0.0
    assert seek_target(SeekRequest(delta=10), 55.0, 60.0) == 60.0 - END_MARGIN_SECONDS
    # Before the first frame the play head is at the start.
    assert seek_target(SeekRequest(delta=10), None, 60.0) == 10.0
    assert seek_target(SeekRequest(position=30), 5.0, 60.0) == 30.0
    # The very end lands a little before it: ffmpeg needs a frame to show.
    assert seek_target(SeekRequest(position=60), 5.0, 60.0) == 60.0 - END_MARGIN_SECONDS
    # A clip shorter than the margin goes to its start.
    assert seek_target(SeekRequest(delta=5), 0.2, 0.5) == 0.0
    with pytest.raises(SeekError, match="past the end"):
        seek_target(SeekRequest(position=60.5), 5.0, 60.0)
    # Unknown length: no end to clamp to.
    assert seek_target(SeekRequest(delta=100), 5.0, None) == 105.0


@given(st.floats(0, 1e5), st.floats(-1e5, 1e5), st.floats(0.001, 1e5) | st.none())
def test_a_target_is_always_inside_the_source(
    now: float, delta: float, duration: float | None
) -> None:
    target = seek_target(SeekRequest(delta=delta), now, duration)
    assert target >= 0
    if duration is not None:
        assert target <= max(0.0, duration - END_MARGIN_SECONDS)


def test_the_media_clock_maps_the_session_clock_to_positions() -> None:
    clock = MediaClock()
    assert clock.position_at(0) is None
    clock.mark(0, 0.0)
    assert clock.position_at(2500) == 2.5
    # A seek at 4 s to 20 s into the source.
    clock.mark(4000, 20.0)
    assert clock.position_at(3999) == pytest.approx(3.999)
    assert clock.position_at(5000) == 21.0
    # A cut at 4.5 s (another seek) forgets what was marked after it, not before.
    clock.mark(9000, 25.0)
    clock.cut(4500)
    assert clock.position_at(9500) == pytest.approx(25.5)
    # Marking at or before an anchor replaces it (it was read ahead of a cut).
    clock.mark(4000, 10.0)
    assert clock.position_at(5000) == 11.0
    assert [a.at_ms for a in clock.anchors] == [0, 4000]


def test_the_media_clock_keeps_only_its_newest_anchors() -> None:
    clock = MediaClock()
    for i in range(1000):
        clock.mark(i * 1000, float(i))
    assert len(clock.anchors) < 50
    assert clock.position_at(999_500) == 999.5
