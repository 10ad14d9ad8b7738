"""ASGI middleware: a request relayed by a trusted proxy is seen as its client sent it.

The client address (rate limits, logs), the scheme (``Secure`` cookies, the
``Origin`` check) and the host are taken from the ``X-Forwarded-*`` headers when,
and only when, the connection comes from one of ``trusted_proxies``
(:func:`tuner.core.forwarded.seen_request` decides).
"""

from __future__ import annotations

from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope

from tuner.core.forwarded import Network, is_in, seen_request


class ForwardedHeaders:
    """Rewrite the ASGI scope's client, scheme and ``Host`` for trusted proxies."""

    def __init__(self, app: ASGIFramework, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Handle one ASGI connection."""
        client = scope.get("client") if scope["type"] in ("http", "websocket") else None
        # Most requests come from no proxy: nothing to read for them.
        if not client or not is_in(client[0], self.trusted):
            await self.app(scope, receive, send)
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
        await self.app(changed, receive, send)  # type: ignore[arg-type]
