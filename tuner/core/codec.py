"""The wire format of ``/ws/video`` (protocol version 1), both directions of it.

Text messages are JSON control messages (``hello``, ``end``); binary messages are
frames. ``docs/protocol.rst`` is the reference for clients; this module is the
reference implementation, and its decoder is what the tests use.
"""

from __future__ import annotations

import enum
import json
import struct
from typing import Any

import attrs

PROTOCOL_VERSION = 1

_HEADER = struct.Struct(">BBIIHH")
HEADER_SIZE = _HEADER.size


class FrameKind(enum.IntEnum):
    """What the payload of a binary message holds."""

    #: Every cell of the grid, one ASCII byte each, row-major.
    MONO_FULL = 1


class ProtocolError(ValueError):
    """A message that is not valid in this protocol version."""


@attrs.frozen
class Frame:
    """One decoded video frame."""

    kind: FrameKind
    seq: int
    pts_ms: int
    cols: int
    rows: int
    cells: bytes


def encode_mono_frame(seq: int, pts_ms: int, cols: int, rows: int, cells: bytes) -> bytes:
    """Encode a full mono frame.

    Args:
        seq: the frame's number in its session, from 0, wrapping at 2**32.
        pts_ms: its presentation time in milliseconds from the session's start.
        cols: grid width in cells.
        rows: grid height in cells.
        cells: ``cols * rows`` ASCII bytes, row-major.
    """
    if len(cells) != cols * rows:
        raise ValueError(f"{cols}x{rows} grid needs {cols * rows} cells, got {len(cells)}")
    header = _HEADER.pack(
        PROTOCOL_VERSION, FrameKind.MONO_FULL, seq & 0xFFFFFFFF, pts_ms & 0xFFFFFFFF, cols, rows
    )
    return header + cells


def decode_frame(message: bytes) -> Frame:
    """Decode a binary frame message.

    Raises:
        ProtocolError: the message is truncated, of another version or kind, or its
            payload does not fit its grid.
    """
    if len(message) < HEADER_SIZE:
        raise ProtocolError(f"frame too short: {len(message)} bytes, header is {HEADER_SIZE}")
    version, kind, seq, pts_ms, cols, rows = _HEADER.unpack_from(message)
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {version}, expected {PROTOCOL_VERSION}")
    if kind != FrameKind.MONO_FULL:
        raise ProtocolError(f"unknown frame kind {kind}")
    cells = message[HEADER_SIZE:]
    if len(cells) != cols * rows:
        raise ProtocolError(f"{cols}x{rows} frame carries {len(cells)} cells")
    return Frame(FrameKind(kind), seq, pts_ms, cols, rows, bytes(cells))


def encode_control(message_type: str, **fields: Any) -> str:
    """Encode a JSON control message (a text websocket message)."""
    return json.dumps({"type": message_type, **fields}, separators=(",", ":"))


def decode_control(text: str) -> dict[str, Any]:
    """Decode a JSON control message.

    Raises:
        ProtocolError: not a JSON object with a string ``type``.
    """
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"control message is not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("control message must be a JSON object with a string 'type'")
    return message
