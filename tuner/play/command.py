"""ffmpeg command lines: one process per session, video on stdout, sound on a second pipe.

Pure functions from a source and a preset to an argument list, tested without running
anything. The shape every command shares:

- every input is read as fast as ffmpeg can: the session holds each frame until it
  is at most the lead ahead of the play head (:mod:`tuner.play.timeline`), and
  ffmpeg waits on its pipe meanwhile; a live stream gives what it has;
- network inputs may use only :data:`PROTOCOL_WHITELIST`: a playlist cannot make
  ffmpeg read a local file (``file:``), a pipe or a socket of its choosing; only an
  input of the daemon's own download cache (``MediaInput.local``) is read as a file,
  and then with ``file`` alone allowed;
- video becomes raw frames of the pixels the render mode needs (gray, RGB or YUV,
  one or more pixels a cell) at the preset's fps (``fps`` duplicates or drops
  frames, so the output rate is exact whatever the source's); the picture keeps its
  aspect and is letterboxed or pillarboxed with black;
- sound becomes 48 kHz stereo AAC in ADTS frames, padded with silence from the
  start (``aresample=async=1:first_pts=0``) so audio time 0 is video time 0, with
  white noise at -90 dBFS mixed in (see :func:`audio_graph`);
- a source without sound gets silence, so that the audio element never stalls; a
  source without a picture gets a waveform of its sound.
"""

from __future__ import annotations

from tuner.core.modes import MODE_SPECS
from tuner.core.presets import CELL_ASPECT, Mode, Preset
from tuner.core.source import MediaInput, Source

#: The only protocols ffmpeg may open for a network source, including the segments
#: and keys an HLS playlist names (``httpproxy`` is how https reaches the egress
#: proxy, :mod:`tuner.egress_proxy`).
PROTOCOL_WHITELIST = "http,https,tcp,tls,crypto,httpproxy"
SAMPLE_RATE = 48000
#: Samples per AAC frame: one ADTS frame is 1024 / 48000 s of sound.
AAC_FRAME_SAMPLES = 1024
#: One ADTS frame's length: the unit of a session's clock.
AUDIO_FRAME_MS = AAC_FRAME_SAMPLES * 1000 / SAMPLE_RATE
AUDIO_BITRATE = "96k"
#: ffmpeg gives up on a read or connect that takes longer (microseconds).
IO_TIMEOUT_US = 10_000_000

_OUTPUT_FLAGS = ("-flush_packets", "1")


def testcard_command(ffmpeg: str, preset: Preset, mode: Mode, audio_fd: int) -> list[str]:
    """The built-in test card: a moving pattern and a tone that beeps every second.

    The pattern has the grid's own aspect, so that it fills the screen edge to edge.
    """
    height = round(640 / (preset.cols * CELL_ASPECT / preset.rows) / 2) * 2
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
        "-f", "lavfi", "-i", f"testsrc2=size=640x{height}:rate={preset.fps}",
        "-f", "lavfi", "-i", f"sine=frequency=440:beep_factor=4:sample_rate={SAMPLE_RATE}",
        # The pattern is made at the preset's rate: no fps filter, whose one-frame
        # lookahead would hold the first frame back ~40 ms.
        "-map", "0:v", "-vf", video_filter(preset, mode, convert_rate=False),
        "-f", "rawvideo", *_OUTPUT_FLAGS, "pipe:1",
        "-filter_complex", audio_graph("[1:a:0]"), "-map", "[a]", *_audio_output(audio_fd),
    ]  # fmt: skip


def source_command(
    ffmpeg: str,
    source: Source,
    preset: Preset,
    mode: Mode,
    audio_fd: int,
    *,
    start_seconds: float = 0.0,
    live_start_index: int | None = None,
) -> list[str]:
    """Play a resolved source from ``start_seconds`` (0 for live streams), or a live
    HLS stream from the segment ``live_start_index`` of its playlist (its window,
    :mod:`tuner.core.live_window`; ffmpeg cannot seek in a live playlist by time).

    The egress proxy, when the inputs are to be fetched through it, is not on the
    command line, where any local user could read its password (``/proc/PID/cmdline``):
    the caller gives it to ffmpeg in its environment (``http_proxy``,
    :func:`tuner.egress_proxy.child_environment`), which every request of every input
    (redirects, playlists, segments, keys) honours; https goes to it as ``CONNECT``.

    Raises:
        ValueError: the source has neither video nor audio (a resolver bug).
    """
    if not source.has_video and not source.has_audio:
        raise ValueError("a source needs video or audio")
    command = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error"]
    for media in source.inputs:
        command += _network_input(media, start_seconds, live_start_index)
    video_at = next((n for n, i in enumerate(source.inputs) if i.has_video), None)
    audio_at = next((n for n, i in enumerate(source.inputs) if i.has_audio), None)

    if video_at is None:
        assert audio_at is not None
        # No picture: draw the sound's waveform, from the same decoded audio.
        graph = (
            f"[{audio_at}:a:0]asplit=2[wave][sound];"
            f"[wave]{waveform_filter(preset, mode)}[v];" + audio_graph("[sound]")
        )
        return [
            *command, "-filter_complex", graph,
            "-map", "[v]", "-f", "rawvideo", *_OUTPUT_FLAGS, "pipe:1",
            "-map", "[a]", *_audio_output(audio_fd),
        ]  # fmt: skip

    command += ["-map", f"{video_at}:v:0", "-vf", video_filter(preset, mode)]
    command += ["-f", "rawvideo", *_OUTPUT_FLAGS, "pipe:1"]
    if audio_at is None:
        # No sound: silence, as long as the video when that is known.
        silence = ["-f", "lavfi"]
        if source.duration and not source.is_live:
            silence += ["-t", f"{max(source.duration - start_seconds, 0.1):.3f}"]
        silence += ["-i", f"anullsrc=r={SAMPLE_RATE}:cl=stereo"]
        # Inputs must come before outputs: put the silence in front of the first -map.
        at = command.index("-map")
        command[at:at] = silence
        audio_at = len(source.inputs)
    return [
        *command, "-filter_complex", audio_graph(f"[{audio_at}:a:0]"),
        "-map", "[a]", *_audio_output(audio_fd),
    ]  # fmt: skip


#: How much near-silent sound each listener gets before the session's own: as long as
#: the stream takes to fill one of Chromium's 32 KB read blocks, plus a margin.
PREROLL_SECONDS = 3.0


def preroll_command(ffmpeg: str) -> list[str]:
    """Near-silent sound, encoded like a session's (white noise at -90 dBFS).

    Chromium reads an endless ``<audio>`` stream in 32 KB blocks and starts playing
    only once the first one is full: about 2.7 s of a session's sound. A listener
    gets this first, all at once, so the element starts at once and the session's
    sound has filled the next block by the time the preroll has played.
    """
    return [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
        "-f", "lavfi", "-i", _NOISE, "-t", str(PREROLL_SECONDS), *_audio_output(1),
    ]  # fmt: skip


def video_filter(preset: Preset, mode: Mode, *, convert_rate: bool = True) -> str:
    """Frames at the preset's rate, scaled into its grid with the aspect kept, in the
    pixels ``mode`` renders from (:data:`~tuner.core.modes.MODE_SPECS`).

    A character cell is :data:`CELL_ASPECT` as wide as it is tall, so a cell's pixels
    are not square; the box and the picture's size are computed in whole cells, then
    multiplied by the mode's pixels per cell. Whole cells keep the picture's edge on
    a cell boundary (no cell half picture, half border) and every size and offset a
    multiple of the chroma subsampling that ``yuv420p`` needs.
    """
    spec = MODE_SPECS[mode]
    cols, rows, fps = preset.cols, preset.rows, preset.fps
    xs, ys = spec.x_scale, spec.y_scale
    box = cols * CELL_ASPECT / rows
    # The commas inside quotes are the expressions' own; the filter graph keeps them.
    cells_w = f"min({cols},round(if(gte(dar,{box:.6f}),{cols},{rows}*dar/{CELL_ASPECT})))"
    cells_h = f"min({rows},round(if(gte(dar,{box:.6f}),{cols}*{CELL_ASPECT}/dar,{rows})))"
    width, height = spec.pixel_size(cols, rows)
    rate = f"fps={fps}:start_time=0," if convert_rate else ""
    return (
        f"{rate}scale=w='{xs}*max(1,{cells_w})':h='{ys}*max(1,{cells_h})'"
        f":flags=area{spec.scale_options},"
        f"pad={width}:{height}:{xs}*floor((ow-iw)/{2 * xs}):{ys}*floor((oh-ih)/{2 * ys}),"
        f"format={spec.pix_fmt}"
    )


def waveform_filter(preset: Preset, mode: Mode) -> str:
    """The picture of a source without one: its sound's waveform across the grid."""
    spec = MODE_SPECS[mode]
    width, height = spec.pixel_size(preset.cols, preset.rows)
    return (
        f"showwaves=s={width}x{height}:mode=cline:rate={preset.fps}:colors=white,"
        f"scale=flags=area{spec.scale_options},format={spec.pix_fmt}"
    )


#: White noise at -90 dBFS: inaudible, and never digital silence.
_NOISE = f"anoisesrc=a=0.00003:c=white:r={SAMPLE_RATE},aformat=channel_layouts=stereo"


def audio_graph(source: str) -> str:
    """The sound's filters, from the pad ``source`` to ``[a]``.

    The noise keeps the encoder at its bitrate through silence (real silence is
    0.6 KB a second, this 12). Chromium reads an endless ``<audio>`` stream in 32 KB
    blocks, so a silent passage would otherwise starve the element for many seconds.
    """
    return (
        f"{source}aresample={SAMPLE_RATE}:async=1:first_pts=0,"
        "aformat=channel_layouts=stereo[sound];"
        f"{_NOISE}[noise];"
        "[sound][noise]amix=inputs=2:duration=first:normalize=0[a]"
    )


def _audio_output(audio_fd: int) -> list[str]:
    return [
        "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ac", "2", "-ar", str(SAMPLE_RATE),
        "-f", "adts", *_OUTPUT_FLAGS, f"pipe:{audio_fd}",
    ]  # fmt: skip


def _network_input(
    media: MediaInput, start_seconds: float, live_start_index: int | None = None
) -> list[str]:
    if media.local:
        seek = ["-ss", f"{start_seconds:.3f}"] if start_seconds > 0 else []
        return ["-protocol_whitelist", "file", *seek, "-i", f"file:{media.url}"]
    args = ["-protocol_whitelist", PROTOCOL_WHITELIST, "-rw_timeout", str(IO_TIMEOUT_US)]
    headers = "".join(f"{name}: {value}\r\n" for name, value in media.headers if _safe(name, value))
    if headers:
        args += ["-headers", headers]
    if live_start_index is not None and media.hls:
        # An option of the HLS demuxer only: any other input would refuse it.
        args += ["-live_start_index", str(live_start_index)]
    elif start_seconds > 0:
        args += ["-ss", f"{start_seconds:.3f}"]
    return [*args, "-i", media.url]


def probe_command(ffmpeg: str, media: MediaInput) -> list[str]:
    """``ffmpeg -i URL`` with no output: it prints the input's streams and exits (through
    the egress proxy when its environment names it, as for :func:`source_command`)."""
    return [ffmpeg, "-nostdin", "-hide_banner", *_network_input(media, 0.0)]


def _safe(name: str, value: str) -> bool:
    # A header with a line break would smuggle another header (or a request) in.
    return not any(c in name + value for c in "\r\n\0") and ":" not in name
