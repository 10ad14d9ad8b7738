"""The resolver's worker process: one yt-dlp resolution, then exit.

yt-dlp is synchronous and cannot be cancelled, so it never runs in the daemon: a
worker process imports it ahead of time (a warm spare), reads one JSON request line on
stdin, answers one JSON line on stdout and exits. Cancelling a resolution kills the
worker's process group, which bounds it however yt-dlp is stuck.

Settings: one JSON argument (:class:`WorkerSettings`). Requests:

- ``{"target"}``: resolve; answers ``{"ok": true, "source": {...}}``.
- ``{"search": "<prefix><limit>:<words>"}``: a flat search (one request to the site,
  no resolution of each entry); answers ``{"ok": true, "results": [{...}]}``
  (:class:`tuner.core.search.SearchResult`).

A failure answers ``{"ok": false, "error": sentence, "detail": raw, "timeout": bool}``
(``timeout``: the site did not answer in time).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from typing import Any, Self

import attrs

from tuner.core.diagnose import explain
from tuner.core.egress import PROXY_VARIABLES, proxy_environment
from tuner.core.search import SearchResult, result_from_entry
from tuner.core.source import (
    Source,
    SourceError,
    duration_from_probe,
    source_from_info,
    streams_from_probe,
)
from tuner.play.command import probe_command


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
    """Options for a ``YoutubeDL`` that resolves without downloading anything, and
    fetches through ``proxy`` (the egress proxy) when given."""
    options = {
        "format": format_spec(max_height),
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "noplaylist": True,
        "skip_download": True,
        "socket_timeout": timeout,
        "cachedir": cache_dir or False,
        "logger": logging.getLogger("yt-dlp"),
        # Free text is always searched explicitly ("ytsearch1:"), never guessed.
        "default_search": "error",
    }
    if proxy:
        # Every request, and the ffmpeg yt-dlp runs (which it gives http_proxy).
        options["proxy"] = proxy
    return options


def pick(info: dict[str, Any]) -> Source:
    """The source in yt-dlp's processed answer (the first entry of a search).

    Raises:
        SourceError: an empty search, or nothing playable.
    """
    if info.get("_type") in ("playlist", "multi_video"):
        entries = [e for e in info.get("entries") or [] if e]
        if not entries:
            raise SourceError("no results")
        info = entries[0]
    return source_from_info(info)


def probe(ffmpeg: str, source: Source, timeout: float, proxy: str | None = None) -> Source:
    """Fill in which streams each input has, where yt-dlp did not say (plain files).

    Raises:
        SourceError: an input has neither video nor audio, or cannot be opened.
    """
    inputs = []
    duration = source.duration
    for media in source.inputs:
        if media.known:
            inputs.append(media)
            continue
        try:
            done = subprocess.run(
                probe_command(ffmpeg, media, proxy=proxy),
                env=proxy_environment(os.environ, proxy) if proxy else None,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise SourceError("timed out while opening the media") from None
        has_video, has_audio = streams_from_probe(done.stderr)
        if not (has_video or has_audio):
            lines = [line for line in done.stderr.splitlines() if "output file" not in line]
            raise SourceError("\n".join(lines[-3:]) or "invalid data found")
        inputs.append(attrs.evolve(media, has_video=has_video, has_audio=has_audio))
        if duration is None and not source.is_live:
            duration = duration_from_probe(done.stderr)
    return attrs.evolve(source, inputs=tuple(inputs), duration=duration)


@attrs.frozen
class WorkerSettings:
    """What every resolution of a daemon shares: given on the command line, so that a
    spare worker can be fully ready before its request arrives."""

    max_height: int
    timeout: float
    ffmpeg: str | None = None
    cache_dir: str | None = None
    #: The egress proxy (``tuner.egress``) every fetch goes through.
    proxy: str | None = None

    def to_argv(self) -> str:
        """The one command-line argument that carries these settings."""
        return json.dumps(attrs.asdict(self))

    @classmethod
    def from_argv(cls, argument: str) -> Self:
        """The inverse of :meth:`to_argv`."""
        return cls(**json.loads(argument))


def resolve(ydl: Any, settings: WorkerSettings, target: str) -> Source:
    """Resolve one target (blocking: this is the worker's whole job)."""
    info = ydl.extract_info(target, download=False)
    if info is None:
        raise SourceError("no results")
    source = pick(ydl.sanitize_info(info))
    if settings.ffmpeg:
        source = probe(settings.ffmpeg, source, settings.timeout, settings.proxy)
    return source


def search(ydl: Any, target: str) -> list[SearchResult]:
    """Run a search (blocking): the results of yt-dlp's flat answer for ``target``
    (``ytsearch8:words``), skipping entries that cannot be played."""
    # Flat: the search page's entries as they are, without resolving each one (which
    # would cost a request per result). This worker answers one request and exits,
    # so changing its YoutubeDL's options here affects nothing else.
    ydl.params["extract_flat"] = "in_playlist"
    info = ydl.extract_info(target, download=False)
    if info is None:
        return []
    info = ydl.sanitize_info(info)
    entries = info.get("entries") if info.get("_type") in ("playlist", "multi_video") else [info]
    results = [result_from_entry(e) for e in entries or [] if isinstance(e, dict)]
    return [r for r in results if r is not None]


def answer(ydl: Any, settings: WorkerSettings, request: dict[str, Any]) -> dict[str, Any]:
    """The JSON answer to a request: the source or the results, or a sentence saying
    why not."""
    import yt_dlp

    searching = "search" in request
    try:
        if searching:
            results = search(ydl, str(request["search"]))
            return {"ok": True, "results": [r.to_json() for r in results]}
        source = resolve(ydl, settings, str(request["target"]))
        return {"ok": True, "source": source.to_json()}
    except (yt_dlp.utils.DownloadError, yt_dlp.utils.ExtractorError, SourceError) as exc:
        detail = str(exc)
        return {
            "ok": False,
            "error": explain(detail, "cannot search" if searching else "cannot resolve"),
            "detail": detail,
            "timeout": "timed out" in detail.lower(),
        }


def warm_up(settings: WorkerSettings) -> Any:
    """Do now what a request would wait for: import yt-dlp, compile every extractor's
    URL pattern (about 0.5 s of regex compiling) and make this worker's one
    ``YoutubeDL``. Returns it."""
    import yt_dlp

    for extractor in yt_dlp.extractor.gen_extractor_classes():
        extractor.suitable("https://warm-up.invalid/")
    options = ydl_options(settings.max_height, settings.timeout, settings.cache_dir, settings.proxy)
    return yt_dlp.YoutubeDL(options)


def drop_proxy_variables() -> None:
    """No proxy variables in this worker's environment, nor in the ffmpeg it runs:
    only the egress proxy, and no ``no_proxy`` exceptions to it."""
    for name in PROXY_VARIABLES:
        os.environ.pop(name, None)


def main() -> int:
    """Warm up, wait for one request, answer it."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    settings = WorkerSettings.from_argv(sys.argv[1])
    if settings.proxy:
        drop_proxy_variables()
    # yt-dlp and ffmpeg may print; only the answer goes to the real stdout.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    with warm_up(settings) as ydl:
        line = sys.stdin.readline()
        if not line.strip():
            return 0  # the daemon closed our stdin: a spare that was not needed
        try:
            result = answer(ydl, settings, json.loads(line))
        except Exception as exc:  # a bug: say so on stdout, as the protocol wants
            result = {"ok": False, "error": "internal error in the resolver", "detail": repr(exc)}
    answers.write(json.dumps(result) + "\n")
    answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
