"""Rendering, the frame codec and ADTS framing (sans-IO)."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.core.adts import ADTSSplitter
from tuner.core.codec import (
    HEADER_SIZE,
    ProtocolError,
    decode_control,
    decode_frame,
    encode_control,
    encode_mono_frame,
)
from tuner.core.render import MONO_RAMP, frame_from_bytes, render_mono


def test_mono_maps_black_to_space_and_white_to_the_densest_character() -> None:
    gray = np.array([[0, 255], [128, 17]], dtype=np.uint8)
    cells = render_mono(gray)
    assert cells[0:1] == b" " and cells[1:2] == b"@"
    assert len(cells) == 4


def test_mono_is_monotonic_in_brightness() -> None:
    cells = render_mono(np.arange(256, dtype=np.uint8).reshape(1, 256))
    ranks = [MONO_RAMP.index(c) for c in cells]
    assert ranks == sorted(ranks)
    assert set(ranks) == set(range(len(MONO_RAMP))), "every character of the ramp is used"


def test_frame_from_bytes_checks_the_size() -> None:
    assert frame_from_bytes(bytes(6), 3, 2).shape == (2, 3)
    with pytest.raises(ValueError, match="3x2 gray frame has 6 bytes"):
        frame_from_bytes(bytes(5), 3, 2)


@given(
    st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(1, 20),
    st.data(),
)  # fmt: skip
def test_frames_round_trip(seq: int, pts: int, cols: int, rows: int, data: st.DataObject) -> None:
    cells = data.draw(st.binary(min_size=cols * rows, max_size=cols * rows))
    frame = decode_frame(encode_mono_frame(seq, pts, cols, rows, cells))
    assert (frame.seq, frame.pts_ms, frame.cols, frame.rows, frame.cells) == (
        seq, pts, cols, rows, cells,
    )  # fmt: skip


@given(st.binary(max_size=64))
def test_decoding_garbage_raises_protocol_error_only(message: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_frame(message)


def test_truncated_wrong_version_and_wrong_kind_are_refused() -> None:
    good = encode_mono_frame(1, 2, 4, 2, b"abcdefgh")
    with pytest.raises(ProtocolError, match="too short"):
        decode_frame(good[: HEADER_SIZE - 1])
    with pytest.raises(ProtocolError, match="carries 7 cells"):
        decode_frame(good[:-1])
    with pytest.raises(ProtocolError, match="protocol version 9"):
        decode_frame(b"\x09" + good[1:])
    with pytest.raises(ProtocolError, match="unknown frame kind 7"):
        decode_frame(good[:1] + b"\x07" + good[2:])


def test_control_messages() -> None:
    text = encode_control("hello", cols=3)
    assert decode_control(text) == {"type": "hello", "cols": 3}
    for bad in ("nope", "[]", '{"type": 1}', "{}"):
        with pytest.raises(ProtocolError):
            decode_control(bad)


def _adts_frame(payload_len: int, fill: int) -> bytes:
    length = 7 + payload_len
    header = bytes([
        0xFF, 0xF1, 0x4C, 0x80 | (length >> 11), (length >> 3) & 0xFF,
        ((length & 7) << 5) | 0x1F, 0xFC,
    ])  # fmt: skip
    return header + bytes([fill]) * payload_len


@given(
    st.lists(st.integers(0, 300), min_size=1, max_size=12),
    st.lists(st.integers(1, 97), min_size=1, max_size=30),
)
def test_adts_frames_come_out_whole_however_the_stream_is_cut(
    sizes: list[int], cuts: list[int]
) -> None:
    frames = [_adts_frame(size, i % 250) for i, size in enumerate(sizes)]
    stream = b"".join(frames)
    splitter, out, pos, i = ADTSSplitter(), [], 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        out += splitter.feed(stream[pos : pos + step])
        pos, i = pos + step, i + 1
    assert out == frames
    assert splitter.skipped_bytes == 0


def test_adts_resyncs_after_garbage() -> None:
    frame = _adts_frame(10, 1)
    splitter = ADTSSplitter()
    assert splitter.feed(b"\x00garbage\x12" + frame + frame) == [frame, frame]
    assert splitter.skipped_bytes == 9
