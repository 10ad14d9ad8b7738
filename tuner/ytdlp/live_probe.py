"""One yt-dlp probe, in a child process of its own: ``python -m tuner.extract.ytdlp_worker``.

yt-dlp is synchronous and cannot be cancelled; in a thread it would keep running
after its run timed out. In a process it is killed with its process group instead.
The answer is one JSON line on stdout::

    {"status": "live", "info": {...}}       a live broadcast (a trimmed info dict)
    {"status": "not_live", "detail": "..."} the channel is not live now
    {"status": "error", "detail": "..."}    yt-dlp failed; the detail says why
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from tuner.core.egress import PROXY_VARIABLES

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


def _clean(message: str) -> str:
    message = re.sub(r"\x1b\[[0-9;]*m", "", message)
    # yt-dlp asks for bug reports on unexpected errors: not for a person watching a car.
    message = message.split("; please report this issue")[0]
    return message.removeprefix("ERROR: ").strip()


def probe(
    url: str, socket_timeout: float, ydl_class: Any = None, proxy: str | None = None
) -> dict[str, Any]:
    """Ask yt-dlp about ``url`` (a channel's ``/live`` page) without downloading,
    through ``proxy`` (the egress proxy) when given."""
    from yt_dlp import YoutubeDL
    from yt_dlp.utils import DownloadError, UserNotLive

    options: dict[str, Any] = {
        "quiet": True,
        "no_warnings": True,
        "skip_download": True,
        "noplaylist": True,
        "socket_timeout": socket_timeout,
        # yt-dlp retries for minutes by default; one try, the poller tries again later.
        "retries": 0,
        "extractor_retries": 0,
    }
    if proxy:
        options["proxy"] = proxy
    try:
        # A new YoutubeDL per call: it keeps state (cookies, caches) between calls.
        with (ydl_class or YoutubeDL)(options) as ydl:
            info = ydl.extract_info(url, download=False)
    except DownloadError as exc:
        cause = exc.exc_info[1] if exc.exc_info else None
        detail = _clean(str(exc))
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
    parser = argparse.ArgumentParser(prog="python -m tuner.extract.ytdlp_worker")
    parser.add_argument("--socket-timeout", type=float, default=15.0)
    parser.add_argument("--proxy")
    parser.add_argument("url")
    args = parser.parse_args(argv)
    if args.proxy:
        for name in PROXY_VARIABLES:
            os.environ.pop(name, None)
    try:
        answer = probe(args.url, args.socket_timeout, proxy=args.proxy)
    except Exception as exc:  # a yt-dlp bug: report it rather than a traceback
        answer = {"status": "error", "detail": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
