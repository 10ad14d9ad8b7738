"""``tuner watch`` in a real pseudo-terminal, against a real ``tuner serve``.

What it draws is fed to a VT100 emulator (pyte) and read back as a person would see
it: the test card's colour bars, the status line, the picture's size, the keys.
"""

from __future__ import annotations

import colorsys
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import httpx
import pexpect
import psutil
import pyte
import pytest

from tests.conftest import Media
from tests.daemon_process import DaemonProcess
from tuner.term import ENTER_SCREEN, LEAVE_SCREEN

DEADLINE = 20.0
VIEWER = re.compile(r"viewer \d+ connected")
REPO = Path(__file__).resolve().parents[2]


@attrs.define
class Terminal:
    """A command under a pseudo-terminal, and the screen it drew."""

    child: pexpect.spawn
    screen: pyte.Screen
    stream: pyte.ByteStream
    raw: bytearray = attrs.field(factory=bytearray)

    @classmethod
    def spawn(cls, command: str, env: dict[str, str], width: int, height: int) -> Terminal:
        child = pexpect.spawn(
            "/bin/sh", ["-c", command], env=env, dimensions=(height, width), cwd=str(REPO)
        )
        screen = pyte.Screen(width, height)
        return cls(child, screen, pyte.ByteStream(screen))

    def pump(self, seconds: float = 0.05) -> None:
        """Read what the command wrote for up to ``seconds``."""
        end = time.monotonic() + seconds
        while True:
            try:
                data = self.child.read_nonblocking(1 << 16, timeout=0.05)
            except pexpect.TIMEOUT:
                data = b""
            except pexpect.EOF:
                return
            self.raw.extend(data)
            self.stream.feed(data)
            if time.monotonic() >= end:
                return

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        """Read until ``condition`` holds, or fail with the screen."""
        deadline = time.monotonic() + DEADLINE
        while not condition():
            assert self.child.isalive() or self.child.exitstatus is None, self.text()
            assert time.monotonic() < deadline, f"no {what} within {DEADLINE} s:\n{self.text()}"
            self.pump(0.1)

    def resize(self, width: int, height: int) -> None:
        self.screen.resize(height, width)
        self.child.setwinsize(height, width)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    @property
    def status_line(self) -> str:
        return self.screen.display[-1]

    def picture(self) -> tuple[int, int, set[str]]:
        """The drawn picture: its width and height in cells (every cell of it has a
        colour set), and the colours of its characters."""
        rows, cols, colours = set(), set(), set()
        for y in range(self.screen.lines - 1):
            line = self.screen.buffer[y]
            for x in range(self.screen.columns):
                cell = line[x]
                if cell.fg != "default":
                    rows.add(y)
                    cols.add(x)
                    colours.add(cell.fg)
        if not rows:
            return 0, 0, set()
        return max(cols) - min(cols) + 1, max(rows) - min(rows) + 1, colours


# pyte names the 16 ANSI colours; as xterm draws them.
_NAMED = {
    "red": "cd0000", "green": "00cd00", "brown": "cdcd00", "blue": "0000ee",
    "magenta": "cd00cd", "cyan": "00cdcd", "brightred": "ff0000", "brightgreen": "00ff00",
    "brightbrown": "ffff00", "brightblue": "5c5cff", "brightmagenta": "ff00ff",
    "brightcyan": "00ffff",
}  # fmt: skip


def hues(colours: set[str]) -> set[int]:
    """The saturated hues among the colours pyte reports (hex, or an ANSI colour's
    name), to the nearest 60 degrees."""
    found = set()
    for colour in colours:
        colour = _NAMED.get(colour, colour)
        try:
            r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (0, 2, 4))
        except ValueError:
            continue
        hue, lightness, saturation = colorsys.rgb_to_hls(r, g, b)
        if saturation > 0.6 and 0.25 < lightness < 0.75:
            found.add(round(hue * 6) % 6)
    return found


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    with DaemonProcess.start(tmp_path) as running:
        yield running


def _client_env(daemon: DaemonProcess, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    env.pop("COLORTERM", None)
    env.pop("NO_COLOR", None)
    # faulthandler: a client that hangs shows its stack on SIGABRT (see _stuck).
    return {
        **env,
        "PYTHONFAULTHANDLER": "1",
        "TUNER_PIN": daemon.pin,
        "TUNER_STATE_DIR": str(daemon.state_dir),
        **extra,
    }


def _stuck(client: psutil.Process, term: Terminal) -> str:
    """What a client that does not exit is doing: its state, and the Python stack of
    each of its threads (faulthandler, on SIGABRT: see :func:`_client_env`)."""
    try:
        state = f"{client.status()}, {client.num_threads()} threads"
        client.send_signal(signal.SIGABRT)
    except psutil.Error as exc:
        return f"gone ({exc})"
    term.raw.clear()
    term.pump(3.0)
    return f"{state}; on SIGABRT it wrote:\n{bytes(term.raw).decode(errors='replace')[-4000:]}"


def _status(daemon: DaemonProcess) -> dict[str, object]:
    with httpx.Client(base_url=daemon.base_url, timeout=10) as client:
        assert client.post("/api/login", json={"pin": daemon.pin}).status_code == 204
        answer: dict[str, object] = client.get("/api/status").json()
        return answer


def test_watch_draws_the_test_card_resizes_switches_mode_logs_in_again_and_quits(
    daemon: DaemonProcess, tmp_path: Path
) -> None:
    env = _client_env(daemon, TERM="xterm-256color", COLORTERM="truecolor")
    tuner = f"{shlex.quote(sys.executable)} -m tuner"
    url = shlex.quote(daemon.base_url)
    before, after = tmp_path / "before", tmp_path / "after"
    # The shell records the terminal's modes before and after, and passes the status on.
    command = (
        f"{tuner} play testcard --mode color --url {url} >/dev/null && "
        f"stty -g > {before} && {tuner} watch --url {url}; "
        f"status=$?; stty -g > {after}; exit $status"
    )
    term = Terminal.spawn(command, env, 80, 24)
    try:
        # Each check waits: a frame may be on its way, written in more than one read.
        term.wait_for(
            "the status line",
            lambda: (
                term.status_line.startswith(" Test card | playing | low/color | ")
                and "| q quit  m mode  p preset" in term.status_line
            ),
        )
        term.wait_for("colour bars", lambda: len(hues(term.picture()[2])) >= 4)
        # 120x50 cells fitted into 80x23 (the last row is the status line).
        term.wait_for("the fitted size", lambda: term.picture()[:2] == (55, 23))

        term.resize(100, 31)
        term.wait_for("the new size", lambda: term.picture()[:2] == (72, 30))
        term.wait_for(
            "a wider status line",
            lambda: term.status_line.rstrip().endswith("n next  \u2190\u2192 10 s"),
        )

        term.child.send("m")  # color -> blocks
        term.wait_for("blocks", lambda: "low/blocks" in term.status_line)
        assert _status(daemon)["mode"] == "blocks"
        term.wait_for(
            "half blocks",
            lambda: any("\u2580" in line for line in term.screen.display[:-1]),
        )
        term.wait_for("colour bars", lambda: len(hues(term.picture()[2])) >= 4)

        # Every browser is logged out (1008): the viewer logs in again by itself.
        subprocess.run(
            [sys.executable, "-m", "tuner", "rotate-secret", "--state-dir", str(daemon.state_dir)],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
            timeout=60,
        )
        term.wait_for("a second viewer", lambda: len(VIEWER.findall(daemon.log())) == 2)
        assert "the cookie secret changed" in daemon.log()
        shown = term.text()
        term.wait_for("frames again", lambda: term.text() != shown)
        assert term.child.isalive()

        term.child.send("q")
        term.child.expect(pexpect.EOF, timeout=DEADLINE)
        term.stream.feed(term.child.before or b"")
        term.raw.extend(term.child.before or b"")
    finally:
        term.child.close(force=True)
    assert term.child.exitstatus == 0, term.text()
    # The terminal is as it was: its modes, the main screen, the cursor.
    assert before.read_text() == after.read_text()
    assert term.raw.count(ENTER_SCREEN.encode()) == 1
    assert bytes(term.raw).rstrip(b"\r\n").endswith(LEAVE_SCREEN.encode())
    assert _status(daemon)["state"] == "playing", "quitting the viewer stops nothing"


def test_watch_shows_idle_then_reconnects_after_a_restart(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a free loopback port, for both daemons in turn
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    with DaemonProcess.start(tmp_path / "one", args=("--port", port)) as first:
        env = _client_env(first, TERM="xterm", COLORTERM="")
        command = f"{shlex.quote(sys.executable)} -m tuner watch --url {first.base_url}"
        term = Terminal.spawn(command, env, 70, 12)
        try:
            term.wait_for("idle", lambda: "waiting for a session" in term.text())
            term.wait_for("the socket", lambda: "| idle | q quit" in term.status_line)
            first.process.send_signal(signal.SIGTERM)
            term.wait_for("the restart", lambda: "restarting" in term.status_line)
            first.process.wait(10)
            with DaemonProcess.start(
                tmp_path / "two", pin=first.pin, args=("--port", port)
            ) as second:
                # The daemon is back, and the viewer finds it by itself.
                term.wait_for("reconnected", lambda: "q quit" in term.status_line)
                with httpx.Client(base_url=second.base_url, timeout=10) as client:
                    client.post("/api/login", json={"pin": second.pin})
                    client.post("/api/play", json={"query": "testcard", "mode": "color"})
                # 16 colours: the test card's bars come out in the ANSI colours.
                term.wait_for("test card", lambda: "Test card" in term.status_line)
                term.wait_for("colour bars", lambda: len(hues(term.picture()[2])) >= 4)
                term.child.send("n")  # the queue is empty: a sentence, nothing else
                term.wait_for("the note", lambda: "nothing to play next" in term.status_line)
                term.child.send("\x1b[C")  # → on the test card: the daemon's reason
                term.wait_for("the 409", lambda: "(HTTP 409): cannot seek" in term.status_line)
                term.child.send("s")
                term.wait_for("idle again", lambda: "waiting for a session" in term.text())
                term.child.send("\x1b[D")
                term.wait_for("the note", lambda: "nothing is playing: \u2190" in term.status_line)
                term.child.send("m")
                term.wait_for("the note", lambda: "nothing is playing: mode" in term.status_line)
                term.child.send("\x03")  # Ctrl-C quits as q does
                term.child.expect(pexpect.EOF, timeout=DEADLINE)
        finally:
            term.child.close(force=True)
        assert term.child.exitstatus == 0


def test_the_terminal_is_restored_when_the_client_fails(tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    program = (
        "import trio\n"
        "from tuner.term._watch import _raw_terminal\n"
        "async def main():\n"
        "    with _raw_terminal():\n"
        "        raise RuntimeError('boom')\n"
        "trio.run(main)\n"
    )
    command = (
        f"stty -g > {before}; {shlex.quote(sys.executable)} -c {shlex.quote(program)}; "
        f"status=$?; stty -g > {after}; exit $status"
    )
    term = Terminal.spawn(command, dict(os.environ), 40, 10)
    try:
        term.child.expect(pexpect.EOF, timeout=DEADLINE)
        output = term.child.before or b""
    finally:
        term.child.close(force=True)
    assert term.child.exitstatus == 1
    assert b"RuntimeError: boom" in output
    assert output.index(LEAVE_SCREEN.encode()) < output.index(b"Traceback")
    assert before.read_text() == after.read_text()


def test_watch_needs_a_terminal(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tuner", "watch", "--url", "http://127.0.0.1:9"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TUNER_PIN": "2468", "TUNER_STATE_DIR": str(tmp_path)},
        cwd=REPO,
    )
    assert done.returncode == 1
    assert "tuner watch draws in a terminal" in done.stderr
    assert "\x1b" not in done.stdout + done.stderr, "the terminal was not touched"


def test_watch_url_plays_it_and_an_interrupt_from_elsewhere_restores_the_terminal(
    daemon: DaemonProcess, tmp_path: Path
) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    # exec: the signal goes to the client itself, as from kill or a closing session.
    watch = (
        f"{shlex.quote(sys.executable)} -m tuner watch testcard --mode braille "
        f"--url {shlex.quote(daemon.base_url)}"
    )
    command = f"stty -g > {before}; (exec {watch}); status=$?; stty -g > {after}; exit $status"
    term = Terminal.spawn(command, _client_env(daemon, TERM="xterm"), 60, 12)
    try:
        # With a URL, watch plays it first.
        term.wait_for("braille", lambda: "Test card | playing | low/braille" in term.status_line)
        term.wait_for("dots", lambda: any("\u28ff" in line for line in term.screen.display[:-1]))
        shell = psutil.Process(term.child.pid)
        client = next(p for p in shell.children(recursive=True) if "watch" in p.cmdline())
        client.send_signal(signal.SIGINT)
        try:
            term.child.expect(pexpect.EOF, timeout=DEADLINE)
        except pexpect.TIMEOUT:
            pytest.fail(f"tuner watch did not exit on SIGINT:\n{_stuck(client, term)}")
        term.raw.extend(term.child.before or b"")
    finally:
        term.child.close(force=True)
    assert term.child.exitstatus == 130
    assert before.read_text() == after.read_text()
    assert bytes(term.raw).rstrip(b"\r\n").endswith(LEAVE_SCREEN.encode())
    assert b"Traceback" not in term.raw


def test_watch_seeks_a_clip_with_the_arrow_keys(daemon: DaemonProcess, media: Media) -> None:
    clip = shlex.quote(media.url_of("timecode.mp4"))
    command = (
        f"{shlex.quote(sys.executable)} -m tuner watch {clip} --url {shlex.quote(daemon.base_url)}"
    )
    term = Terminal.spawn(command, _client_env(daemon, TERM="xterm"), 80, 12)
    try:
        term.wait_for("the clip", lambda: "timecode | playing" in term.status_line)
        term.child.send("\x1b[C")  # → : ten seconds on
        term.wait_for("the note", lambda: "forward 10 s (at 0:1" in term.status_line)
        position = _status(daemon)["position"]
        assert isinstance(position, float) and 10 <= position < 20, position
        term.child.send("\x1bOD")  # ← (in the terminal's application cursor mode)
        term.wait_for("the note", lambda: "back 10 s (at 0:0" in term.status_line)
        position = _status(daemon)["position"]
        assert isinstance(position, float) and 0 <= position < 10, position
        term.child.send("q")
        term.child.expect(pexpect.EOF, timeout=DEADLINE)
    finally:
        term.child.close(force=True)
    assert term.child.exitstatus == 0
