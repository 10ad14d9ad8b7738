"""A clip that tells its own media time, in picture and in sound, and the readers that
get the time back from what tuner makes of it.

No font is assumed (``drawtext`` needs one): the picture is geometry only, black and
white, in blocks large enough to survive tuner's smallest grid.

The picture (640x360, :data:`FPS` frames a second), in source pixels::

    y   0- 40  a white bar, the whole width           (marks the picture's top)
    y  72-152  BITS blocks: block j is white when bit j of the frame number is set
    y 208-288  BITS blocks: the complement of the row above
    y 320-360  a white bar, the whole width           (marks the picture's bottom)

Bit 0 is the most significant, leftmost; block ``j`` is 48 pixels wide at
``x = 64 j + 8``. The frame number ``n`` is the frame's media time times :data:`FPS`.
Each bit is shown twice, once plain and once inverted, so that every frame has the
same share of white (the contrast stretch of ``mono`` never changes from frame to
frame) and a reader can tell a clear bit from a blurred one: one of the pair must be
white and the other black, or the frame is not read. The bars let the reader find the
picture inside tuner's grid whatever the letterbox or pillarbox around it.

The sound: a 0.1 s beep at each whole second ``s``, at ``BEEP_BASE_HZ +
BEEP_STEP_HZ * s`` (the pitch says which second it is), silence between.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tuner.core.color import expand
from tuner.core.grid import Grid
from tuner.core.modes import BRAILLE_BITS, MONO_RAMP
from tuner.core.presets import Mode

#: Frames a second of the clip (the frame number is the media time times this).
FPS = 24
WIDTH, HEIGHT = 640, 360
#: Bits of the frame number: 1024 frames, 42.6 s at 24 fps.
BITS = 10
_BAR = 40  # height of the top and bottom bars
_COLUMN, _BLOCK_X, _BLOCK_W = 64, 8, 48
_PLAIN_Y, _INVERTED_Y, _BLOCK_H = 72, 208, 80

_boxes = [
    f"drawbox=x=0:y=0:w={WIDTH}:h={_BAR}:color=white:t=fill",
    f"drawbox=x=0:y={HEIGHT - _BAR}:w={WIDTH}:h={_BAR}:color=white:t=fill",
]
for _j in range(BITS):
    _mask = 1 << (BITS - 1 - _j)
    _box = f"drawbox=x={_COLUMN * _j + _BLOCK_X}:w={_BLOCK_W}:h={_BLOCK_H}:color=white:t=fill"
    # n is the frame's number from the source's start (timeline editing's variable).
    _boxes.append(f"{_box}:y={_PLAIN_Y}:enable='gt(bitand(n,{_mask}),0)'")
    _boxes.append(f"{_box}:y={_INVERTED_Y}:enable='eq(bitand(n,{_mask}),0)'")
#: The picture, as a lavfi source.
TIMECODE_VIDEO = f"color=c=black:s={WIDTH}x{HEIGHT}:r={FPS}," + ",".join(_boxes)

BEEP_BASE_HZ = 400
BEEP_STEP_HZ = 100
BEEP_SECONDS = 0.1
SAMPLE_RATE = 48000
#: The sound, as a lavfi source: the beep of second s starts on a rising zero crossing
#: at t = s (its frequency is a whole number of hertz).
TIMECODE_AUDIO = (
    f"aevalsrc='if(lt(mod(t,1),{BEEP_SECONDS}),"
    f"0.8*sin(2*PI*({BEEP_BASE_HZ}+{BEEP_STEP_HZ}*floor(t))*t),0)'"
    f":s={SAMPLE_RATE}:c=stereo"
)

Brightness = npt.NDArray[np.float32]

# Each ramp character's brightness, 0 (space) to 1 (the last character).
_RAMP_LEVEL = np.zeros(256, dtype=np.float32)
_RAMP_LEVEL[list(MONO_RAMP)] = np.arange(len(MONO_RAMP), dtype=np.float32) / (len(MONO_RAMP) - 1)


def brightness_of(grid: Grid) -> Brightness:
    """What a grid shows, as a picture of brightness from 0 to 1.

    One value a cell for ``mono`` and ``color`` (the character's place on the ramp),
    two a cell (upper, lower) for ``blocks`` (the colours' luma), eight a cell (2x4,
    lit or not) for ``braille`` (its dots).
    """
    planes = grid.planes
    if grid.mode in (Mode.MONO, Mode.COLOR):
        levels: Brightness = np.take(_RAMP_LEVEL, planes[0])
        return levels
    if grid.mode is Mode.BLOCKS:
        rgb = expand(planes).astype(np.float32)  # (upper/lower, rows, cols, 3)
        luma = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / 255
        # (upper/lower, rows, cols) -> (rows, upper/lower, cols) -> pixel rows
        out: Brightness = np.ascontiguousarray(luma.transpose(1, 0, 2)).reshape(
            2 * grid.rows, grid.cols
        )
        return out
    dots = planes[0]
    lit = np.zeros((grid.rows, 4, grid.cols, 2), dtype=np.float32)
    for dy, bits in enumerate(BRAILLE_BITS):
        for dx, bit in enumerate(bits):
            lit[:, dy, :, dx] = (dots & bit) != 0
    return lit.reshape(4 * grid.rows, 2 * grid.cols)


def frame_number_of(grid: Grid) -> int | None:
    """The frame number a grid of the timecode clip shows, or None when it does not
    clearly show one (not this clip, a blank or mixed picture, or too small a grid)."""
    picture = brightness_of(grid)
    lit = picture >= 0.5
    # The bars are the rows lit the whole picture's width (a row of blocks is lit over
    # 3/4 of it at most). Not any lit sample: the letterbox need not be black (in
    # braille it is dotted, its black being brighter than the picture's).
    across = lit.mean(axis=1)
    if across.max() == 0:
        return None
    bar_rows = np.flatnonzero(across >= 0.9 * across.max())
    cols = np.flatnonzero(lit[bar_rows].mean(axis=0) > 0.5)
    if cols.size == 0:
        return None
    top, left = int(bar_rows[0]), int(cols[0])
    height, width = int(bar_rows[-1]) + 1 - top, int(cols[-1]) + 1 - left
    if height < 12 or width < 2 * BITS:  # too few samples for the blocks
        return None

    def at(x: float, y: float) -> float:
        """The brightness at a point given in source pixels."""
        return float(picture[top + int(y * height / HEIGHT), left + int(x * width / WIDTH)])

    across = [WIDTH * (i + 0.5) / 8 for i in range(8)]
    bars = [at(x, y) for x in across for y in (_BAR / 2, HEIGHT - _BAR / 2)]
    # The gaps between the bars and the blocks, and between the two rows of blocks.
    gaps = [
        at(x, y)
        for x in across
        for y in ((_BAR + _PLAIN_Y) / 2, (_PLAIN_Y + _BLOCK_H + _INVERTED_Y) / 2)
    ]
    if min(bars) < 0.75 or max(gaps) > 0.25:
        return None
    number = 0
    for j in range(BITS):
        x = _COLUMN * j + _BLOCK_X + _BLOCK_W / 2
        plain = at(x, _PLAIN_Y + _BLOCK_H / 2)
        inverted = at(x, _INVERTED_Y + _BLOCK_H / 2)
        if abs(plain - inverted) < 0.5:
            return None
        number = 2 * number + (plain > inverted)
    return number


def media_time_of(grid: Grid) -> float | None:
    """The media time (seconds from the clip's start) of the frame a grid shows, to
    the frame (1/:data:`FPS` s); None when the grid does not clearly show one.

    Works for every mode and preset tuner has (the tests check mono and color at every
    preset, blocks and braille at ``low``), wherever the picture lies in the grid.
    """
    number = frame_number_of(grid)
    return None if number is None else number / FPS


def audio_time_of(samples: npt.NDArray[np.floating], rate: int = SAMPLE_RATE) -> float | None:
    """The media time of the first sample of some of the clip's sound, or None when
    it holds no whole beep that starts after a silence.

    Reads the first such beep: where it starts in ``samples`` and, from its pitch,
    which second it marks. A beep cut by the start of ``samples`` is passed over, so
    give it a little over a second and a tenth to be sure of one.

    Args:
        samples: mono PCM (mix stereo down first), full scale 1.0.
        rate: samples a second.
    """
    loud = np.flatnonzero(np.abs(samples) > 0.1)
    quiet = int(0.01 * rate)  # the silence that must come before an onset
    length = int(BEEP_SECONDS * rate * 0.9)
    for onset in loud[np.diff(loud, prepend=-quiet - 1) > quiet]:
        if onset < quiet:
            continue  # it may be the tail of a beep cut short by the start
        if onset + length > len(samples):
            return None
        beep = samples[onset : onset + length].astype(np.float64)
        spectrum = np.abs(np.fft.rfft(beep * np.hanning(length), n=rate))  # 1 Hz bins
        pitch = float(np.argmax(spectrum))  # bins of 1 Hz (n = rate)
        second = round((pitch - BEEP_BASE_HZ) / BEEP_STEP_HZ)
        if second < 0 or abs(pitch - BEEP_BASE_HZ - BEEP_STEP_HZ * second) > BEEP_STEP_HZ / 4:
            return None
        return second - int(onset) / rate
    return None
