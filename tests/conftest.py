"""Shared fixtures.

Rules every test here follows:

- Network: loopback only, port 0 only. Nothing reaches beyond this machine.
- Real parts: the daemon is the real one on a real socket; ffmpeg is really spawned.
- Deadlines: every test has an absolute deadline (``timeout`` in pyproject.toml);
  tests that wait on the daemon use ``trio.fail_after`` with a generous bound.
- No leaks: integration tests check that no child process outlives them
  (``tests/integration/conftest.py``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.media import http_server, make_all


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH: run `bash .ci/run` or install ffmpeg")
    return path


@pytest.fixture(scope="session")
def ffprobe() -> str:
    """Path of ffprobe; the tests need it to check what the daemon produced."""
    return _tool("ffprobe")


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    """Path of ffmpeg, for tests that make media or run a filter themselves."""
    return _tool("ffmpeg")


@attrs.frozen
class Media:
    """The generated clips, served over loopback HTTP."""

    url: str
    directory: Path

    def url_of(self, name: str) -> str:
        """The URL of a clip in :data:`tests.media.CLIPS` (or any file served)."""
        return f"{self.url}/{name}"


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> Iterator[Media]:
    """Every clip of :mod:`tests.media`, made once per run and served on a loopback port.

    The tests run in parallel workers (pytest-xdist): the first worker to get here
    makes the clips in the run's shared temporary directory, under a lock; the
    others wait for it and use them.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # each worker's base is a directory of the run's
    directory = root / "media"
    with (root / "media.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / ".made").exists():
            directory.mkdir(exist_ok=True)
            make_all(ffmpeg, directory)
            (directory / ".made").touch()
    with http_server(directory) as url:
        yield Media(url, directory)
