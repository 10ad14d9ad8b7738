"""Browser security: same-origin checks on what changes state, and the headers every
response carries.

- A ``POST``/``PUT``/``PATCH``/``DELETE`` and a websocket handshake are refused (403)
  when they carry an ``Origin`` that is not this site. With no ``Origin`` at all they
  pass: browsers send one on every cross-origin request and websocket, so its absence
  means a same-origin form or a program (``tuner queue``, curl), which cannot ride a
  browser's cookie. The cookie is ``SameSite=Strict`` as well; this is the second lock.
- Every response carries a Content-Security-Policy that allows only what the client
  uses (its own scripts, styles, audio and sockets), and may not be framed.
- With ``server_names`` set, a request for another host (its ``Host``, or what a
  trusted proxy says in ``X-Forwarded-Host``) is answered 421: a page of another
  site whose name was made to point at this machine (DNS rebinding) reaches
  nothing. Loopback addresses and ``localhost`` are always answered.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterable

from quart import Response, request, websocket
from quart_trio import QuartTrio

from tuner.core.forwarded import is_loopback_name, name_of_host, server_name
from tuner.web.errors import error_response

log = logging.getLogger(__name__)

_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: The page's own files only; ``data:`` for the empty favicon.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self' {sockets}; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def same_origin(origin: str, host: str) -> bool:
    """Whether an ``Origin`` header names the site a request reached as ``host``
    (its ``Host`` header).

    The host and port decide; the scheme does not, as a proxy that ends TLS turns
    ``https://name`` into plain http on the way in. A ``Host`` without a port was
    reached on its scheme's default port, as was an ``Origin`` without one.
    """
    try:
        parts = urllib.parse.urlsplit(origin)
        site = urllib.parse.urlsplit(f"//{host}")
        origin_port, site_port = parts.port, site.port
    except ValueError:  # a malformed port
        return False
    if parts.scheme not in ("http", "https") or parts.path not in ("", "/"):
        return False
    if parts.hostname is None or parts.hostname != site.hostname:
        return False
    if site_port is None:
        return origin_port is None or origin_port == _DEFAULT_PORTS[parts.scheme]
    return (origin_port or _DEFAULT_PORTS[parts.scheme]) == site_port


def register(app: QuartTrio, server_names: Iterable[str] = ()) -> None:
    """Add the host and origin checks and the security headers to ``app``.

    Args:
        server_names: the names (checked by :func:`~tuner.core.forwarded.server_name`)
            to answer to besides loopback; empty for any.
    """
    names = frozenset(server_name(entry) for entry in server_names)

    @app.before_request
    async def check_host_and_origin() -> Response | None:
        refused = _refuse_misdirected(names, request.host)
        if refused is not None or request.method not in _UNSAFE_METHODS:
            return refused
        return _refuse_foreign(request.headers.get("Origin"), request.host)

    @app.before_websocket
    async def check_websocket_host_and_origin() -> Response | None:
        refused = _refuse_misdirected(names, websocket.host)
        if refused is not None:
            return refused
        return _refuse_foreign(websocket.headers.get("Origin"), websocket.host)

    @app.after_request
    async def add_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        host = request.host
        response.headers["Content-Security-Policy"] = _CSP.format(
            sockets=f"ws://{host} wss://{host}" if host else ""
        )
        return response


def _refuse_misdirected(names: frozenset[str], host: str) -> Response | None:
    if not names:
        return None
    name = name_of_host(host)
    if name is not None and (name in names or is_loopback_name(name)):
        return None
    return error_response(
        421,
        "misdirected request",
        "this server does not answer to that host name; open it by the name it is "
        "configured with (server_names)",
    )


def _refuse_foreign(origin: str | None, host: str) -> Response | None:
    if origin is None or same_origin(origin, host):
        return None
    log.warning("refused a request from another site: Origin %r, this site %s", origin, host)
    return error_response(
        403,
        "cross-origin request refused",
        f"this request came from {origin}, not from this site; open tuner's own page",
    )
