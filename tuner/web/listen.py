"""The listening socket we make ourselves, and the last resort at shutdown.

We bind the socket (rather than letting Hypercorn do it) to set ``TCP_USER_TIMEOUT``
on it: accepted connections inherit it, so a peer that stops acknowledging data is
dropped by the kernel instead of holding a shielded Hypercorn send forever.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket

log = logging.getLogger(__name__)


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
