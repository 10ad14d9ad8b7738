"""The daemon's services, built and wired to each other; :mod:`tuner.daemon` runs them.

Building starts nothing: each service is a task that the root nursery starts (in the
order and shape that :mod:`tuner.daemon`'s docstring draws), and they talk through
the callbacks wired here (a new session status is published as an event).
"""

from __future__ import annotations

import logging
import subprocess

import attrs
import trio

from tuner.config import Settings
from tuner.core.thumbnails import ThumbnailTokens
from tuner.core.tokens import DeviceMarker, TokenSigner
from tuner.credentials import Pin, load_device_key, load_secret
from tuner.egress_proxy import EgressProxy
from tuner.events import EventHub
from tuner.extract import Poller, make_poller
from tuner.jobs import DownloadSettings, Queue, YtdlpPreparer
from tuner.logins import LoginStore
from tuner.play.ffmpeg import Tool, ToolNotFoundError, find_ffmpeg, version
from tuner.play.resolver import Resolver
from tuner.play.session import Playback
from tuner.play.supervisor import Supervisor
from tuner.thumbnail_fetcher import Thumbnails
from tuner.web.context import WebContext

log = logging.getLogger(__name__)


@attrs.frozen
class Services:
    """What the root nursery runs (beside the egress proxy and the web server)."""

    #: yt-dlp worker processes: one warm, one per resolution or search.
    resolver: Resolver
    #: The HTTP client behind ``/api/thumbnail``.
    thumbnails: Thumbnails
    #: At most one session, each in its own cancel scope.
    supervisor: Supervisor
    #: State changes to every ``/ws/events`` subscriber (not a task).
    events: EventHub
    #: ``None`` when ``[extract] enabled = false``.
    poller: Poller | None
    #: The up-next queue and its preparation jobs.
    queue: Queue
    #: What the web handlers are given.
    context: WebContext


async def check_ffmpeg(configured: str | None) -> tuple[Tool | None, str | None]:
    """Find ffmpeg and check that it runs; returns the tool or why there is none."""
    try:
        tool = find_ffmpeg(configured)
        found = await version(tool)
    except ToolNotFoundError as exc:
        return None, str(exc)
    except (OSError, trio.TooSlowError) as exc:
        return None, f"ffmpeg at {configured or 'PATH'} does not run: {exc}"
    except subprocess.CalledProcessError as exc:
        return None, f"ffmpeg does not run: {exc}"
    log.info("using ffmpeg %s from %s (%s)", found, tool.origin, tool.path)
    return tool, None


async def build_services(settings: Settings, pin: Pin, egress: EgressProxy) -> Services:
    """Check ffmpeg (a missing one is logged; sessions then fail saying why) and build
    every service, each fetching through ``egress``.

    Raises:
        ConfigError: the state directory cannot hold the cookie secret, the device
            key or the logins.
    """
    ffmpeg, ffmpeg_problem = await check_ffmpeg(settings.ffmpeg)
    if ffmpeg_problem:
        log.error("%s", ffmpeg_problem)
    resolver = Resolver(
        max_height=settings.max_source_height,
        timeout=settings.resolve_timeout,
        ffmpeg=ffmpeg.path if ffmpeg else None,
        cache_dir=settings.state_dir / "yt-dlp-cache",
        cache_seconds=settings.resolve_cache_seconds,
        egress=egress,
        search_prefix=settings.search_prefix,
    )
    thumbnails = Thumbnails(ThumbnailTokens(), proxy=egress.url("thumbnail"))
    playback = Playback(
        stall_seconds=settings.stall_seconds,
        reconnect_attempts=settings.reconnect_attempts,
        egress=egress,
    )
    supervisor = Supervisor(
        ffmpeg,
        ffmpeg_problem,
        settings.lead_seconds,
        resolver=resolver,
        playback=playback,
        adaptive=settings.adaptive_quality,
        thumbnail_path=thumbnails.tokens.path,
    )
    events = EventHub()
    events.add_snapshot("session", supervisor.status_json)
    supervisor.on_status.append(lambda status: events.publish("session", supervisor.status_json()))
    poller = make_poller(settings, events, proxy=egress.url("extract"))
    download = DownloadSettings(
        max_height=settings.max_source_height,
        timeout=settings.resolve_timeout,
        max_bytes=int(settings.queue.cache_max_mb * 1e6),
        ffmpeg=ffmpeg.path if ffmpeg else None,
        cache_dir=str(settings.state_dir / "yt-dlp-cache"),
        proxy=egress.url("download"),
    )
    queue = Queue(
        settings.queue, settings.state_dir, supervisor, events, YtdlpPreparer(resolver, download)
    )
    context = WebContext(
        settings=settings,
        supervisor=supervisor,
        events=events,
        signer=TokenSigner(load_secret(settings.state_dir)),
        pin=pin,
        logins=LoginStore.open(settings.state_dir),
        devices=DeviceMarker(load_device_key(settings.state_dir)),
        ffmpeg_problem=ffmpeg_problem,
        poller=poller,
        queue=queue,
        thumbnails=thumbnails,
    )
    return Services(resolver, thumbnails, supervisor, events, poller, queue, context)
