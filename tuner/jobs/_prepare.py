"""What a preparation job does with the outside world: resolve a query, download it.

:class:`Preparer` is the seam: the queue's workers call it and nothing else that
reaches a site, so tests give them fakes and run on an autojump clock.
:class:`YtdlpPreparer` is the real one: resolutions go to the daemon's resolver (its
warm yt-dlp worker processes); each download runs in a worker process of its own
(:mod:`tuner.ytdlp.download`) in the job's nursery, killed with its whole
process group when the job is cancelled, so a cancelled download leaves no process.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Protocol

import attrs
import trio

from tuner.core.jobs import Progress
from tuner.core.query import Query, QueryKind
from tuner.core.source import Source
from tuner.extract import source_of
from tuner.play.resolver import Resolver
from tuner.procs import LineReader, LineTooLongError, run_in_own_group, send_line
from tuner.ytdlp import DOWNLOAD, DownloadSettings, command

log = logging.getLogger(__name__)

#: One line of the download worker is small; a longer one is a broken worker.
MAX_LINE_BYTES = 1 << 20

OnProgress = Callable[[Progress], Awaitable[None]]


class DownloadError(Exception):
    """A download that failed; the message is for a person."""


class DownloadSkippedError(Exception):
    """A source that is not downloaded (live, or too large); the message says why."""


class Preparer(Protocol):
    """Resolves and downloads for the queue's workers."""

    async def resolve(self, query: Query, *, fresh: bool) -> Source:
        """The source for ``query``; ``fresh`` skips any cached answer.

        Raises:
            ResolveError: it cannot be resolved; the message is for a person.
        """
        ...

    async def download(
        self, query: Query, directory: Path, max_bytes: int, on_progress: OnProgress
    ) -> Path:
        """Download ``query`` into ``directory`` (continuing what is there); returns
        the complete file. ``on_progress`` may raise to stop the download.

        Raises:
            DownloadError: it failed.
            DownloadSkippedError: it is not to be downloaded.
        """
        ...


def site_of(query: Query) -> str:
    """The source a query's jobs count against: ``youtube`` for YouTube (IDs,
    searches, its URLs), else the URL's host (and port)."""
    if query.kind in (QueryKind.VIDEO_ID, QueryKind.SEARCH):
        return "youtube"
    host = source_of(query.target)
    name = host.split(":")[0]
    if name == "youtu.be" or name == "youtube.com" or name.endswith(".youtube.com"):
        return "youtube"
    return host


class YtdlpPreparer:
    """Resolutions through the daemon's resolver; downloads in worker processes."""

    def __init__(
        self, resolver: Resolver, settings: DownloadSettings, python: str = sys.executable
    ) -> None:
        self._resolver = resolver
        self._settings = settings
        self._python = python

    async def resolve(self, query: Query, *, fresh: bool) -> Source:
        """See :meth:`Preparer.resolve`."""
        if fresh:
            self._resolver.forget(query)
        return await self._resolver.resolve(query)

    async def download(
        self, query: Query, directory: Path, max_bytes: int, on_progress: OnProgress
    ) -> Path:
        """See :meth:`Preparer.download`."""
        # The daemon's settings (its egress proxy included), this job's size limit.
        settings = attrs.evolve(self._settings, max_bytes=max_bytes)
        worker = command(DOWNLOAD, settings.to_argv(), python=self._python)
        request = {"target": query.target, "directory": str(directory)}
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                partial(
                    run_in_own_group,
                    worker,
                    stdin=subprocess.PIPE,
                    stderr=None,
                    env=settings.environment(),
                )
            )
            assert process.stdin is not None and process.stdout is not None
            try:
                async with process.stdin:
                    await send_line(process, request)
                return await _follow(process.stdout, directory, on_progress)
            finally:
                # Done, failed or cancelled: the worker's group goes (it has usually
                # exited already), and the nursery waits until it has.
                nursery.cancel_scope.cancel()
                with trio.CancelScope(shield=True):
                    await process.stdout.aclose()


async def _follow(stdout: trio.abc.ReceiveStream, directory: Path, on_progress: OnProgress) -> Path:
    """Read the worker's lines until its last one; returns the downloaded file."""
    lines = LineReader(stdout, MAX_LINE_BYTES)
    while True:
        try:
            line = await lines.receive_line()
        except LineTooLongError:
            raise DownloadError("the downloader's answer is too long") from None
        if line is None:
            raise DownloadError("the downloader stopped without an answer (see the log)")
        if line.strip():
            try:
                message = json.loads(line)
            except ValueError:
                raise DownloadError("the downloader sent a line that is not JSON") from None
            done = await _take(message, directory, on_progress)
            if done is not None:
                return done


async def _take(
    message: dict[str, object], directory: Path, on_progress: OnProgress
) -> Path | None:
    kind = message.get("type")
    if kind == "progress":
        done, total, speed = message.get("done"), message.get("total"), message.get("speed")
        await on_progress(
            Progress(
                int(done) if isinstance(done, int | float) else 0,
                int(total) if isinstance(total, int | float) else None,
                float(speed) if isinstance(speed, int | float) else None,
            )
        )
        return None
    if kind == "done":
        return await _own_file(str(message.get("file")), directory)
    if kind == "skip":
        raise DownloadSkippedError(str(message.get("reason")))
    if kind == "error":
        log.warning("download failed: %s", message.get("detail"))
        raise DownloadError(str(message.get("error")))
    raise DownloadError(f"the downloader sent something unknown: {message!r}")


async def _own_file(file: str, directory: Path) -> Path:
    """The downloaded file, if it is one in the job's own directory: the worker's word
    is not a path to anything else on this machine."""
    path = Path(await trio.Path(file).resolve())
    inside = path.is_relative_to(await trio.Path(directory).resolve())
    if not inside or not await trio.Path(path).is_file():
        raise DownloadError(f"the downloader answered with a file outside its directory: {path}")
    return path
