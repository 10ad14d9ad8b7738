"""``youtube_live``: YouTube channels checked through yt-dlp for a live broadcast.

Each channel's ``/live`` page is probed by yt-dlp in a child process
(:mod:`tuner.ytdlp.live_probe`), under a timeout, in a process group that is
killed when the probe is cancelled: yt-dlp cannot be cancelled in a thread. Probes
count against the per-source limits (source ``youtube``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from importlib.util import find_spec
from typing import Any

import trio

from tuner.extract._base import Health, gather_each
from tuner.extract._http import SourceLimits
from tuner.extract._records import (
    ExtractorError,
    StreamKind,
    StreamRecord,
)
from tuner.procs import run_captured
from tuner.ytdlp import LIVE_PROBE, command, environment

WORKER = tuple(command(LIVE_PROBE))
#: The source name the probes count against in :class:`SourceLimits`.
SOURCE = "youtube"


def channel_live_url(channel: str) -> str:
    """The ``/live`` page of a channel given as ``@handle``, ``UC...`` ID or URL."""
    if channel.startswith("@"):
        return f"https://www.youtube.com/{channel}/live"
    if channel.startswith("UC"):
        return f"https://www.youtube.com/channel/{channel}/live"
    url = channel.rstrip("/")
    if "/watch" in url or url.endswith("/live"):
        return url
    return f"{url}/live"


def info_to_record(
    info: Mapping[str, Any], *, channel: str, key: str, found_at: float
) -> StreamRecord | None:
    """A live stream record from a yt-dlp info dict, or ``None`` when it is not live.

    Raises:
        ExtractorError: the info dict has neither a watch URL nor a video ID.
    """
    live = info.get("is_live") is True or info.get("live_status") == "is_live"
    if not live:
        return None
    url = info.get("webpage_url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        video_id = info.get("id")
        if not isinstance(video_id, str) or not video_id:
            raise ExtractorError(f"{channel}: yt-dlp gave neither a URL nor a video ID")
        url = f"https://www.youtube.com/watch?v={video_id}"
    title = next(
        (
            value.strip()
            for value in (info.get("fulltitle"), info.get("title"))
            if isinstance(value, str) and value.strip()
        ),
        f"{channel} live",
    )
    heights = [h for h in (info.get("max_height"), info.get("height")) if isinstance(h, int)]
    quality = f"{max(heights)}p" if heights else None
    return StreamRecord(
        title, url, StreamKind.YOUTUBE, key, found_at, is_live=True, quality=quality
    )


class YoutubeLiveExtractor:
    """Checks each configured channel for a live broadcast."""

    key = "youtube_live"
    name = "YouTube live"

    def __init__(
        self,
        channels: Sequence[str],
        limits: SourceLimits,
        *,
        socket_timeout: float = 15.0,
        channel_timeout: float | None = None,
        worker: Sequence[str] = WORKER,
        clock: Callable[[], float] = time.time,
        proxy: str | None = None,
    ) -> None:
        self._channels = tuple(channels)
        self._limits = limits
        self._socket_timeout = socket_timeout
        # yt-dlp makes a few requests for one page, each bounded by the socket timeout.
        self._channel_timeout = channel_timeout or 3 * socket_timeout + 5
        self._worker = tuple(worker)
        self._clock = clock
        self._proxy = proxy

    async def probe(self, channel: str) -> dict[str, Any]:
        """The worker's answer for one channel.

        Raises:
            ExtractorError: the worker timed out, failed, or answered nonsense.
        """
        probe = [
            *self._worker,
            "--socket-timeout",
            f"{self._socket_timeout:g}",
            # After "--": a URL is never read as an option.
            "--",
            channel_live_url(channel),
        ]
        async with self._limits.slot(SOURCE):
            try:
                with trio.fail_after(self._channel_timeout):
                    # The proxy (and its password) in the environment: never in argv.
                    done = await run_captured(probe, env=environment(self._proxy))
            except trio.TooSlowError:
                raise ExtractorError(
                    f"{channel}: yt-dlp did not finish within {self._channel_timeout:g} s"
                ) from None
            except OSError as exc:
                raise ExtractorError(f"cannot start the yt-dlp worker: {exc}") from None
        stderr = done.stderr.decode(errors="replace").strip()
        if done.returncode != 0:
            tail = stderr.splitlines()[-1] if stderr else "no message"
            raise ExtractorError(
                f"{channel}: the yt-dlp worker exited with status {done.returncode}: {tail}"
            )
        lines = done.stdout.decode(errors="replace").strip().splitlines()
        try:
            answer = json.loads(lines[-1]) if lines else None
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or answer.get("status") not in (
            "live",
            "not_live",
            "error",
        ):
            raise ExtractorError(f"{channel}: the yt-dlp worker gave no answer ({stderr[-200:]})")
        return answer

    async def check_channel(self, channel: str) -> StreamRecord | None:
        """The channel's live broadcast, or ``None`` when it is not live.

        Raises:
            ExtractorError: yt-dlp failed (the message is yt-dlp's, with the channel).
        """
        answer = await self.probe(channel)
        if answer["status"] == "not_live":
            return None
        if answer["status"] == "error":
            raise ExtractorError(f"{channel}: {answer.get('detail') or 'yt-dlp failed'}")
        info = answer.get("info")
        if not isinstance(info, dict):
            raise ExtractorError(f"{channel}: the yt-dlp worker sent no info")
        return info_to_record(info, channel=channel, key=self.key, found_at=self._clock())

    async def extract(self) -> list[StreamRecord]:
        """Probe every channel (as many at once as the ``youtube`` source allows).

        Raises:
            ExtractorError: every channel failed.
            PartialResultsError: some channels failed.
        """

        async def check(channel: str) -> list[StreamRecord]:
            record = await self.check_channel(channel)
            return [] if record is None else [record]

        return await gather_each(self._channels, check)

    async def health_check(self) -> Health:
        """Unhealthy without channels, or without yt-dlp installed."""
        if not self._channels:
            return Health(False, "no channels configured ([extract.youtube_live] channels)")
        if self._worker == WORKER and find_spec("yt_dlp") is None:
            return Health(False, "yt-dlp is not installed: pip install yt-dlp")
        return Health(True)
