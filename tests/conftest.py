"""Shared fixtures.

Rules every test here follows:

- Network: loopback only, port 0 only. Nothing reaches beyond this machine.
- Real parts: the daemon is the real one on a real socket; ffmpeg is really spawned.
- Deadlines: every test has an absolute deadline (``timeout`` in pyproject.toml);
  tests that wait on the daemon use ``trio.fail_after`` with a generous bound.
- No leaks: integration tests check that no child process outlives them
  (``tests/integration/conftest.py``).
- Lanes: a test that starts a process (a daemon, ffmpeg, node, a yt-dlp worker, a
  command) or a browser is ``slow``; the others are the fast lane,
  ``python -m pytest -m "not slow"``. The marks are set here, by where a test is and
  what fixtures it uses (:func:`pytest_collection_modifyitems`), and checked, not
  trusted: in the fast lane a test that starts a process fails, naming it.
- Hypothesis: no per-example deadline (its default, 200 ms, fails examples on a busy
  machine; speed is measured in bench/, not asserted here).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import settings as hypothesis_settings

from tests.media import http_server, make_all

# Replaces Hypothesis's default profile; its "ci" profile (loaded when CI is set)
# already has no deadline, and runs the same examples every time.
hypothesis_settings.register_profile(
    "default", hypothesis_settings.get_profile("default"), deadline=None
)

#: Where every test starts a process or a browser (paths under tests/; a directory
#: ends with a slash): the daemon's and the browser's directories, and the modules
#: that start processes themselves.
SLOW_PATHS = (
    "integration/",
    "reliability/",
    "web/",
    "core/test_codec_js.py",
    "extract/test_youtube_live.py",
    "play/test_ffmpeg.py",
    "play/test_resolver.py",
    "term/test_remote_cli.py",
    "term/test_watch.py",
    "test_cli.py",
    "test_procs.py",
)
#: Fixtures that start a process: ffmpeg (which makes the clips), a daemon, a browser.
SLOW_FIXTURES = frozenset(
    {"ffmpeg", "ffprobe", "media", "daemon", "running_daemon", "browser", "page"}
)
#: Audit events (PEP 578) of a process being started.
_PROCESS_EVENTS = frozenset(
    {"subprocess.Popen", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.system"}
)


def _fast_lane(config: pytest.Config) -> bool:
    return "not slow" in (config.getoption("markexpr") or "")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the fast lane, the directories of slow tests are not even imported."""
    tests = Path(__file__).parent
    if not _fast_lane(config) or not collection_path.is_relative_to(tests):
        return None
    return (collection_path.relative_to(tests).as_posix() + "/") in SLOW_PATHS or None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``slow`` the tests under :data:`SLOW_PATHS`, the ``browser`` tests and the
    tests that use one of :data:`SLOW_FIXTURES`."""
    tests = Path(__file__).parent
    for item in items:
        if not item.path.is_relative_to(tests):
            continue
        where = item.path.relative_to(tests).as_posix()
        fixtures = set(getattr(item, "fixturenames", ()))
        if (
            any(where == p or (p.endswith("/") and where.startswith(p)) for p in SLOW_PATHS)
            or item.get_closest_marker("browser") is not None
            or fixtures & SLOW_FIXTURES
        ):
            item.add_marker(pytest.mark.slow)


#: The processes the running test started, in the fast lane (else None).
_started: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _started is not None and event in _PROCESS_EVENTS:
        _started.append(f"{event} {args[:2]!r}"[:200])


sys.addaudithook(_audit)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    """In the fast lane, note the processes a test starts (from setup to teardown)."""
    global _started
    _started = [] if _fast_lane(item.config) and item.get_closest_marker("slow") is None else None
    try:
        yield
    finally:
        _started = None


@pytest.fixture(autouse=True)
def _starts_no_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test of the fast lane that starts a process fails: it belongs in the slow one."""
    yield
    if _started:
        pytest.fail(
            f"{request.node.nodeid} started a process, so it is slow: add its module to "
            f"SLOW_PATHS in tests/conftest.py (or mark the test slow): {_started[0]}"
        )


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
