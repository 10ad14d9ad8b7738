"""The real ffmpeg, run with a session's own command line against a loopback server
that misbehaves (``tests/misbehaving.py``), comes to the sentence that
``tests/core/test_diagnose.py`` expects from the lines it copied: the table is what
this ffmpeg really says.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator

import pytest

from tests.core.test_diagnose import FFMPEG_FAILURES
from tests.misbehaving import closed_port, make_media, serve
from tuner.core.diagnose import explain
from tuner.core.presets import PRESETS, Mode
from tuner.core.source import MediaInput, Source
from tuner.play.command import source_command


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> Iterator[str]:
    with serve(make_media(ffmpeg, tmp_path_factory.mktemp("misbehaving"))) as base:
        yield base


def _play(ffmpeg: str, url: str) -> tuple[int, str]:
    """ffmpeg's exit status and stderr when a session plays ``url`` (its sound read and
    dropped)."""
    source = Source("x", (MediaInput(url, has_video=True, has_audio=True),))
    read_fd, write_fd = os.pipe()
    command = source_command(ffmpeg, source, PRESETS["low"], Mode.MONO, write_fd)
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(write_fd,)
    )
    os.close(write_fd)

    def drain() -> None:
        with os.fdopen(read_fd, "rb") as sound:
            while sound.read(1 << 16):
                pass

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(10)
    return process.returncode, stderr.decode(errors="replace")


@pytest.mark.parametrize("case", sorted(FFMPEG_FAILURES))
def test_the_real_ffmpeg_says_what_the_table_expects(ffmpeg: str, server: str, case: str) -> None:
    if case == "closed":
        url = f"http://127.0.0.1:{closed_port()}/v.mp4"
    elif case == "tls":
        url = server.replace("http:", "https:") + "/v.mp4"
    else:
        url = server + case
    _, stderr = _play(ffmpeg, url)
    _, sentence = FFMPEG_FAILURES[case]
    assert explain(stderr, "ffmpeg failed") == sentence, stderr


def test_the_same_server_plays_a_file_with_its_index_first(ffmpeg: str, server: str) -> None:
    """The advice of the Range sentence works: remuxed with ``-movflags +faststart``,
    the file plays from the same server, to its end and without a word."""
    assert _play(ffmpeg, server + "/index-first.mp4") == (0, "")
