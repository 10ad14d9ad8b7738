"""The listening socket we make ourselves, what it may take at once, and the last
resort at shutdown.

We bind the socket (rather than letting Hypercorn do it) to set ``TCP_USER_TIMEOUT``
on it: accepted connections inherit it, so a peer that stops acknowledging data is
dropped by the kernel instead of holding a shielded Hypercorn send forever.

A burst of connections (a page reloaded by many, a scanner) must be answered, not
left to time out:

- The listen backlog (:func:`listen_backlog`) holds a burst the kernel takes before
  the event loop accepts it. Hypercorn's default of 100 drops the rest of a burst
  of SYNs, and their clients wait 1, 3, 7 s... for a retransmission.
- The descriptor limit (:func:`raise_file_limit`) is raised to what the system
  allows, so that accepting does not stop at the common soft limit of 1024.
- Beyond ``max_concurrent_requests`` requests at once (:class:`RequestCap`), a
  request gets a fast 503 with ``Retry-After`` instead of a slow answer.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
from pathlib import Path

from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
    ASGISendCallable,
    Scope,
)

from tuner.web.errors import send_error

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows, which tuner does not run on
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: The backlog asked for: a burst of this many connections waits in the kernel.
BACKLOG = 4096
#: The descriptors a daemon wants: connections at once, with room for the rest.
WANTED_FILES = 65536
#: Where Linux says how long a listen backlog may be (it shortens longer ones).
SOMAXCONN = Path("/proc/sys/net/core/somaxconn")
#: What a request over the cap is told to wait (seconds).
RETRY_AFTER_SECONDS = 2


class BindError(OSError):
    """The address cannot be listened on; the message says what to do."""


def make_listen_socket(host: str, port: int, user_timeout: float) -> socket.socket:
    """Create and bind (not listen) a TCP socket for ``host:port``.

    Raises:
        BindError: the host does not resolve, the port is taken, or not allowed.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BindError(f"cannot listen on {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if hasattr(socket, "TCP_USER_TIMEOUT"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(user_timeout * 1000))
        else:
            log.info("TCP_USER_TIMEOUT is not available here; stalled peers wait for TCP")
        sock.bind(address)
    except OSError as exc:
        sock.close()
        hint = (
            " (another tuner? choose another with --port)" if exc.errno == errno.EADDRINUSE else ""
        )
        raise BindError(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from None
    return sock


def abort_connections(port: int) -> int:
    """Shut down every accepted TCP connection of this process on ``port``.

    Hypercorn writes to sockets inside a shielded cancel scope, so a client that
    stopped reading can hold shutdown past any deadline. Shutting its socket down
    makes that write fail at once. Only used when the graceful drain ran out.

    Returns:
        How many connections were shut down.
    """
    aborted = 0
    for name in os.listdir("/dev/fd"):
        try:
            dup = os.dup(int(name))
        except OSError:
            continue  # the directory's own descriptor, gone since listdir
        try:
            sock = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)
            continue
        with sock, contextlib.suppress(OSError):
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            if sock.type != socket.SOCK_STREAM or sock.getsockname()[1] != port:
                continue
            sock.getpeername()  # the listening socket has no peer: OSError
            sock.shutdown(socket.SHUT_RDWR)
            aborted += 1
    return aborted


def listen_backlog(wanted: int = BACKLOG, somaxconn: Path = SOMAXCONN) -> int:
    """The listen backlog to ask for: ``wanted``, but no more than the kernel takes.

    Linux cuts a longer backlog to ``net.core.somaxconn`` without a word; asking
    for no more says truthfully (in the log) what a burst may hold. Elsewhere
    (macOS: ``kern.ipc.somaxconn``, 128 by default) the kernel cuts it the same way.
    """
    try:
        most = int(somaxconn.read_text().strip())
    except (OSError, ValueError):
        return wanted
    return max(1, min(wanted, most))


def raise_file_limit(wanted: int = WANTED_FILES) -> int:
    """Raise this process's soft limit on open files towards ``wanted`` (never past
    the hard limit); returns the soft limit now in force.

    Each connection is a descriptor. The soft limit is often 1024 while the hard
    one is far higher; past it ``accept`` fails and connections wait unanswered.
    """
    if resource is None:  # pragma: no cover
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as exc:  # macOS caps it at OPEN_MAX
            log.info("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
            return int(soft)
        return target
    return int(soft)


class RequestCap:
    """ASGI middleware: at most ``most`` requests at once, streams included.

    A request (or websocket handshake) over the cap is answered at once with 503,
    ``Retry-After`` and a JSON error, without reaching the app: under a burst the
    daemon spends next to nothing on the requests it cannot serve, and the ones
    it serves stay quick. An open websocket or ``/audio`` stream counts for as long
    as it is open (each is capped lower by ``max_viewers`` and friends).
    """

    def __init__(self, app: ASGIFramework, most: int) -> None:
        self.app = app
        self.most = most
        self.now = 0
        self.refused = 0

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Handle one ASGI connection."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self.now >= self.most:
            self.refused += 1
            await self._refuse(scope, send)
            return
        self.now += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.now -= 1

    async def _refuse(self, scope: Scope, send: ASGISendCallable) -> None:
        await send_error(
            scope,
            send,
            503,
            "too busy",
            f"more than {self.most} requests at once: try again shortly",
            [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())],
        )
