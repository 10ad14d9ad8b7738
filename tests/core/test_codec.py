"""Protocol v2: every encoder output round-trips; nothing malformed gets past the decoder.

Rules these tests follow: grids are small (hypothesis explores shapes and histories,
not sizes); a decoder is checked against the encoder's reference after *every*
message, not only at the end; and malformed input must raise ``ProtocolError``
(nothing else) and leave the decoder as it was.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuner.core import codec
from tuner.core.codec import (
    DEFAULT_TOLERANCE,
    HEADER_SIZE,
    MAX_CELLS,
    Decoder,
    Encoder,
    Flags,
    MessageKind,
    OutOfSyncError,
    ProtocolError,
    is_empty_delta,
    parse_header,
)
from tuner.core.color import PALETTE, distant_table
from tuner.core.grid import LAYOUTS, Grid, PlaneKind
from tuner.core.presets import Mode

Planes = npt.NDArray[np.uint8]


def grid_of(mode: Mode, planes: Planes) -> Grid:
    return Grid(mode, np.ascontiguousarray(planes, dtype=np.uint8))


def random_grid(rng: np.random.Generator, mode: Mode, cols: int, rows: int) -> Grid:
    shape = (len(LAYOUTS[mode]), rows, cols)
    return grid_of(mode, rng.integers(0, 256, shape, dtype=np.uint8))


def drift(rng: np.random.Generator, grid: Grid, share: float) -> Grid:
    """Nudge a share of the colours to a near code: within or just past the tolerance."""
    planes = grid.planes.copy()
    for index, kind in enumerate(LAYOUTS[grid.mode]):
        if kind is PlaneKind.COLOR:
            plane = planes[index]
            hit = rng.random(plane.shape) < share
            # One level of red or green, or of blue: some within tolerance, some not.
            step = rng.choice(np.array([0x20, 0x04, 0x01], dtype=np.uint8), size=plane.shape)
            plane[hit] ^= step[hit]
    return Grid(grid.mode, planes)


def edit(rng: np.random.Generator, grid: Grid, share: float) -> Grid:
    """Change a share of the cells to random bytes, in every plane."""
    planes = grid.planes.copy()
    hit = rng.random(planes.shape[1:]) < share
    planes[:, hit] = rng.integers(0, 256, (planes.shape[0], int(hit.sum())), dtype=np.uint8)
    return Grid(grid.mode, planes)


def assert_reference_follows(
    before: Grid | None, new: Grid, after: Grid, kind: MessageKind, tolerance: int
) -> None:
    """What the tolerance rule allows the reference to be after encoding ``new``.

    Symbols are always ``new``'s. A keyframe carries ``new`` exactly. After a delta,
    each colour is either what it was or ``new``'s, and never farther from ``new``'s
    than the tolerance.
    """
    assert after.mode is new.mode and after.planes.shape == new.planes.shape
    if kind is MessageKind.KEYFRAME:
        assert after == new
        return
    assert before is not None
    far = distant_table(tolerance)
    for index, plane_kind in enumerate(LAYOUTS[new.mode]):
        sent, now, old = after.planes[index], new.planes[index], before.planes[index]
        if plane_kind is PlaneKind.SYMBOL:
            assert np.array_equal(sent, now)
        else:
            assert not far[sent, now].any(), "a colour drifted beyond the tolerance"
            assert ((sent == now) | (sent == old)).all(), "a colour nobody sent"


# --- round trips --------------------------------------------------------------------

steps = st.lists(
    st.tuples(
        st.sampled_from(["new", "repeat", "drift", "edit", "resize", "remode", "force", "join"]),
        st.floats(0, 1),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mode=st.sampled_from(list(Mode)),
    cols=st.integers(1, 24),
    rows=st.integers(1, 8),
    tolerance=st.sampled_from([0, DEFAULT_TOLERANCE, 100]),
    seed=st.integers(0, 2**32 - 1),
    history=steps,
    first_seq=st.integers(0, 2**32 - 1),
)
def test_every_message_round_trips_to_the_reference(
    mode: Mode,
    cols: int,
    rows: int,
    tolerance: int,
    seed: int,
    history: list[tuple[str, float]],
    first_seq: int,
) -> None:
    rng = np.random.default_rng(seed)
    encoder = Encoder(tolerance=tolerance)
    viewer = Decoder()
    sparse = Decoder()  # a viewer the server spares the deltas that change nothing
    late: Decoder | None = None  # a viewer who joins mid-way, from a keyframe
    grid = random_grid(rng, mode, cols, rows)
    for number, (step, share) in enumerate(history):
        if step == "new":
            grid = random_grid(rng, grid.mode, grid.cols, grid.rows)
        elif step == "drift":
            grid = drift(rng, grid, share)
        elif step == "edit":
            grid = edit(rng, grid, share)
        elif step == "resize":
            grid = random_grid(rng, grid.mode, int(rng.integers(1, 25)), int(rng.integers(1, 9)))
        elif step == "remode":
            grid = random_grid(rng, Mode(rng.choice(list(Mode))), grid.cols, grid.rows)
        elif step == "join" and encoder.reference is not None:
            late = Decoder()
            late.decode(encoder.keyframe())
            assert late.grid == encoder.reference
        # "repeat" sends the same grid again; "force" asks for a keyframe.
        seq = (first_seq + number) % 2**32
        before = encoder.reference
        message = encoder.encode(grid, seq, number * 40, keyframe=step == "force")
        info = viewer.decode(message)
        after = encoder.reference
        assert after is not None
        assert (info.seq, info.pts_ms, info.cols, info.rows, info.mode) == (
            seq,
            number * 40,
            grid.cols,
            grid.rows,
            grid.mode,
        )
        assert viewer.grid == after, f"step {number} ({step})"
        if not is_empty_delta(message):
            sparse.decode(message)
        assert sparse.grid == after
        assert_reference_follows(before, grid, after, info.kind, tolerance)
        if step == "force" or before is None:
            assert info.kind is MessageKind.KEYFRAME
        if late is not None:
            late.decode(message)
            assert late.grid == after


@pytest.mark.parametrize("mode", list(Mode))
def test_a_video_like_sequence_round_trips_and_mostly_sends_deltas(mode: Mode) -> None:
    rng = np.random.default_rng(1)
    encoder, viewer = Encoder(), Decoder()
    grid = random_grid(rng, mode, 120, 50)
    kinds = []
    for seq in range(40):
        grid = drift(rng, edit(rng, grid, 0.03), 0.2)
        info = viewer.decode(encoder.encode(grid, seq, seq * 42))
        kinds.append(info.kind)
        assert viewer.grid == encoder.reference
    assert kinds[0] is MessageKind.KEYFRAME
    assert set(kinds[1:]) == {MessageKind.DELTA}


# --- what the encoder chooses to send -----------------------------------------------


def color_grid(symbols: int, color: int, cols: int = 40, rows: int = 10) -> Grid:
    planes = np.empty((2, rows, cols), dtype=np.uint8)
    planes[0], planes[1] = symbols, color
    return Grid(Mode.COLOR, planes)


def test_an_unchanged_frame_costs_a_header_and_one_byte() -> None:
    encoder = Encoder()
    grid = color_grid(ord("x"), 0xE0)
    encoder.encode(grid, 0, 0)
    message = encoder.encode(grid, 1, 42)
    assert len(message) == HEADER_SIZE + 1
    assert parse_header(message).kind is MessageKind.DELTA


def test_a_delta_that_changes_nothing_may_be_left_out() -> None:
    rng = np.random.default_rng(12)
    encoder, everything, sparse = Encoder(), Decoder(), Decoder()
    grid = random_grid(rng, Mode.BRAILLE, 20, 6)
    sent = []
    for seq in range(12):
        if seq % 3 == 0:
            grid = edit(rng, grid, 0.1)
        message = encoder.encode(grid, seq, seq * 40)
        sent.append(message)
        everything.decode(message)
        if not is_empty_delta(message):
            sparse.decode(message)
        assert everything.grid == sparse.grid == encoder.reference
    assert [is_empty_delta(m) for m in sent] == [False, True, True] * 4
    assert everything.seq == sparse.seq == 9, "the seq of the last change"
    keyframe = encoder.keyframe()
    assert (parse_header(keyframe).seq, parse_header(keyframe).pts_ms) == (9, 360)


def test_a_colour_drift_within_tolerance_is_not_resent_and_beyond_it_is() -> None:
    # 0xE0 is red 255; 0xC0 is red 219 (36 away); 0xA0 is red 182 (73 away).
    encoder, viewer = Encoder(tolerance=40), Decoder()
    viewer.decode(encoder.encode(color_grid(ord("x"), 0xE0), 0, 0))
    near = encoder.encode(color_grid(ord("x"), 0xC0), 1, 40)
    assert len(near) == HEADER_SIZE + 1, "within tolerance: nothing to send"
    viewer.decode(near)
    reference = encoder.reference
    assert reference is not None and (reference.planes[1] == 0xE0).all()
    far = encoder.encode(color_grid(ord("x"), 0xA0), 2, 80)
    viewer.decode(far)
    assert viewer.grid == encoder.reference == color_grid(ord("x"), 0xA0)


def test_drift_is_measured_from_what_was_sent_not_from_the_last_frame() -> None:
    # Creeping one step a frame must not drift the viewer's colour arbitrarily far.
    encoder = Encoder(tolerance=40)
    encoder.encode(color_grid(ord("x"), 0xE0), 0, 0)
    for seq, code in enumerate([0xC0, 0xA0, 0x80, 0x60], start=1):
        encoder.encode(color_grid(ord("x"), code), seq, seq * 40)
        reference = encoder.reference
        assert reference is not None
        sent = int(PALETTE[reference.planes[1, 0, 0], 0])
        assert abs(sent - int(PALETTE[code, 0])) <= 40


def test_a_symbol_change_is_always_sent_exactly() -> None:
    encoder, viewer = Encoder(tolerance=255), Decoder()
    viewer.decode(encoder.encode(color_grid(ord("x"), 0), 0, 0))
    changed = color_grid(ord("x"), 0)
    changed.planes[0, 3, 7] = ord("y")
    viewer.decode(encoder.encode(changed, 1, 40))
    assert viewer.grid == changed


def test_delta_runs_cover_exactly_the_changed_cells() -> None:
    encoder = Encoder()
    mono = Grid(Mode.MONO, np.full((1, 4, 10), ord(" "), dtype=np.uint8))
    encoder.encode(mono, 0, 0)
    changed = mono.planes.copy()
    changed[0, 0, 2:5] = ord("@")  # one run of three
    changed[0, 3, 9] = ord("@")  # one cell at the very end
    message = encoder.encode(Grid(Mode.MONO, changed), 1, 40)
    # n_runs 2; (skip 2, length 3); (skip 39 - 5 = 34, length 1); then the four cells.
    assert message[HEADER_SIZE:] == bytes([2, 2, 3, 34, 1]) + b"@@@@"


def test_a_scene_cut_is_sent_as_a_keyframe() -> None:
    rng = np.random.default_rng(5)
    encoder = Encoder()
    encoder.encode(random_grid(rng, Mode.BLOCKS, 30, 10), 0, 0)
    message = encoder.encode(random_grid(rng, Mode.BLOCKS, 30, 10), 1, 40)
    assert parse_header(message).kind is MessageKind.KEYFRAME


def test_a_size_or_mode_change_is_sent_as_a_keyframe() -> None:
    rng = np.random.default_rng(6)
    encoder = Encoder()
    encoder.encode(random_grid(rng, Mode.COLOR, 30, 10), 0, 0)
    resized = encoder.encode(random_grid(rng, Mode.COLOR, 31, 10), 1, 40)
    assert parse_header(resized).kind is MessageKind.KEYFRAME
    remoded = encoder.encode(random_grid(rng, Mode.BRAILLE, 31, 10), 2, 80)
    assert parse_header(remoded).kind is MessageKind.KEYFRAME


def test_compression_is_used_when_it_wins_and_only_then() -> None:
    encoder = Encoder()
    flat = encoder.encode(color_grid(ord("x"), 0x1C, 120, 50), 0, 0)
    info = parse_header(flat)
    assert info.kind is MessageKind.KEYFRAME and info.flags & Flags.DEFLATE
    assert len(flat) < 200, "12000 equal bytes deflate to a few dozen"
    noise = np.random.default_rng(8).integers(0, 256, (2, 50, 120), dtype=np.uint8)
    raw = encoder.encode(Grid(Mode.COLOR, noise), 1, 40)
    assert not parse_header(raw).flags & Flags.DEFLATE, "noise does not deflate"
    assert len(raw) == HEADER_SIZE + noise.size


def test_a_late_viewer_gets_the_current_state_stamped_with_the_last_frame() -> None:
    rng = np.random.default_rng(9)
    encoder = Encoder()
    with pytest.raises(LookupError):
        encoder.keyframe()
    for seq in range(3):
        encoder.encode(random_grid(rng, Mode.COLOR, 12, 5), 100 + seq, seq * 40)
    keyframe = encoder.keyframe()
    assert encoder.keyframe() is keyframe, "cached for the next viewer"
    info = parse_header(keyframe)
    assert (info.kind, info.seq, info.pts_ms) == (MessageKind.KEYFRAME, 102, 80)
    late = Decoder()
    late.decode(keyframe)
    late.decode(encoder.encode(random_grid(rng, Mode.COLOR, 12, 5), 103, 120))
    assert late.grid == encoder.reference


def test_a_viewer_that_missed_a_delta_is_told_to_resync_and_recovers() -> None:
    rng = np.random.default_rng(10)
    encoder, viewer = Encoder(), Decoder()
    grid = random_grid(rng, Mode.MONO, 20, 5)
    viewer.decode(encoder.encode(grid, 0, 0))
    encoder.encode(edit(rng, grid, 0.1), 1, 40)  # lost on the way
    held = viewer.grid
    with pytest.raises(OutOfSyncError, match="delta on top of frame 1, holding frame 0"):
        viewer.decode(encoder.encode(edit(rng, grid, 0.1), 2, 80))
    assert viewer.grid == held and viewer.seq == 0, "a refused message changes nothing"
    viewer.decode(encoder.keyframe())
    viewer.decode(encoder.encode(edit(rng, grid, 0.1), 3, 120))
    assert viewer.grid == encoder.reference


def test_a_delta_before_any_keyframe_asks_for_one() -> None:
    encoder = Encoder()
    grid = color_grid(1, 2)
    encoder.encode(grid, 0, 0)
    with pytest.raises(OutOfSyncError, match="before any keyframe"):
        Decoder().decode(encoder.encode(grid, 1, 40))


def test_a_delta_for_another_grid_asks_for_a_keyframe() -> None:
    small, large = Encoder(), Encoder()
    viewer = Decoder()
    viewer.decode(small.encode(color_grid(1, 2, 10, 4), 0, 0))
    large.encode(color_grid(1, 2, 12, 4), 0, 0)
    with pytest.raises(OutOfSyncError, match="12x4 color grid, holding a 10x4"):
        viewer.decode(large.encode(color_grid(1, 2, 12, 4), 1, 40))


def test_reset_forgets_the_grid() -> None:
    encoder, viewer = Encoder(), Decoder()
    viewer.decode(encoder.encode(color_grid(1, 2), 0, 0))
    viewer.reset()
    assert viewer.grid is None and viewer.seq is None


def test_the_encoder_refuses_a_bad_tolerance() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        Encoder(tolerance=-1)


# --- malformed input ----------------------------------------------------------------


def sample_messages() -> list[bytes]:
    """A keyframe and deltas of every mode, compressed and not."""
    rng = np.random.default_rng(11)
    messages = []
    for mode in Mode:
        encoder = Encoder()
        grid = random_grid(rng, mode, 16, 6)
        grid.planes[:, :3] = 7  # a compressible keyframe
        messages.append(encoder.encode(grid, 0, 0))
        for seq, share in enumerate([0.02, 0.3, 0.0], start=1):
            grid = edit(rng, grid, share)
            messages.append(encoder.encode(grid, seq, seq * 40))
    assert {parse_header(m).flags for m in messages} == {Flags(0), Flags.DEFLATE}
    return messages


SAMPLES = sample_messages()


def decoder_before(message: bytes) -> Decoder:
    """A decoder in the state the message was made for (so that deltas apply)."""
    info = parse_header(message)
    decoder = Decoder()
    for earlier in SAMPLES:
        if earlier is message:
            break
        if parse_header(earlier).mode is info.mode:
            decoder.decode(earlier)
    return decoder


def assert_refused_cleanly(decoder: Decoder, message: bytes) -> None:
    """Decoding raises ProtocolError (or succeeds); a refusal changes nothing."""
    grid, seq = decoder.grid, decoder.seq
    try:
        decoder.decode(message)
    except ProtocolError:
        assert decoder.grid == grid and decoder.seq == seq
    # Anything else propagates and fails the test.


@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_every_truncation_is_refused_with_protocol_error(index: int) -> None:
    message = SAMPLES[index]
    decoder = decoder_before(message)
    for cut in range(len(message)):
        with pytest.raises(ProtocolError):
            decoder.decode(message[:cut])
    decoder.decode(message)  # and the whole message is fine


@settings(max_examples=400, deadline=None)
@given(
    index=st.integers(0, len(SAMPLES) - 1),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4),
)
def test_corrupted_messages_raise_protocol_error_only(
    index: int, flips: list[tuple[int, int]]
) -> None:
    message = bytearray(SAMPLES[index])
    for position, mask in flips:
        message[position % len(message)] ^= mask
    assert_refused_cleanly(decoder_before(SAMPLES[index]), bytes(message))


def header_bytes(kind: int, mode: int, flags: int, cols: int, rows: int) -> bytes:
    """A v2 header with seq, pts_ms and base_seq 0."""
    return struct.pack(">BBBBIIIHH", 2, kind, mode, flags, 0, 0, 0, cols, rows)


def header(kind: int = 1, mode: int = 1, flags: int = 0, cols: int = 4, rows: int = 2) -> bytes:
    return header_bytes(kind, mode, flags, cols, rows)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from([1, 2]),
    mode=st.integers(1, 4),
    flags=st.sampled_from([0, 1]),
    cols=st.integers(1, 16),
    rows=st.integers(1, 6),
    payload=st.binary(max_size=300),
)
def test_garbage_payloads_raise_protocol_error_only(
    kind: int, mode: int, flags: int, cols: int, rows: int, payload: bytes
) -> None:
    message_header = struct.pack(">BBBBIIIHH", 2, kind, mode, flags, 1, 0, 0, cols, rows)
    decoder = Decoder()
    planes = len(LAYOUTS[list(Mode)[mode - 1]])
    decoder.decode(header_bytes(1, mode, 0, cols, rows) + bytes(cols * rows * planes))
    if flags:
        payload = zlib.compress(payload)[2:-4]  # raw DEFLATE of the garbage
    assert_refused_cleanly(decoder, message_header + payload)


@given(st.binary(max_size=64))
def test_random_bytes_raise_protocol_error_only(message: bytes) -> None:
    assert_refused_cleanly(Decoder(), message)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"\x01" + header()[1:] + bytes(8), "frame version 1, expected 2"),
        (header(kind=3), "unknown message kind 3"),
        (header(mode=9), "unknown mode 9"),
        (header(flags=2), "unknown flags 0x02"),
        (header(cols=0), "grid 0x2 is empty"),
        (header(cols=2048, rows=1024), "over 1048576 cells"),
        (header() + bytes(7), "needs 8 bytes, carries 7"),
        (header() + bytes(9), "needs 8 bytes, carries 9"),
        (header(flags=1) + b"\x00\x01", "inflate|truncated"),
        (header(flags=1) + zlib.compress(bytes(8))[2:-4] + b"x", "after the end"),
    ],
)
def test_malformed_messages_say_what_is_wrong(message: bytes, error: str) -> None:
    with pytest.raises(ProtocolError, match=error):
        Decoder().decode(message)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"", "truncated"),
        (b"\x01\x00", "truncated"),
        (b"\x01\x00\x00", "empty run"),
        (b"\x01\x07\x02ab", "end at cell 9, grid has 8"),
        (b"\x01\x00\x02a", "carries 1 bytes"),
        (b"\x01\x00\x02abc", "carries 3 bytes"),
        (b"\x09", "9 runs for 8 cells"),
        (b"\x01\x80\x80\x80\x01\x01a", "longer than 3 bytes"),
    ],
)
def test_malformed_deltas_say_what_is_wrong(payload: bytes, error: str) -> None:
    decoder = Decoder()
    decoder.decode(header() + b"abcdefgh")
    with pytest.raises(ProtocolError, match=error):
        decoder.decode(header(kind=2) + payload)
    assert decoder.grid is not None and decoder.grid.text() == ["abcd", "efgh"]


def test_a_deflate_bomb_is_refused_without_inflating_it() -> None:
    # 100 MB of zeros deflate to ~100 kB; a 4x2 keyframe may inflate to 8 bytes.
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = bomb.compress(bytes(100_000_000)) + bomb.flush()
    with pytest.raises(ProtocolError, match="more than the 8 bytes"):
        Decoder().decode(header(flags=1) + packed)
    decoder = Decoder()
    decoder.decode(header() + bytes(8))
    with pytest.raises(ProtocolError, match="more than the"):
        decoder.decode(header(kind=2, flags=1) + packed)


def test_the_largest_grid_allowed_is_what_the_encoder_accepts() -> None:
    too_big = Grid(Mode.MONO, np.zeros((1, 1, MAX_CELLS + 1), dtype=np.uint8))
    with pytest.raises(ValueError, match="over"):
        Encoder().encode(too_big, 0, 0)


@given(st.lists(st.integers(0, 2**21 - 1), max_size=50))
def test_leb128_round_trips(values: list[int]) -> None:
    packed = codec._leb128(np.array(values, dtype=np.int64))
    data = np.frombuffer(packed, dtype=np.uint8)
    decoded, end = codec._read_leb128(data, 0, len(values))
    assert list(decoded) == values and end == len(packed)
