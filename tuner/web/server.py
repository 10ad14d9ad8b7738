"""The web server: Hypercorn's configuration, the ASGI middleware around the app, and
a graceful stop that ends in cutting what stalled clients hold.

The listening socket is made here (see :mod:`tuner.web.listen`) and handed to
Hypercorn by its descriptor; :meth:`WebServer.run` is a task of the root nursery.
"""

from __future__ import annotations

import logging
import socket
import ssl

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from hypercorn.typing import ASGIFramework

from tuner.config import ConfigError, Settings
from tuner.core.forwarded import parse_networks
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
from tuner.web.viewer_routes import MAX_CLIENT_MESSAGE
from tuner.web.ws_limit import bound_websocket_messages

log = logging.getLogger(__name__)

#: Beyond the graceful drain, how long stalled connections get before being cut.
ABORT_GRACE_SECONDS = 0.5


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


def hypercorn_config(settings: Settings, sock: socket.socket) -> HypercornConfig:
    """Hypercorn's configuration, serving on ``sock`` (which it then owns and closes)."""
    config = HypercornConfig()
    # Hypercorn takes the socket over by its descriptor, and closes it when done.
    config.bind = [f"fd://{sock.detach()}"]
    if settings.tls_cert is not None and settings.tls_key is not None:
        config.certfile, config.keyfile = str(settings.tls_cert), str(settings.tls_key)
    # Until a request's head is in, and between requests, a connection is idle; an
    # idle one is closed after this, so a slow-loris client holds nothing for long.
    config.keep_alive_timeout = settings.request_timeout
    config.graceful_timeout = settings.drain_seconds
    # Off: tuner.web.viewer_routes sends its own keepalive (see KEEPALIVE_SECONDS there).
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
    return config


def asgi_app(ctx: WebContext) -> ASGIFramework:
    """The app inside its middleware, outermost first: the last send shielded, a
    connection with an unread body closed, the concurrent requests capped, and
    forwarded headers taken only from trusted proxies."""
    settings = ctx.settings
    return ShieldLastSend(
        CloseAfterUnreadBody(
            RequestCap(
                ForwardedHeaders(create_app(ctx), parse_networks(settings.trusted_proxies)),
                settings.max_concurrent_requests,
            )
        )
    )


class WebServer:
    """Hypercorn on a socket bound at construction (so its port is known at once)."""

    def __init__(self, ctx: WebContext) -> None:
        """Bind the listening socket.

        Raises:
            BindError: the listening address cannot be used.
        """
        settings = ctx.settings
        self._drain_seconds = settings.drain_seconds
        self._app = asgi_app(ctx)
        sock = make_listen_socket(settings.host, settings.port, settings.tcp_user_timeout)
        self.host: str
        self.port: int
        self.host, self.port = sock.getsockname()[:2]
        self._config = hypercorn_config(settings, sock)
        self._stop = trio.Event()
        self._stopped = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[list[str]]) -> None:
        """Serve until :meth:`stop` (started once Hypercorn accepts connections)."""
        try:
            await hypercorn_serve(
                self._app, self._config, shutdown_trigger=self._stop.wait, task_status=task_status
            )
        finally:
            self._stopped.set()

    async def stop(self) -> None:
        """Let Hypercorn drain (``drain_seconds``), then cut the connections that
        stalled clients still hold; returns when :meth:`run` has, or after the cut."""
        self._stop.set()
        with trio.move_on_after(self._drain_seconds + ABORT_GRACE_SECONDS):
            await self._stopped.wait()
        if not self._stopped.is_set():
            cut = abort_connections(self.port)
            log.warning("drain timed out: cut %d stalled connection(s)", cut)
