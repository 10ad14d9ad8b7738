"""Login with the PIN, and the session cookie that every private route checks."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec

from quart import Response, request

from tuner.core.tokens import TokenError, pin_matches
from tuner.web.context import WebContext
from tuner.web.errors import error_response

log = logging.getLogger(__name__)

COOKIE_NAME = "tuner_session"
P = ParamSpec("P")


def is_logged_in(ctx: WebContext, cookies: Mapping[str, str]) -> bool:
    """Whether the request carries a valid, unexpired session cookie."""
    token = cookies.get(COOKIE_NAME)
    if not token:
        return False
    try:
        ctx.signer.verify(token, ctx.clock())
    except TokenError as exc:
        log.info("refused a session cookie: %s", exc)
        return False
    return True


def login_required(
    ctx: WebContext,
) -> Callable[[Callable[P, Awaitable[Any]]], Callable[P, Awaitable[Any]]]:
    """Decorate an HTTP route so that it answers 401 without a valid cookie."""

    def decorate(handler: Callable[P, Awaitable[Any]]) -> Callable[P, Awaitable[Any]]:
        @functools.wraps(handler)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            if not is_logged_in(ctx, request.cookies):
                return error_response(401, "login required", "POST /api/login with the PIN")
            return await handler(*args, **kwargs)

        return wrapper

    return decorate


def check_pin(ctx: WebContext, given: object) -> bool:
    """Whether ``given`` is the PIN (compared in constant time)."""
    return isinstance(given, str) and pin_matches(ctx.pin.value, given)


def set_session_cookie(ctx: WebContext, response: Response) -> None:
    """Give the browser a fresh signed session cookie.

    ``Secure`` follows the scheme the request came over, so a plain-http LAN test
    still logs in while a browser on https never sends the cookie in the clear.
    """
    ttl = ctx.settings.session_days * 86400
    response.set_cookie(
        COOKIE_NAME,
        ctx.signer.issue(ctx.clock(), ttl),
        max_age=int(ttl),
        httponly=True,
        samesite="Strict",
        secure=request.scheme == "https",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    """Tell the browser to forget its session cookie."""
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="Strict")
