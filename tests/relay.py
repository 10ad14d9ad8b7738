"""A TCP relay that a test can stall or cut, as the car's LTE link stalls in a tunnel
or dies: between a client (a browser, a test's socket) and a server (the daemon).

It listens on 127.0.0.1, port 0, and forwards every connection to one target. Its
controls act on every connection at once, current and new:

- :meth:`Relay.pause` (for a time, or until :meth:`Relay.resume`) stops forwarding
  in both directions without closing anything. The relay then reads nothing more, so
  the bytes wait in the kernel's buffers, as on a stalled link, and the sender's
  writes block once those are full: at most one chunk (:data:`CHUNK`) per direction
  and connection waits in the relay's memory, and the relay's sockets have small
  kernel buffers (:data:`KERNEL_BUFFER`), so backpressure reaches the sender soon.
  A connection made while paused is accepted but not forwarded until it resumes.
- :meth:`Relay.cut` closes every current connection abruptly on both sides (a reset,
  as a link that died would end once either side noticed); the relay keeps
  accepting, so a client that reconnects gets through.

Async tests use :func:`open_relay` (``async with``; the relay's tasks live in a
nursery of its own inside the caller's task, and end with the block). Synchronous
tests (Playwright's, in tests/web/) use :func:`relay_in_thread`, which runs the same
relay under ``trio.run`` in a thread that ends when the block does.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import struct
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

#: The most a relay reads at once, and so holds per direction and connection.
CHUNK = 16 * 1024
#: ``SO_RCVBUF`` and ``SO_SNDBUF`` of the relay's own sockets (Linux doubles it), so
#: that what a paused relay lets a sender write is bounded by the sender's buffer
#: and this, not by loopback's autotuned megabytes.
KERNEL_BUFFER = 128 * 1024


def _size_buffers(sock: trio.socket.SocketType, size: int | None) -> None:
    if size is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def _abort(stream: trio.SocketStream | None) -> None:
    """Close at once with a reset (``SO_LINGER`` 0), dropping what is unsent."""
    if stream is None:
        return
    with contextlib.suppress(OSError):
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # Synchronous: trio wakes any task waiting on the socket (ClosedResourceError).
    stream.socket.close()


@attrs.define(eq=False)
class _Link:
    """One relayed connection: the client's stream, the target's, and its scope."""

    client: trio.SocketStream
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    upstream: trio.SocketStream | None = None


@attrs.define(eq=False)
class Relay:
    """A running relay (see the module's docstring). Use it from its own trio run;
    the counters may be read from any thread.

    Attributes:
        host: where it listens, ``127.0.0.1``.
        port: the port it listens on.
        target: ``(host, port)`` it forwards to.
        accepted: connections accepted so far.
        failed: connections closed because the target could not be reached.
        cuts: connections closed by :meth:`cut`.
        bytes_up: bytes forwarded from clients to the target.
        bytes_down: bytes forwarded from the target to clients.
    """

    host: str
    port: int
    target: tuple[str, int]
    chunk: int = CHUNK
    kernel_buffer: int | None = KERNEL_BUFFER
    accepted: int = attrs.field(default=0, init=False)
    failed: int = attrs.field(default=0, init=False)
    cuts: int = attrs.field(default=0, init=False)
    bytes_up: int = attrs.field(default=0, init=False)
    bytes_down: int = attrs.field(default=0, init=False)
    _links: set[_Link] = attrs.field(factory=set, init=False)
    _flowing: trio.Event = attrs.field(factory=trio.Event, init=False)
    # Bumped by every pause and resume: a timed pause resumes only if it is current.
    _generation: int = attrs.field(default=0, init=False)
    _nursery: trio.Nursery | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        self._flowing.set()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the target as an HTTP client reaches it here."""
        return f"http://{self.host}:{self.port}"

    @property
    def open(self) -> int:
        """Connections open now (accepted; some may still be connecting onwards)."""
        return len(self._links)

    @property
    def linked(self) -> int:
        """Connections open now and connected to the target: a cut resets both sides."""
        return sum(link.upstream is not None for link in self._links)

    @property
    def paused(self) -> bool:
        """Whether forwarding is stopped."""
        return not self._flowing.is_set()

    def pause(self, seconds: float | None = None) -> None:
        """Stop forwarding, in both directions, on every connection.

        Args:
            seconds: resume by itself after this long (unless paused or resumed
                again meanwhile); None to wait for :meth:`resume`.
        """
        if self._flowing.is_set():
            self._flowing = trio.Event()
        self._generation += 1
        if seconds is not None:
            assert self._nursery is not None
            self._nursery.start_soon(self._resume_after, seconds, self._generation)

    def resume(self) -> None:
        """Forward again: what waited is delivered, in order."""
        self._generation += 1
        self._flowing.set()

    async def stall(self, seconds: float) -> None:
        """Pause for ``seconds``, then resume; returns once resumed."""
        self.pause()
        await trio.sleep(seconds)
        self.resume()

    def cut(self) -> int:
        """Reset every current connection, on both sides, at once; new connections
        are still accepted (and forwarded, unless paused). Returns how many were cut.
        """
        links = list(self._links)
        for link in links:
            _abort(link.client)
            _abort(link.upstream)
            link.scope.cancel()
        self.cuts += len(links)
        return len(links)

    async def _resume_after(self, seconds: float, generation: int) -> None:
        await trio.sleep(seconds)
        if generation == self._generation:
            self.resume()

    async def _accept(self, listener: trio.SocketListener) -> None:
        assert self._nursery is not None
        async with listener:
            while True:
                client = await listener.accept()
                self.accepted += 1
                self._nursery.start_soon(self._serve, client)

    async def _connect(self) -> trio.SocketStream:
        family, kind, proto, _, address = (
            await trio.socket.getaddrinfo(*self.target, type=socket.SOCK_STREAM)
        )[0]
        sock = trio.socket.socket(family, kind, proto)
        try:
            _size_buffers(sock, self.kernel_buffer)
            with trio.fail_after(10):
                await sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return trio.SocketStream(sock)

    async def _serve(self, client: trio.SocketStream) -> None:
        link = _Link(client)
        self._links.add(link)
        try:
            with link.scope:
                await self._flowing.wait()
                try:
                    link.upstream = await self._connect()
                except (OSError, trio.TooSlowError):
                    self.failed += 1
                    _abort(client)
                    return
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._pump, link, client, link.upstream, True)
                    nursery.start_soon(self._pump, link, link.upstream, client, False)
        finally:
            self._links.discard(link)
            client.socket.close()
            if link.upstream is not None:
                link.upstream.socket.close()

    async def _pump(
        self, link: _Link, source: trio.SocketStream, sink: trio.SocketStream, up: bool
    ) -> None:
        try:
            while True:
                await self._flowing.wait()
                data = await source.receive_some(self.chunk)
                await self._flowing.wait()
                if not data:
                    await sink.send_eof()  # half-close: the other way goes on
                    return
                await sink.send_all(data)
                if up:
                    self.bytes_up += len(data)
                else:
                    self.bytes_down += len(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            # One side failed or reset: end the other abruptly too, as the link would.
            _abort(link.client)
            _abort(link.upstream)
            link.scope.cancel()


@asynccontextmanager
async def open_relay(
    target_port: int,
    target_host: str = "127.0.0.1",
    *,
    chunk: int = CHUNK,
    kernel_buffer: int | None = KERNEL_BUFFER,
) -> AsyncIterator[Relay]:
    """A :class:`Relay` to ``target_host:target_port``, listening when this yields,
    gone (every task ended, every socket closed) when the block ends.

    Args:
        target_port: where to forward.
        target_host: where to forward.
        chunk: the most read at once per direction and connection.
        kernel_buffer: the relay's sockets' buffer sizes; None for the system's.
    """
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Set before listen(): accepted sockets inherit it, and the window is scaled by it.
        _size_buffers(sock, kernel_buffer)
        await sock.bind(("127.0.0.1", 0))
        sock.listen()
    except BaseException:
        sock.close()
        raise
    host, port = sock.getsockname()[:2]
    relay = Relay(host, port, (target_host, target_port), chunk, kernel_buffer)
    async with trio.open_nursery() as nursery:
        relay._nursery = nursery
        nursery.start_soon(relay._accept, trio.SocketListener(sock))
        try:
            yield relay
        finally:
            nursery.cancel_scope.cancel()


@attrs.define(eq=False)
class ThreadedRelay:
    """A :class:`Relay` running in a thread of its own, driven from synchronous code.

    The controls run in the relay's thread and have taken effect when they return.
    """

    _relay: Relay
    _token: trio.lowlevel.TrioToken

    @property
    def port(self) -> int:
        return self._relay.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self._relay.url

    @property
    def accepted(self) -> int:
        return self._relay.accepted

    @property
    def failed(self) -> int:
        return self._relay.failed

    @property
    def cuts(self) -> int:
        return self._relay.cuts

    @property
    def bytes_up(self) -> int:
        return self._relay.bytes_up

    @property
    def bytes_down(self) -> int:
        return self._relay.bytes_down

    @property
    def open(self) -> int:
        return self._relay.open

    @property
    def linked(self) -> int:
        return self._relay.linked

    @property
    def paused(self) -> bool:
        return self._relay.paused

    def pause(self, seconds: float | None = None) -> None:
        """:meth:`Relay.pause`; returns at once (a timed pause resumes by itself)."""
        trio.from_thread.run_sync(self._relay.pause, seconds, trio_token=self._token)

    def resume(self) -> None:
        """:meth:`Relay.resume`."""
        trio.from_thread.run_sync(self._relay.resume, trio_token=self._token)

    def stall(self, seconds: float) -> None:
        """:meth:`Relay.stall`: blocks for ``seconds``, returns once resumed."""
        trio.from_thread.run(self._relay.stall, seconds, trio_token=self._token)

    def cut(self) -> int:
        """:meth:`Relay.cut`: the connections are reset when it returns."""
        return trio.from_thread.run_sync(self._relay.cut, trio_token=self._token)


@contextlib.contextmanager
def relay_in_thread(
    target_port: int, target_host: str = "127.0.0.1", **options: Any
) -> Iterator[ThreadedRelay]:
    """:func:`open_relay` for synchronous tests: the relay runs under ``trio.run`` in
    a thread, which has ended (every socket closed) when the block does.

    Raises:
        RuntimeError: the relay's thread failed, or did not end within 10 s.
    """
    started: queue.Queue[tuple[Relay, trio.lowlevel.TrioToken, trio.Event] | None]
    started = queue.Queue()
    errors: list[BaseException] = []

    async def run() -> None:
        stop = trio.Event()
        async with open_relay(target_port, target_host, **options) as relay:
            started.put((relay, trio.lowlevel.current_trio_token(), stop))
            await stop.wait()

    def main() -> None:
        try:
            trio.run(run)
        except BaseException as error:  # handed to the test's thread
            errors.append(error)
        finally:
            started.put(None)  # if it never started, say so

    thread = threading.Thread(target=main, name=f"relay to {target_host}:{target_port}")
    thread.start()
    try:
        item = started.get(timeout=30)
        if item is None:
            raise RuntimeError("the relay did not start") from (errors[0] if errors else None)
        relay, token, stop = item
        try:
            yield ThreadedRelay(relay, token)
        finally:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(stop.set, trio_token=token)
    finally:
        thread.join(10)
        if thread.is_alive():
            raise RuntimeError("the relay's thread did not end")
    if errors:
        raise RuntimeError("the relay's thread failed") from errors[0]
