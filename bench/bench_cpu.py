"""The daemon's CPU time per second of video, next to its ffmpeg's, per mode and preset.

Run from the repository root (about two minutes)::

    PYTHONPATH=. python bench/bench_cpu.py
    PYTHONPATH=. python bench/bench_cpu.py --modes color --presets low --seconds 3

A real ``tuner serve`` process plays a 854x480 H.264/AAC clip (30 fps, the size the
daemon fetches by default, encoded like YouTube's 480p; see :data:`CLIP`) served
over loopback HTTP, once per mode and preset, with
one viewer on ``/ws/video`` and one listener on ``/audio``, as in the car. After a
warm-up, it reads both processes' CPU time (user + system, from the kernel, via
psutil) over a window of ``--seconds``:

daemon
    the ``tuner serve`` process itself: reading ffmpeg's pipes, rendering each frame
    to cells, encoding it, pacing, sending frames and sound to the two clients;
ffmpeg
    the session's ffmpeg: decoding the H.264 and AAC, scaling, converting, encoding
    the sound.

The ratio daemon / ffmpeg is the figure: the goal is the Python side well under
ffmpeg's own cost for the same stream. Both are measured in the same window, so load
from elsewhere on the machine affects both alike.

Results
=======

2026-11-23, ``PYTHONPATH=. python bench/bench_cpu.py`` on this 2-CPU VM, on the final code
of that day::

    2 CPUs; load average before: (1.73876953125, 1.9794921875, 1.98486328125)
    CPU ms per second of video; ratio = daemon / ffmpeg; fps = frames received
    mode     preset   daemon   ffmpeg  ratio     fps
    mono     low          70      150   0.47    24.1
    mono     med          90      136   0.66    30.0
    mono     high         87      135   0.65    30.0
    mono     ultra        88      138   0.64    30.0
    color    low          74      126   0.59    24.0
    color    med          91      131   0.70    30.0
    color    high         94      128   0.73    30.0
    color    ultra       105      133   0.79    30.0
    blocks   low          72      130   0.55    24.0
    blocks   med          86      124   0.69    30.0
    blocks   high         90      134   0.67    30.0
    blocks   ultra       117      137   0.86    30.0
    braille  low          88      126   0.70    24.0
    braille  med         134      148   0.91    30.0
    braille  high        152      154   0.99    30.0
    braille  ultra       165      153   1.08    30.0
    ratio daemon/ffmpeg: median 0.70, max 1.08 over 16 runs

Re-run with the egress proxy in the daemon (every byte of the clip goes through it;
``python bench/bench_egress.py``), load average before 1.52, 3.52, 3.69: ``mono low``
63 ms (ffmpeg 127), ``color low`` 74, ``braille ultra`` 189 (ffmpeg 171); ratio
daemon/ffmpeg median 0.68, max 1.10 over 16 runs: no change beyond the noise.

The daemon costs half to three quarters of its ffmpeg in ``mono``, ``color`` and
``blocks``; ``braille`` at ``high`` and ``ultra`` costs about as much as ffmpeg (0.99,
1.08)
(rendering 2x4 dots a cell from 192,000 luma samples a frame is most of it, see
``bench_codec.py``). The "fps" column is frames the viewer received: empty deltas
are not sent, so a still picture shows fewer.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import attrs
import httpx
import psutil
import trio
from trio_websocket import open_websocket_url

from tests.daemon_process import DaemonProcess
from tests.media import Clip, http_server, make_clip
from tuner.core.codec import parse_header
from tuner.core.control import decode_control
from tuner.core.presets import PRESETS, Mode
from tuner.play.ffmpeg import find_ffmpeg

PIN = "97531"
#: What a car most often plays: YouTube's 480p, H.264 High profile at about 1 Mbit/s
#: (CABAC, B-frames), with AAC. Film grain (temporal noise) over the moving test
#: pattern makes the encoder spend its bits as on real footage.
CLIP = Clip(
    "bench480.mp4",
    20,
    (
        "testsrc2=size=854x480:rate=30,noise=alls=10:allf=t",
        "sine=frequency=440:sample_rate=48000",
    ),
    (
        "-c:v", "libx264", "-preset", "fast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-b:v", "1M", "-maxrate", "1.5M", "-bufsize", "2M", "-g", "60",
        "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
    ),
)  # fmt: skip
WARM_UP_SECONDS = 2.0


@attrs.frozen
class Figures:
    """CPU seconds per second of video, over one window."""

    mode: str
    preset: str
    daemon: float
    ffmpeg: float
    frames: int
    seconds: float

    @property
    def ratio(self) -> float:
        return self.daemon / self.ffmpeg


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _playback_ffmpeg(daemon: psutil.Process) -> psutil.Process:
    for child in daemon.children(recursive=True):
        try:
            if "ffmpeg" in child.name() and "pipe:1" in child.cmdline():
                return child
        except psutil.NoSuchProcess:
            continue
    raise RuntimeError("the session's ffmpeg is not running")


async def _listen(client: httpx.AsyncClient) -> None:
    """Read /audio until the session ends (the stream closes)."""
    async with client.stream("GET", "/audio") as response:
        async for _ in response.aiter_bytes():
            pass


async def measure(
    base_url: str, pid: int, clip_url: str, modes: list[Mode], presets: list[str], seconds: float
) -> list[Figures]:
    """Play the clip once per mode and preset; the CPU figures of each."""
    daemon = psutil.Process(pid)
    results = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        login = await client.post("/api/login", json={"pin": PIN})
        login.raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        ws_url = "ws" + base_url.removeprefix("http") + "/ws/video"
        async with open_websocket_url(ws_url, extra_headers=[("Cookie", cookie)]) as ws:
            for mode in modes:
                for preset in presets:
                    body = {"query": clip_url, "preset": preset, "mode": mode.value}
                    response = await client.post("/api/play", json=body)
                    response.raise_for_status()
                    session_id = response.json()["session_id"]
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(_listen, client)
                        frames = 0
                        in_session = False
                        start = trio.current_time()
                        window: tuple[float, float, float] | None = None
                        ffmpeg: psutil.Process | None = None
                        while True:
                            message = await ws.get_message()
                            now = trio.current_time()
                            if isinstance(message, str):
                                control = decode_control(message)
                                if control["type"] == "hello":
                                    in_session = control["session_id"] == session_id
                                continue
                            if not in_session:
                                continue
                            parse_header(message)
                            if window is None and now - start >= WARM_UP_SECONDS:
                                ffmpeg = _playback_ffmpeg(daemon)
                                window = (now, _cpu(daemon), _cpu(ffmpeg))
                            elif window is not None:
                                frames += 1
                                if now - window[0] >= seconds:
                                    break
                        assert window is not None and ffmpeg is not None
                        elapsed = now - window[0]
                        figures = Figures(
                            mode.value,
                            preset,
                            (_cpu(daemon) - window[1]) / elapsed,
                            (_cpu(ffmpeg) - window[2]) / elapsed,
                            frames,
                            elapsed,
                        )
                        results.append(figures)
                        print(
                            f"{figures.mode:8} {figures.preset:6} {figures.daemon * 1000:8.0f}"
                            f" {figures.ffmpeg * 1000:8.0f} {figures.ratio:6.2f}"
                            f" {figures.frames / figures.seconds:7.1f}",
                            flush=True,
                        )
                        await client.post("/api/stop")
                        nursery.cancel_scope.cancel()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured window per run")
    parser.add_argument("--modes", default=",".join(m.value for m in Mode))
    parser.add_argument("--presets", default=",".join(PRESETS))
    args = parser.parse_args()
    modes = [Mode(m) for m in args.modes.split(",")]
    presets = args.presets.split(",")
    ffmpeg = find_ffmpeg(None).path
    print(f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        make_clip(ffmpeg, CLIP, directory)
        with (
            http_server(directory) as media_url,
            DaemonProcess.start(directory, pin=PIN) as daemon,
        ):
            print("CPU ms per second of video; ratio = daemon / ffmpeg; fps = frames received")
            print(f"{'mode':8} {'preset':6} {'daemon':>8} {'ffmpeg':>8} {'ratio':>6} {'fps':>7}")
            results = trio.run(
                measure,
                daemon.base_url,
                daemon.process.pid,
                f"{media_url}/{CLIP.name}",
                modes,
                presets,
                args.seconds,
            )
    ratios = [r.ratio for r in results]
    print(
        f"ratio daemon/ffmpeg: median {statistics.median(ratios):.2f},"
        f" max {max(ratios):.2f} over {len(ratios)} runs"
    )


if __name__ == "__main__":
    main()
