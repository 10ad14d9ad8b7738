"""Render modes: raw frames from ffmpeg to cell grids, one pure function each.

Each mode has a :class:`ModeSpec` saying what ffmpeg should deliver: the pixel
format and how many pixels per cell, so that ffmpeg (which scales in C, with SIMD)
does the resampling and the Python side only does lookups and a few whole-array
operations per frame. Every function here is vectorised numpy: no Python loop over
cells or pixels.

=======  =======  ===================  ===========================================
mode     pix_fmt  pixels for c x r     why
=======  =======  ===================  ===========================================
mono     gray     c x r                luma is all it needs, one byte a cell
color    rgb24    c x r                a colour per cell; luma computed from it
blocks   rgb24    c x 2r               top pixel the foreground, bottom the back
braille  yuv420p  2c x 4r              one luma sample per dot, chroma per 2x2
=======  =======  ===================  ===========================================

``rgb24`` for ``color`` and ``blocks``: every pixel's colour is needed, and numpy
reads packed RGB as a ``(h, w, 3)`` view of the pipe's bytes without a copy.

``yuv420p`` for ``braille``: its dots need luma at eight samples a cell but its
colour only once a cell, and in ``yuv420p`` ffmpeg hands over the luma plane ready
made and the colour already averaged over 2x2 pixels (two samples a cell). Half the
bytes of ``rgb24`` come down the pipe, no per-pixel luma is computed, and only the
cell colours are converted to RGB: about 1 ms instead of several at ``ultra``. The
conversion needs to know the matrix and range, so the mode's filter asks ffmpeg for
full-range BT.601 (:meth:`ModeSpec.video_filter`).

ffmpeg's own 8-bit RGB formats (``rgb8``, ``bgr8``) would quantise for us, but with
dithering that changes from frame to frame, which would defeat the delta codec.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import attrs
import numpy as np
import numpy.typing as npt

from tuner.core.color import quantize
from tuner.core.grid import Grid
from tuner.core.presets import Mode

Pixels = npt.NDArray[np.uint8]

#: Dark to bright. Drawn light-on-dark, so a space is black and ``@`` is full.
MONO_RAMP = b" .`:-=+*cox#%&@"

# Bytes per pixel, in eighths (yuv420p has 12 bits a pixel).
_EIGHTHS_PER_PIXEL = {"gray": 8, "rgb24": 24, "yuv420p": 12}


@attrs.frozen
class ModeSpec:
    """What a mode needs from ffmpeg.

    Attributes:
        mode: the mode this describes.
        pix_fmt: the ffmpeg pixel format of the raw frames: ``gray``, ``rgb24`` or
            ``yuv420p``.
        x_scale: pixels per cell across.
        y_scale: pixels per cell down.
        scale_options: extra options for ffmpeg's ``scale`` filter (``:key=value``),
            for formats whose numbers depend on a colour matrix and range.
    """

    mode: Mode
    pix_fmt: str
    x_scale: int
    y_scale: int
    scale_options: str = ""

    def pixel_size(self, cols: int, rows: int) -> tuple[int, int]:
        """The ``(width, height)`` in pixels ffmpeg should scale to for a grid."""
        return cols * self.x_scale, rows * self.y_scale

    def frame_bytes(self, cols: int, rows: int) -> int:
        """How many bytes one raw frame of a ``cols x rows`` grid takes on the pipe."""
        width, height = self.pixel_size(cols, rows)
        return width * height * _EIGHTHS_PER_PIXEL[self.pix_fmt] // 8

    def video_filter(self, cols: int, rows: int) -> str:
        """An ffmpeg ``-vf`` chain that delivers this mode's frames for a grid.

        ``area`` averages every source pixel into the target one, which is what a
        cell's brightness or colour should be; the ``format`` comes last so that
        the scaler converts once.
        """
        width, height = self.pixel_size(cols, rows)
        return f"scale={width}:{height}:flags=area{self.scale_options},format={self.pix_fmt}"


MODE_SPECS: Mapping[Mode, ModeSpec] = {
    Mode.MONO: ModeSpec(Mode.MONO, "gray", 1, 1),
    Mode.COLOR: ModeSpec(Mode.COLOR, "rgb24", 1, 1),
    Mode.BLOCKS: ModeSpec(Mode.BLOCKS, "rgb24", 1, 2),
    Mode.BRAILLE: ModeSpec(Mode.BRAILLE, "yuv420p", 2, 4, ":out_color_matrix=bt601:out_range=full"),
}


def frame_view(mode: Mode, data: bytes | bytearray | memoryview, cols: int, rows: int) -> Pixels:
    """View one raw frame from ffmpeg as a numpy array, without a copy.

    Args:
        mode: the mode the frame was produced for (see :data:`MODE_SPECS`).
        data: exactly one frame's bytes.
        cols: grid width in cells.
        rows: grid height in cells.

    Returns:
        A view of ``data`` (valid while ``data`` is unchanged), for a frame of
        ``width x height`` pixels: ``(height, width)`` for ``gray``,
        ``(height, width, 3)`` for ``rgb24``, and for ``yuv420p`` the classic
        ``(height * 3 // 2, width)`` picture of its three planes: the luma rows,
        then the U plane's rows two to a row, then the V plane's.

    Raises:
        ValueError: ``data`` is not one frame's size.
    """
    spec = MODE_SPECS[mode]
    size = memoryview(data).nbytes
    expected = spec.frame_bytes(cols, rows)
    if size != expected:
        raise ValueError(
            f"a {mode} frame for a {cols}x{rows} grid has {expected} bytes, got {size}"
        )
    width, height = spec.pixel_size(cols, rows)
    pixels = np.frombuffer(data, dtype=np.uint8)
    if spec.pix_fmt == "rgb24":
        return pixels.reshape(height, width, 3)
    if spec.pix_fmt == "yuv420p":
        return pixels.reshape(height * 3 // 2, width)
    return pixels.reshape(height, width)


# --- contrast stretch ---------------------------------------------------------------

#: Share of the darkest and of the brightest pixels left out when finding the levels,
#: so that a few specks do not decide a frame's contrast.
STRETCH_CLIP = 0.01
#: The narrowest luma range that is stretched to the whole ramp. A flat or nearly flat
#: frame is stretched at most 255/64 times, so sensor noise in a dark scene does not
#: become a storm of characters, and a black frame stays black.
STRETCH_MIN_SPAN = 64
#: Levels snap outwards to multiples of this, so that a level moving by one between
#: frames does not flip the characters of every pixel near a ramp step (each flip
#: would cost a cell in the next delta).
STRETCH_SNAP = 8
# Percentiles from about this many samples are as good as from all of a big frame.
_HISTOGRAM_SAMPLES = 32768


def contrast_levels(luma: Pixels) -> tuple[int, int]:
    """The luma levels that a frame's contrast stretch maps to black and to white.

    Args:
        luma: a 2-D array of 8-bit luma.

    Returns:
        ``(low, high)`` with ``0 <= low < high <= 255`` and ``high - low`` at least
        :data:`STRETCH_MIN_SPAN`.
    """
    step = max(1, int((luma.size / _HISTOGRAM_SAMPLES) ** 0.5))
    sample = luma[::step, ::step] if step > 1 else luma
    hist = np.bincount(sample.reshape(-1), minlength=256)
    cdf = np.cumsum(hist)
    total = int(cdf[-1])
    low = int(np.searchsorted(cdf, total * STRETCH_CLIP, side="right"))
    high = int(np.searchsorted(cdf, total * (1 - STRETCH_CLIP), side="left"))
    low = low // STRETCH_SNAP * STRETCH_SNAP
    high = min(255, -(-high // STRETCH_SNAP) * STRETCH_SNAP)
    if high - low < STRETCH_MIN_SPAN:
        # Centre the minimal span on the frame, shifted to stay inside 0..255: a black
        # frame keeps black at the bottom, a white one keeps white at the top.
        middle = (low + high) // 2
        low = max(0, min(middle - STRETCH_MIN_SPAN // 2, 255 - STRETCH_MIN_SPAN))
        high = low + STRETCH_MIN_SPAN
    return low, high


@functools.lru_cache(maxsize=512)
def stretch_table(low: int, high: int) -> Pixels:
    """A 256-entry lookup that maps ``low`` to 0 and ``high`` to 255, clipped."""
    v = np.arange(256, dtype=np.int32)
    table = np.clip(((v - low) * 255 + (high - low) // 2) // (high - low), 0, 255)
    out = table.astype(np.uint8)
    out.flags.writeable = False
    return out


_RAMP = np.frombuffer(MONO_RAMP, dtype=np.uint8)
_RAMP_INDEX = (np.arange(256, dtype=np.uint32) * len(MONO_RAMP) // 256).astype(np.intp)
_SPACE = MONO_RAMP[0]


@functools.lru_cache(maxsize=512)
def _ramp_table(low: int, high: int) -> Pixels:
    # Stretch and ramp composed into one lookup, so a frame costs a single gather.
    out: Pixels = _RAMP[_RAMP_INDEX[stretch_table(low, high)]]
    out.flags.writeable = False
    return out


def ramp_characters(luma: Pixels) -> Pixels:
    """Contrast-stretch 2-D luma and map it to :data:`MONO_RAMP`."""
    # np.take rather than fancy indexing: about twice as fast for a 256-entry table.
    return np.take(_ramp_table(*contrast_levels(luma)), luma)


# Luma weights (BT.601, as ffmpeg's gray) in 1/256ths, as lookups: three gathers and
# two adds in uint16 beat float arithmetic and strided multiplies here.
_LUMA_R = (np.arange(256, dtype=np.uint16) * 77).astype(np.uint16)
_LUMA_G = (np.arange(256, dtype=np.uint16) * 150).astype(np.uint16)
_LUMA_B = (np.arange(256, dtype=np.uint16) * 29 + 128).astype(np.uint16)


def luma_of(rgb: Pixels) -> Pixels:
    """8-bit luma of RGB pixels: ``(77 R + 150 G + 29 B + 128) >> 8``."""
    acc = np.take(_LUMA_R, rgb[..., 0])
    acc += np.take(_LUMA_G, rgb[..., 1])
    acc += np.take(_LUMA_B, rgb[..., 2])
    acc >>= 8
    return acc.astype(np.uint8)


# --- the four modes -----------------------------------------------------------------


def _require(frame: Pixels, mode: Mode, shape: str, ok: bool) -> None:
    if frame.dtype != np.uint8 or not ok or 0 in frame.shape:
        raise ValueError(
            f"{mode} needs {MODE_SPECS[mode].pix_fmt} pixels shaped {shape}, "
            f"got {frame.dtype} {frame.shape}"
        )


def render_mono(frame: Pixels) -> Grid:
    """``mono``: each pixel's contrast-stretched brightness as a ramp character.

    Args:
        frame: ``(rows, cols)`` 8-bit luma (ffmpeg's ``gray``).
    """
    _require(frame, Mode.MONO, "(rows, cols)", frame.ndim == 2)
    return Grid(Mode.MONO, ramp_characters(frame)[np.newaxis])


def render_color(frame: Pixels) -> Grid:
    """``color``: the ramp character of each pixel's luma, and the pixel's colour.

    The character is contrast-stretched as in ``mono``; the colour is not (it is the
    picture's own), only quantised. A space draws nothing, so its colour is set to 0:
    the colour of an invisible cell then never changes, and never costs a resend.

    Args:
        frame: ``(rows, cols, 3)`` RGB (ffmpeg's ``rgb24``).
    """
    _require(frame, Mode.COLOR, "(rows, cols, 3)", frame.ndim == 3 and frame.shape[2] == 3)
    rows, cols = frame.shape[:2]
    planes = np.empty((2, rows, cols), dtype=np.uint8)
    planes[0] = ramp_characters(luma_of(frame))
    planes[1] = quantize(frame)
    planes[1][planes[0] == _SPACE] = 0
    return Grid(Mode.COLOR, planes)


def render_blocks(frame: Pixels) -> Grid:
    """``blocks``: an upper half block per cell, top pixel over bottom pixel.

    Args:
        frame: ``(2 * rows, cols, 3)`` RGB (ffmpeg's ``rgb24``).
    """
    _require(
        frame,
        Mode.BLOCKS,
        "(2 * rows, cols, 3)",
        frame.ndim == 3 and frame.shape[2] == 3 and frame.shape[0] % 2 == 0,
    )
    height, cols = frame.shape[:2]
    codes = quantize(frame).reshape(height // 2, 2, cols)
    # (rows, top/bottom, cols) -> (top/bottom, rows, cols): foreground plane, then back.
    return Grid(Mode.BLOCKS, np.ascontiguousarray(codes.transpose(1, 0, 2)))


#: Bayer's 4x4 ordered-dither matrix; scaled to thresholds 8, 24, ... 248.
BAYER_4 = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], dtype=np.uint8)


@functools.lru_cache(maxsize=16)
def _bayer_thresholds(height: int, width: int) -> Pixels:
    tiles = np.tile(BAYER_4 * 16 + 8, (-(-height // 4), -(-width // 4)))
    out = np.ascontiguousarray(tiles[:height, :width])
    out.flags.writeable = False
    return out


#: The bit of each dot in a braille cell (4 rows x 2 columns), as Unicode numbers them:
#: dots 1-3 down the left, 4-6 down the right, then 7 and 8 along the bottom.
BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))


def render_braille(frame: Pixels) -> Grid:
    """``braille``: one dot per pixel, lit by ordered dithering, and a cell colour.

    Luma is contrast-stretched, then compared with a tiled 4x4 Bayer matrix: ordered
    dithering keeps a still picture's dots still (error diffusion would make them
    crawl, and every crawl costs bytes). The cell's colour is that of its lit pixels
    (see :func:`braille_cells`), because those are what is drawn; a cell with no dot
    gets colour 0, which never needs resending.

    Args:
        frame: a ``yuv420p`` frame of ``2 * cols x 4 * rows`` pixels, shaped as
            :func:`frame_view` gives it: ``(6 * rows, 2 * cols)``; full-range BT.601.
    """
    dots, rgb = braille_cells(frame)
    planes = np.empty((2, *dots.shape), dtype=np.uint8)
    planes[0] = dots
    planes[1] = quantize(rgb)  # black, code 0, where no dot is lit
    return Grid(Mode.BRAILLE, planes)


def braille_cells(frame: Pixels) -> tuple[Pixels, Pixels]:
    """The braille dots of a frame, and each cell's colour before quantising.

    A cell's colour is the mean luma of its lit pixels, with the chroma of its two
    chroma samples (each covers the upper or the lower 2x2 pixels) weighted by how
    many lit pixels each covers; black where no dot is lit.

    Args:
        frame: as for :func:`render_braille`.

    Returns:
        ``(dots, rgb)``: the ``(rows, cols)`` dot bits and ``(rows, cols, 3)`` RGB.
    """
    _require(
        frame,
        Mode.BRAILLE,
        "(6 * rows, 2 * cols)",
        frame.ndim == 2 and frame.shape[0] % 6 == 0 and frame.shape[1] % 2 == 0,
    )
    rows, cols = frame.shape[0] // 6, frame.shape[1] // 2
    height, width = 4 * rows, 2 * cols
    luma = frame[:height]
    chroma = frame[height:].reshape(2, rows, 2, cols)  # U/V, row, upper/lower, col

    lit = np.take(stretch_table(*contrast_levels(luma)), luma) > _bayer_thresholds(height, width)
    lit_u8 = lit.view(np.uint8)
    lit_luma = luma * lit_u8

    # Eight strided slices, one per dot position, each a (rows, cols) array: cheaper
    # than numpy reductions over the small inner axes of a (rows, 4, cols, 2) view.
    dots = np.zeros((rows, cols), dtype=np.uint8)
    luma_sum = np.zeros((rows, cols), dtype=np.uint16)
    upper = np.zeros((rows, cols), dtype=np.uint8)
    lower = np.zeros((rows, cols), dtype=np.uint8)
    for dy, bits in enumerate(BRAILLE_BITS):
        count = upper if dy < 2 else lower
        for dx, bit in enumerate(bits):
            dot = lit_u8[dy::4, dx::2]
            dots |= dot * np.uint8(bit)
            count += dot
            luma_sum += lit_luma[dy::4, dx::2]

    lit_count = np.maximum(upper + lower, 1).astype(np.float32)
    y = luma_sum / lit_count
    weights = np.stack((upper, lower), axis=1).astype(np.float32)  # rows, upper/lower, cols
    cb = (chroma[0] * weights).sum(axis=1) / lit_count - 128.0
    cr = (chroma[1] * weights).sum(axis=1) / lit_count - 128.0
    rgb = np.empty((rows, cols, 3), dtype=np.float32)
    rgb[..., 0] = y + 1.402 * cr
    rgb[..., 1] = y - 0.344136 * cb - 0.714136 * cr
    rgb[..., 2] = y + 1.772 * cb
    out = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    out[dots == 0] = 0
    return dots, out


def i420_from_rgb(rgb: Pixels) -> Pixels:
    """An RGB picture as ``braille``'s ffmpeg filter would deliver it.

    Full-range BT.601 ``yuv420p``, chroma averaged over each 2x2 block, shaped as
    :func:`frame_view` gives it. For tests, benchmarks and callers that have RGB.

    Args:
        rgb: ``(height, width, 3)`` with even ``height`` and ``width``.
    """
    height, width = rgb.shape[:2]
    if rgb.ndim != 3 or height % 2 or width % 2:
        raise ValueError(f"need (even, even, 3) RGB, got {rgb.shape}")
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b

    def pooled(plane: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        means: npt.NDArray[np.float32] = plane.reshape(height // 2, 2, width // 2, 2).mean(
            axis=(1, 3)
        )
        return means

    out = np.empty((height * 3 // 2, width), dtype=np.uint8)
    out[:height] = np.clip(y + 0.5, 0, 255).astype(np.uint8)
    chroma = out[height:].reshape(2, height // 2, width // 2)
    chroma[0] = np.clip(pooled(cb) + 0.5, 0, 255).astype(np.uint8)
    chroma[1] = np.clip(pooled(cr) + 0.5, 0, 255).astype(np.uint8)
    return out


RENDERERS: Mapping[Mode, Callable[[Pixels], Grid]] = {
    Mode.MONO: render_mono,
    Mode.COLOR: render_color,
    Mode.BLOCKS: render_blocks,
    Mode.BRAILLE: render_braille,
}


def render(mode: Mode, frame: Pixels) -> Grid:
    """Render a frame, as :func:`frame_view` gives it, in a mode.

    Raises:
        ValueError: the frame's shape or format is not what the mode needs.
    """
    return RENDERERS[mode](frame)
