"""``tuner serve``: the root nursery that owns every lifetime.

::

    root nursery
    ├── egress proxy (every fetch of ffmpeg, yt-dlp and the extractors; tuner.egress)
    ├── resolver (yt-dlp worker processes: one warm, one per resolution)
    ├── session supervisor (each session in its own cancel scope)
    ├── extractor poller (each run in a child nursery; off with [extract] enabled = false)
    ├── queue (tuner.jobs: a preparation job per queued item, per-source limits)
    ├── web server: hypercorn.trio.serve(app, config, shutdown_trigger=...)
    └── systemd watchdog pings

The event hub is not a task: components publish to it, and each ``/ws/events``
handler reads its own subscriber queue.

Shutdown is one ordered sequence run by :func:`serve` itself when its ``shutdown``
event is set (by a signal, or by a test): tell systemd, close every websocket with
1001, end the sessions (killing ffmpeg), let Hypercorn drain, and as a last resort
shut down connections that a stalled client holds open.
"""

from __future__ import annotations

import logging
import signal
import subprocess
from functools import partial

import attrs
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

from tuner.config import Settings
from tuner.core.egress import Policy
from tuner.core.state import describe
from tuner.core.tokens import TokenSigner
from tuner.credentials import Pin, load_secret
from tuner.egress import EgressProxy
from tuner.events import EventHub
from tuner.extract import make_poller
from tuner.jobs import DownloadSettings, Queue, YtdlpPreparer
from tuner.play.fanout import GOING_AWAY
from tuner.play.ffmpeg import Tool, ToolNotFoundError, find_ffmpeg, version
from tuner.play.resolver import Resolver
from tuner.play.session import Playback
from tuner.play.supervisor import Supervisor
from tuner.systemd import Notifier
from tuner.web.app import create_app
from tuner.web.context import WebContext
from tuner.web.keepalive import ShieldLastSend
from tuner.web.listen import abort_connections, make_listen_socket

log = logging.getLogger(__name__)

#: Beyond the graceful drain, how long stalled connections get before being cut.
ABORT_GRACE_SECONDS = 0.5


@attrs.frozen
class Serving:
    """What :func:`serve` reports once it accepts connections."""

    host: str
    port: int
    context: WebContext

    @property
    def url(self) -> str:
        """The base URL (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


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


async def serve(
    settings: Settings,
    pin: Pin,
    shutdown: trio.Event,
    *,
    notifier: Notifier | None = None,
    task_status: trio.TaskStatus[Serving] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the daemon until ``shutdown`` is set, then shut down in order.

    Raises:
        BindError: the listening address cannot be used.
        ConfigError: the state directory cannot hold the cookie secret.
    """
    # Bound now, so that everything built below knows its URL; closed however we end.
    egress = EgressProxy(Policy.from_entries(settings.fetch_allow))
    try:
        await _serve(settings, pin, shutdown, egress, notifier, task_status)
    finally:
        egress.close()


async def _serve(
    settings: Settings,
    pin: Pin,
    shutdown: trio.Event,
    egress: EgressProxy,
    notifier: Notifier | None,
    task_status: trio.TaskStatus[Serving],
) -> None:
    notifier = notifier or Notifier()
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
    )
    playback = Playback(
        stall_seconds=settings.stall_seconds,
        reconnect_attempts=settings.reconnect_attempts,
        egress=egress,
    )
    supervisor = Supervisor(
        ffmpeg,
        ffmpeg_problem,
        settings.viewer_queue,
        resolver=resolver,
        playback=playback,
        adaptive=settings.adaptive_quality,
    )
    events = EventHub()
    events.add_snapshot("session", lambda: supervisor.status.to_json())
    supervisor.on_status.append(lambda status: events.publish("session", status.to_json()))
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
    ctx = WebContext(
        settings=settings,
        supervisor=supervisor,
        events=events,
        signer=TokenSigner(load_secret(settings.state_dir)),
        pin=pin,
        ffmpeg_problem=ffmpeg_problem,
        poller=poller,
        queue=queue,
    )
    sock = make_listen_socket(settings.host, settings.port, settings.tcp_user_timeout)
    host, port = sock.getsockname()[:2]
    config = HypercornConfig()
    # Hypercorn takes the socket over by its descriptor, and closes it when done.
    config.bind = [f"fd://{sock.detach()}"]
    config.graceful_timeout = settings.drain_seconds
    # Off: tuner.web.streams sends its own keepalive (see KEEPALIVE_SECONDS there).
    config.websocket_ping_interval = None
    config.accesslog = None
    # A Logger (not "-") makes Hypercorn log through ours instead of adding a handler.
    config.errorlog = logging.getLogger("hypercorn.error")
    web_stopped = trio.Event()
    stop_web = trio.Event()

    async def run_web(task_status: trio.TaskStatus[list[str]]) -> None:
        try:
            await hypercorn_serve(
                ShieldLastSend(create_app(ctx)),
                config,
                shutdown_trigger=stop_web.wait,
                task_status=task_status,
            )
        finally:
            web_stopped.set()

    async with trio.open_nursery() as root:
        # First: every other service fetches through it.
        await root.start(egress.run)
        await root.start(resolver.run)
        await root.start(supervisor.run)
        # Before the web server: an edit is never answered by a queue not yet loaded.
        await root.start(queue.run)
        await root.start(run_web)
        if poller is not None:
            # Its first run starts now; shutdown cancels it with the root (its yt-dlp
            # workers are killed with their process groups, its HTTP client closed).
            await root.start(poller.run)
        ctx.serving = True
        serving = Serving(host, port, ctx)
        log.info("serving on %s", serving.url)
        notifier.ready(f"serving on {serving.url}")
        supervisor.on_status.append(lambda status: notifier.status(describe(status)))
        if notifier.watchdog_interval:
            root.start_soon(_watchdog, notifier, supervisor, notifier.watchdog_interval)
        task_status.started(serving)

        await shutdown.wait()
        log.info("shutting down")
        ctx.shutting_down = True
        notifier.stopping()
        supervisor.video.close_all(GOING_AWAY, "server shutting down", final=True)
        events.close_all(GOING_AWAY, "server shutting down")
        supervisor.close()
        stop_web.set()
        with trio.move_on_after(settings.drain_seconds + ABORT_GRACE_SECONDS):
            await web_stopped.wait()
        if not web_stopped.is_set():
            cut = abort_connections(port)
            log.warning("drain timed out: cut %d stalled connection(s)", cut)
        root.cancel_scope.cancel()
    log.info("stopped")


async def _watchdog(notifier: Notifier, supervisor: Supervisor, interval: float) -> None:
    """Ping systemd while the supervisor lives; a dead one lets systemd restart us."""
    while True:
        if supervisor.alive:
            notifier.watchdog()
        else:
            notifier.status(f"session supervisor died: {supervisor.death}")
        await trio.sleep(interval)


async def run_until_signalled(settings: Settings, pin: Pin) -> None:
    """``tuner serve``: serve until SIGTERM or SIGINT, then shut down in order."""
    shutdown = trio.Event()
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(serve, settings, pin, shutdown))

            async def wait_for_signal() -> None:
                async for signum in signals:
                    log.info("received %s", signal.Signals(signum).name)
                    shutdown.set()
                    return

            nursery.start_soon(wait_for_signal)
