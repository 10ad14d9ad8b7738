"""Child processes (:mod:`tuner.procs`): their group is killed on cancel, they die with
their parent however it dies, even stopped, and they talk in JSON lines.

Real processes only (``sh``, ``sleep``, Python), and real signals.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psutil
import pytest
import trio

from tuner.procs import (
    GUARD_NAME,
    KILL_GRACE_SECONDS,
    LineReader,
    LineTooLongError,
    ask,
    run_captured,
    run_in_own_group,
)

# A stand-in for a stuck ffmpeg: ignores SIGTERM and has a child of its own.
STUBBORN = """#!/bin/sh
trap '' TERM
sleep 300 &
echo "$!" >&2
while :; do sleep 0.05; done
"""


def _script(tmp_path: Path, text: str, name: str = "stubborn.sh") -> str:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _gone(pid: int) -> bool:
    """Whether a process has exited (a zombie, not yet reaped, counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _guards() -> set[int]:
    """The guards among this process's descendants."""
    found = set()
    for process in psutil.Process().children(recursive=True):
        try:
            if GUARD_NAME in process.cmdline() and not _gone(process.pid):
                found.add(process.pid)
        except psutil.NoSuchProcess:
            pass
    return found


def _guarded(parent: int, group: int) -> bool:
    """Whether ``parent`` has a guard of the group ``group`` running."""
    for process in psutil.Process(parent).children():
        try:
            if process.cmdline()[-2:] == [GUARD_NAME, str(group)] and not _gone(process.pid):
                return True
        except psutil.Error:
            pass
    return False


@pytest.fixture(autouse=True)
def no_guard_left() -> Iterator[None]:
    """Every test here ends with no guard (so no child) of its own left running."""
    before = _guards()
    yield
    deadline = time.monotonic() + 5
    while _guards() - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _guards() - before, "a guard outlived its child"


async def test_cancel_kills_the_whole_group_even_if_sigterm_is_ignored(tmp_path: Path) -> None:
    command = [_script(tmp_path, STUBBORN)]
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            process = await nursery.start(partial(run_in_own_group, command))
            grandchild_pid = int((await process.stderr.receive_some(100)).split()[0])
            assert os.getpgid(process.pid) == process.pid, "not in its own group"
            assert os.getpgid(grandchild_pid) == process.pid
            started = trio.current_time()
            scope.cancel()
    took = trio.current_time() - started
    assert process.returncode == -9
    assert KILL_GRACE_SECONDS <= took < KILL_GRACE_SECONDS + 2
    with trio.fail_after(2):
        while not _gone(grandchild_pid):
            await trio.sleep(0.01)
    await process.stderr.aclose()
    await process.stdout.aclose()


async def test_a_polite_child_exits_on_sigterm_without_waiting_for_the_grace() -> None:
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            process = await nursery.start(partial(run_in_own_group, ["sleep", "30"]))
            started = trio.current_time()
            scope.cancel()
    assert process.returncode == -15
    assert trio.current_time() - started < KILL_GRACE_SECONDS
    await process.stderr.aclose()
    await process.stdout.aclose()


async def test_a_program_that_cannot_run_fails_to_start_as_with_subprocess(
    tmp_path: Path,
) -> None:
    not_executable = tmp_path / "plain.txt"
    not_executable.write_text("hello")
    for command, error in (
        (["no-such-program-for-tuner"], FileNotFoundError),
        ([str(tmp_path / "missing")], FileNotFoundError),
        ([str(not_executable)], PermissionError),
    ):
        async with trio.open_nursery() as nursery:
            with pytest.raises(error):
                await nursery.start(partial(run_in_own_group, command))
        with pytest.raises(error):
            await run_captured(command)


async def test_run_captured_returns_what_the_child_wrote() -> None:
    done = await run_captured(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out\n", b"err\n")


async def test_the_guard_holds_none_of_the_childs_pipes() -> None:
    # The child closes its stdout and a passed pipe, and goes on: the reader of each
    # sees its end at once, not when the guard (which must hold neither) goes.
    read_fd, write_fd = os.pipe()
    program = (
        f"import os, time; os.write(1, b'out\\n'); os.write({write_fd}, b'fd\\n'); "
        f"os.close(1); os.close({write_fd}); time.sleep(30)"
    )
    async with trio.lowlevel.FdStream(read_fd) as passed, trio.open_nursery() as nursery:
        try:
            process = await nursery.start(
                partial(run_in_own_group, [sys.executable, "-c", program], pass_fds=(write_fd,))
            )
        finally:
            os.close(write_fd)
        with trio.fail_after(5):
            assert await _read_to_end(process.stdout) == b"out\n"
            assert await _read_to_end(passed) == b"fd\n"
        assert process.returncode is None, "the child still runs"
        nursery.cancel_scope.cancel()
    await process.stdout.aclose()
    await process.stderr.aclose()


async def _read_to_end(stream: trio.abc.ReceiveStream) -> bytes:
    data = b""
    while chunk := await stream.receive_some(1024):
        data += chunk
    return data


async def test_what_a_child_leaves_in_its_group_goes_when_it_exits() -> None:
    async with trio.open_nursery() as nursery:
        process = await nursery.start(
            partial(run_in_own_group, ["sh", "-c", "sleep 60 & echo $!"], stderr=None)
        )
        with trio.fail_after(5):
            left = int((await process.stdout.receive_some(100)).split()[0])
    assert process.returncode == 0
    with trio.fail_after(5):
        while not _gone(left):
            await trio.sleep(0.02)
    await process.stdout.aclose()


def _trio_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("Trio thread")]


async def test_a_child_outlives_the_thread_that_started_it() -> None:
    """trio forks in a thread of its cache, which exits after 10 s without work. A
    parent-death signal would fire then (it follows the thread, not the process) and
    kill a healthy child: this one must still run once every such thread has gone."""
    async with trio.open_nursery() as nursery:
        process = await nursery.start(partial(run_in_own_group, ["sleep", "120"], stderr=None))
        forked_in = _trio_threads()
        assert forked_in, "trio started the child from a thread of its cache"
        with trio.fail_after(60):
            while any(thread.is_alive() for thread in forked_in):
                await trio.sleep(0.2)
        assert process.returncode is None
        assert not _gone(process.pid), "the child died with the thread that forked it"
        nursery.cancel_scope.cancel()
    await process.stdout.aclose()


# Runs tuner.procs in a process of its own, to be killed: the child is a stubborn
# script that has a child of its own and writes both pids to a file.
PARENT = """
import sys
from functools import partial

import trio

from tuner.procs import run_in_own_group


async def main():
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(run_in_own_group, [sys.argv[1]], stderr=None))
        await trio.sleep_forever()


trio.run(main)
"""
FAMILY = """#!/bin/sh
trap '' TERM
sleep 300 &
echo "$$ $!" > "$0.pids"
wait
"""


def test_children_die_with_their_parent_even_when_stopped(tmp_path: Path) -> None:
    child = _script(tmp_path, FAMILY, "family.sh")
    pids_file = Path(child + ".pids")
    parent = subprocess.Popen([sys.executable, "-c", PARENT, child])
    try:
        deadline = time.monotonic() + 20
        while not (pids_file.exists() and pids_file.read_text().endswith("\n")):
            assert time.monotonic() < deadline, "the child did not start"
            assert parent.poll() is None, "the parent failed"
            time.sleep(0.02)
        family = [int(pid) for pid in pids_file.read_text().split()]
        # The guard is started just after the child (the child's number is its
        # argument), and on a busy machine the child can write its pids first: a
        # parent killed before its guard exists leaves no guard (a window of its own,
        # milliseconds at the spawn). This is about what the guard does.
        while not _guarded(parent.pid, family[0]):
            assert time.monotonic() < deadline, "no guard"
            time.sleep(0.01)
        for pid in family:
            os.kill(pid, signal.SIGSTOP)
        for pid in family:
            while psutil.Process(pid).status() != psutil.STATUS_STOPPED:
                assert time.monotonic() < deadline, "not stopped"
                time.sleep(0.01)
        started = time.monotonic()
        parent.kill()
        parent.wait(5)
        deadline = started + 5
        while not all(_gone(pid) for pid in family) and time.monotonic() < deadline:
            time.sleep(0.01)
        left = [pid for pid in family if not _gone(pid)]
        assert not left, f"outlived their killed parent: {left}"
        print(f"\nthe stopped child and grandchild were gone {time.monotonic() - started:.3f} s")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


# JSON lines


async def test_ask_sends_one_line_and_reads_one_back() -> None:
    echo = "import json, sys; print(json.dumps({'echo': json.loads(sys.stdin.readline())}))"
    async with trio.open_nursery() as nursery:
        process = await nursery.start(
            partial(
                run_in_own_group, [sys.executable, "-c", echo], stdin=subprocess.PIPE, stderr=None
            )
        )
        with trio.fail_after(10):
            answer = await ask(process, {"target": "x"}, max_bytes=1000)
        await process.stdin.aclose()
    await process.stdout.aclose()
    assert answer == b'{"echo": {"target": "x"}}'


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (b"", [None]),
        (b"a\nb\n\nc", [b"a", b"b", b"", b"c", None]),
        (b"a\n", [b"a", None]),
        (b"x" * 100 + b"\n", [LineTooLongError]),
        (b"x" * 100, [LineTooLongError]),
    ],
)
async def test_lines_and_their_limit(written: bytes, expected: list[object]) -> None:
    lines = LineReader(_Bytes(written), max_bytes=50)
    for want in expected:
        if want is LineTooLongError:
            with pytest.raises(LineTooLongError):
                await lines.receive_line()
        else:
            assert await lines.receive_line() == want


class _Bytes(trio.abc.ReceiveStream):
    """A stream of ``data``, a few bytes at a time."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        chunk, self._data = self._data[:7], self._data[7:]
        return chunk

    async def aclose(self) -> None:
        pass
