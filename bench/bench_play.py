"""How fast tuner starts playing, and how fast it gets rid of the ffmpeg it replaces.

Run from the repository root::

    python bench/bench_play.py                  # the test card, 20 runs of each
    python bench/bench_play.py --source clip    # a 720p clip over loopback HTTP
    python bench/bench_play.py --runs 5         # quicker

It starts a real ``tuner serve`` subprocess on loopback (state and an empty config in
a temporary directory), logs in, keeps one WebSocket viewer on ``/ws/video``, and
measures:

time to first frame (tuner)
    From sending ``POST /api/play {"query": "testcard"}`` to the arrival, at the
    already connected viewer, of the first binary frame of *that* session (the first
    frame after the ``hello`` carrying the session id the play answered with). Before
    every run the benchmark posts ``/api/stop`` and waits until the daemon has no
    ffmpeg child left, so every run is a cold start of ffmpeg.

time to first frame (ffmpeg alone)
    The baseline: the same test card command (``testcard_command`` with the ``low``
    preset, the same binary the daemon uses), spawned by this script in its own
    process group with a pipe for the audio, timed from spawn to the first whole raw
    frame read from its stdout (then it is stopped: see "SIGTERM to exit"). Most of
    tuner's time to first frame is ffmpeg starting up (exec, loading its libraries,
    opening lavfi, the scaler); the baseline shows that part, so the ratio tuner /
    ffmpeg alone (of the medians) shows what tuner itself adds: the HTTP request,
    starting the session task, rendering the frame and sending it over the
    WebSocket. Baseline and tuner runs alternate so that drift on the machine
    affects both alike.

supersede: old ffmpeg gone
    With a session playing (its first frame received), the pid of its ffmpeg is
    noted and a second ``POST /api/play`` is sent; the figure is from sending that
    request to the old ffmpeg having exited (polled every ~1 ms with psutil until the
    process is gone or a zombie). This is how long a replaced stream keeps costing
    CPU and, for a real source, bandwidth. Each run's new session is the next run's
    old one.

ffmpeg alone: SIGTERM to exit
    The baseline for the figure above, taken in the first-frame baseline runs: right
    after its first frame, this script sends SIGTERM to the test card ffmpeg's group
    (the first step of tuner's ``procs.kill_group``) and waits for it to exit. If
    the supersede figure were near ``KILL_GRACE_SECONDS`` (0.5 s), ffmpeg would be
    ignoring SIGTERM and dying only of the SIGKILL after the grace.

supersede: new first frame
    In the same runs as "old ffmpeg gone", from sending the second play to the new
    session's first frame at the viewer: what a person switching streams waits for.

One untimed warm-up of each kind comes first (page cache, the first connection).

Results
=======

2026-11-23, on this 2-CPU VM, quiet apart from the benchmark.

``python bench/bench_play.py --source clip``: a 4 s 1280x720 H.264/AAC clip served by
``python -m http.server`` on loopback, resolved afresh by yt-dlp on every play (a new
query string each time) and probed for its streams::

                                    median      p95      min      max  (ms)
    first frame: tuner               791.2   1191.8    474.9   1217.2
    first frame: ffmpeg alone        263.4    304.2    246.1    408.2
    supersede: old ffmpeg gone        36.2     47.4     17.5     50.1
    ffmpeg alone: SIGTERM to exit     17.0     24.5      9.6     27.2
    supersede: new first frame       822.9   1420.3    480.3   1434.9

    20 runs each. tuner / ffmpeg alone, ratio of the medians:
      first frame 3.00
      old ffmpeg gone / SIGTERM to exit 2.12
      of which resolving (yt-dlp and probe, from the daemon's log): median 495.0 ms
      over 42 resolutions

(an earlier run, load average 1.3: 780.1 / 289.1 ms, ratio 2.70; supersede 41.1 ms)

``python bench/bench_play.py`` (the test card)::

                                    median      p95      min      max  (ms)
    first frame: tuner               156.2    180.3    134.1    186.6
    first frame: ffmpeg alone        153.8    161.5    128.9    162.1
    supersede: old ffmpeg gone        30.3     43.1     23.4     44.8
    ffmpeg alone: SIGTERM to exit     16.3     23.0      7.9     24.6
    supersede: new first frame       158.6    174.3    137.7    177.0

    20 runs each. tuner / ffmpeg alone: first frame 1.02,
    old ffmpeg gone / SIGTERM to exit 1.86

What it says:

* For a URL, tuner's first frame is ffmpeg's own time plus resolving: yt-dlp's
  generic extractor fetching the URL, then ``ffmpeg -i`` probing which streams it has
  (yt-dlp does not say for a plain file). The bimodal spread is the warm spare: a
  resolution that finds one waiting takes ~0.2 s (the 475 ms minimum), one that
  comes less than ~1 s after the previous play waits for the next spare to import
  yt-dlp and compile its extractors' patterns, which is what these back-to-back runs
  do half of the time. A person pressing Play gets the fast path.
* The test card adds no resolution: tuner is within 2% of ffmpeg alone. ffmpeg alone
  takes ~150 ms here today against ~96 ms at the walking skeleton (tuner 100.3, ffmpeg
  alone 95.8, supersede 20.7 / 8.0 ms), and the command is not why: run today, the
  walking skeleton's plain command takes the same 150 ms as this one (with its sound
  filters and aspect-keeping scale), while ``ffmpeg -version`` alone now takes 113 ms
  where it took 54. The VM starts processes more slowly than it did this morning.
* A superseded ffmpeg is gone 30-36 ms after the play request is sent, far from
  ``KILL_GRACE_SECONDS`` (0.5 s): it exits on the SIGTERM.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import httpx
import psutil
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.daemon_process import DaemonProcess
from tests.media import CLIPS, http_server, make_clip
from tuner.core.codec import parse_header
from tuner.core.control import decode_control
from tuner.core.presets import PRESETS, Mode
from tuner.core.source import MediaInput, Source
from tuner.play.command import source_command, testcard_command
from tuner.play.ffmpeg import Tool, find_ffmpeg, version_sync
from tuner.web.auth import COOKIE_NAME

PIN = "13579"
PRESET = PRESETS["low"]
STEP_TIMEOUT = 15.0
POLL_SECONDS = 0.001
_USING_FFMPEG = re.compile(r"using ffmpeg \S+ from \S+ \((.+)\)")


# -- the daemon --------------------------------------------------------------------


@attrs.define
class Daemon:
    """A ``tuner serve`` subprocess (the tests' :class:`DaemonProcess`), as measured."""

    process: DaemonProcess

    @property
    def url(self) -> str:
        return self.process.base_url

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    @property
    def popen(self) -> subprocess.Popen[str]:
        """The subprocess itself (to signal it, or read its exit status)."""
        return self.process.process

    def ffmpegs(self) -> list[psutil.Process]:
        """The daemon's live (not zombie) playback ffmpeg children."""
        return [child for child in self.process.children() if _is_live_ffmpeg(child)]

    def ffmpeg_path(self) -> str | None:
        """The ffmpeg the daemon said it uses, from its log."""
        match = _USING_FFMPEG.search(self.process.log())
        return match.group(1) if match else None


def _is_live_ffmpeg(process: psutil.Process) -> bool:
    # A playback ffmpeg writes frames to pipe:1 (the resolver's probes do not).
    try:
        return (
            "ffmpeg" in process.name()
            and "pipe:1" in process.cmdline()
            and process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.NoSuchProcess:
        return False


@contextmanager
def running_daemon(workdir: Path) -> Iterator[Daemon]:
    """Start ``python -m tuner serve --port 0`` with an empty config file (so none of
    this machine's settings apply); SIGTERM it (and wait) on the way out."""
    config = workdir / "config.toml"
    config.write_text("")
    with DaemonProcess.start(workdir, pin=PIN, args=("--config", str(config))) as process:
        yield Daemon(process)


# -- a viewer ----------------------------------------------------------------------


class Viewer:
    """One WebSocket viewer; every message is timestamped the moment it is received."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self._ws = ws
        self._send, self._receive = trio.open_memory_channel[tuple[float, str | bytes]](math.inf)

    async def pump(self) -> None:
        """Receive forever (run in a nursery; cancel to stop)."""
        while True:
            message = await self._ws.get_message()
            self._send.send_nowait((time.perf_counter(), message))

    def discard_pending(self) -> None:
        """Forget what has arrived so far (the previous session's frames)."""
        while True:
            try:
                self._receive.receive_nowait()
            except trio.WouldBlock:
                return

    async def first_frame_of(self, session_id: str) -> float:
        """When the first frame after ``session_id``'s hello arrived."""
        in_session = False
        with trio.fail_after(STEP_TIMEOUT):
            async for received_at, message in self._receive:
                if isinstance(message, str):
                    control = decode_control(message)
                    if control["type"] == "hello":
                        in_session = control["session_id"] == session_id
                elif in_session:
                    frame = parse_header(message)
                    if frame.seq != 0:
                        print(f"  note: first frame seen of {session_id} is seq {frame.seq}")
                    return received_at
        raise RuntimeError("the WebSocket closed")


# -- the measurements ----------------------------------------------------------------


@attrs.define
class Played:
    """What the benchmark plays: the test card, or a clip over loopback HTTP."""

    clip_url: str | None = None
    runs: int = 0

    def query(self) -> str:
        """The next query. A clip gets a new query string each time, so that every
        play is resolved afresh by yt-dlp (the daemon caches answers for 2 minutes)."""
        self.runs += 1
        return "testcard" if self.clip_url is None else f"{self.clip_url}?run={self.runs}"

    def command(self, ffmpeg: str, audio_fd: int) -> list[str]:
        """The command the daemon runs for it, for the ffmpeg-alone baseline."""
        if self.clip_url is None:
            return testcard_command(ffmpeg, PRESET, Mode.MONO, audio_fd)
        source = Source("clip", (MediaInput(self.clip_url, (), True, True),))
        return source_command(ffmpeg, source, PRESET, Mode.MONO, audio_fd)


PLAYED = Played()


async def play(client: httpx.AsyncClient) -> str:
    """``POST /api/play`` what the benchmark plays; the new session's id."""
    response = await client.post("/api/play", json={"query": PLAYED.query(), "preset": PRESET.name})
    if response.status_code != 202:
        raise RuntimeError(f"play answered {response.status_code}: {response.text}")
    session_id: str = response.json()["session_id"]
    return session_id


async def stop_and_wait_idle(client: httpx.AsyncClient, daemon: Daemon) -> None:
    """``POST /api/stop`` and wait until the daemon has no ffmpeg left."""
    response = await client.post("/api/stop")
    if response.status_code != 204:
        raise RuntimeError(f"stop answered {response.status_code}: {response.text}")
    with trio.fail_after(STEP_TIMEOUT):
        while daemon.ffmpegs():
            await trio.sleep(0.01)


async def tuner_first_frame(client: httpx.AsyncClient, daemon: Daemon, viewer: Viewer) -> float:
    """One cold start: seconds from sending play to that session's first frame."""
    await stop_and_wait_idle(client, daemon)
    viewer.discard_pending()
    sent = time.perf_counter()
    session_id = await play(client)
    return await viewer.first_frame_of(session_id) - sent


@attrs.frozen
class FfmpegAlone:
    first_frame: float
    sigterm_exit: float


async def ffmpeg_alone(ffmpeg: str) -> FfmpegAlone:
    """Spawn the test card command, read its first whole raw frame, then SIGTERM its
    group (as tuner's ``procs.kill_group`` does) and wait for it to exit."""
    read_fd, write_fd = os.pipe()
    try:
        started = time.perf_counter()
        process = await trio.lowlevel.open_process(
            PLAYED.command(ffmpeg, write_fd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
    finally:
        os.close(write_fd)
    try:
        assert process.stdout is not None
        await read_exactly(process.stdout, PRESET.cols * PRESET.rows)
        first_frame = time.perf_counter() - started
        signalled = time.perf_counter()
        os.killpg(process.pid, signal.SIGTERM)
        with trio.fail_after(STEP_TIMEOUT):
            await process.wait()
        return FfmpegAlone(first_frame, time.perf_counter() - signalled)
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()
        os.close(read_fd)


async def read_exactly(stream: trio.abc.ReceiveStream, size: int) -> None:
    """Read (and drop) ``size`` bytes."""
    with trio.fail_after(STEP_TIMEOUT):
        while size > 0:
            chunk = await stream.receive_some(size)
            if not chunk:
                raise RuntimeError("ffmpeg closed its stdout before the first frame")
            size -= len(chunk)


@attrs.frozen
class Supersede:
    old_gone: float
    new_first_frame: float


async def supersede_once(client: httpx.AsyncClient, daemon: Daemon, viewer: Viewer) -> Supersede:
    """Replace the playing session; time until its ffmpeg is gone and the new frame is in."""
    playing = daemon.ffmpegs()
    if len(playing) != 1:
        raise RuntimeError(f"expected one ffmpeg playing, found {playing}")
    old = playing[0]
    viewer.discard_pending()
    new_session: list[str] = []

    async def play_again() -> None:
        new_session.append(await play(client))

    async with trio.open_nursery() as nursery:
        sent = time.perf_counter()
        nursery.start_soon(play_again)
        gone = await wait_until_exited(old) - sent
    first_frame = await viewer.first_frame_of(new_session[0]) - sent
    return Supersede(gone, first_frame)


async def wait_until_exited(process: psutil.Process) -> float:
    """Poll every ~1 ms until ``process`` is gone or a zombie; when that was seen."""
    with trio.fail_after(STEP_TIMEOUT):
        while True:
            try:
                if process.status() == psutil.STATUS_ZOMBIE:
                    return time.perf_counter()
            except psutil.NoSuchProcess:
                return time.perf_counter()
            await trio.sleep(POLL_SECONDS)


# -- running it all ------------------------------------------------------------------


@attrs.define
class Results:
    tuner: list[float] = attrs.Factory(list)
    ffmpeg_alone: list[float] = attrs.Factory(list)
    ffmpeg_sigterm: list[float] = attrs.Factory(list)
    supersede_gone: list[float] = attrs.Factory(list)
    supersede_frame: list[float] = attrs.Factory(list)


async def measure(daemon: Daemon, ffmpeg: str, runs: int) -> Results:
    """Take every figure; SIGTERM stops this like Ctrl-C does."""
    async with trio.open_nursery() as nursery:
        await nursery.start(interrupt_on_sigterm)
        results = await take_figures(daemon, ffmpeg, runs)
        nursery.cancel_scope.cancel()
    return results


async def interrupt_on_sigterm(*, task_status: trio.TaskStatus[None]) -> None:
    """Raise KeyboardInterrupt (in this task, at a checkpoint) on SIGTERM."""
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        task_status.started()
        async for _ in signals:
            raise KeyboardInterrupt


async def take_figures(daemon: Daemon, ffmpeg: str, runs: int) -> Results:
    """Log in, connect one viewer, and take every figure."""
    results = Results()
    async with httpx.AsyncClient(base_url=daemon.url, timeout=STEP_TIMEOUT) as client:
        cookie = await login(client)
        headers = [(b"Cookie", cookie.encode())]
        async with (
            open_websocket_url(daemon.ws_url + "/ws/video", extra_headers=headers) as ws,
            trio.open_nursery() as nursery,
        ):
            viewer = Viewer(ws)
            nursery.start_soon(viewer.pump)
            await first_frame_runs(client, daemon, viewer, ffmpeg, runs, results)
            await supersede_runs(client, daemon, viewer, runs, results)
            await stop_and_wait_idle(client, daemon)
            nursery.cancel_scope.cancel()
    return results


async def login(client: httpx.AsyncClient) -> str:
    """Log in with the PIN; the ``Cookie`` header value for the WebSocket handshake."""
    response = await client.post("/api/login", json={"pin": PIN})
    if response.status_code != 204:
        raise RuntimeError(f"login answered {response.status_code}: {response.text}")
    return f"{COOKIE_NAME}={client.cookies[COOKIE_NAME]}"


async def first_frame_runs(
    client: httpx.AsyncClient,
    daemon: Daemon,
    viewer: Viewer,
    ffmpeg: str,
    runs: int,
    results: Results,
) -> None:
    """Cold starts, tuner's and ffmpeg's alone, alternating which goes first."""

    async def baseline() -> None:
        alone = await ffmpeg_alone(ffmpeg)
        results.ffmpeg_alone.append(alone.first_frame)
        results.ffmpeg_sigterm.append(alone.sigterm_exit)

    async def tuner() -> None:
        results.tuner.append(await tuner_first_frame(client, daemon, viewer))

    await ffmpeg_alone(ffmpeg)  # warm-ups, not counted
    await tuner_first_frame(client, daemon, viewer)
    for run in range(runs):
        for step in (tuner, baseline) if run % 2 else (baseline, tuner):
            await step()
    progress("first frame", runs)


async def supersede_runs(
    client: httpx.AsyncClient, daemon: Daemon, viewer: Viewer, runs: int, results: Results
) -> None:
    """Supersede the playing session again and again (it plays: its first frame is in)."""
    await supersede_once(client, daemon, viewer)  # warm-up, not counted
    for _ in range(runs):
        run = await supersede_once(client, daemon, viewer)
        results.supersede_gone.append(run.old_gone)
        results.supersede_frame.append(run.new_first_frame)
    progress("supersede", runs)


def progress(what: str, runs: int) -> None:
    print(f"  {what}: {runs} runs done", file=sys.stderr, flush=True)


# -- reporting -----------------------------------------------------------------------


def p95(values: list[float]) -> float:
    """The 95th percentile, interpolated between the nearest ranks."""
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def table(rows: list[tuple[str, list[float]]]) -> str:
    """Median, p95, min and max in ms, one aligned row per figure."""
    stats: list[tuple[str, Callable[[list[float]], float]]] = [
        ("median", statistics.median),
        ("p95", p95),
        ("min", min),
        ("max", max),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{'':{width}}  " + "  ".join(f"{label:>7}" for label, _ in stats) + "  (ms)"]
    for name, values in rows:
        cells = "  ".join(f"{1000 * stat(values):7.1f}" for _, stat in stats)
        lines.append(f"{name:{width}}  {cells}")
    return "\n".join(lines)


_RESOLVED = re.compile(r"resolved '.*?' in (\d+\.\d+) s")


def resolve_times(daemon: Daemon) -> list[float]:
    """How long each resolution took, as the daemon logged it (yt-dlp and the probe)."""
    return [float(m) for m in _RESOLVED.findall(daemon.process.log())]


def report(results: Results, runs: int) -> str:
    """The table, and how tuner compares with ffmpeg alone (ratio of the medians)."""
    rows = [
        ("first frame: tuner", results.tuner),
        ("first frame: ffmpeg alone", results.ffmpeg_alone),
        ("supersede: old ffmpeg gone", results.supersede_gone),
        ("ffmpeg alone: SIGTERM to exit", results.ffmpeg_sigterm),
        ("supersede: new first frame", results.supersede_frame),
    ]
    first_frame = ratio(results.tuner, results.ffmpeg_alone)
    supersede = ratio(results.supersede_gone, results.ffmpeg_sigterm)
    return (
        f"{table(rows)}\n\n{runs} runs each. tuner / ffmpeg alone, ratio of the medians:\n"
        f"  first frame {first_frame:.2f}\n"
        f"  old ffmpeg gone / SIGTERM to exit {supersede:.2f}"
    )


def ratio(tuner: list[float], alone: list[float]) -> float:
    return statistics.median(tuner) / statistics.median(alone)


def machine(ffmpeg: str) -> str:
    ffmpeg_version = version_sync(Tool(ffmpeg, "benchmark"))
    cpus = len(os.sched_getaffinity(0))
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{cpus} CPUs, Python {platform.python_version()}, "
        f"ffmpeg {ffmpeg_version} ({ffmpeg}), {platform.system()} {platform.release()}\n"
        f"load average before: {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20, help="runs of each (default 20)")
    parser.add_argument(
        "--source",
        choices=("testcard", "clip"),
        default="testcard",
        help="the test card, or a 4 s 720p H.264/AAC clip served over loopback HTTP "
        "and resolved by yt-dlp on every play (default testcard)",
    )
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    # Outside trio.run, SIGTERM unwinds like Ctrl-C, so the daemon is stopped on the
    # way out; inside it, interrupt_on_sigterm does the same the way trio allows.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.source == "clip":
        with clip_server() as url:
            run(args, url)
    else:
        run(args, None)


@contextmanager
def clip_server() -> Iterator[str]:
    """Make the test suite's 720p clip and serve it on loopback; its URL."""
    with tempfile.TemporaryDirectory(prefix="tuner-bench-media-") as media:
        make_clip(find_ffmpeg(None).path, CLIPS["clip720.mp4"], Path(media))
        with http_server(Path(media)) as base:
            yield f"{base}/clip720.mp4"


def run(args: argparse.Namespace, clip_url: str | None) -> None:
    """Start the daemon, take the figures, print them."""
    PLAYED.clip_url = clip_url
    try:
        with (
            tempfile.TemporaryDirectory(prefix="tuner-bench-") as tmp,
            running_daemon(Path(tmp)) as daemon,
        ):
            ffmpeg = daemon.ffmpeg_path() or find_ffmpeg(None).path
            print(machine(ffmpeg), flush=True)
            started = time.monotonic()
            results = trio.run(measure, daemon, ffmpeg, args.runs)
            print(report(results, args.runs))
            resolved = resolve_times(daemon)
            if resolved:
                print(
                    f"  of which resolving (yt-dlp and probe, from the daemon's log): "
                    f"median {1000 * statistics.median(resolved):.1f} ms over "
                    f"{len(resolved)} resolutions"
                )
            print(f"(benchmark took {time.monotonic() - started:.1f} s)")
    except* KeyboardInterrupt:
        print("interrupted; the daemon was stopped", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
