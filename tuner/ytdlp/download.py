"""The download worker: one yt-dlp download into a directory, then exit.

``python -m tuner.ytdlp.download SETTINGS``. Cancelling a download kills this
process's group, which stops yt-dlp and any ffmpeg it started to merge, wherever they
are. yt-dlp keeps a partial download as ``<name>.part`` and continues it when run
again on the same directory (with an HTTP range request, where the server allows it).

Settings: one JSON argument (:class:`tuner.ytdlp.DownloadSettings`), the egress proxy
in the environment. Request: one line ``{"target", "directory"}`` on stdin. Answer:
JSON lines on stdout, the last of which ends the download::

    {"type": "progress", "done": bytes, "total": bytes or null, "speed": bytes/s or null}
    {"type": "done", "file": path}            complete, in the directory
    {"type": "skip", "reason": sentence}      not downloadable: live, or too large
    {"type": "error", "error": sentence, "detail": raw}
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from tuner.ytdlp import DownloadSettings
from tuner.ytdlp._worker import answer_stream, failure, start_logging, take_proxy, ydl_options

#: Progress lines at most this often: the daemon passes on fewer still.
PROGRESS_INTERVAL = 0.1


def download_options(
    settings: DownloadSettings, directory: Path, hook: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """yt-dlp's options: the format a session would play, into ``directory``."""
    options = ydl_options(settings.max_height, settings.timeout, settings.cache_dir, settings.proxy)
    options.update(
        skip_download=False,
        outtmpl=str(directory / "media.%(ext)s"),
        continuedl=True,
        # A complete file of an earlier run is taken as it is, not fetched again.
        overwrites=False,
        max_filesize=settings.max_bytes,
        merge_output_format="mkv",
        progress_hooks=[hook],
        updatetime=False,
    )
    if settings.ffmpeg:
        options["ffmpeg_location"] = settings.ffmpeg
    return options


def expected_size(info: dict[str, Any]) -> int | None:
    """The download's size as the site says it (or estimates it), if it does."""
    formats = info.get("requested_formats") or [info]
    sizes = [f.get("filesize") or f.get("filesize_approx") for f in formats]
    if not sizes or any(not isinstance(s, int | float) for s in sizes):
        return None
    return int(sum(sizes))


class _Reporter:
    """Writes the answer lines; progress at most every :data:`PROGRESS_INTERVAL`."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._last = 0.0

    def send(self, message: dict[str, Any]) -> None:
        self._out.write(json.dumps(message) + "\n")
        self._out.flush()

    def hook(self, status: dict[str, Any]) -> None:
        if status.get("status") != "downloading":
            return
        now = time.monotonic()
        if now - self._last < PROGRESS_INTERVAL:
            return
        self._last = now
        total = status.get("total_bytes") or status.get("total_bytes_estimate")
        self.send(
            {
                "type": "progress",
                "done": int(status.get("downloaded_bytes") or 0),
                "total": int(total) if total else None,
                "speed": status.get("speed"),
            }
        )


def download(settings: DownloadSettings, request: dict[str, Any], out: _Reporter) -> None:
    """Do one download and report how it ended (blocking: this is the worker's job)."""
    import yt_dlp

    directory = Path(str(request["directory"]))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with yt_dlp.YoutubeDL(download_options(settings, directory, out.hook)) as ydl:
            info = ydl.extract_info(str(request["target"]), download=False)
            if info and info.get("_type") in ("playlist", "multi_video"):
                info = next((e for e in info.get("entries") or [] if e), None)
            if not info:
                out.send({"type": "error", "error": "no results", "detail": ""})
                return
            if info.get("is_live") or info.get("live_status") == "is_live":
                out.send({"type": "skip", "reason": "a live stream is not downloaded"})
                return
            size = expected_size(info)
            if size is not None and size > settings.max_bytes:
                out.send({"type": "skip", "reason": _too_large(size, settings.max_bytes)})
                return
            result = ydl.process_ie_result(info, download=True)
    except (yt_dlp.utils.DownloadError, yt_dlp.utils.ExtractorError) as exc:
        error, detail = failure(exc, "cannot download")
        out.send({"type": "error", "error": error, "detail": detail})
        return
    downloads = result.get("requested_downloads") or []
    path = downloads[0].get("filepath") if downloads else None
    if not path or not Path(path).is_file():
        # yt-dlp skips a file whose announced size is over max_filesize, silently.
        out.send({"type": "skip", "reason": _too_large(None, settings.max_bytes)})
        return
    out.send({"type": "done", "file": str(path)})


def _too_large(size: int | None, limit: int) -> str:
    what = f"{size / 1e6:.1f} MB" if size else "it"
    return f"not downloaded: {what} is larger than the cache ({limit / 1e6:.1f} MB)"


def main() -> int:
    """Read one request, download, report."""
    start_logging()
    settings = DownloadSettings.from_argv(sys.argv[1], proxy=take_proxy())
    out = _Reporter(answer_stream())
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    try:
        download(settings, json.loads(line), out)
    except Exception as exc:  # a bug: say so on stdout, as the protocol wants
        error = "internal error in the downloader"
        out.send({"type": "error", "error": error, "detail": repr(exc)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
