"""Loopback HTTP servers for tests: one that tests fill with pages, playlists and
calendars (async, for trio tests), and a threaded one for a handler class (for
tests that are not async: browser and process tests).

Loopback and port 0 only. Real sockets: tests using them run on real time (no
autojump clock) and bound their waits with ``trio.fail_after``.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio import serve


@attrs.define
class Route:
    """What the server answers for one path."""

    body: bytes | str
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    delay: float = 0.0
    #: More headers (``Location`` for a redirect).
    headers: dict[str, str] = attrs.field(factory=dict)


@attrs.define
class LoopbackServer:
    """Routes by path; ``base`` is ``http://127.0.0.1:PORT``; ``hits`` counts requests."""

    base: str = ""
    routes: dict[str, Route] = attrs.field(factory=dict)
    hits: dict[str, int] = attrs.field(factory=dict)

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes | str, **kwargs: Any) -> str:
        self.routes[path] = Route(body, **kwargs)
        return self.url(path)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].removeprefix("lifespan.")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        self.hits[path] = self.hits.get(path, 0) + 1
        route = self.routes.get(path, Route("not found", status=404))
        await trio.sleep(route.delay)
        body = route.body.encode() if isinstance(route.body, str) else route.body
        headers = [(b"content-type", route.content_type.encode())]
        headers += [
            (name.lower().encode(), value.encode()) for name, value in route.headers.items()
        ]
        await send({"type": "http.response.start", "status": route.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def serve_loopback() -> AsyncIterator[LoopbackServer]:
    """A Hypercorn server on 127.0.0.1, any port, for the length of the block."""
    server = LoopbackServer()
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(serve, server, config)
        server.base = bound[0]
        yield server
        nursery.cancel_scope.cancel()


@contextmanager
def serve_threaded(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a loopback port from a thread; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
