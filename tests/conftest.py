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

import shutil

import pytest


@pytest.fixture(scope="session")
def ffprobe() -> str:
    """Path of ffprobe; the tests need it to check what the daemon produced."""
    path = shutil.which("ffprobe")
    if path is None:
        pytest.fail("ffprobe is not on PATH: run `bash .ci/run` or install ffmpeg")
    return path
