"""The link-stall relay (tests/relay.py), against real loopback servers: a trio echo or
sink server, and a threaded HTTP server for the synchronous variant.

Real sockets, so real time: waits are bounded with ``trio.fail_after``; the only fixed
waits are observation windows whose assertions are upper bounds (what a paused relay
let through), which a slow machine can only make easier to meet.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import struct
import threading
import time
import urllib.request
from collections.abc import Callable
from functools import partial

import attrs
import pytest
import trio
import trio.testing

from tests.loopback import serve_threaded
from tests.relay import Relay, open_relay, relay_in_thread

MiB = 1024 * 1024


@attrs.define
class Server:
    """A loopback TCP server: echoes (or only swallows) what it gets, and notes how
    each connection ended: ``"eof"`` or ``"reset"``."""

    echo: bool = True
    port: int = 0
    received: int = 0
    digest: hashlib._Hash = attrs.field(factory=hashlib.sha256)
    ends: list[str] = attrs.field(factory=list)

    async def handle(self, stream: trio.SocketStream) -> None:
        try:
            while data := await stream.receive_some(64 * 1024):
                self.received += len(data)
                self.digest.update(data)
                if self.echo:
                    await stream.send_all(data)
            self.ends.append("eof")
        except trio.BrokenResourceError:
            self.ends.append("reset")
        finally:
            await stream.aclose()


async def start_server(nursery: trio.Nursery, echo: bool = True) -> Server:
    server = Server(echo)
    listeners = await nursery.start(partial(trio.serve_tcp, server.handle, 0, host="127.0.0.1"))
    server.port = listeners[0].socket.getsockname()[1]
    return server


async def wait_until(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Until ``condition()`` holds (checked every 10 ms), or fail after ``seconds``."""
    with trio.fail_after(seconds):
        while not condition():
            await trio.sleep(0.01)


async def connect(relay: Relay) -> trio.SocketStream:
    return await trio.open_tcp_stream("127.0.0.1", relay.port)


async def receive_exactly(stream: trio.SocketStream, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = await stream.receive_some(size - len(data))
        assert chunk, f"EOF after {len(data)} of {size} bytes"
        data += chunk
    return bytes(data)


async def round_trip(stream: trio.SocketStream, message: bytes = b"hello") -> None:
    with trio.fail_after(10):
        await stream.send_all(message)
        assert await receive_exactly(stream, len(message)) == message


def relay_tasks() -> list[str]:
    """The names of the tasks of tests/relay.py running now, anywhere in this run."""
    root = trio.lowlevel.current_root_task()
    assert root is not None
    names, tasks = [], [root]
    while tasks:
        task = tasks.pop()
        names.append(task.name)
        tasks += [child for nursery in task.child_nurseries for child in nursery.child_tasks]
    return [name for name in names if name.startswith("tests.relay.")]


def open_fds() -> set[str]:
    """This process's open descriptors. A test compares what is new after it: one of
    an earlier test's that the garbage collector closes meanwhile is not its doing."""
    return set(os.listdir("/proc/self/fd"))


async def test_it_forwards_both_ways_with_half_close_and_counts() -> None:
    payload = os.urandom(3 * MiB)
    async with trio.open_nursery() as nursery:
        server = await start_server(nursery)
        async with open_relay(server.port) as relay:
            assert relay.port not in (0, server.port)
            assert relay.url == f"http://127.0.0.1:{relay.port}"
            stream = await connect(relay)
            echoed = bytearray()

            async def send() -> None:
                await stream.send_all(payload)
                await stream.send_eof()

            with trio.fail_after(30):
                async with stream, trio.open_nursery() as inner:
                    inner.start_soon(send)
                    # The server answers the EOF with its own, after the last byte.
                    while data := await stream.receive_some(64 * 1024):
                        echoed += data
            assert echoed == payload
            assert server.ends == ["eof"]
            assert relay.accepted == 1
            assert relay.bytes_up == relay.bytes_down == len(payload)
            await wait_until(lambda: relay.open == 0)
        nursery.cancel_scope.cancel()


async def test_a_timed_pause_delays_delivery_by_its_length_and_loses_nothing() -> None:
    count, pause_at_seq, pause_seconds = 150, 50, 1.0
    record = struct.Struct("!I")
    arrivals: dict[int, float] = {}
    async with trio.open_nursery() as nursery:
        server = await start_server(nursery)
        async with open_relay(server.port) as relay, await connect(relay) as stream:
            paused_at = 0.0

            async def send() -> None:
                nonlocal paused_at
                for seq in range(count):
                    if seq == pause_at_seq:
                        paused_at = trio.current_time()
                        relay.pause(pause_seconds)
                    await stream.send_all(record.pack(seq))
                    await trio.sleep(0.01)

            with trio.fail_after(30):
                async with trio.open_nursery() as inner:
                    inner.start_soon(send)
                    order = []
                    for _ in range(count):
                        (seq,) = record.unpack(await receive_exactly(stream, record.size))
                        arrivals[seq] = trio.current_time()
                        order.append(seq)
            assert order == list(range(count))
            assert not relay.paused
            # What was sent from the pause on came no sooner than its end, and soon after.
            first_after = min(arrivals[seq] for seq in range(pause_at_seq, count))
            assert pause_seconds <= first_after - paused_at < pause_seconds + 5
        nursery.cancel_scope.cancel()


async def test_stall_pauses_both_ways_and_returns_once_resumed() -> None:
    async with trio.open_nursery() as nursery:
        server = await start_server(nursery)
        async with open_relay(server.port) as relay, await connect(relay) as stream:
            await round_trip(stream)
            async with trio.open_nursery() as inner:
                inner.start_soon(relay.stall, 0.5)
                await trio.testing.wait_all_tasks_blocked()
                assert relay.paused
                started = trio.current_time()
                await round_trip(stream, b"through the stall")
                assert trio.current_time() - started >= 0.5
            assert not relay.paused
        nursery.cancel_scope.cancel()


async def test_a_paused_relay_holds_back_and_the_sender_feels_it() -> None:
    """Backpressure: a paused relay reads nothing more, so the sender's writes block
    once the kernel's buffers are full; on resume every byte arrives, in order.

    The link carries megabytes first, as a playing session's would when it stalls.
    """
    warm, total, block = 16 * MiB, 40 * MiB, 64 * 1024
    payload = os.urandom(total)
    async with trio.open_nursery() as nursery:
        sink = await start_server(nursery, echo=False)
        async with open_relay(sink.port) as relay, await connect(relay) as stream:
            await stream.send_all(payload[:warm])
            await wait_until(lambda: sink.received == warm, seconds=60)
            relay.pause()
            sent = warm

            async def send() -> None:
                nonlocal sent
                for at in range(warm, total, block):
                    await stream.send_all(payload[at : at + block])
                    sent = at + block

            async with trio.open_nursery() as inner:
                inner.start_soon(send)
                await trio.sleep(1.0)  # an observation window: the bounds below are upper ones
                # The sender's buffer (4 MiB at most here) and the relay's own (twice
                # KERNEL_BUFFER, and a chunk): far below what it tried to send.
                assert sent - warm < 6 * MiB
                assert sink.received == warm
                relay.resume()
                await wait_until(lambda: sink.received == total, seconds=60)
            assert sink.digest.digest() == hashlib.sha256(payload).digest()
            assert relay.bytes_up == total
        nursery.cancel_scope.cancel()


async def test_a_cut_resets_both_sides_and_later_connections_get_through() -> None:
    async with trio.open_nursery() as nursery:
        server = await start_server(nursery)
        async with open_relay(server.port) as relay:
            first, second = await connect(relay), await connect(relay)
            await round_trip(first)
            await round_trip(second)
            relay.pause()  # a cut also ends connections that are stalled
            await first.send_all(b"lost in the tunnel")
            assert relay.cut() == 2
            with trio.fail_after(10):
                for stream in (first, second):
                    with pytest.raises(trio.BrokenResourceError):
                        await stream.receive_some(1024)
                    await stream.aclose()
            await wait_until(lambda: len(server.ends) == 2)
            assert server.ends == ["reset", "reset"]
            assert server.received == 2 * len(b"hello")
            await wait_until(lambda: relay.open == 0)
            assert relay.paused  # a cut does not resume
            relay.resume()
            async with await connect(relay) as third:
                await round_trip(third)
            assert (relay.accepted, relay.cuts) == (3, 2)
        nursery.cancel_scope.cancel()


async def test_an_unreachable_target_closes_the_client() -> None:
    with socket.socket() as bound:  # bound, not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        async with open_relay(bound.getsockname()[1]) as relay, await connect(relay) as stream:
            with trio.fail_after(10):
                with pytest.raises(trio.BrokenResourceError):
                    await stream.receive_some(1024)
            assert (relay.accepted, relay.failed) == (1, 1)


async def test_a_timed_pause_does_not_undo_a_later_pause() -> None:
    async with open_relay(9) as relay:
        relay.pause(0.2)
        relay.resume()
        relay.pause()
        await trio.sleep(0.5)  # past the first pause's end
        assert relay.paused


async def test_it_leaves_no_task_or_socket_behind() -> None:
    async with trio.open_nursery() as nursery:
        server = await start_server(nursery)
        fds = open_fds()
        async with open_relay(server.port) as relay:
            idle, stalled = await connect(relay), await connect(relay)
            await round_trip(idle)
            await round_trip(stalled)
            relay.pause(60)  # its timer is a task too
            await stalled.send_all(b"waiting")
            assert relay_tasks()
        assert relay_tasks() == []
        with trio.fail_after(10):
            for stream in (idle, stalled):
                assert await stream.receive_some(1024) == b""  # closed, in good order
                await stream.aclose()
        await wait_until(lambda: len(server.ends) == 2)
        assert not open_fds() - fds, "a descriptor was left open"
        nursery.cancel_scope.cancel()


class _Hello(http.server.BaseHTTPRequestHandler):
    #: Set when a connection is reset under a request.
    reset = threading.Event()

    def handle(self) -> None:
        try:
            super().handle()
        except ConnectionResetError:
            _Hello.reset.set()

    def do_GET(self) -> None:
        body = f"hello from {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_threaded_relay_serves_a_synchronous_test_and_ends_with_it() -> None:
    def get(url: str) -> bytes:
        with urllib.request.urlopen(url, timeout=20) as response:
            body: bytes = response.read()
            return body

    with serve_threaded(_Hello) as base:
        threads, fds = set(threading.enumerate()), open_fds()
        with relay_in_thread(int(base.rsplit(":", 1)[1])) as relay:
            assert get(relay.url + "/one") == b"hello from /one"

            relay.pause(0.5)
            started = time.monotonic()
            assert get(relay.url + "/two") == b"hello from /two"
            assert time.monotonic() - started >= 0.45

            started = time.monotonic()
            relay.stall(0.3)
            assert time.monotonic() - started >= 0.3 and not relay.paused

            accepted = relay.accepted
            with socket.create_connection(("127.0.0.1", relay.port), timeout=20) as held:
                held.sendall(b"GET /three HTTP/1.1\r\n")  # the request is never finished
                deadline = time.monotonic() + 10
                # This connection, accepted and connected onwards (or the cut would only
                # reset the test's side), and no other: the earlier ones' links end a
                # little after their requests do, and a cut of one of those instead
                # would leave this one waiting (a busy machine did).
                while (
                    not (relay.accepted > accepted and relay.open == relay.linked == 1)
                    and time.monotonic() < deadline
                ):
                    time.sleep(0.01)
                assert relay.cut() == 1
                with pytest.raises(ConnectionResetError):
                    held.recv(1024)
                assert _Hello.reset.wait(10), "the server's side was not reset"
            assert get(relay.url + "/four") == b"hello from /four"
            assert (relay.accepted, relay.cuts) == (4, 1)
            assert relay.bytes_up > 0 and relay.bytes_down > 0
        assert set(threading.enumerate()) == threads
        assert not open_fds() - fds, "a descriptor was left open"


def test_a_threaded_relay_that_cannot_start_says_so() -> None:
    with pytest.raises(RuntimeError, match="did not start"), relay_in_thread(9, nonsense=True):
        pass
