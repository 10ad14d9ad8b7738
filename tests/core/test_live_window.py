"""A live stream's window on a media line that stays put while the playlist slides."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.core.hls import Playlist
from tuner.core.live_window import EDGE_SEGMENTS, MIN_WINDOW_SECONDS, LiveWindow, Placement
from tuner.core.seek import SeekError, SeekRequest, live_seek_target


def _playlist(first: int, durations: list[float], *, event: bool = False) -> Playlist:
    return Playlist(
        is_master=False,
        segments=len(durations),
        media_sequence=first,
        durations=tuple(durations),
        target_duration=max(durations),
        event=event,
    )


def test_the_first_read_puts_the_oldest_segment_at_0() -> None:
    window = LiveWindow()
    window.update(_playlist(500, [2.0, 2.0, 3.0]), now=10.0)
    assert [(s.sequence, s.start) for s in window.segments] == [(500, 0.0), (501, 2.0), (502, 4.0)]
    assert window.length == 7.0


def test_a_later_read_keeps_every_place_as_the_window_slides() -> None:
    window = LiveWindow()
    window.update(_playlist(10, [2.0] * 20), now=0.0)
    window.update(_playlist(13, [2.0] * 20), now=6.0)
    assert window.segments[0].sequence == 13 and window.segments[0].start == 6.0
    assert window.segments[-1].end == 46.0
    # Segments never seen again, after a long gap, are placed by the target duration.
    window.update(_playlist(100, [2.0] * 20), now=180.0)
    assert window.segments[0].start == 46.0 + (100 - 33) * 2.0


def test_a_sequence_that_starts_again_goes_on_after_what_was_known() -> None:
    window = LiveWindow()
    window.update(_playlist(900, [4.0] * 10), now=0.0)
    window.update(_playlist(0, [4.0] * 10), now=1.0)
    assert window.segments[0].start == 40.0


def test_between_reads_the_edge_moves_on_and_only_a_sliding_start_follows() -> None:
    sliding, event = LiveWindow(), LiveWindow()
    sliding.update(_playlist(0, [1.0] * 40), now=100.0)
    event.update(_playlist(0, [1.0] * 40, event=True), now=100.0)
    for window in (sliding, event):
        assert window.edge_at(105.0) == 45.0
        assert window.live_point_at(105.0) == 40 - EDGE_SEGMENTS + 5.0
    assert sliding.start_at(105.0) == 5.0
    assert event.start_at(105.0) == 0.0


def test_only_a_window_of_the_minimum_length_is_seekable() -> None:
    window = LiveWindow()
    window.update(_playlist(0, [1.0] * 6), now=0.0)
    assert not window.seekable
    window.update(_playlist(0, [1.0] * int(MIN_WINDOW_SECONDS)), now=0.0)
    assert window.seekable


def test_a_place_is_found_in_the_segment_that_holds_it_never_nearer_the_edge() -> None:
    window = LiveWindow()
    window.update(_playlist(7, [2.0] * 20), now=0.0)
    assert window.locate(None) == Placement(20 - EDGE_SEGMENTS, 34.0)
    assert window.locate(5.0) == Placement(2, 4.0)
    assert window.locate(4.0) == Placement(2, 4.0)
    assert window.locate(-3.0) == Placement(0, 0.0)
    assert window.locate(39.9) == window.locate(None)
    with pytest.raises(ValueError, match="no place"):
        LiveWindow().locate(None)


@given(
    first=st.integers(0, 10**6),
    durations=st.lists(st.floats(0.5, 10.0), min_size=1, max_size=50),
    slide=st.integers(0, 60),
    position=st.floats(-100.0, 1000.0),
)
def test_places_are_continuous_and_a_located_segment_holds_its_place(
    first: int, durations: list[float], slide: int, position: float
) -> None:
    window = LiveWindow()
    window.update(_playlist(first, durations), now=0.0)
    window.update(_playlist(first + slide, durations), now=1.0)
    segments = window.segments
    for before, after in itertools.pairwise(segments):
        assert after.sequence == before.sequence + 1
        assert after.start == pytest.approx(before.end)
    placement = window.locate(position)
    segment = segments[placement.index]
    assert placement.position == segment.start
    assert placement.index <= max(0, len(segments) - EDGE_SEGMENTS)
    if segments[0].start <= position < segment.end:
        assert segment.start <= position + 1e-6


def test_a_live_seek_lands_in_the_window_and_a_place_past_the_edge_is_refused() -> None:
    assert live_seek_target(SeekRequest(delta=-30), 100.0, 80.0, 120.0) == 80.0
    assert live_seek_target(SeekRequest(delta=+60), 100.0, 80.0, 120.0) == 120.0
    assert live_seek_target(SeekRequest(position=95.5), 100.0, 80.0, 120.0) == 95.5
    # A place the window slid past: its oldest place.
    assert live_seek_target(SeekRequest(position=10), 100.0, 80.0, 120.0) == 80.0
    # No play head known yet: a delta counts from the live point.
    assert live_seek_target(SeekRequest(delta=-10), None, 80.0, 120.0) == 110.0
    with pytest.raises(SeekError, match="past the live edge"):
        live_seek_target(SeekRequest(position=121), 100.0, 80.0, 120.0)
