"""``tuner serve``: the root nursery that owns every lifetime.

::

    root nursery
    ├── egress proxy (every fetch of ffmpeg, yt-dlp and the extractors; tuner.egress_proxy)
    ├── resolver (yt-dlp worker processes: one warm, one per resolution or search)
    ├── thumbnails (the HTTP client behind /api/thumbnail; tuner.thumbnail_fetcher)
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
import ssl
import subprocess
from functools import partial
from pathlib import Path

import attrs
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

from tuner.config import ConfigError, Settings
from tuner.core.egress import Policy
from tuner.core.forwarded import parse_networks
from tuner.core.state import describe
from tuner.core.thumbnails import ThumbnailTokens
from tuner.core.tokens import DeviceMarker, TokenSigner
from tuner.credentials import Pin, load_device_key, load_secret, secret_stamp
from tuner.egress_proxy import EgressProxy
from tuner.events import EventHub
from tuner.extract import make_poller
from tuner.jobs import DownloadSettings, Queue, YtdlpPreparer
from tuner.logins import LOGGED_OUT, LoginStore
from tuner.play.fanout import GOING_AWAY
from tuner.play.ffmpeg import Tool, ToolNotFoundError, find_ffmpeg, version
from tuner.play.resolver import Resolver
from tuner.play.session import Playback
from tuner.play.supervisor import Supervisor
from tuner.systemd import Notifier
from tuner.thumbnail_fetcher import Thumbnails
from tuner.web.app import create_app
from tuner.web.context import WebContext
from tuner.web.forwarded import ForwardedHeaders
from tuner.web.keepalive import CloseAfterUnreadBody, ShieldLastSend
from tuner.web.listen import (
    RequestCap,
    abort_connections,
    listen_backlog,
    make_listen_socket,
    raise_file_limit,
)
from tuner.web.streams import MAX_CLIENT_MESSAGE
from tuner.web.ws_limit import bound_websocket_messages

log = logging.getLogger(__name__)

#: How often the cookie secret's and the logins' files are looked at for a change
#: (``tuner rotate-secret``, ``tuner sessions revoke``): well within a second.
SECRET_CHECK_SECONDS = 0.25

#: Beyond the graceful drain, how long stalled connections get before being cut.
ABORT_GRACE_SECONDS = 0.5


@attrs.frozen
class Serving:
    """What :func:`serve` reports once it accepts connections."""

    host: str
    port: int
    context: WebContext
    scheme: str = "http"

    @property
    def url(self) -> str:
        """The base URL (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def check_tls(settings: Settings) -> bool:
    """Whether to serve https; checks that the certificate and key load together.

    Raises:
        ConfigError: a file that cannot be read, or a key that is not the certificate's.
    """
    if settings.tls_cert is None or settings.tls_key is None:
        return False
    for key, path in (("tls_cert", settings.tls_cert), ("tls_key", settings.tls_key)):
        if not path.is_file():
            raise ConfigError(f"{key}: {path} does not exist (or is not a file)")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            settings.tls_cert, settings.tls_key
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"tls_cert/tls_key: cannot use {settings.tls_cert} with {settings.tls_key}: {exc}"
        ) from None
    return True


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
    tls = check_tls(settings)
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
        settings.viewer_queue,
        resolver=resolver,
        playback=playback,
        adaptive=settings.adaptive_quality,
        thumbnail_path=thumbnails.tokens.path,
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
        logins=LoginStore.open(settings.state_dir),
        devices=DeviceMarker(load_device_key(settings.state_dir)),
        ffmpeg_problem=ffmpeg_problem,
        poller=poller,
        queue=queue,
        thumbnails=thumbnails,
    )
    trusted_proxies = parse_networks(settings.trusted_proxies)
    sock = make_listen_socket(settings.host, settings.port, settings.tcp_user_timeout)
    host, port = sock.getsockname()[:2]
    config = HypercornConfig()
    # Hypercorn takes the socket over by its descriptor, and closes it when done.
    config.bind = [f"fd://{sock.detach()}"]
    if settings.tls_cert is not None and settings.tls_key is not None:
        config.certfile, config.keyfile = str(settings.tls_cert), str(settings.tls_key)
    # Until a request's head is in, and between requests, a connection is idle; an
    # idle one is closed after this, so a slow-loris client holds nothing for long.
    config.keep_alive_timeout = settings.request_timeout
    config.graceful_timeout = settings.drain_seconds
    # Off: tuner.web.streams sends its own keepalive (see KEEPALIVE_SECONDS there).
    config.websocket_ping_interval = None
    # A client message over the protocol's limit closes its socket (1009) as it
    # arrives, and is not assembled (tuner.web.ws_limit).
    config.websocket_max_message_size = MAX_CLIENT_MESSAGE
    bound_websocket_messages()
    # A burst of connections waits in the kernel rather than timing out (see
    # tuner.web.listen); Hypercorn calls listen() on our socket with it.
    config.backlog = listen_backlog()
    files = raise_file_limit()
    log.info("listen backlog %d, open files up to %d", config.backlog, files)
    config.accesslog = None
    # A Logger (not "-") makes Hypercorn log through ours instead of adding a handler.
    config.errorlog = logging.getLogger("hypercorn.error")
    web_stopped = trio.Event()
    stop_web = trio.Event()

    async def run_web(task_status: trio.TaskStatus[list[str]]) -> None:
        try:
            await hypercorn_serve(
                ShieldLastSend(
                    CloseAfterUnreadBody(
                        RequestCap(
                            ForwardedHeaders(create_app(ctx), trusted_proxies),
                            settings.max_concurrent_requests,
                        )
                    )
                ),
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
        await root.start(thumbnails.run)
        await root.start(supervisor.run)
        # Before the web server: an edit is never answered by a queue not yet loaded.
        await root.start(queue.run)
        await root.start(run_web)
        if poller is not None:
            # Its first run starts now; shutdown cancels it with the root (its yt-dlp
            # workers are killed with their process groups, its HTTP client closed).
            await root.start(poller.run)
        ctx.serving = True
        serving = Serving(host, port, ctx, "https" if tls else "http")
        log.info("serving on %s", serving.url)
        notifier.ready(f"serving on {serving.url}")
        supervisor.on_status.append(lambda status: notifier.status(describe(status)))
        root.start_soon(_watch_secret, ctx, settings.state_dir)
        if notifier.watchdog_interval:
            root.start_soon(_watchdog, notifier, supervisor, notifier.watchdog_interval)
        task_status.started(serving)

        await shutdown.wait()
        log.info("shutting down")
        ctx.shutting_down = True
        notifier.stopping()
        supervisor.stage.close_viewers(GOING_AWAY, "server shutting down", final=True)
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


async def _watch_secret(ctx: WebContext, state_dir: Path) -> None:
    """Log every browser out when the cookie secret changes (``tuner rotate-secret``),
    and one login when ``tuner sessions revoke`` ends it.

    Cookies are checked against the new secret (or the logins left) from then on, and
    the open video, event and audio streams of those logged out are closed: their
    pages reconnect, are refused, and ask for the PIN. The logins' last uses are
    written out here every so often, and when the daemon stops.
    """
    stamp = secret_stamp(state_dir)
    try:
        while True:
            await trio.sleep(SECRET_CHECK_SECONDS)
            ctx.logins.refresh()
            ctx.logins.save_if_due()
            now = secret_stamp(state_dir)
            if now == stamp:
                continue
            try:
                secret = load_secret(state_dir)  # makes a new one if it was deleted
            except ConfigError as exc:
                log.error("the cookie secret changed but cannot be read: %s", exc)
                continue
            stamp = secret_stamp(state_dir)
            ctx.signer = TokenSigner(secret)
            ctx.logins.revoke_all()
            log.warning("the cookie secret changed: every browser must log in again")
            ctx.supervisor.stage.close_viewers(LOGGED_OUT, "logged out")
            ctx.events.close_all(LOGGED_OUT, "logged out", final=False)
            ctx.supervisor.stage.close_listeners(LOGGED_OUT, "logged out")
    finally:
        # Cancelled at shutdown: the last uses since the last write are kept.
        if ctx.logins.pending:
            ctx.logins.save()


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
