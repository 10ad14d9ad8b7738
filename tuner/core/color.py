"""Cell colours on the wire: RGB332, one byte a colour.

A colour is quantised to 3 bits of red, 3 of green and 2 of blue, packed as
``rrrgggbb``: each channel is rounded to its nearest level, and a client expands it
back with :data:`PALETTE`. One byte, rather than RGB565's two, keeps a ``color`` or
``braille`` cell at two bytes and a ``blocks`` cell at two, and gives a client at
most 256 distinct colours per frame to batch its drawing by. ``bench/bench_codec.py``
measures what it costs in fidelity and what it saves on the wire against RGB444 and
RGB565.

Blue gets the fewest bits because the eye resolves it worst.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

#: Bits per channel, red, green, blue.
BITS = (3, 3, 2)


def _levels(bits: int) -> npt.NDArray[np.uint8]:
    top = (1 << bits) - 1
    v = np.arange(256, dtype=np.uint32)
    return ((v * top + 127) // 255).astype(np.uint8)


def _expansion(bits: int) -> npt.NDArray[np.uint8]:
    top = (1 << bits) - 1
    q = np.arange(top + 1, dtype=np.uint32)
    return ((q * 255 + top // 2) // top).astype(np.uint8)


# One lookup per channel, each already shifted into place, so that quantising a frame
# is three gathers and two ORs.
_R = (_levels(3) << 5).astype(np.uint8)
_G = (_levels(3) << 2).astype(np.uint8)
_B = _levels(2)


def _palette() -> npt.NDArray[np.uint8]:
    codes = np.arange(256, dtype=np.uint32)
    pal = np.empty((256, 3), dtype=np.uint8)
    pal[:, 0] = _expansion(3)[codes >> 5]
    pal[:, 1] = _expansion(3)[(codes >> 2) & 7]
    pal[:, 2] = _expansion(2)[codes & 3]
    pal.flags.writeable = False
    return pal


#: The 0-255 RGB a client draws for each code: ``PALETTE[code] == (R, G, B)``.
PALETTE = _palette()


def quantize(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Quantise RGB pixels to RGB332 codes, each channel to its nearest level.

    Args:
        rgb: an array whose last axis is ``(R, G, B)``, 8 bits each.

    Returns:
        An array of the same shape without the last axis, one code per pixel.
    """
    # np.take rather than fancy indexing: about twice as fast for a 256-entry table.
    out: npt.NDArray[np.uint8] = np.take(_R, rgb[..., 0])
    out |= np.take(_G, rgb[..., 1])
    out |= np.take(_B, rgb[..., 2])
    return out


def expand(codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The RGB of RGB332 codes: an array with a new last axis ``(R, G, B)``."""
    return np.take(PALETTE, codes, axis=0)


@functools.cache
def distant_table(tolerance: int) -> npt.NDArray[np.bool_]:
    """Which pairs of codes differ by more than ``tolerance`` in some channel.

    ``distant_table(t)[a, b]`` is true when a channel of ``PALETTE[a]`` and the same
    channel of ``PALETTE[b]`` are more than ``t`` apart (on the 0-255 scale). The
    encoder indexes it with the reference and the new codes of a whole plane at once.

    Args:
        tolerance: 0 or more; 0 makes every different code distant.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be 0 or more, got {tolerance}")
    pal = PALETTE.astype(np.int16)
    diff = np.abs(pal[:, None, :] - pal[None, :, :]).max(axis=2)
    table: npt.NDArray[np.bool_] = diff > tolerance
    table.flags.writeable = False
    return table
