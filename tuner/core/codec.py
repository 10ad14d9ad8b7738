"""Protocol version 2 of ``/ws/video`` frames: keyframes and deltas of cell grids.

One :class:`Encoder` per session turns the grids a mode renders into messages: a
keyframe (the whole grid) or a delta (only the runs of cells that changed since the
state every viewer is known to have, the *reference*). A colour may drift within the
encoder's tolerance before its cell is resent; a symbol is always exact. The
:class:`Decoder` keeps a grid and applies messages to it; after every message it
holds exactly the encoder's reference. ``docs/protocol.rst`` is the reference for
clients; the layout is summarised here.

Header, 20 bytes, big-endian::

    version u8 = 2 | kind u8 | mode u8 | flags u8 | seq u32 | pts_ms u32 |
    base_seq u32 | cols u16 | rows u16

Payload (raw DEFLATE when ``flags & 1``):

* keyframe: every plane, ``cols * rows`` bytes each, row-major, plane after plane;
* delta: ``n_runs``, then ``n_runs`` pairs ``(skip, length)``, all unsigned LEB128;
  then, plane after plane, the new bytes of the cells the runs cover, in order. A run
  starts ``skip`` cells after the end of the previous one (the first after cell 0).

A delta applies only to the state left by the message whose ``seq`` is its
``base_seq``: the last message that changed the grid (a delta that changes nothing
leaves the state, and its seq, as they were, so it may be left out; see
:func:`is_empty_delta`). A decoder holding anything else raises
:class:`OutOfSyncError` and should ask for a keyframe.
"""

from __future__ import annotations

import enum
import struct
import zlib

import attrs
import numpy as np
import numpy.typing as npt

from tuner.core.color import distant_table
from tuner.core.control import ProtocolError
from tuner.core.grid import LAYOUTS, Grid, PlaneKind
from tuner.core.presets import Mode

__all__ = [
    "DEFAULT_TOLERANCE",
    "FRAME_VERSION",
    "HEADER_SIZE",
    "MAX_CELLS",
    "MODE_IDS",
    "Decoder",
    "Encoder",
    "Flags",
    "FrameInfo",
    "MessageKind",
    "OutOfSyncError",
    "ProtocolError",
    "is_empty_delta",
    "parse_header",
]

#: The first byte of every frame: the frame format, unchanged since protocol 2 (the
#: protocol's own version, in the ``hello``, is ``tuner.core.control.PROTOCOL_VERSION``).
FRAME_VERSION = 2

_HEADER = struct.Struct(">BBBBIIIHH")
#: Bytes before the payload.
HEADER_SIZE = _HEADER.size

#: The largest grid a message may carry; a decoder allocates no more than a few bytes
#: per cell, so a forged header cannot make it allocate gigabytes.
MAX_CELLS = 1 << 20

#: How far (on the 0-255 scale, in any channel) a colour may drift from what a viewer
#: was sent before its cell is resent. One RGB332 red or green step is 36 or 37, a blue
#: step 85: 40 absorbs the flicker of a colour on the edge between two levels, but
#: never lets blue lag a step. ``bench/bench_codec.py`` measures what it saves.
DEFAULT_TOLERANCE = 40

# Below this a payload is sent as it is: DEFLATE's framing alone would eat the gain.
_MIN_COMPRESS = 48
# Wider than any LEB128 number a valid message holds (cell counts fit in 3 bytes).
_MAX_VARINT_BYTES = 3


class MessageKind(enum.IntEnum):
    """What a binary message's payload holds."""

    #: The whole grid.
    KEYFRAME = 1
    #: Runs of changed cells, on top of the state after message ``base_seq``.
    DELTA = 2


class Flags(enum.IntFlag):
    """Bits of the header's ``flags`` byte. Any other bit set is an error."""

    #: The payload is raw DEFLATE (RFC 1951, no zlib or gzip wrapper).
    DEFLATE = 1


# An int: ``~`` of an IntFlag member keeps only the enum's own bits.
_KNOWN_FLAGS = int(Flags.DEFLATE)

#: The ``mode`` byte of each mode.
MODE_IDS: dict[Mode, int] = {Mode.MONO: 1, Mode.COLOR: 2, Mode.BLOCKS: 3, Mode.BRAILLE: 4}
_MODES_BY_ID = {v: k for k, v in MODE_IDS.items()}


class OutOfSyncError(ProtocolError):
    """A valid delta that does not apply to the grid the decoder holds.

    The viewer missed a message (or has never had a keyframe): it should ask for a
    keyframe and drop deltas until one comes.
    """


@attrs.frozen
class FrameInfo:
    """A message's header, as :func:`parse_header` or :meth:`Decoder.decode` read it."""

    kind: MessageKind
    mode: Mode
    flags: Flags
    seq: int
    pts_ms: int
    base_seq: int
    cols: int
    rows: int

    @property
    def cells(self) -> int:
        """Cells in the grid."""
        return self.cols * self.rows


def parse_header(message: bytes | bytearray | memoryview) -> FrameInfo:
    """Read and check a v2 message's header.

    Raises:
        ProtocolError: too short, another version, or a field out of range.
    """
    # The version first, even in a short message: a v1 frame is shorter than a v2 header.
    if len(message) and message[0] != FRAME_VERSION:
        raise ProtocolError(f"frame version {message[0]}, expected {FRAME_VERSION}")
    if len(message) < HEADER_SIZE:
        raise ProtocolError(f"message too short: {len(message)} bytes, header is {HEADER_SIZE}")
    _, kind, mode, flags, seq, pts_ms, base_seq, cols, rows = _HEADER.unpack_from(message)
    if kind not in (MessageKind.KEYFRAME, MessageKind.DELTA):
        raise ProtocolError(f"unknown message kind {kind}")
    if mode not in _MODES_BY_ID:
        raise ProtocolError(f"unknown mode {mode}")
    if flags & ~_KNOWN_FLAGS:
        raise ProtocolError(f"unknown flags {flags:#04x}")
    if cols == 0 or rows == 0 or cols * rows > MAX_CELLS:
        raise ProtocolError(f"grid {cols}x{rows} is empty or over {MAX_CELLS} cells")
    return FrameInfo(
        MessageKind(kind), _MODES_BY_ID[mode], Flags(flags), seq, pts_ms, base_seq, cols, rows
    )


def is_empty_delta(message: bytes | bytearray | memoryview) -> bool:
    """Whether a message is a delta that changes nothing (a fan-out may drop it).

    The client's grid stays as it is, and the next delta is based on the same state,
    so leaving it out saves its header on a still picture.
    """
    return (
        len(message) == HEADER_SIZE + 1
        and message[1] == MessageKind.DELTA
        and message[HEADER_SIZE] == 0
    )


def _pack_header(
    kind: MessageKind,
    mode: Mode,
    flags: Flags,
    seq: int,
    pts_ms: int,
    base_seq: int,
    cols: int,
    rows: int,
) -> bytes:
    return _HEADER.pack(
        FRAME_VERSION,
        kind,
        MODE_IDS[mode],
        flags,
        seq & 0xFFFFFFFF,
        pts_ms & 0xFFFFFFFF,
        base_seq & 0xFFFFFFFF,
        cols,
        rows,
    )


# --- LEB128, a whole array at a time ------------------------------------------------


def _leb128(values: npt.NDArray[np.int64]) -> bytes:
    """Unsigned LEB128 of each value, concatenated (values below 2**21)."""
    v = values.astype(np.uint32)
    width = 1 + (v >= 1 << 7).astype(np.intp) + (v >= 1 << 14)
    ends = np.cumsum(width)
    starts = ends - width
    out = np.empty(int(ends[-1]) if len(ends) else 0, dtype=np.uint8)
    for k in range(_MAX_VARINT_BYTES):  # over byte positions, not over values
        has = width > k
        more = (width > k + 1).astype(np.uint32) << 7
        out[starts[has] + k] = ((v[has] >> (7 * k)) & 0x7F) | more[has]
    return out.tobytes()


def _read_leb128(
    data: npt.NDArray[np.uint8], offset: int, count: int
) -> tuple[npt.NDArray[np.int64], int]:
    """Read ``count`` LEB128 numbers from ``offset``; return them and the next offset."""
    if count == 0:
        return np.empty(0, dtype=np.int64), offset
    window = data[offset : offset + count * _MAX_VARINT_BYTES]
    ends = np.flatnonzero(window < 0x80)[:count]
    if len(ends) < count:
        raise ProtocolError(f"delta truncated: expected {count} run numbers")
    starts = np.empty(count, dtype=np.intp)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    width = ends - starts + 1
    if int(width.max()) > _MAX_VARINT_BYTES:
        raise ProtocolError(f"a run number is longer than {_MAX_VARINT_BYTES} bytes")
    values = np.zeros(count, dtype=np.int64)
    for k in range(_MAX_VARINT_BYTES):
        has = width > k
        values[has] |= (window[starts[has] + k].astype(np.int64) & 0x7F) << (7 * k)
    return values, offset + int(ends[-1]) + 1


def _read_one_leb128(data: npt.NDArray[np.uint8], offset: int) -> tuple[int, int]:
    values, offset = _read_leb128(data, offset, 1)
    return int(values[0]), offset


def _cover(
    starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], n: int
) -> npt.NDArray[np.bool_]:
    """A mask of the ``n`` cells inside the runs ``[starts[i], ends[i])``.

    The runs must be in order and disjoint (they may touch): starts are then distinct,
    and so are ends, so each may be scattered with one indexed add.
    """
    edges = np.zeros(n + 1, dtype=np.int32)
    edges[starts] += 1
    edges[ends] -= 1
    covered: npt.NDArray[np.bool_] = np.cumsum(edges[:n]) > 0
    return covered


def _deflate(payload: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(payload) + compressor.flush()


def _inflate(data: bytes | bytearray | memoryview, limit: int) -> bytes:
    """Raw DEFLATE, refusing to produce more than ``limit`` bytes."""
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ProtocolError(f"payload does not inflate: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise ProtocolError(f"payload inflates to more than the {limit} bytes its grid allows")
    if not inflater.eof:
        raise ProtocolError("compressed payload is truncated")
    if inflater.unused_data:
        raise ProtocolError("bytes after the end of the compressed payload")
    return out


# --- encoder ------------------------------------------------------------------------


@attrs.define
class Encoder:
    """Turns a session's grids into v2 messages; one per session, shared by viewers.

    The encoder keeps the *reference*: the grid every viewer who has followed its
    messages holds. :meth:`encode` sends what differs from it and updates it;
    :meth:`keyframe` hands the reference, whole, to a viewer who joins or who has
    skipped messages. The messages are the same for every viewer, so a fan-out can
    encode once and send the bytes to all.

    Attributes:
        tolerance: how far a colour channel (0-255) may drift before its cell is
            resent; 0 resends every colour change.
        level: the DEFLATE level (1 fastest ... 9 smallest).
        keyframe_share: when at least this share of the cells would be resent, a
            keyframe is sent instead (a scene cut): it carries no run numbers and
            resets every viewer's drift.
    """

    tolerance: int = DEFAULT_TOLERANCE
    level: int = 6
    keyframe_share: float = 0.85
    _reference: npt.NDArray[np.uint8] | None = attrs.field(default=None, init=False)
    _mode: Mode | None = attrs.field(default=None, init=False)
    _cols: int = attrs.field(default=0, init=False)
    _rows: int = attrs.field(default=0, init=False)
    _seq: int = attrs.field(default=0, init=False)
    _pts_ms: int = attrs.field(default=0, init=False)
    _keyframe: bytes | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        distant_table(self.tolerance)  # fails now, not at the first frame

    @property
    def reference(self) -> Grid | None:
        """A copy of the grid viewers hold after the last message, or None before any."""
        if self._reference is None or self._mode is None:
            return None
        planes = self._reference.reshape(-1, self._rows, self._cols).copy()
        return Grid(self._mode, planes)

    def encode(self, grid: Grid, seq: int, pts_ms: int, *, keyframe: bool = False) -> bytes:
        """The message that brings viewers from the reference to ``grid``.

        A delta, or a keyframe when asked for, for the first grid, when the mode or
        grid size changed, or when most cells changed.

        Args:
            grid: the new frame's cells.
            seq: its number in the session (sent modulo 2**32).
            pts_ms: its presentation time in ms from the session's start.
            keyframe: send the whole grid whatever changed.
        """
        if grid.cols * grid.rows > MAX_CELLS:
            raise ValueError(f"grid {grid.cols}x{grid.rows} is over {MAX_CELLS} cells")
        new = grid.planes.reshape(len(grid.planes), -1)
        reference = self._reference
        if (
            keyframe
            or reference is None
            or grid.mode is not self._mode
            or (grid.cols, grid.rows) != (self._cols, self._rows)
        ):
            return self._new_keyframe(grid, new, seq, pts_ms)

        changed = np.zeros(new.shape[1], dtype=np.bool_)
        far = distant_table(self.tolerance).reshape(-1)
        for index, kind in enumerate(LAYOUTS[grid.mode]):
            different = reference[index] != new[index]
            if kind is PlaneKind.SYMBOL:
                changed |= different
                continue
            # Look the tolerance up only where the codes differ: usually a few cells.
            where = np.flatnonzero(different)
            pairs = (reference[index, where].astype(np.uint16) << 8) | new[index, where]
            changed[where[np.take(far, pairs)]] = True
        where = np.flatnonzero(changed)
        if len(where) >= self.keyframe_share * new.shape[1]:
            return self._new_keyframe(grid, new, seq, pts_ms)

        if not len(where):
            # The state, and so its seq, stay as they were: a server may leave this out.
            return self._message(MessageKind.DELTA, b"\x00", seq, pts_ms, self._seq)

        # Runs of consecutive changed cells. Bridging short gaps of unchanged cells
        # (resending them to save a run's numbers) was measured to cost more bytes
        # than it saves once DEFLATE has squeezed the run numbers.
        breaks = np.flatnonzero(np.diff(where) > 1)
        starts = where[np.concatenate(([0], breaks + 1))].astype(np.int64)
        ends = where[np.concatenate((breaks, [len(where) - 1]))].astype(np.int64) + 1
        numbers = np.empty(2 * len(starts) + 1, dtype=np.int64)
        numbers[0] = len(starts)
        numbers[1] = starts[0]
        numbers[3::2] = starts[1:] - ends[:-1]
        numbers[2::2] = ends - starts
        # Index and select rather than boolean-mask a 2-D array: 10x faster here.
        sent = np.take(new, where, axis=1)
        payload = _leb128(numbers) + sent.tobytes()
        self._reference = np.where(changed, new, reference)
        base_seq = self._seq
        self._seq, self._pts_ms, self._keyframe = seq, pts_ms, None
        return self._message(MessageKind.DELTA, payload, seq, pts_ms, base_seq)

    def keyframe(self) -> bytes:
        """The reference as a keyframe, for a viewer who joins or skipped messages.

        It is stamped with the ``seq`` and ``pts_ms`` of the message that last
        changed the reference (the last frame, unless the frames after it changed
        nothing), whose state it carries, so that the next delta, based on that
        ``seq``, applies on top of it. Cached until the reference changes.

        Raises:
            LookupError: nothing has been encoded yet.
        """
        if self._reference is None:
            raise LookupError("no frame encoded yet")
        if self._keyframe is None:
            self._keyframe = self._message(
                MessageKind.KEYFRAME,
                self._reference.tobytes(),
                self._seq,
                self._pts_ms,
                self._seq,
            )
        return self._keyframe

    def _new_keyframe(self, grid: Grid, new: npt.NDArray[np.uint8], seq: int, pts_ms: int) -> bytes:
        self._reference = new.copy()
        self._mode, self._cols, self._rows = grid.mode, grid.cols, grid.rows
        self._seq, self._pts_ms, self._keyframe = seq, pts_ms, None
        return self.keyframe()

    def _message(
        self, kind: MessageKind, payload: bytes, seq: int, pts_ms: int, base_seq: int
    ) -> bytes:
        assert self._mode is not None
        flags = Flags(0)
        if len(payload) >= _MIN_COMPRESS:
            packed = _deflate(payload, self.level)
            if len(packed) < len(payload):
                payload, flags = packed, Flags.DEFLATE
        header = _pack_header(
            kind, self._mode, flags, seq, pts_ms, base_seq, self._cols, self._rows
        )
        return header + payload


# --- decoder ------------------------------------------------------------------------


@attrs.define
class Decoder:
    """Applies v2 messages to a grid; holds the encoder's reference after each.

    A message is checked whole before anything is changed: a message that raises
    leaves the decoder as it was.
    """

    _planes: npt.NDArray[np.uint8] | None = attrs.field(default=None, init=False)
    #: The last keyframe's header: the grid's mode and size.
    _info: FrameInfo | None = attrs.field(default=None, init=False)
    _seq: int | None = attrs.field(default=None, init=False)

    @property
    def grid(self) -> Grid | None:
        """A copy of the current grid, or None before the first keyframe."""
        if self._planes is None or self._info is None:
            return None
        info = self._info
        return Grid(info.mode, self._planes.reshape(-1, info.rows, info.cols).copy())

    @property
    def seq(self) -> int | None:
        """The ``seq`` of the message that last changed the grid.

        The next delta's ``base_seq`` must be this. A delta that changes nothing does
        not change it, so such deltas may be left out by the server or lost.
        """
        return self._seq

    def reset(self) -> None:
        """Forget the grid (a new session): deltas fail until the next keyframe."""
        self._planes, self._info, self._seq = None, None, None

    def decode(self, message: bytes | bytearray | memoryview) -> FrameInfo:
        """Apply one binary message.

        Returns:
            The message's header.

        Raises:
            OutOfSyncError: a valid delta for another state than the one held.
            ProtocolError: anything else wrong with the message (truncated, corrupt,
                of another version, bigger than its grid allows).
        """
        info = parse_header(message)
        n_planes = len(LAYOUTS[info.mode])
        cells = info.cells
        body = memoryview(message)[HEADER_SIZE:]
        if info.kind is MessageKind.KEYFRAME:
            size = n_planes * cells
            payload = _inflate(body, size) if info.flags & Flags.DEFLATE else body
            if len(payload) != size:
                raise ProtocolError(
                    f"keyframe of a {info.cols}x{info.rows} {info.mode} grid needs {size} "
                    f"bytes, carries {len(payload)}"
                )
            self._planes = np.frombuffer(payload, dtype=np.uint8).reshape(n_planes, cells).copy()
            self._info, self._seq = info, info.seq
            return info

        held = self._info
        if held is None or self._planes is None or self._seq is None:
            raise OutOfSyncError("a delta before any keyframe: ask for a keyframe")
        # Bounds any valid delta: run count, two numbers per cell at most, and the cells.
        limit = _MAX_VARINT_BYTES * (1 + 2 * cells) + n_planes * cells
        payload = _inflate(body, limit) if info.flags & Flags.DEFLATE else body
        data = np.frombuffer(payload, dtype=np.uint8)
        n_runs, offset = _read_one_leb128(data, 0)
        if n_runs > cells:
            raise ProtocolError(f"delta has {n_runs} runs for {cells} cells")
        numbers, offset = _read_leb128(data, offset, 2 * n_runs)
        skips, lengths = numbers[0::2], numbers[1::2]
        if n_runs and int(lengths.min()) < 1:
            raise ProtocolError("delta has an empty run")
        ends = np.cumsum(skips + lengths)
        if n_runs and int(ends[-1]) > cells:
            raise ProtocolError(f"delta runs end at cell {int(ends[-1])}, grid has {cells}")
        total = int(lengths.sum())
        if len(data) - offset != n_planes * total:
            raise ProtocolError(
                f"delta covers {total} cells of {n_planes} planes, carries "
                f"{len(data) - offset} bytes for them"
            )
        if (held.mode, held.cols, held.rows) != (info.mode, info.cols, info.rows):
            raise OutOfSyncError(
                f"delta for a {info.cols}x{info.rows} {info.mode} grid, holding a "
                f"{held.cols}x{held.rows} {held.mode} one: ask for a keyframe"
            )
        if info.base_seq != self._seq:
            raise OutOfSyncError(
                f"delta on top of frame {info.base_seq}, holding frame {self._seq}: "
                "ask for a keyframe"
            )
        if total:
            where = np.flatnonzero(_cover(ends - lengths, ends, cells))
            values = data[offset:].reshape(n_planes, total)
            for plane, new in zip(self._planes, values, strict=True):
                np.put(plane, where, new)
            self._seq = info.seq
        return info
