"""yt-dlp, in worker processes: resolving, probing for a live broadcast, downloading.

yt-dlp is synchronous and cannot be cancelled: in a thread it would keep running after
its caller lost interest. So it never runs in the daemon, only in worker processes,
each started (and killed, with its whole process group) through :mod:`tuner.procs`:

- :mod:`tuner.ytdlp.resolve`: resolves a query to a source, or runs a search. Asked one
  JSON line on stdin, it answers one on stdout and exits. The resolver
  (:mod:`tuner.play.resolver`) keeps one started and warm.
- :mod:`tuner.ytdlp.live_probe`: says whether a channel's ``/live`` page is live now,
  for the ``youtube_live`` extractor. Given the URL on its command line, it answers one
  JSON line.
- :mod:`tuner.ytdlp.download`: downloads into a directory for the queue's jobs
  (:mod:`tuner.jobs`). Asked one JSON line, it reports its progress and its end in
  JSON lines.

What they share: their settings (:class:`Settings`), given on the command line as one
JSON argument; the egress proxy, given in the environment (:func:`environment`),
never on the command line, where any local user could read its password; yt-dlp's
common options and the cleaning of its error messages (:mod:`tuner.ytdlp._worker`).

This module is the daemon's side: it does not import yt-dlp.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Self

import attrs

from tuner.core.egress import proxy_environment

#: The workers, as ``python -m`` runs them.
RESOLVE = "tuner.ytdlp.resolve"
LIVE_PROBE = "tuner.ytdlp.live_probe"
DOWNLOAD = "tuner.ytdlp.download"
#: The environment variable that hands a worker the egress proxy's URL (and password).
PROXY_VARIABLE = "TUNER_EGRESS_PROXY"


@attrs.frozen
class Settings:
    """What every resolution of a daemon shares: given when a worker starts, so that a
    spare worker can be fully ready before its request arrives."""

    max_height: int
    timeout: float
    ffmpeg: str | None = None
    cache_dir: str | None = None
    #: The egress proxy (``tuner.egress_proxy``) every fetch goes through. It travels in the
    #: worker's environment (:meth:`environment`), not with the rest.
    proxy: str | None = None

    def to_argv(self) -> str:
        """The one command-line argument that carries these settings, the proxy left out."""
        return json.dumps(attrs.asdict(self, filter=lambda field, _: field.name != "proxy"))

    @classmethod
    def from_argv(cls, argument: str, proxy: str | None = None) -> Self:
        """The inverse of :meth:`to_argv`, with the ``proxy`` from the environment."""
        values: dict[str, Any] = json.loads(argument)
        return cls(**values, proxy=proxy)

    def environment(self) -> dict[str, str] | None:
        """The environment for a worker with these settings (see :func:`environment`)."""
        return environment(self.proxy)


@attrs.frozen(kw_only=True)
class DownloadSettings(Settings):
    """What every download of a daemon shares: a resolution's settings, and the largest
    file to download (the cache's size)."""

    max_bytes: int


def command(worker: str, *arguments: str, python: str = sys.executable) -> list[str]:
    """The command line that starts ``worker`` (:data:`RESOLVE`...) with ``arguments``."""
    return [python, "-m", worker, *arguments]


def environment(proxy: str | None) -> dict[str, str] | None:
    """The environment for a worker that fetches through ``proxy``: the daemon's, with
    no proxy variables of its own (``no_proxy`` would let ffmpeg bypass the proxy), the
    proxy in :data:`PROXY_VARIABLE` for yt-dlp and in ``http_proxy`` for the ffmpeg it
    runs. ``None`` (the daemon's own environment) without a proxy."""
    if proxy is None:
        return None
    return {**proxy_environment(os.environ, proxy), PROXY_VARIABLE: proxy}
