"""ffmpeg command lines, checked without running them (they are run for real in
tests/integration/test_sources.py)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from tuner.core.egress import proxy_environment
from tuner.core.modes import MODE_SPECS, frame_view, render
from tuner.core.presets import PRESETS, Mode
from tuner.core.source import MediaInput, Source
from tuner.play.command import PROTOCOL_WHITELIST, probe_command, source_command, video_filter

LOW = PRESETS["low"]
VIDEO = MediaInput("https://cdn.example/v.mp4", (("User-Agent", "UA/1"),), True, False)
AUDIO = MediaInput("https://cdn.example/a.m4a", (("Referer", "https://site/"),), False, True)
BOTH = MediaInput("https://cdn.example/both.mp4", (), True, True)


def inputs(command: list[str]) -> list[str]:
    return [command[i + 1] for i, arg in enumerate(command) if arg == "-i"]


def option_before(command: list[str], url: str, option: str) -> str | None:
    """The value of ``option`` among the input options of ``url``."""
    end = command.index(url) - 1  # the url's own -i
    start = max((i + 2 for i in range(end) if command[i] == "-i"), default=0)
    args = command[start:end]
    return args[args.index(option) + 1] if option in args else None


def test_separate_video_and_audio_are_read_by_one_process_with_their_headers() -> None:
    source = Source("t", (VIDEO, AUDIO))
    command = source_command("ffmpeg", source, LOW, Mode.MONO, 3)
    assert inputs(command) == [VIDEO.url, AUDIO.url]
    for media in (VIDEO, AUDIO):
        assert option_before(command, media.url, "-protocol_whitelist") == PROTOCOL_WHITELIST
        # Read as fast as ffmpeg can: the session's lead paces it (tuner.play.timeline).
        assert "-re" not in command
    assert option_before(command, VIDEO.url, "-headers") == "User-Agent: UA/1\r\n"
    assert option_before(command, AUDIO.url, "-headers") == "Referer: https://site/\r\n"
    assert command[command.index("-map") + 1] == "0:v:0"
    assert "[1:a:0]aresample" in command[command.index("-filter_complex") + 1]
    assert command[-1] == "pipe:3" and "pipe:1" in command


def test_whitelist_excludes_local_files_and_other_protocols() -> None:
    allowed = set(PROTOCOL_WHITELIST.split(","))
    # httpproxy: https through the egress proxy (a CONNECT to it).
    assert allowed <= {"http", "https", "tcp", "tls", "crypto", "httpproxy"}
    assert not allowed & {"file", "pipe", "fd", "unix", "concat", "subfile", "data"}


def test_the_proxy_and_its_password_never_go_on_the_command_line() -> None:
    # Any local user reads /proc/PID/cmdline: ffmpeg gets the proxy in its environment
    # (whether it goes through it is tests/reliability/test_fetch_guard.py's to show).
    proxy = "http://session-1:s3cret@127.0.0.1:4567"
    command = source_command("ffmpeg", Source("t", (VIDEO, AUDIO)), LOW, Mode.MONO, 3)
    probe = probe_command("ffmpeg", VIDEO)
    for words in (command, probe):
        assert "-http_proxy" not in words
    assert proxy_environment({"PATH": "/bin"}, proxy) == {"PATH": "/bin", "http_proxy": proxy}
    with pytest.raises(ValueError, match="http://"):
        proxy_environment({}, "socks5://x:1")


def test_a_video_resumes_where_it_stopped_but_a_live_stream_at_its_edge() -> None:
    vod = source_command("ffmpeg", Source("t", (BOTH,)), LOW, Mode.MONO, 3, start_seconds=61.5)
    assert option_before(vod, BOTH.url, "-ss") == "61.500"
    live = source_command("ffmpeg", Source("t", (BOTH,), is_live=True), LOW, Mode.MONO, 3)
    assert option_before(live, BOTH.url, "-ss") is None


def test_a_live_playlist_starts_at_a_segment_and_only_hls_inputs_are_told_so() -> None:
    hls = MediaInput("https://cdn.example/live.m3u8", (), True, True, hls=True)
    for extra in ((), (AUDIO,)):
        source = Source("t", (hls, *extra), is_live=True)
        command = source_command("ffmpeg", source, LOW, Mode.MONO, 3, live_start_index=12)
        assert option_before(command, hls.url, "-live_start_index") == "12"
        assert option_before(command, hls.url, "-ss") is None
        # Any other demuxer would refuse the option and fail the run.
        for other in extra:
            assert option_before(command, other.url, "-live_start_index") is None
    at_edge = source_command("ffmpeg", Source("t", (hls,), is_live=True), LOW, Mode.MONO, 3)
    assert "-live_start_index" not in at_edge


def test_a_silent_video_gets_silence_as_long_as_itself() -> None:
    command = source_command("ffmpeg", Source("t", (VIDEO,), duration=30.0), LOW, Mode.MONO, 3)
    assert inputs(command) == [VIDEO.url, "anullsrc=r=48000:cl=stereo"]
    assert option_before(command, "anullsrc=r=48000:cl=stereo", "-t") == "30.000"
    assert "[1:a:0]aresample" in command[command.index("-filter_complex") + 1]


def test_sound_without_a_picture_gets_its_waveform() -> None:
    command = source_command("ffmpeg", Source("t", (AUDIO,)), LOW, Mode.MONO, 3)
    graph = command[command.index("-filter_complex") + 1]
    assert "[0:a:0]asplit=2[wave][sound]" in graph
    assert f"showwaves=s={LOW.cols}x{LOW.rows}" in graph
    maps = [command[i + 1] for i, arg in enumerate(command) if arg == "-map"]
    assert maps == ["[v]", "[a]"]


@pytest.mark.parametrize(
    "header", [("X-Evil", "a\r\nHost: other"), ("Bad:Name", "v"), ("X-Nul", "a\0b")]
)
def test_headers_that_would_smuggle_lines_are_dropped(header: tuple[str, str]) -> None:
    media = MediaInput("https://cdn.example/v.mp4", (header, ("Accept", "*/*")), True, True)
    command = source_command("ffmpeg", Source("t", (media,)), LOW, Mode.MONO, 3)
    assert option_before(command, media.url, "-headers") == "Accept: */*\r\n"


def test_a_source_with_nothing_to_play_is_a_bug() -> None:
    with pytest.raises(ValueError):
        nothing = Source("t", (MediaInput("https://x/", (), False, False),))
        source_command("ffmpeg", nothing, LOW, Mode.MONO, 3)


def test_reconnect_backoff_doubles_up_to_its_cap() -> None:
    from tuner.play.session import Playback

    playback = Playback(backoff_first=0.5, backoff_max=15)
    assert [playback.backoff(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 15, 15]


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize(
    ("size", "bars"),
    [("1280x720", "letter"), ("360x640", "pillar"), ("640x640", "pillar")],
)
def test_each_mode_gets_its_pixels_with_the_picture_in_whole_cells(
    ffmpeg: str, mode: Mode, size: str, bars: str
) -> None:
    """A white picture through the playback filter: the frame has the mode's size and
    format, the picture keeps its aspect, and its border of black is whole cells."""
    preset = PRESETS["low"]
    command = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
        "-f", "lavfi", "-i", f"color=white:size={size}:rate=24", "-frames:v", "1",
        "-vf", video_filter(preset, mode, convert_rate=False), "-f", "rawvideo", "pipe:1",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, timeout=30, check=True)
    assert len(done.stdout) == MODE_SPECS[mode].frame_bytes(preset.cols, preset.rows)
    grid = render(mode, frame_view(mode, done.stdout, preset.cols, preset.rows))
    lit = grid.planes[0] != grid.planes[0][0, 0]  # the corner is border: black
    assert lit.any(), "the picture is missing"
    lit_rows = np.flatnonzero(lit.any(axis=1))
    lit_cols = np.flatnonzero(lit.any(axis=0))
    # Every cell of the picture is lit whole: no cell is half picture, half border.
    assert lit[lit_rows[0] : lit_rows[-1] + 1, lit_cols[0] : lit_cols[-1] + 1].all()
    width, height = map(int, size.split("x"))
    cells_w, cells_h = len(lit_cols), len(lit_rows)
    # The picture's aspect, in cells 0.6 as wide as tall, to the nearest cell.
    if bars == "pillar":
        assert abs(cells_w - cells_h * width / height / 0.6) <= 1
    else:
        assert abs(cells_h - cells_w * 0.6 * height / width) <= 1
    if bars == "pillar":
        assert cells_h == preset.rows and cells_w < preset.cols
        assert abs(lit_cols[0] - (preset.cols - 1 - lit_cols[-1])) <= 1, "centred"
    else:
        assert cells_w == preset.cols and cells_h < preset.rows
        assert abs(lit_rows[0] - (preset.rows - 1 - lit_rows[-1])) <= 1, "centred"


def test_only_a_cached_file_is_read_as_a_file_and_then_with_file_alone() -> None:
    cached = MediaInput("/state/cache/abc.mp4", has_video=True, has_audio=True, local=True)
    source = Source("t", (cached,))
    command = source_command("ffmpeg", source, LOW, Mode.MONO, 3, start_seconds=12.0)
    assert inputs(command) == ["file:/state/cache/abc.mp4"]
    assert option_before(command, "file:/state/cache/abc.mp4", "-protocol_whitelist") == "file"
    assert option_before(command, "file:/state/cache/abc.mp4", "-ss") == "12.000"
    # A file: URL that is not the cache's (from a site, a playlist, a worker) is not.
    sneaky = MediaInput("file:///etc/passwd", has_video=True, has_audio=True)
    command = source_command("ffmpeg", Source("t", (sneaky,)), LOW, Mode.MONO, 3)
    assert option_before(command, sneaky.url, "-protocol_whitelist") == PROTOCOL_WHITELIST


def test_a_worker_answer_never_makes_a_local_input() -> None:
    cached = MediaInput("/etc/passwd", has_video=True, has_audio=True, local=True)
    answer = Source("t", (cached,)).to_json()
    assert answer["inputs"][0]["local"] is True
    assert not Source.from_json(answer).is_local
