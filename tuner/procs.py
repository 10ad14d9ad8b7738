"""Child processes: the one way tuner starts one, asks it something, and ends it.

Every child of the daemon (ffmpeg, the yt-dlp workers of :mod:`tuner.ytdlp`) starts
here, and each

- runs in a session and process group of its own, so that one signal reaches it and
  whatever it started (the ffmpeg a yt-dlp worker runs);
- is ended with its whole group when its task is cancelled: SIGTERM, SIGCONT (a
  stopped process acts on SIGTERM only once it runs again), a short grace, then
  SIGKILL. ``trio.run_process`` on its own would kill the direct child only, and
  only after 5 s;
- leaves nothing behind when it exits: what it started and left running in its group
  is killed;
- dies with the daemon, however the daemon ends (SIGKILL included), even when it is
  stopped (SIGSTOP), and so does whatever it started.

Dying with the daemon: a guard for each child
---------------------------------------------

Beside each child runs its *guard*: a small shell blocked reading a pipe that only
the daemon holds open for writing (``/bin/sh -c 'read line; kill -KILL -$1'
tuner-guard PGID`` in ``ps``; it holds none of the child's pipes). When that read
ends, the guard kills the child's process group, stopped members included. The
daemon closes its end of the pipe as soon as the child has exited or been killed, so
the guard then ends whatever the child left behind; when the daemon dies, however it
dies, the kernel closes it, so every child goes within milliseconds, on Linux and
macOS alike.

The child runs in a session of its own (``start_new_session``): Ctrl-C in the
terminal of ``tuner serve`` reaches the daemon alone, and where the kernel groups the
CPU by session (Linux's autogroup), ffmpeg gets a share of its own, not a part of
the daemon's. So the guard cannot be in the child's group (a process joins only a
group of its own session): it is in a session of its own too, and kills the group by
its number, which stays the child's while the child or anything in its group lives.
The one window in which that number could name another group is between the child's
exit being collected and the daemon closing its end: microseconds, in which a new
process would have to be given that very number.

Why not Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)`` in the child before
exec), the usual answer:

- it fires when the *thread* that forked the child exits, not the process. trio
  forks in a thread of its cache (``trio.to_thread``), and such a thread exits after
  10 s without work: a healthy child with the signal set was killed 10.1 s after it
  started (measured with trio 0.35). Forking from a long-lived thread of our own would
  mean building ``trio.Process`` from a ``Popen`` through trio's private constructor;
- it reaches the direct child only, so the ffmpeg that a killed yt-dlp worker ran
  would live on;
- setting it needs ``preexec_fn``: Python code between fork and exec in a process
  with threads, which Python's documentation calls unsafe;
- macOS has no such signal. One mechanism everywhere means the macOS one is the one
  the tests run.

The price: one small shell per child, started right after it: about a millisecond
(``/bin/true`` ran in 2.3 ms instead of 1.3 ms, medians of 40).

Talking to a child: requests and answers are JSON lines (:func:`ask`,
:class:`LineReader`). Secrets (the egress proxy's password) never go on a command
line, which any local user can read in ``/proc/PID/cmdline``: they go in the child's
environment, which only the same user can read.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import trio

#: How long a child gets to exit on SIGTERM before its group gets SIGKILL.
KILL_GRACE_SECONDS = 0.5
#: The guard's shell and what it runs: ``$0``, :data:`GUARD_NAME`, names it in ``ps``;
#: ``$1`` is the child's process group.
SHELL = "/bin/sh"
GUARD_SCRIPT = "read line; kill -KILL -$1"
GUARD_NAME = "tuner-guard"


class LineTooLongError(Exception):
    """A child's line is longer than the caller allows: a broken child."""


async def kill_group(process: trio.Process) -> None:
    """``deliver_cancel`` for every child: SIGTERM its group, then SIGKILL after a grace.

    trio runs this shielded and stops it as soon as the process has exited.
    """
    try:
        os.killpg(process.pid, signal.SIGTERM)
        # A stopped process (SIGSTOP, a stalled ffmpeg) only acts on SIGTERM once it
        # runs again.
        os.killpg(process.pid, signal.SIGCONT)
    except ProcessLookupError:
        return
    await trio.sleep(KILL_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def signal_group(process: trio.Process, signum: int) -> None:
    """Send ``signum`` to the child's group at once, unless the child has exited."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)


async def run_in_own_group(
    command: Sequence[str],
    *,
    pass_fds: Sequence[int] = (),
    stdin: int = subprocess.DEVNULL,
    stderr: int | None = subprocess.PIPE,
    env: Mapping[str, str] | None = None,
    task_status: trio.TaskStatus[trio.Process] = trio.TASK_STATUS_IGNORED,
) -> int:
    """Run a child in its own group, guarded; cancelling this kills the whole group.

    Use with ``nursery.start``: it reports the :class:`trio.Process` (with a
    ``stdout`` pipe, and the ``stdin``/``stderr`` pipes asked for, which the caller
    must use and close) and returns the exit status.

    Raises:
        OSError: the child cannot be started (``FileNotFoundError``: no such program).
    """
    completed = await _run(
        command, pass_fds=pass_fds, stdin=stdin, stderr=stderr, env=env, task_status=task_status
    )
    return completed.returncode


async def run_captured(
    command: Sequence[str], *, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run a child to its end (guarded, in its own group, no stdin) and return what
    it wrote on stdout and stderr; cancelling this kills the whole group.

    Raises:
        OSError: the child cannot be started.
    """
    return await _run(command, stdin=subprocess.DEVNULL, env=env, capture=True)


async def _run(
    command: Sequence[str],
    *,
    stdin: int,
    env: Mapping[str, str] | None,
    stderr: int | None = None,
    pass_fds: Sequence[int] = (),
    capture: bool = False,
    task_status: trio.TaskStatus[trio.Process] = trio.TASK_STATUS_IGNORED,
) -> subprocess.CompletedProcess[bytes]:
    """Start ``command`` in a new session with its guard (see the module's docstring)
    and wait for its end; stdout is a pipe: the caller's to read, or (``capture``)
    captured with stderr."""
    guard_end, daemon_end = os.pipe()
    lifeline = _Lifeline(daemon_end)
    try:
        try:
            process = await trio.lowlevel.open_process(
                list(command),
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if capture else stderr,
                env=env,
                pass_fds=tuple(pass_fds),
                start_new_session=True,
            )
            guard = await _start_guard(process, guard_end)
        finally:
            os.close(guard_end)
        try:
            return await _supervise(process, capture, task_status, lifeline.cut)
        finally:
            lifeline.cut()
            await _reap(guard)
    finally:
        lifeline.cut()


class _Lifeline:
    """The daemon's end of a guard's pipe: cut it (once), and the guard ends the group."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def cut(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


async def _start_guard(process: trio.Process, guard_end: int) -> trio.Process:
    """Start the guard of ``process``'s group, reading ``guard_end``; a child that
    cannot be guarded is killed."""
    try:
        return await trio.lowlevel.open_process(
            [SHELL, "-c", GUARD_SCRIPT, GUARD_NAME, str(process.pid)],
            stdin=guard_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Out of the terminal's reach too (a Ctrl-C must not end it first).
            start_new_session=True,
        )
    except BaseException:
        with trio.CancelScope(shield=True):
            signal_group(process, signal.SIGKILL)
            await process.wait()
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    await stream.aclose()
        raise


async def _supervise(
    process: trio.Process,
    capture: bool,
    task_status: trio.TaskStatus[trio.Process],
    on_exit: Callable[[], None],
) -> subprocess.CompletedProcess[bytes]:
    """Wait for ``process`` (as ``trio.run_process`` does, with :func:`kill_group` on
    cancel); ``on_exit`` runs as soon as it has exited, before captured output is
    complete (whatever it left in its group and holds its pipes is then killed)."""
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    async with trio.open_nursery() as nursery:
        try:
            if capture:
                assert process.stdout is not None and process.stderr is not None
                nursery.start_soon(_collect, process.stdout, stdout)
                nursery.start_soon(_collect, process.stderr, stderr)
            task_status.started(process)
            await process.wait()
        except BaseException:
            with trio.CancelScope(shield=True):
                killer = trio.CancelScope(shield=True)

                async def kill() -> None:
                    with killer:
                        await kill_group(process)

                nursery.start_soon(kill)
                await process.wait()
                killer.cancel()
            raise
        finally:
            on_exit()
    assert process.returncode is not None
    if not capture:
        return subprocess.CompletedProcess(process.args, process.returncode)
    return subprocess.CompletedProcess(
        process.args, process.returncode, b"".join(stdout), b"".join(stderr)
    )


async def _collect(stream: trio.abc.ReceiveStream, chunks: list[bytes]) -> None:
    async with stream:
        while chunk := await stream.receive_some():
            chunks.append(bytes(chunk))


async def _reap(guard: trio.Process) -> None:
    """Wait for the guard, which ends as soon as its pipe is cut; one that does not
    (stopped by someone) is killed."""
    with trio.CancelScope(shield=True):
        with trio.move_on_after(5):
            await guard.wait()
        if guard.returncode is None:
            guard.kill()
            await guard.wait()


class LineReader:
    """Lines from a child's pipe, each at most ``max_bytes`` long."""

    def __init__(self, stream: trio.abc.ReceiveStream, max_bytes: int) -> None:
        self._stream = stream
        self._max_bytes = max_bytes
        self._buffer = bytearray()
        self._ended = False

    async def receive_line(self) -> bytes | None:
        """The next line, without its newline; at the end, what is left without one
        (if anything), then ``None``.

        Raises:
            LineTooLongError: a line longer than ``max_bytes``.
        """
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) > self._max_bytes:
                raise LineTooLongError(f"a line longer than {self._max_bytes} bytes")
            if self._ended:
                rest, self._buffer = bytes(self._buffer), bytearray()
                return rest or None
            chunk = await self._stream.receive_some(65536)
            if chunk:
                self._buffer += chunk
            else:
                self._ended = True


async def send_line(process: trio.Process, message: Mapping[str, Any]) -> None:
    """Write ``message`` as one JSON line on the child's stdin. A child that has gone
    (its stdin closed) is not an error here: its answer, or the lack of one, says so."""
    assert process.stdin is not None
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await process.stdin.send_all(json.dumps(message).encode() + b"\n")


async def ask(process: trio.Process, request: Mapping[str, Any], *, max_bytes: int) -> bytes:
    """Send ``request`` as one JSON line on the child's stdin; its one line of answer
    (empty if it ended without one).

    Raises:
        LineTooLongError: the answer is longer than ``max_bytes``.
    """
    assert process.stdout is not None
    await send_line(process, request)
    return await LineReader(process.stdout, max_bytes).receive_line() or b""
