"""The Quart-Trio application: routes, static files, JSON errors."""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from quart import (
    Response,
    has_request_context,
    has_websocket_context,
    request,
    send_from_directory,
    websocket,
)
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from tuner.core.loglimit import LogLimit
from tuner.web import api, extract_api, health, queue_api, search_api, security, viewer_routes
from tuner.web.bodies import BadRequestError
from tuner.web.context import WebContext
from tuner.web.errors import error_response, http_exception_response

STATIC_DIR = Path(__file__).parent / "static"
#: Requests are small JSON; anything larger is refused with 413 before it is read.
MAX_BODY_BYTES = 64 * 1024


#: Seconds between two log lines about the same unexpected error.
UNEXPECTED_ERROR_SECONDS = 60.0

log = logging.getLogger(__name__)


class TunerApp(QuartTrio):
    """Quart-Trio, but an unexpected error is one log line, not a traceback per request.

    Such an error is answered 500 (as JSON, by the HTTP error handler). Anyone can
    send a request, so anyone who finds one that fails could otherwise write
    hundreds of kilobytes of tracebacks a second: each kind (exception type and
    where it was raised) is logged once a minute, with how many were held back,
    and its traceback only at debug level.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unexpected = LogLimit(UNEXPECTED_ERROR_SECONDS)

    def log_exception(
        self,
        exception_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None],
    ) -> None:
        """Log an unhandled exception of a request or websocket, rate-limited."""
        kind, error, trace = exception_info
        if kind is None or error is None:
            return
        frames = traceback.extract_tb(trace) if trace is not None else []
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        held = self.unexpected.allow((kind.__name__, where), time.monotonic())
        if held is None:
            return
        if has_request_context():
            what = f"{request.method} {request.path}"
        elif has_websocket_context():
            what = f"websocket {websocket.path}"
        else:
            what = "?"
        more = f" ({held} more like it since the last)" if held else ""
        # The message is cut short: it may quote what the client sent.
        log.error(
            "unexpected error on %s: %s: %.200s (at %s)%s",
            what,
            kind.__name__,
            error,
            where,
            more,
        )
        log.debug("the traceback of that error", exc_info=exception_info)


def create_app(ctx: WebContext) -> QuartTrio:
    """Build the web application around a :class:`WebContext`."""
    app = TunerApp(__name__, static_folder=str(STATIC_DIR), static_url_path="/static")
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        BODY_TIMEOUT=ctx.settings.request_timeout,
        # Streams set their own (no) timeout; ordinary responses are quick.
        RESPONSE_TIMEOUT=60,
        SEND_FILE_MAX_AGE_DEFAULT=0,
    )

    @app.errorhandler(HTTPException)
    async def json_errors(exc: HTTPException) -> Response:
        return http_exception_response(exc)

    @app.errorhandler(BadRequestError)
    async def bad_request(exc: BadRequestError) -> Response:
        return error_response(400, "bad request", str(exc))

    @app.get("/")
    async def index() -> Response:
        response = await send_from_directory(STATIC_DIR, "index.html")
        response.headers["Cache-Control"] = "no-cache"
        return response

    security.register(app, ctx.settings.server_names)
    api.register(app, ctx)
    viewer_routes.register(app, ctx)
    health.register(app, ctx)
    extract_api.register(app, ctx)
    queue_api.register(app, ctx)
    search_api.register(app, ctx)
    return app
