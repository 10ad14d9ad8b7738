"""An unexpected error in a handler: a JSON 500, and one log line a minute per kind
of error (not a traceback per request, which anyone could use to fill the disk)."""

from __future__ import annotations

import logging

import pytest
from quart import Response
from werkzeug.exceptions import HTTPException

from tuner.web.app import TunerApp
from tuner.web.errors import http_exception_response


def _app() -> TunerApp:
    """An app with the daemon's error handling and two routes that fail."""
    app = TunerApp(__name__)

    @app.errorhandler(HTTPException)
    async def json_errors(exc: HTTPException) -> Response:
        return http_exception_response(exc)

    @app.get("/boom")
    async def boom() -> Response:
        raise RuntimeError("the client sent \xe9" + "x" * 1000)

    @app.get("/other")
    async def other() -> Response:
        raise KeyError("other")

    return app


async def test_two_hundred_failing_requests_log_one_line_per_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _app()
    caplog.set_level(logging.DEBUG, logger="tuner.web.app")
    caplog.set_level(logging.DEBUG, logger="quart.app")
    client = app.test_client()
    for _ in range(200):
        assert (await client.get("/boom")).status_code == 500
    for _ in range(3):
        assert (await client.get("/other")).status_code == 500
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2, [r.getMessage()[:100] for r in errors]
    first = errors[0].getMessage()
    assert first.startswith("unexpected error on GET /boom: RuntimeError: the client sent")
    assert "test_unexpected_errors.py:" in first
    # Cut short: the message may quote the client; no traceback at error level.
    assert len(first) < 400
    assert all(r.exc_info is None for r in errors)
    # The traceback is there for whoever runs at debug level, once per line logged.
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG and r.exc_info]
    assert len(debug) == 2


async def test_the_next_line_says_how_many_were_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _app()
    client = app.test_client()
    for _ in range(5):
        await client.get("/boom")
    # A minute on: the last line's time moved back rather than waiting for it.
    for key in app.unexpected._last:
        app.unexpected._last[key] -= 61
    caplog.clear()
    await client.get("/boom")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].endswith("(4 more like it since the last)")
