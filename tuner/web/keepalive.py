"""Keep Hypercorn's keep-alive timer working under Quart-Trio.

Quart-Trio cancels a request's nursery as soon as Hypercorn reports the response
complete, which happens while the app's task is still inside its last ASGI ``send``.
That last send is where Hypercorn recycles the connection and re-arms its idle timer;
cancelled there, the timer is never armed. Then an idle keep-alive connection is never
closed, neither after ``keep_alive_timeout`` nor on shutdown, so every graceful drain
runs to its deadline while any browser is connected (measured with Hypercorn 0.18 and
Quart-Trio 0.12; ``tests/integration/test_keepalive.py`` shows both effects).

Shielding only that last send is safe: it carries at most the end of a body, and
Hypercorn shields its socket writes anyway.
"""

from __future__ import annotations

import trio
from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
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
