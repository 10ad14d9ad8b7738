"""What issue 17's benchmarks share: daemons at a given lead, the page driven in
headless Chromium with ``bench/pageprobe.js`` watching it, the clips they play, and
the statistics they print.

Not a benchmark itself; ``bench_start.py``, ``bench_lead.py``, ``bench_stall.py``,
``bench_seek.py`` and ``bench_memory.py`` use it.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.daemon_process import DaemonProcess
from tests.media import _AAC, _FASTSTART, _X264, CLIPS, Clip
from tests.timecode import SAMPLE_RATE, TIMECODE_VIDEO
from tests.web.chromium import wait_for
from tuner.web.auth import COOKIE_NAME

PIN = "86420"
PROBE = (Path(__file__).parent / "pageprobe.js").read_text()
#: The test suite's 720p clip (testsrc2 and a 440 Hz tone from t=0), 12 s long, so that
#: it still plays when today's path (3 s of preroll) first moves.
START_CLIP = Clip("start720.mp4", 12, CLIPS["clip720.mp4"].inputs, CLIPS["clip720.mp4"].output)
#: The timecode clip's picture (tests/timecode.py reads its media time) with a tone
#: that never stops and whose pitch says the second: 400 + 100 s Hz during second s.
#: Its sound is real at every instant, so "drawn with its sound" can be heard at once
#: after a seek, and the pitch says that the sound is the new position's.
SEEK_TONE = f"aevalsrc='0.5*sin(2*PI*(400+100*floor(t))*t)':s={SAMPLE_RATE}:c=stereo"
#: 42 s: the timecode picture counts 1024 frames (42.6 s at 24 fps).
SEEK_CLIP = Clip("seektone.mp4", 42, (TIMECODE_VIDEO, SEEK_TONE), (*_X264, *_AAC, *_FASTSTART))


def tone_second(pitch_hz: float | None) -> int | None:
    """The second of :data:`SEEK_CLIP` whose tone has this pitch (within a third of a step)."""
    if pitch_hz is None:
        return None
    second = round((pitch_hz - 400) / 100)
    return second if second >= 0 and abs(pitch_hz - 400 - 100 * second) < 34 else None


# -- daemons --------------------------------------------------------------------------


@contextmanager
def daemon_at_lead(
    workdir: Path, lead_seconds: float, extra_config: str = ""
) -> Iterator[DaemonProcess]:
    """A ``tuner serve`` subprocess with ``lead_seconds``, an otherwise empty config
    (no extractors, queue downloads without delay), its state in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.toml"
    config.write_text(
        f"lead_seconds = {lead_seconds}\n{extra_config}\n"
        "[queue]\nper_source_delay_seconds = 0\n\n[extract]\nenabled = false\n"
    )
    with DaemonProcess.start(workdir, pin=PIN, args=("--config", str(config))) as daemon:
        yield daemon


class Api:
    """A logged-in HTTP client of one daemon (synchronous)."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.daemon = daemon
        self.client = httpx.Client(base_url=daemon.base_url, timeout=30)
        response = self.client.post("/api/login", json={"pin": PIN})
        if response.status_code != 204:
            raise RuntimeError(f"login answered {response.status_code}: {response.text}")

    @property
    def cookie(self) -> str:
        """The ``Cookie`` header value for a WebSocket or stream of this login."""
        return f"{COOKIE_NAME}={self.client.cookies[COOKIE_NAME]}"

    def post(self, path: str, body: Any = None, expect: int | None = None) -> httpx.Response:
        response = self.client.post(path, json=body)
        if expect is not None and response.status_code != expect:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.text}")
        return response

    def put(self, path: str, body: Any) -> httpx.Response:
        return self.client.put(path, json=body)

    def get(self, path: str) -> Any:
        return self.client.get(path).json()

    def stop_and_wait_idle(self, timeout: float = 15) -> None:
        """``POST /api/stop`` and wait until the daemon has no playback ffmpeg left."""
        self.post("/api/stop", expect=204)
        deadline = time.monotonic() + timeout
        while playback_ffmpegs(self.daemon):
            if time.monotonic() > deadline:
                raise RuntimeError("ffmpeg still runs after stop")
            time.sleep(0.02)

    def prepare(self, url: str, timeout: float = 120) -> str:
        """Queue ``url`` and wait until its download is in the cache; its item id."""
        item_id: str = self.post("/api/queue", {"query": url}, expect=201).json()["id"]
        self.wait_prepared([item_id], timeout)
        return item_id

    def wait_prepared(self, ids: Sequence[str], timeout: float = 180) -> None:
        """Wait until every item of ``ids`` is downloaded."""
        deadline = time.monotonic() + timeout
        while True:
            items = {i["id"]: i for i in self.get("/api/queue")["items"]}
            states = [items[i] for i in ids]
            bad = [i for i in states if i["state"] in ("failed", "cancelled")]
            if bad:
                raise RuntimeError(f"not downloaded: {bad}")
            if all(i["state"] == "ready" and i["cached"] for i in states):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"still not downloaded: {states}")
            time.sleep(0.1)

    def close(self) -> None:
        self.client.close()


def playback_ffmpegs(daemon: DaemonProcess) -> list[psutil.Process]:
    """The daemon's live playback ffmpeg children (they write frames to pipe:1)."""
    found = []
    for child in daemon.children():
        try:
            if (
                "ffmpeg" in child.name()
                and "pipe:1" in child.cmdline()
                and child.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


# -- the page -------------------------------------------------------------------------


def open_page(context: Any, base_url: str, **options: Any) -> Any:
    """A new page of ``context`` on the daemon's home screen (logged in with the PIN
    if it was not), with the probe injected (``options`` as ``window.benchOptions``)."""
    page = context.new_page()
    page.goto(base_url + "/")
    page.wait_for_selector("body[data-state=login], body[data-state=home]")
    if page.evaluate("document.body.getAttribute('data-state')") == "login":
        page.fill("#pin", PIN)
        page.click("#login-button")
    page.wait_for_selector("body[data-state=home]")
    page.evaluate(f"window.benchOptions = {json.dumps(options)};")
    page.evaluate(PROBE)
    return page


def wait_until(page: Any, expression: str, timeout_s: float) -> None:
    """:func:`tests.web.chromium.wait_for` in seconds."""
    wait_for(page, expression, timeout=timeout_s * 1000)


# -- figures --------------------------------------------------------------------------


def p95(values: Sequence[float]) -> float:
    """The 95th percentile, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> str:
    """What the figures were taken on."""
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{len(os.sched_getaffinity(0))} CPUs; load average before: {load}"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"
