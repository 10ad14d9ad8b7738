"""ASGI middleware: a request relayed by a trusted proxy is seen as its client sent it.

The client address (rate limits, logs), the scheme (``Secure`` cookies, the
``Origin`` check) and the host are taken from the ``X-Forwarded-*`` headers when,
and only when, the connection comes from one of ``trusted_proxies``
(:func:`tuner.core.forwarded.seen_request` decides). From any other peer they are
ignored, and a warning says so (once per peer every ten minutes): either someone
is forging them, or a proxy in front of tuner is missing from ``trusted_proxies``.

A ``Host`` that names no host (after the rewrite) is answered 400 here, before the
app, which would fail on it.
"""

from __future__ import annotations

import logging
import time

from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope

from tuner.core.forwarded import READ_HEADERS, Network, is_in, name_of_host, seen_request
from tuner.core.loglimit import LogLimit
from tuner.web.errors import send_error

log = logging.getLogger(__name__)

#: Seconds between two warnings about the same untrusted peer.
UNTRUSTED_WARNING_SECONDS = 600.0
_READ = frozenset(name.encode() for name in READ_HEADERS)


class ForwardedHeaders:
    """Rewrite the ASGI scope's client, scheme and ``Host`` for trusted proxies."""

    def __init__(self, app: ASGIFramework, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted
        self.warnings = LogLimit(UNTRUSTED_WARNING_SECONDS)

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Handle one ASGI connection."""
        client = scope.get("client") if scope["type"] in ("http", "websocket") else None
        if not client:
            await self.app(scope, receive, send)
            return
        if not is_in(client[0], self.trusted):
            self._warn_if_forwarded(client[0], scope)
            await self._with_a_good_host(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:  # type: ignore[typeddict-item]
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        secure = scope["scheme"] in ("https", "wss")  # type: ignore[typeddict-item]
        seen = seen_request(client[0], "https" if secure else "http", headers, self.trusted)
        changed = dict(scope)
        changed["client"] = (seen.client, 0)
        if scope["type"] == "websocket":
            changed["scheme"] = "wss" if seen.scheme == "https" else "ws"
        else:
            changed["scheme"] = seen.scheme
        if seen.host is not None:
            changed["headers"] = [
                (name, value)
                for name, value in scope["headers"]  # type: ignore[typeddict-item]
                if name.lower() != b"host"
            ] + [(b"host", seen.host.encode("latin-1"))]
        await self._with_a_good_host(changed, receive, send)  # type: ignore[arg-type]

    async def _with_a_good_host(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        # Quart binds its URL map to the Host, and a name werkzeug cannot encode (a
        # label over 63 characters) fails there, outside every error handler: a 500
        # and a traceback. A Host that is no host is refused here instead.
        for name, value in scope["headers"]:  # type: ignore[typeddict-item]
            if name.lower() == b"host" and name_of_host(value.decode("latin-1")) is None:
                await send_error(
                    scope, send, 400, "bad request", "the Host header does not name a host"
                )
                return
        await self.app(scope, receive, send)

    def _warn_if_forwarded(self, peer: str, scope: Scope) -> None:
        names = sorted(
            {
                name.decode("latin-1").title()
                for name, _ in scope["headers"]  # type: ignore[typeddict-item]
                if name.lower() in _READ
            }
        )
        if not names:
            return
        held = self.warnings.allow(peer, time.monotonic())
        if held is None:
            return
        more = f" ({held} more request(s) since the last warning)" if held else ""
        log.warning(
            "ignored %s from %s, which is not in trusted_proxies%s: if it is your "
            "proxy or tunnel, add it there (README: Reach it from the car)",
            "/".join(names),
            peer,
            more,
        )
