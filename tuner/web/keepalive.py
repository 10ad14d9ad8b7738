"""Keep Hypercorn's keep-alive working under Quart-Trio: two ASGI middlewares.

:class:`ShieldLastSend`: Quart-Trio cancels a request's nursery as soon as Hypercorn
reports the response complete, which happens while the app's task is still inside its
last ASGI ``send``. That last send is where Hypercorn recycles the connection and
re-arms its idle timer; cancelled there, the timer is never armed. Then an idle
keep-alive connection is never closed, neither after ``keep_alive_timeout`` nor on
shutdown, so every graceful drain runs to its deadline while any browser is connected
(measured with Hypercorn 0.18 and Quart-Trio 0.12; ``tests/integration/test_keepalive.py``
shows both effects). Shielding only that last send is safe: it carries at most the end
of a body, and Hypercorn shields its socket writes anyway.

:class:`CloseAfterUnreadBody`: a connection that Hypercorn will close after the
response says so in it.
"""

from __future__ import annotations

from collections.abc import Iterable

import trio
from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    Scope,
)


class ShieldLastSend:
    """ASGI middleware: the final ``http.response.body`` send cannot be cancelled."""

    def __init__(self, app: ASGIFramework) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_shielding_the_last(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                with trio.CancelScope(shield=True):
                    await send(message)
            else:
                await send(message)

        await self.app(scope, receive, send_shielding_the_last)


class CloseAfterUnreadBody:
    """ASGI middleware: a response sent before its request's body was all received
    says ``Connection: close``.

    Hypercorn closes such a connection once the response is out (HTTP/1.1 cannot
    find where the next request starts), but does not say so in the response. A
    client then keeps the connection for its next request and, when that request
    races the server's close, gets "server disconnected without sending a response"
    (a refusal before the body is read does it: 401, 413, an unknown route). With
    the header the client knows not to reuse it (RFC 9112, section 9.6).
    """

    def __init__(self, app: ASGIFramework) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http" or not _declares_body(scope["headers"]):
            await self.app(scope, receive, send)
            return
        body_done = False

        async def noting_the_end(*args: object) -> ASGIReceiveEvent:
            nonlocal body_done
            event = await receive()
            if event["type"] != "http.request" or not event.get("more_body", False):
                body_done = True
            return event

        async def closing_if_unread(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.start" and not body_done:
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() != b"connection"
                ]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, noting_the_end, closing_if_unread)


def _declares_body(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            return True
        if lowered == b"content-length" and value.strip() not in (b"", b"0"):
            return True
    return False
