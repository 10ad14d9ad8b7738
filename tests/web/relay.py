"""A TCP relay between a browser and the daemon that a test can cut, as a tunnel on
the car's LTE link cuts every connection at once while the daemon plays on."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Relay:
    """Relays loopback connections from its own port to ``target``; :meth:`cut`
    closes every relayed connection and refuses new ones until :meth:`restore`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._up = True
        self._closing = False
        self._threads: list[threading.Thread] = []
        self.connections = 0

    def cut(self) -> None:
        """Drop every connection; new ones are closed at once until restored."""
        with self._lock:
            self._up = False
            doomed = list(self._open)
            self._open.clear()
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        """Relay again."""
        with self._lock:
            self._up = True

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._closing or not self._up:
                    client.close()
                    continue
                self.connections += 1
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        """Stop relaying and close everything (joins the relay's threads)."""
        with self._lock:
            self._closing = True
        self._listener.close()
        self.cut()
        for thread in self._threads:
            thread.join(5)


@contextmanager
def relay_to(base_url: str) -> Iterator[Relay]:
    """A :class:`Relay` to the daemon at ``base_url`` (``http://127.0.0.1:PORT``)."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    relay = Relay((host, int(port)))
    acceptor = threading.Thread(target=relay._accept, daemon=True)
    acceptor.start()
    try:
        yield relay
    finally:
        relay.close()
        acceptor.join(5)
