"""The egress proxy: every fetch of the daemon and its children goes through here.

yt-dlp and ffmpeg follow redirects and HLS playlists on their own, inside processes
(and C code) the daemon cannot watch; checking the URL a person typed is not enough.
So they are all pointed at this proxy, a task of the root nursery listening on
127.0.0.1: ffmpeg (``http_proxy`` in its environment), yt-dlp (its ``proxy``
option, which a worker gets in its environment; the ffmpeg it runs inherits it), the
extractors' HTTP client. For each
request (``CONNECT host:port`` for https, an absolute-form request for http) the
proxy resolves the host itself, asks :class:`tuner.core.egress.Policy` about every
address, and connects only to an address that passed, so a name that resolves
differently the second time (DNS rebinding) gains nothing. Anything else gets a 403
whose reason phrase is the sentence for a person, and is logged.

Each user of the proxy logs in with its own name (``session-<id>``, ``resolve-<n>``)
and the daemon's random password: the proxy keeps the last problem it met per name
(a refusal, a name that does not resolve, a refused connection), so the one who
asked can say why instead of ffmpeg's "Server returned 403 Forbidden".

The password keeps other local users out of the proxy, so the URL that carries it
never goes on a child's command line (``/proc/PID/cmdline`` is world-readable), only
in its environment (``/proc/PID/environ`` is readable by the same user alone).
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import errno
import ipaddress
import logging
import os
import secrets
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs
import trio

from tuner.core.diagnose import explain
from tuner.core.egress import IPAddress, Policy, embedded_v4, literal_address, proxy_environment

log = logging.getLogger(__name__)

#: A request's head (request line and headers) must arrive within this long, and fit.
HEAD_TIMEOUT = 10.0
MAX_HEAD_BYTES = 64 * 1024
CONNECT_TIMEOUT = 10.0
#: Connections at once; more are answered 503 (a child gone wild, not a real need).
MAX_CONNECTIONS = 256
#: Problems kept, one per user name.
MAX_PROBLEMS = 128
_BUFFER = 1 << 16
_HOP_HEADERS = {b"connection", b"proxy-connection", b"keep-alive", b"proxy-authorization"}


def child_environment(proxy: str | None = None) -> dict[str, str]:
    """This process's environment for a child that fetches through ``proxy``."""
    return proxy_environment(os.environ, proxy)


class _Reply(Exception):
    """Answer the client with ``status`` and ``reason`` and close."""

    def __init__(
        self, status: int, reason: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


@attrs.frozen
class Request:
    """A parsed request head."""

    method: str
    target: str
    version: str
    headers: tuple[tuple[bytes, bytes], ...]

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (lowercase), if any."""
        return next((value for key, value in self.headers if key == name), None)


def parse_head(head: bytes) -> Request:
    """A request head (up to and without the blank line).

    Raises:
        ValueError: not an HTTP/1.x request head.
    """
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise ValueError("not an HTTP/1.x request line")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise ValueError("a malformed header line")
        headers.append((name.lower(), value.strip()))
    method, target, version = (p.decode("latin-1") for p in parts)
    return Request(method, target, version, tuple(headers))


def split_authority(authority: str, default_port: int) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``) as host and port.

    Raises:
        ValueError: no host, or a bad port.
    """
    parts = urlsplit(f"//{authority}")
    host = parts.hostname
    port = parts.port or default_port  # ValueError for a bad port
    if not host:
        raise ValueError(f"no host in {authority!r}")
    return host, port


class EgressProxy:
    """The proxy; its listening socket is bound at construction, so its URL is known
    before the nursery starts (:meth:`run` serves it, :meth:`close` frees it)."""

    def __init__(self, policy: Policy, *, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.policy = policy
        self.connect_timeout = connect_timeout
        self._password = secrets.token_urlsafe(18)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._sock.bind(("127.0.0.1", 0))
            self._sock.listen(128)
            self._sock.setblocking(False)
        except OSError:
            self._sock.close()
            raise
        self.port: int = self._sock.getsockname()[1]
        self._problems: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._open = 0
        #: Connections served, and refused by the policy, since the start.
        self.connections = 0
        self.refusals = 0

    def url(self, user: str) -> str:
        """The proxy URL for ``user`` (letters, digits and ``-``), with the password."""
        return f"http://{user}:{self._password}@127.0.0.1:{self.port}"

    def problem(self, user: str) -> str | None:
        """The last problem met for ``user`` since the last call, as a sentence."""
        return self._problems.pop(user, None)

    def close(self) -> None:
        """Stop listening (idempotent; :meth:`run` does it when it ends)."""
        self._sock.close()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; every connection ends with it."""
        listener = trio.SocketListener(trio.socket.from_stdlib_socket(self._sock))
        async with listener, trio.open_nursery() as nursery:
            task_status.started()
            while True:
                stream = await listener.accept()
                nursery.start_soon(self._handle, stream)

    async def _handle(self, client: trio.SocketStream) -> None:
        self.connections += 1
        self._open += 1
        try:
            async with client:
                await self._serve(client)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        except Exception:  # a bug here must cost one connection, not the daemon
            log.exception("egress proxy: a connection failed")
        finally:
            self._open -= 1

    async def _serve(self, client: trio.SocketStream) -> None:
        with trio.move_on_after(HEAD_TIMEOUT):
            got = await _read_head(client)
        if got is None:
            return
        head, rest = got
        try:
            try:
                request = parse_head(head)
            except ValueError:
                raise _Reply(400, "not a proxy request") from None
            if self._open > MAX_CONNECTIONS:
                raise _Reply(503, "too many connections at once")
            user = self._authorized(request)
            upstream, opening = await self._open_upstream(request, user)
        except _Reply as reply:
            await _send_reply(client, reply)
            return
        async with upstream:
            if opening is None:
                await client.send_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    await upstream.send_all(rest)
                await _splice(client, upstream, rewrite_response=False)
            else:
                await upstream.send_all(opening + rest)
                await _splice(client, upstream, rewrite_response=True)

    def _authorized(self, request: Request) -> str:
        """The user name of a request with the right password."""
        challenge = _Reply(
            407, "proxy login required", headers={"Proxy-Authenticate": 'Basic realm="tuner"'}
        )
        value = request.header(b"proxy-authorization") or b""
        scheme, _, token = value.partition(b" ")
        if scheme.lower() != b"basic":
            raise challenge
        try:
            user, _, password = base64.b64decode(token.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            raise challenge from None
        if not secrets.compare_digest(password, self._password.encode()):
            raise challenge
        return user.decode("ascii", errors="replace")

    async def _open_upstream(
        self, request: Request, user: str
    ) -> tuple[trio.SocketStream, bytes | None]:
        """Connect where the request goes; returns the stream and, for plain http,
        the request head to send (``None`` for a tunnel)."""
        if request.method == "CONNECT":
            try:
                host, port = split_authority(request.target, 443)
            except ValueError:
                raise _Reply(400, "CONNECT needs host:port") from None
            opening = None
        else:
            parts = urlsplit(request.target)
            if parts.scheme != "http" or not parts.hostname:
                raise _Reply(400, "only http:// URLs and CONNECT are proxied")
            try:
                host, port = split_authority(parts.netloc.rpartition("@")[2], 80)
            except ValueError:
                raise _Reply(400, "a bad port") from None
            path = parts.path or "/"
            opening = _origin_head(request, path + (f"?{parts.query}" if parts.query else ""))
        addresses = await self._allowed_addresses(host, port, user)
        return await self._connect(host, port, addresses, user), opening

    async def _allowed_addresses(self, host: str, port: int, user: str) -> list[IPAddress]:
        literal = literal_address(host)
        if literal is not None:
            found: list[IPAddress] = [literal]
        else:
            try:
                infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise self._problem(user, 502, f"failed to resolve {host}: {exc}") from None
            found = []
            for info in infos:
                address = ipaddress.ip_address(str(info[4][0]).partition("%")[0])
                if address not in found:
                    found.append(address)
        allowed, refused = [], None
        for address in found:
            verdict = self.policy.check(host, address, port)
            if verdict.allowed and not (port == self.port and _is_this_machine(address)):
                allowed.append(address)
            elif refused is None:
                refused = verdict.sentence or f"refused: {host}:{port} is this proxy itself"
        if not allowed:
            self.refusals += 1
            log.warning("egress: %s for %s", refused, user)
            raise self._problem(user, 403, refused or f"refused: {host} has no address")
        return allowed

    async def _connect(
        self, host: str, port: int, addresses: list[IPAddress], user: str
    ) -> trio.SocketStream:
        error: OSError | None = None
        with trio.move_on_after(self.connect_timeout):
            for address in addresses:
                family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
                sock = trio.socket.socket(family, socket.SOCK_STREAM)
                try:
                    await sock.connect((str(address), port))
                except OSError as exc:
                    sock.close()
                    error = exc
                    continue
                except BaseException:
                    sock.close()
                    raise
                return trio.SocketStream(sock)
            assert error is not None
            if error.errno == errno.ECONNREFUSED:
                words = "connection refused"
            else:
                words = error.strerror or str(error)
            raise self._problem(user, 502, f"cannot connect to {host}:{port}: {words}")
        raise self._problem(user, 504, f"connecting to {host}:{port} timed out")

    def _problem(self, user: str, status: int, sentence: str) -> _Reply:
        """Keep ``sentence`` (a refusal, or explained) for ``user``; the reply to send."""
        kept = sentence if status == 403 else explain(sentence, sentence)
        self._problems[user] = kept
        self._problems.move_to_end(user)
        while len(self._problems) > MAX_PROBLEMS:
            self._problems.popitem(last=False)
        return _Reply(status, sentence)


def _is_this_machine(address: IPAddress) -> bool:
    """Loopback or unspecified, in any form: where this proxy itself listens."""
    plain = embedded_v4(address) or address
    return plain.is_loopback or plain.is_unspecified


def _origin_head(request: Request, path: str) -> bytes:
    """The request as the origin server gets it: origin-form, no proxy headers, and
    ``Connection: close`` (one request per connection keeps the proxy simple)."""
    lines = [f"{request.method} {path} {request.version}".encode("latin-1")]
    lines += [name + b": " + value for name, value in request.headers if name not in _HOP_HEADERS]
    lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _read_head(stream: trio.SocketStream) -> tuple[bytes, bytes] | None:
    """The head up to its blank line, and whatever came after; ``None`` if the peer
    closed or sent too much."""
    data = bytearray()
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            return bytes(data[:end]), bytes(data[end + 4 :])
        if len(data) > MAX_HEAD_BYTES:
            return None
        chunk = await stream.receive_some(_BUFFER)
        if not chunk:
            return None
        data += chunk


async def _send_reply(client: trio.SocketStream, reply: _Reply) -> None:
    # A reason phrase is one line of printable ASCII.
    reason = "".join(c if " " <= c <= "~" else "?" for c in reply.reason)
    body = (reason + "\n").encode()
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Length": str(len(body)),
        "Connection": "close",
        "Tuner-Egress": "refused" if reply.status == 403 else "failed",
        **reply.headers,
    }
    head = f"HTTP/1.1 {reply.status} {reason}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await client.send_all(head.encode() + b"\r\n" + body)


async def _splice(
    client: trio.SocketStream, upstream: trio.SocketStream, *, rewrite_response: bool
) -> None:
    """Copy both ways until the upstream is done (or either side breaks)."""
    async with trio.open_nursery() as nursery:

        async def up() -> None:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                while chunk := await client.receive_some(_BUFFER):
                    await upstream.send_all(chunk)
                await upstream.send_eof()
                return
            nursery.cancel_scope.cancel()

        async def down() -> None:
            try:
                if rewrite_response:
                    got = await _read_head(upstream)
                    if got is None:
                        return
                    await client.send_all(_close_response(*got))
                while chunk := await upstream.receive_some(_BUFFER):
                    await client.send_all(chunk)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
            finally:
                nursery.cancel_scope.cancel()

        nursery.start_soon(up)
        nursery.start_soon(down)


def _close_response(head: bytes, rest: bytes) -> bytes:
    """The response head with ``Connection: close``: the client must not send another
    request on this connection (it would go to this origin, whatever its URL)."""
    lines = head.split(b"\r\n")
    kept = [lines[0]]
    for line in lines[1:]:
        name = line.partition(b":")[0].strip().lower()
        # Tuner-Egress marks the proxy's own answers: a server cannot pose as it.
        if name not in _HOP_HEADERS and name != b"tuner-egress":
            kept.append(line)
    kept.append(b"Connection: close")
    return b"\r\n".join(kept) + b"\r\n\r\n" + rest
