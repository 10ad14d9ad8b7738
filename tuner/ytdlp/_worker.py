"""What the yt-dlp workers share, on their side: how a worker starts, yt-dlp's
common options, and what a failure looks like.

Imported by the worker processes only (the daemon imports :mod:`tuner.ytdlp`).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any, TextIO

from tuner.core.diagnose import explain
from tuner.core.egress import PROXY_VARIABLES
from tuner.ytdlp import PROXY_VARIABLE


def take_proxy() -> str | None:
    """The egress proxy the daemon gave this worker (:func:`tuner.ytdlp.environment`).

    With one, no proxy variable is left in this worker's environment, so neither it nor
    the ffmpeg it runs picks another proxy or an exception to it (``no_proxy``): yt-dlp
    gets the proxy as an option, and gives it to its ffmpeg itself.
    """
    proxy = os.environ.pop(PROXY_VARIABLE, None) or None
    if proxy is not None:
        for name in PROXY_VARIABLES:
            os.environ.pop(name, None)
    return proxy


def answer_stream() -> TextIO:
    """The real stdout, for the answer lines only; ``print`` and anything yt-dlp or
    ffmpeg write on stdout go to stderr (the daemon's log) from now on."""
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return answers


def start_logging() -> None:
    """Log warnings as ``name: message`` on stderr, which the daemon's log gets."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")


def common_options(timeout: float, proxy: str | None) -> dict[str, Any]:
    """The options every worker's ``YoutubeDL`` starts from: silent, one video (never a
    playlist), nothing downloaded unless the worker says so, ``timeout`` seconds for
    each network read, and every fetch through ``proxy`` (the egress proxy) if given."""
    options: dict[str, Any] = {
        "quiet": True,
        "no_warnings": True,
        "noplaylist": True,
        "skip_download": True,
        "socket_timeout": timeout,
    }
    if proxy:
        # Every request, and the ffmpeg yt-dlp runs (which it gives http_proxy).
        options["proxy"] = proxy
    return options


def format_spec(max_height: int) -> str:
    """yt-dlp's format selection: the best video-only format within the height cap with
    the best audio (what sites like YouTube offer, and their best sound), else the best
    file with both, else whatever plays (video with its own sound, the smallest video
    above the cap, audio only)."""
    cap = f"[height<=?{max_height}]"
    return f"bv{cap}+ba/b{cap}/bv*{cap}/wv+ba/w/wv*/ba"


def ydl_options(
    max_height: int, timeout: float, cache_dir: str | None, proxy: str | None = None
) -> dict[str, Any]:
    """Options for a ``YoutubeDL`` that resolves (or, with more options, downloads)
    what a session would play, through ``proxy`` (the egress proxy) when given."""
    options = common_options(timeout, proxy)
    options.update(
        format=format_spec(max_height),
        noprogress=True,
        cachedir=cache_dir or False,
        logger=logging.getLogger("yt-dlp"),
        # Free text is always searched explicitly ("ytsearch1:"), never guessed.
        default_search="error",
    )
    return options


def clean(message: str) -> str:
    """yt-dlp's error message without its colours, its ``ERROR:`` and its request
    for a bug report (not for a person in a car)."""
    message = re.sub(r"\x1b\[[0-9;]*m", "", message)
    message = message.split("; please report this issue")[0]
    return message.strip().removeprefix("ERROR: ").strip()


def failure(error: BaseException, doing: str) -> tuple[str, str]:
    """A failed yt-dlp call as a sentence for a person (``doing: ...`` when no rule of
    :func:`tuner.core.diagnose.explain` fits) and the cleaned message (for the log)."""
    detail = clean(str(error))
    return explain(detail, doing), detail
