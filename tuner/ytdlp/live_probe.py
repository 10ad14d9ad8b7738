"""The live probe worker: is a channel live now? One yt-dlp probe, then exit.

``python -m tuner.ytdlp.live_probe [--socket-timeout S] -- URL`` (a channel's
``/live`` page), the egress proxy in the environment. Cancelling a probe kills the
worker's process group. The answer is one JSON line on stdout::

    {"status": "live", "info": {...}}       a live broadcast (a trimmed info dict)
    {"status": "not_live", "detail": "..."} the channel is not live now
    {"status": "error", "detail": "..."}    yt-dlp failed; the detail says why
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from tuner.ytdlp._worker import answer_stream, clean, common_options, take_proxy

#: What yt-dlp says when a channel's /live page has no live broadcast.
NOT_LIVE = re.compile(
    r"not currently live|will begin in|premieres in|is not live|no live|"
    r"does not have a live|scheduled to start|upcoming",
    re.IGNORECASE,
)
#: Info dict fields the parent uses; the rest (formats, thumbnails...) stays here.
_KEPT = (
    "id",
    "title",
    "fulltitle",
    "webpage_url",
    "is_live",
    "live_status",
    "channel",
    "uploader",
    "height",
    "release_timestamp",
    "_type",
)


def trim(info: Mapping[str, Any]) -> dict[str, Any]:
    """The fields the parent needs, and the tallest format's height as ``max_height``."""
    kept = {key: info[key] for key in _KEPT if key in info}
    heights = [
        f["height"]
        for f in info.get("formats") or ()
        if isinstance(f, Mapping) and isinstance(f.get("height"), int)
    ]
    if heights:
        kept["max_height"] = max(heights)
    return kept


def probe(
    url: str, socket_timeout: float, ydl_class: Any = None, proxy: str | None = None
) -> dict[str, Any]:
    """Ask yt-dlp about ``url`` (a channel's ``/live`` page) without downloading,
    through ``proxy`` (the egress proxy) when given."""
    from yt_dlp import YoutubeDL
    from yt_dlp.utils import DownloadError, UserNotLive

    options = common_options(socket_timeout, proxy)
    # yt-dlp retries for minutes by default; one try, the poller tries again later.
    options.update(retries=0, extractor_retries=0)
    try:
        # A new YoutubeDL per call: it keeps state (cookies, caches) between calls.
        with (ydl_class or YoutubeDL)(options) as ydl:
            info = ydl.extract_info(url, download=False)
    except DownloadError as exc:
        cause = exc.exc_info[1] if exc.exc_info else None
        detail = clean(str(exc))
        if isinstance(cause, UserNotLive) or NOT_LIVE.search(detail):
            return {"status": "not_live", "detail": detail}
        return {"status": "error", "detail": detail}
    if not isinstance(info, Mapping):
        return {"status": "error", "detail": "yt-dlp returned no information"}
    trimmed = trim(info)
    if info.get("is_live") is True or info.get("live_status") == "is_live":
        return {"status": "live", "info": trimmed}
    return {"status": "not_live", "detail": f"live_status is {info.get('live_status')!r}"}


def main(argv: Sequence[str] | None = None) -> int:
    """Probe one URL and print the answer as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m tuner.ytdlp.live_probe")
    parser.add_argument("--socket-timeout", type=float, default=15.0)
    parser.add_argument("url")
    args = parser.parse_args(argv)
    proxy = take_proxy()
    answers = answer_stream()
    try:
        answer = probe(args.url, args.socket_timeout, proxy=proxy)
    except Exception as exc:  # a yt-dlp bug: report it rather than a traceback
        answer = {"status": "error", "detail": f"{type(exc).__name__}: {exc}"}
    answers.write(json.dumps(answer) + "\n")
    answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
