"""The extractors' routes: ``GET /api/streams``, ``GET /api/extractors``, ``POST /api/extract``."""

from __future__ import annotations

from typing import Any

from quart import Response, jsonify
from quart_trio import QuartTrio

from tuner.extract import PollerUnavailableError
from tuner.web.auth import login_required
from tuner.web.context import WebContext
from tuner.web.errors import error_response

#: What the routes answer when ``[extract] enabled = false``.
_OFF_DETAIL = "the extractor poller is off: set enabled = true in [extract] of the config file"


def register(app: QuartTrio, ctx: WebContext) -> None:
    """Add the extractor routes to ``app``."""
    logged_in = login_required(ctx)

    @app.get("/api/streams")
    @logged_in
    async def streams() -> Response:
        if ctx.poller is None:
            return jsonify({"streams": [], "count": 0})
        return jsonify(ctx.poller.streams_json())

    @app.get("/api/extractors")
    @logged_in
    async def extractors() -> Response:
        if ctx.poller is None:
            body: dict[str, Any] = {"enabled": False, "health": _OFF_DETAIL, "extractors": []}
            return jsonify(body)
        return jsonify(ctx.poller.status_json())

    @app.post("/api/extract")
    @logged_in
    async def extract() -> Response | tuple[Response, int]:
        if ctx.poller is None:
            return error_response(503, "not available", _OFF_DETAIL)
        try:
            ticket = ctx.poller.request_refresh()
        except PollerUnavailableError as exc:
            return error_response(503, "not available", str(exc))
        return jsonify({"run_id": ticket.run_id, "joined": ticket.joined}), 202
