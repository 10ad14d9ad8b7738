"""Control messages and ADTS framing (sans-IO)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.core.adts import ADTSSplitter
from tuner.core.control import ProtocolError, decode_control, encode_control


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
