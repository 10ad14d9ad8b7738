"""Errors as JSON: ``{"error": "...", "detail": ...}`` with a fitting status."""

from __future__ import annotations

from typing import Any

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
