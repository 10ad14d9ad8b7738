"""Errors as JSON: ``{"error": "...", "detail": ...}`` with a fitting status."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from hypercorn.typing import ASGISendCallable, Scope
from quart import Response, jsonify
from werkzeug.exceptions import HTTPException


def error_response(status: int, message: str, detail: Any = None) -> Response:
    """A JSON error response."""
    response = jsonify({"error": message, "detail": detail})
    response.status_code = status
    return response


def http_exception_response(exc: HTTPException) -> Response:
    """Turn Quart's and werkzeug's HTTP errors (404, 405, 413, ...) into JSON ones."""
    response = error_response(exc.code or 500, (exc.name or "error").lower(), exc.description)
    if exc.code == 405:
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
    return response


def no_content() -> Response:
    """A 204 response.

    The body is an empty string on purpose: with no body at all Quart iterates an
    empty list through asyncio's executor, which fails under Trio.
    """
    return Response("", status=204)


async def send_error(
    scope: Scope,
    send: ASGISendCallable,
    status: int,
    message: str,
    detail: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Answer an HTTP request or a websocket handshake with a JSON error, at the
    ASGI level (for middleware that answers before the app: no Quart involved).

    The request's body, if any, is not read, so an HTTP/1 connection is closed
    after the answer.
    """
    body = json.dumps({"error": message, "detail": detail}).encode()
    head = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    if scope.get("http_version", "1.1") in ("1.0", "1.1"):
        # (HTTP/2 forbids this header; a stream ends by itself there.)
        head.append((b"connection", b"close"))
    if scope["type"] == "websocket":
        # The ASGI websocket.http.response extension, which Hypercorn has.
        await send({"type": "websocket.http.response.start", "status": status, "headers": head})
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    else:
        await send(
            {"type": "http.response.start", "status": status, "headers": head, "trailers": False}
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})
