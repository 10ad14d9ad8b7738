"""Login with the PIN, the session cookie that every private route checks, and the
device mark that lets a browser that logged in before past a pause of logins.

- ``tuner_session`` carries a login id (:mod:`tuner.core.tokens`); it is honoured
  while that login holds in the state directory (:class:`tuner.logins.LoginStore`).
- ``tuner_device`` is given at every login and lasts :data:`DEVICE_MARK_DAYS`; a
  logout keeps it. It makes the browser a *known device* for the login throttle
  (:mod:`tuner.core.throttle`), and opens nothing by itself.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, ParamSpec

from quart import Response, request

from tuner.core.tokens import OldTokenError, TokenError, pin_matches
from tuner.web.context import WebContext
from tuner.web.errors import error_response

log = logging.getLogger(__name__)

COOKIE_NAME = "tuner_session"
DEVICE_COOKIE = "tuner_device"
#: How long a device mark lasts; browsers keep a cookie 400 days at most.
DEVICE_MARK_DAYS = 400
P = ParamSpec("P")

#: Headers that a reverse proxy or tunnel adds (beyond every ``X-Forwarded-*``).
_RELAY_HEADERS = frozenset(
    {"forwarded", "x-real-ip", "cf-connecting-ip", "true-client-ip", "x-client-ip", "via"}
)


def current_login(ctx: WebContext, cookies: Mapping[str, str], address: str | None) -> str | None:
    """The id of the login whose valid session cookie the request carries, or None.

    A request that is let in counts as the login's last use, from ``address``.
    """
    token = cookies.get(COOKIE_NAME)
    if not token:
        return None
    try:
        login_id = ctx.signer.verify(token, ctx.clock())
    except OldTokenError as exc:
        log.info(
            "refused a session cookie from %s: %s; the page asks for the PIN once", address, exc
        )
        return None
    except TokenError as exc:
        log.info("refused a session cookie from %s: %s", address, exc)
        return None
    if ctx.logins.check(login_id) is None:
        log.info(
            "refused a session cookie from %s: login %s has ended (logged out, revoked or expired)",
            address,
            login_id,
        )
        return None
    ctx.logins.seen(login_id, address or "unknown")
    return login_id


def login_required(
    ctx: WebContext,
) -> Callable[[Callable[P, Awaitable[Any]]], Callable[P, Awaitable[Any]]]:
    """Decorate an HTTP route so that it answers 401 without a valid cookie."""

    def decorate(handler: Callable[P, Awaitable[Any]]) -> Callable[P, Awaitable[Any]]:
        @functools.wraps(handler)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            if current_login(ctx, request.cookies, request.remote_addr) is None:
                return login_refused()
            return await handler(*args, **kwargs)

        return wrapper

    return decorate


def login_refused() -> Response:
    """The 401 of a request without a valid session cookie."""
    return error_response(401, "login required", "POST /api/login with the PIN")


def check_pin(ctx: WebContext, given: object) -> bool:
    """Whether ``given`` is the PIN (compared in constant time)."""
    return isinstance(given, str) and pin_matches(ctx.pin.value, given)


def known_device(ctx: WebContext, cookies: Mapping[str, str]) -> str | None:
    """The device id of the request's valid device mark, or None."""
    mark = cookies.get(DEVICE_COOKIE)
    if not mark:
        return None
    try:
        return ctx.devices.verify(mark, ctx.clock())
    except TokenError as exc:
        log.info("ignored a device mark: %s", exc)
        return None


def is_relayed(header_names: Iterable[str]) -> bool:
    """Whether a proxy or tunnel relayed the request (it added one of its headers).

    The request's own headers decide, whether or not the proxy is trusted: a loopback
    peer that sends them is relaying someone from elsewhere.
    """
    return any(
        name.lower().startswith("x-forwarded-") or name.lower() in _RELAY_HEADERS
        for name in header_names
    )


def is_this_machine(address: str | None, header_names: Iterable[str]) -> bool:
    """Whether the client is the machine itself: a loopback peer that no proxy relayed
    (the command line, a browser on the machine), by its address and the names of
    the headers it sent."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket's view of 127.0.0.1
    return ip.is_loopback and not is_relayed(header_names)


def set_session_cookie(ctx: WebContext, response: Response, login_id: str) -> None:
    """Give the browser a fresh signed session cookie for ``login_id``.

    ``Secure`` follows the scheme the request came over, so a plain-http LAN test
    still logs in while a browser on https never sends the cookie in the clear.
    """
    ttl = ctx.settings.session_days * 86400
    response.set_cookie(
        COOKIE_NAME,
        ctx.signer.issue(login_id, ctx.clock(), ttl),
        max_age=int(ttl),
        httponly=True,
        samesite="Strict",
        secure=request.scheme == "https",
        path="/",
    )


def set_device_mark(ctx: WebContext, response: Response, device_id: str) -> None:
    """Give the browser a (renewed) device mark: it logged in with the right PIN."""
    ttl = DEVICE_MARK_DAYS * 86400
    response.set_cookie(
        DEVICE_COOKIE,
        ctx.devices.issue(device_id, ctx.clock(), ttl),
        max_age=ttl,
        httponly=True,
        samesite="Strict",
        secure=request.scheme == "https",
        path="/",
    )


def logins_paused_until(ctx: WebContext) -> float | None:
    """Until when (Unix seconds) logins from unknown clients are paused after too many
    wrong PINs, or None when they are not."""
    wait = ctx.login_throttle.global_wait(time.monotonic())
    return ctx.clock() + wait if wait > 0 else None


def clear_session_cookie(response: Response) -> None:
    """Tell the browser to forget its session cookie (its device mark stays)."""
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="Strict")
