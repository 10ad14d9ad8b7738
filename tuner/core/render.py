"""Turn raw grayscale frames into character cells.

Each mode is a pure function from a frame (a numpy array of pixels ffmpeg already
scaled to the grid) to the cells that the codec sends.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Dark to bright. Drawn light-on-dark, so a space is black and ``@`` is full.
MONO_RAMP = b" .`:-=+*cox#%&@"


def _ramp_lut(ramp: bytes) -> npt.NDArray[np.uint8]:
    levels = np.arange(256, dtype=np.uint32) * len(ramp) // 256
    return np.frombuffer(ramp, dtype=np.uint8)[levels]


_MONO_LUT = _ramp_lut(MONO_RAMP)


def render_mono(gray: npt.NDArray[np.uint8]) -> bytes:
    """Map each pixel's brightness to a character of :data:`MONO_RAMP`.

    Args:
        gray: a ``(rows, cols)`` array of 8-bit luma, one pixel per cell.

    Returns:
        ``rows * cols`` ASCII bytes, row-major.
    """
    return _MONO_LUT[gray].tobytes()


def frame_from_bytes(data: bytes, cols: int, rows: int) -> npt.NDArray[np.uint8]:
    """View a raw ``gray`` frame from ffmpeg as a ``(rows, cols)`` array, without a copy."""
    if len(data) != cols * rows:
        raise ValueError(f"a {cols}x{rows} gray frame has {cols * rows} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=np.uint8).reshape(rows, cols)
