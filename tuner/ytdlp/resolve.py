"""The resolve worker: one yt-dlp resolution or search, then exit.

``python -m tuner.ytdlp.resolve SETTINGS``. The worker imports yt-dlp ahead of time
(a warm spare), reads one JSON request line on stdin, answers one JSON line on stdout
and exits. Cancelling a resolution kills the worker's process group, which bounds it
however yt-dlp is stuck.

Settings: one JSON argument (:class:`tuner.ytdlp.Settings`), the egress proxy in the
environment. Requests:

- ``{"target"}``: resolve; answers ``{"ok": true, "source": {...}}``.
- ``{"search": "<prefix><limit>:<words>"}``: a flat search (one request to the site,
  no resolution of each entry); answers ``{"ok": true, "results": [{...}]}``
  (:class:`tuner.core.search.SearchResult`).

A failure answers ``{"ok": false, "error": sentence, "detail": yt-dlp's message,
"timeout": bool}`` (``timeout``: the site did not answer in time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import attrs

from tuner.core.egress import proxy_environment
from tuner.core.search import SearchResult, result_from_entry
from tuner.core.source import (
    Source,
    SourceError,
    duration_from_probe,
    source_from_info,
    streams_from_probe,
)
from tuner.play.command import probe_command
from tuner.ytdlp import Settings
from tuner.ytdlp._worker import answer_stream, failure, start_logging, take_proxy, ydl_options


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
    """Fill in which streams each input has, where yt-dlp did not say (plain files),
    with ffmpeg fetching through ``proxy`` (given in its environment).

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
                probe_command(ffmpeg, media),
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


def resolve(ydl: Any, settings: Settings, target: str) -> Source:
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


def answer(ydl: Any, settings: Settings, request: dict[str, Any]) -> dict[str, Any]:
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
        error, detail = failure(exc, "cannot search" if searching else "cannot resolve")
        return {
            "ok": False,
            "error": error,
            "detail": detail,
            "timeout": "timed out" in detail.lower(),
        }


def warm_up(settings: Settings) -> Any:
    """Do now what a request would wait for: import yt-dlp, compile every extractor's
    URL pattern (about 0.5 s of regex compiling) and make this worker's one
    ``YoutubeDL``. Returns it."""
    import yt_dlp

    for extractor in yt_dlp.extractor.gen_extractor_classes():
        extractor.suitable("https://warm-up.invalid/")
    options = ydl_options(settings.max_height, settings.timeout, settings.cache_dir, settings.proxy)
    return yt_dlp.YoutubeDL(options)


def main() -> int:
    """Warm up, wait for one request, answer it."""
    start_logging()
    settings = Settings.from_argv(sys.argv[1], proxy=take_proxy())
    answers = answer_stream()
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
