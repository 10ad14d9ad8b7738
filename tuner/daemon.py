"""``tuner serve``: the root nursery that owns every lifetime.

::

    tuner serve (run_until_signalled)
    ├── serve: the root nursery, its tasks in the order they start
    │   ├── egress proxy (every fetch of ffmpeg, yt-dlp and the extractors;
    │   │   tuner.egress_proxy): first, as every service below fetches through it
    │   ├── resolver (yt-dlp worker processes: one warm, one per resolution or search)
    │   ├── thumbnails (the HTTP client behind /api/thumbnail; tuner.thumbnail_fetcher)
    │   ├── session supervisor (each session in its own cancel scope)
    │   ├── queue (tuner.jobs: a preparation job per queued item, per-source limits)
    │   ├── web server: hypercorn.trio.serve(app, config, shutdown_trigger=...)
    │   │   (tuner.web.server)
    │   ├── extractor poller (each run in a child nursery; off with
    │   │   [extract] enabled = false)
    │   ├── logins watcher (_watch_secret: a changed cookie secret logs everyone out,
    │   │   a login that ``tuner sessions revoke`` ended ends here, last uses saved)
    │   └── systemd watchdog pings (when systemd asks for them)
    └── signal waiter: SIGTERM or SIGINT sets serve's shutdown event

The services are built, and wired to each other, by :mod:`tuner.services`. The event
hub is not a task: components publish to it, and each ``/ws/events`` handler reads
its own subscriber queue.

Shutdown is one ordered sequence run by :func:`serve` itself when its ``shutdown``
event is set (by a signal, or by a test): tell systemd, close every websocket with
1001, end the sessions (killing ffmpeg), let Hypercorn drain, and as a last resort
shut down connections that a stalled client holds open; then cancel the root.
"""

from __future__ import annotations

import logging
import signal
from functools import partial
from pathlib import Path

import attrs
import trio

from tuner.config import ConfigError, Settings
from tuner.core.egress import Policy
from tuner.core.state import describe
from tuner.core.tokens import TokenSigner
from tuner.credentials import Pin, load_secret, secret_stamp
from tuner.egress_proxy import EgressProxy
from tuner.logins import LOGGED_OUT
from tuner.play.fanout import GOING_AWAY
from tuner.play.supervisor import Supervisor
from tuner.services import build_services
from tuner.systemd import Notifier
from tuner.web.context import WebContext
from tuner.web.server import WebServer, check_tls

log = logging.getLogger(__name__)

#: How often the cookie secret's and the logins' files are looked at for a change
#: (``tuner rotate-secret``, ``tuner sessions revoke``): well within a second.
SECRET_CHECK_SECONDS = 0.25


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
        ConfigError: the TLS certificate and key cannot be used together, or the
            state directory cannot hold the cookie secret.
    """
    # Bound now, so that everything built below knows its URL; closed however we end.
    egress = EgressProxy(Policy.from_entries(settings.fetch_allow))
    try:
        await _serve(settings, pin, shutdown, egress, notifier or Notifier(), task_status)
    finally:
        egress.close()


async def _serve(
    settings: Settings,
    pin: Pin,
    shutdown: trio.Event,
    egress: EgressProxy,
    notifier: Notifier,
    task_status: trio.TaskStatus[Serving],
) -> None:
    tls = check_tls(settings)
    services = await build_services(settings, pin, egress)
    supervisor, ctx = services.supervisor, services.context
    web = WebServer(ctx)

    async with trio.open_nursery() as root:
        # First: every other service fetches through it.
        await root.start(egress.run)
        await root.start(services.resolver.run)
        await root.start(services.thumbnails.run)
        await root.start(supervisor.run)
        # Before the web server: an edit is never answered by a queue not yet loaded.
        await root.start(services.queue.run)
        await root.start(web.run)
        if services.poller is not None:
            # Its first run starts now; shutdown cancels it with the root (its yt-dlp
            # workers are killed with their process groups, its HTTP client closed).
            await root.start(services.poller.run)
        ctx.serving = True
        serving = Serving(web.host, web.port, ctx, "https" if tls else "http")
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
        services.events.close_all(GOING_AWAY, "server shutting down")
        supervisor.close()
        await web.stop()
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
