"""The timeline's rings and cursors (tuner.core.timeline), with the real codec: a viewer
that follows its cursor, however it reads, always holds the encoder's picture."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuner.core.codec import Decoder, Encoder, MessageKind, parse_header
from tuner.core.grid import LAYOUTS, Grid
from tuner.core.presets import Mode
from tuner.core.timeline import (
    START_AHEAD_MS,
    START_EVERY_MS,
    START_HOLD_MS,
    FrameCursor,
    Frames,
    FrameWriter,
    PlayHead,
    Sound,
    SoundCursor,
    SoundEntry,
    lead_ms,
    send_ahead_ms,
    sendable_at_ms,
)

COLS, ROWS = 8, 4
FRAME_MS = 40


def grid(value: int) -> Grid:
    """A grid whose first cell tells the frames apart (and the rest changes a little)."""
    planes = np.zeros((len(LAYOUTS[Mode.MONO]), ROWS, COLS), dtype=np.uint8)
    planes[0, 0, 0] = value % 256
    planes[0, 1, value % COLS] = 1 + value % 250
    return Grid(Mode.MONO, planes)


def writer_with(count: int) -> FrameWriter:
    writer = FrameWriter(Frames(), Encoder())
    for seq in range(count):
        writer.add(grid(seq), seq, seq * FRAME_MS)
    return writer


def follow(cursor: FrameCursor, frames: Frames, decoder: Decoder, play_head: float) -> list[int]:
    """Apply everything the cursor has now; returns the seqs applied."""
    seqs = []
    while (message := cursor.take(frames, play_head)) is not None:
        seqs.append(decoder.decode(message).seq)
    return seqs


# --- the writer ---------------------------------------------------------------------


def test_start_points_come_at_least_every_second_and_with_every_keyframe() -> None:
    writer = writer_with(100)  # 4 s at 25 fps
    starts = [e.pts_ms for e in writer.frames if e.start is not None]
    assert starts[0] == 0
    assert all(b - a <= START_EVERY_MS for a, b in itertools.pairwise(starts))
    assert len(starts) == 4, starts
    for entry in writer.frames:
        if entry.start is not None:
            info = parse_header(entry.start)
            assert info.kind is MessageKind.KEYFRAME and info.seq == entry.seq


def test_frames_that_change_nothing_are_not_held() -> None:
    writer = FrameWriter(Frames(), Encoder())
    for seq in range(5):
        writer.add(grid(0), seq, seq * FRAME_MS)
    assert [e.seq for e in writer.frames] == [0]


def test_after_a_cut_the_next_frame_is_a_keyframe_at_the_cut() -> None:
    writer = writer_with(50)
    first_dropped = writer.cut(after_ms=20 * FRAME_MS)
    assert first_dropped == writer.frames.end
    assert writer.frames.newest_ms() == 20 * FRAME_MS
    entry = writer.add(grid(999), 50, 21 * FRAME_MS)
    assert entry is not None and entry.start is entry.message
    assert parse_header(entry.message).kind is MessageKind.KEYFRAME


# --- viewers ------------------------------------------------------------------------


def test_a_viewer_joins_at_the_play_heads_start_point_and_gets_every_frame_after() -> None:
    writer = writer_with(100)
    cursor, decoder = FrameCursor(), Decoder()
    play_head = 2500
    seqs = follow(cursor, writer.frames, decoder, play_head)
    # Its start point: the last one at or before the play head (at 2 s).
    assert seqs[0] == 50 and seqs == list(range(50, 100))
    assert decoder.grid == writer.encoder.reference


def test_a_stalled_viewer_gets_every_frame_it_missed_in_order() -> None:
    writer = writer_with(10)
    cursor, decoder = FrameCursor(), Decoder()
    assert follow(cursor, writer.frames, decoder, 0) == list(range(10))
    for seq in range(10, 60):  # its link stalls for 2 s
        writer.add(grid(seq), seq, seq * FRAME_MS)
    assert follow(cursor, writer.frames, decoder, 60 * FRAME_MS) == list(range(10, 60))
    assert cursor.resyncs == 0 and cursor.skipped == 0


def test_a_viewer_behind_the_ring_is_resynced_at_the_play_head() -> None:
    writer = writer_with(10)
    cursor, decoder = FrameCursor(), Decoder()
    follow(cursor, writer.frames, decoder, 0)
    for seq in range(10, 400):
        writer.add(grid(seq), seq, seq * FRAME_MS)
    play_head = 399 * FRAME_MS
    writer.frames.trim_behind(play_head, keep_ms=4000)
    assert writer.frames.get(writer.frames.first).start is not None  # type: ignore[union-attr]
    seqs = follow(cursor, writer.frames, decoder, play_head)
    assert cursor.resyncs == 1 and cursor.skipped > 0
    assert seqs[0] == 375 and seqs[-1] == 399  # from the start point at 15 s
    assert decoder.grid == writer.encoder.reference


def test_a_viewer_that_lost_step_gets_the_picture_again_from_a_start_point() -> None:
    writer = writer_with(60)
    cursor, decoder = FrameCursor(), Decoder()
    follow(cursor, writer.frames, decoder, 0)
    # It could not apply seq 40 (it says it applied 39): the picture again from the
    # start point at 1 s, and everything after it, so that nothing is skipped.
    cursor.lost_step(writer.frames, seq=39)
    fresh = Decoder()  # what a client that lost its state holds
    seqs = follow(cursor, writer.frames, fresh, 0)
    assert seqs == list(range(25, 60))
    assert fresh.grid == writer.encoder.reference
    # Without a seq: from the start point before the next frame it would be sent.
    for seq in range(60, 70):
        writer.add(grid(seq), seq, seq * FRAME_MS)
    cursor.lost_step(writer.frames)
    assert follow(cursor, writer.frames, Decoder(), 0) == list(range(50, 70))


def test_a_reconnecting_viewer_resumes_after_the_last_seq_it_applied() -> None:
    writer = writer_with(60)
    cursor = FrameCursor()
    assert cursor.resume_after(writer.frames, 41)
    decoder = Decoder()
    first = writer.frames.get(writer.frames.index_of_seq(41) or 0)
    assert first is not None
    # The client held the state of seq 41: rebuild it from a start point for the test.
    follow(FrameCursor(next=None), writer.frames, decoder, 41 * FRAME_MS)
    replay = Decoder()
    start = writer.frames.start_at_or_before(41 * FRAME_MS)
    assert start is not None
    for index in range(start, writer.frames.index_of_seq(41) + 1):  # type: ignore[operator]
        entry = writer.frames.get(index)
        assert entry is not None
        replay.decode(entry.start if index == start else entry.message)  # type: ignore[arg-type]
    assert follow(cursor, writer.frames, replay, 41 * FRAME_MS) == list(range(42, 60))
    assert replay.grid == writer.encoder.reference
    # A seq the ring no longer holds (or never did): the caller starts it afresh.
    writer.frames.trim_behind(59 * FRAME_MS, keep_ms=500)
    assert not FrameCursor().resume_after(writer.frames, 3)
    assert not FrameCursor().resume_after(writer.frames, 10_000)


def test_a_cut_voids_what_a_viewer_was_sent_past_it_and_it_goes_on_at_the_keyframe() -> None:
    writer = writer_with(100)
    cursor, decoder = FrameCursor(), Decoder()
    follow(cursor, writer.frames, decoder, 0)
    play_head = 40 * FRAME_MS
    first_dropped = writer.cut(after_ms=play_head)
    cursor.cut_at(first_dropped)
    for seq in range(100, 110):
        writer.add(grid(seq), seq, (41 + seq - 100) * FRAME_MS)
    seqs = follow(cursor, writer.frames, decoder, play_head)
    # What it holds up to the cut stays good: it goes on at the keyframe after it.
    assert seqs == list(range(100, 110))
    assert decoder.grid == writer.encoder.reference
    # One that had not reached the cut reads up to it, then the keyframe.
    behind = FrameCursor()
    early = follow(behind, writer.frames, Decoder(), 0)
    assert early == [*range(0, 41), *range(100, 110)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("frames"), st.integers(1, 40), st.integers(0, 3)),
            st.tuples(st.just("read"), st.integers(0, 2), st.integers(1, 50)),
            st.tuples(st.just("lost"), st.integers(0, 2), st.just(0)),
            st.tuples(st.just("trim"), st.integers(0, 3000), st.just(0)),
            st.tuples(st.just("cut"), st.integers(0, 2000), st.just(0)),
        ),
        max_size=40,
    )
)
def test_any_viewer_always_holds_the_newest_picture_once_it_caught_up(
    steps: list[tuple[str, int, int]],
) -> None:
    """However viewers read, fall behind, lose step, and however the ring is trimmed
    and cut, every message a cursor hands out applies, and a viewer that read all
    there is holds exactly the newest picture the ring holds."""
    writer = FrameWriter(Frames(), Encoder())
    viewers = [(FrameCursor(), Decoder()) for _ in range(3)]
    seq, pts, play_head = 0, 0, 0.0
    for kind, a, b in steps:
        if kind == "frames":
            for _ in range(a):
                writer.add(grid(seq // (b + 1)), seq, pts)  # b: frames that repeat
                seq, pts = seq + 1, pts + FRAME_MS
        elif kind == "read":
            cursor, decoder = viewers[a]
            for _ in range(b):
                message = cursor.take(writer.frames, play_head)
                if message is None:
                    break
                decoder.decode(message)  # raises if out of step
        elif kind == "lost":
            cursor, decoder = viewers[a]
            cursor.lost_step(writer.frames, decoder.seq)
            decoder.reset()
        elif kind == "trim":
            play_head = max(play_head, min(pts, play_head + a))
            writer.frames.trim_behind(play_head, keep_ms=1000)
        elif kind == "cut":
            at = max(play_head, pts - a)
            first_dropped = writer.cut(after_ms=at)
            for cursor, _ in viewers:
                cursor.cut_at(first_dropped)
            # A cut is a retune: the next attempt's first frame follows at once (a
            # viewer that held frames past the cut gets its picture from it).
            pts = int(at) + FRAME_MS
            writer.add(grid(10_000 + seq), seq, pts)
            seq, pts = seq + 1, pts + FRAME_MS
    held = held_picture(writer.frames)
    for cursor, decoder in viewers:
        follow(cursor, writer.frames, decoder, play_head)
        if held is not None:
            assert decoder.grid == held


def held_picture(frames: Frames) -> Grid | None:
    """The picture after the newest frame held, replayed from the ring's front (which
    must be a start point)."""
    decoder = Decoder()
    for number, entry in enumerate(frames):
        if number == 0:
            assert entry.start is not None, "the ring does not begin at a start point"
            decoder.decode(entry.start)
        else:
            decoder.decode(entry.message)
    return decoder.grid


# --- sound --------------------------------------------------------------------------


def test_a_listener_reads_on_from_its_cursor_and_skips_what_the_ring_dropped() -> None:
    sound = Sound()
    for k in range(100):
        sound.append(SoundEntry(k * 21.333, bytes([k])))
    cursor = SoundCursor(next=sound.index_at(1000))
    assert cursor.take(sound) == bytes([47])  # the frame that starts at 1002.7 ms
    sound.trim_behind(2000, keep_ms=500)
    assert cursor.take(sound) == bytes([71]) and cursor.skipped == 23
    cursor.next = sound.end
    assert cursor.take(sound) is None


def test_a_cut_frees_the_bytes_it_drops() -> None:
    sound = Sound()
    for k in range(10):
        sound.append(SoundEntry(k * 20.0, b"x" * 100))
    assert sound.size == 1000
    assert sound.cut(after_ms=99) == 5 and sound.size == 500
    sound.trim(3)
    assert sound.size == 200 and sound.first == 3 and sound.end == 5


# --- the play head ------------------------------------------------------------------


def test_the_play_head_runs_with_the_wall_clock_but_waits_for_the_source() -> None:
    head = PlayHead(max_late_ms=100)
    assert head.at(5.0) == 0.0 and not head.started
    head.move_to(1000, now=10.0)
    assert head.at(10.5, newest_ms=5000) == pytest.approx(1500)
    # A little behind (a burst of ffmpeg's output): it runs on, the frames catch up.
    assert head.at(10.55, newest_ms=1500) == pytest.approx(1550) and head.waits == 0
    # Far behind: the clients wait at its newest frame, and go on from there.
    assert head.at(20.0, newest_ms=3000) == 3000 and head.waits == 1
    assert head.at(21.0, newest_ms=9000) == pytest.approx(4000)
    assert lead_ms(4000, 9000) == 5000 and lead_ms(4000, None) == 0 and lead_ms(5, 1) == 0


def test_at_a_start_viewers_are_sent_a_second_ahead_then_on_to_the_lead() -> None:
    assert send_ahead_ms(0) == send_ahead_ms(START_HOLD_MS) == START_AHEAD_MS
    assert send_ahead_ms(2000) == 9000  # at 2 s, 9 s ahead: 0.9 of a 10 s lead
    assert send_ahead_ms(-50) == START_AHEAD_MS


@given(st.floats(0, 600_000))
def test_a_frame_may_be_sent_from_the_play_head_that_lets_it(pts_ms: float) -> None:
    at = sendable_at_ms(pts_ms)
    if at >= 0:
        assert at + send_ahead_ms(at) == pytest.approx(pts_ms)
    else:  # within the first second: at once
        assert pts_ms <= START_AHEAD_MS
