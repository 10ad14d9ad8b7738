"""The Quart-Trio application: routes, static files, JSON errors."""

from __future__ import annotations

from pathlib import Path

from quart import Response, send_from_directory
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from tuner.web import api, extract_api, health, queue_api, search_api, security, streams
from tuner.web.bodies import BadRequestError
from tuner.web.context import WebContext
from tuner.web.errors import error_response, http_exception_response

STATIC_DIR = Path(__file__).parent / "static"
#: Requests are small JSON; anything larger is refused with 413 before it is read.
MAX_BODY_BYTES = 64 * 1024


def create_app(ctx: WebContext) -> QuartTrio:
    """Build the web application around a :class:`WebContext`."""
    app = QuartTrio(__name__, static_folder=str(STATIC_DIR), static_url_path="/static")
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

    security.register(app)
    api.register(app, ctx)
    streams.register(app, ctx)
    health.register(app, ctx)
    extract_api.register(app, ctx)
    queue_api.register(app, ctx)
    search_api.register(app, ctx)
    return app
