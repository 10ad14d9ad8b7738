"""The JSON API: login, logout, play, tune, stop, status, presets."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from quart import Response, jsonify, request
from quart_trio import QuartTrio

from tuner.core.presets import PRESETS, Mode, Preset, UnknownChoiceError, get_mode, get_preset
from tuner.core.query import MAX_QUERY_LENGTH
from tuner.play.supervisor import NothingPlayingError, PlayError, UnavailableError
from tuner.web.auth import check_pin, clear_session_cookie, login_required, set_session_cookie
from tuner.web.context import WebContext
from tuner.web.errors import error_response, no_content
from tuner.web.health import check

log = logging.getLogger(__name__)

T = TypeVar("T")


class BadRequestError(ValueError):
    """A request body that does not say what the route needs."""


async def _json_object() -> dict[str, Any]:
    # Parsed here rather than by request.get_json: that one fails with a 500 on a
    # body that is not UTF-8.
    raw = await request.get_data(as_text=False)
    try:
        body = json.loads(raw)
    except ValueError:  # includes UnicodeDecodeError
        body = None
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object")
    return body


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequestError(f"'{key}' must be a string")
    return value


def _choice(look_up: Callable[[str], T], body: dict[str, Any], key: str) -> T | None:
    """``body[key]`` looked up (a preset or mode name), or None when absent."""
    name = _optional_str(body, key)
    if name is None:
        return None
    try:
        return look_up(name)
    except UnknownChoiceError as exc:
        raise BadRequestError(str(exc)) from None


def required_query(body: dict[str, Any]) -> str:
    """The ``query`` of a play (or queue) request.

    Raises:
        BadRequestError: missing, not a string, empty, or too long.
    """
    query = _optional_str(body, "query")
    if query is None or not query.strip():
        raise BadRequestError(
            "'query' is required: a URL, a YouTube video ID, words to search, or 'testcard'"
        )
    if len(query) > MAX_QUERY_LENGTH:
        raise BadRequestError(f"'query' is longer than {MAX_QUERY_LENGTH} characters")
    return query


def play_choices(ctx: WebContext, body: dict[str, Any]) -> tuple[Preset, Mode]:
    """The ``preset`` and ``mode`` of a play request (the defaults when not given);
    also what a queued item or a history entry is played with.

    Raises:
        BadRequestError: an unknown preset or mode.
    """
    preset = _choice(get_preset, body, "preset") or get_preset(ctx.settings.default_preset)
    mode = _choice(get_mode, body, "mode") or get_mode(ctx.settings.default_mode)
    return preset, mode


def register(app: QuartTrio, ctx: WebContext) -> None:
    """Add the API routes to ``app``."""
    logged_in = login_required(ctx)

    @app.errorhandler(BadRequestError)
    async def bad_request(exc: BadRequestError) -> Response:
        return error_response(400, "bad request", str(exc))

    @app.post("/api/login")
    async def login() -> Response:
        body = await _json_object()
        if not check_pin(ctx, body.get("pin")):
            log.warning("failed login from %s", request.remote_addr)
            return error_response(401, "wrong PIN")
        log.info("login from %s", request.remote_addr)
        response = no_content()
        set_session_cookie(ctx, response)
        return response

    @app.post("/api/logout")
    @logged_in
    async def logout() -> Response:
        response = no_content()
        clear_session_cookie(response)
        return response

    @app.post("/api/play")
    @logged_in
    async def play() -> Response | tuple[Response, int]:
        body = await _json_object()
        if "item_id" in body:
            # A queued item: jump to it. Imported here, as queue_api imports this module.
            from tuner.web.queue_api import play_queued

            return await play_queued(ctx, body)
        query = required_query(body)
        preset, mode = play_choices(ctx, body)
        try:
            status = ctx.supervisor.play(query, preset, mode)
        except PlayError as exc:
            return error_response(400, "cannot play this", str(exc))
        except UnavailableError as exc:
            return error_response(503, "not available", str(exc))
        return jsonify({"session_id": status.session_id, "state": status.state.value}), 202

    @app.post("/api/tune")
    @logged_in
    async def tune() -> Response | tuple[Response, int]:
        body = await _json_object()
        unknown = set(body) - {"preset", "mode"}
        if unknown:
            raise BadRequestError(f"unknown keys {sorted(unknown)}: send 'preset' and/or 'mode'")
        preset = _choice(get_preset, body, "preset")
        mode = _choice(get_mode, body, "mode")
        if preset is None and mode is None:
            raise BadRequestError("send 'preset' and/or 'mode'")
        try:
            status = ctx.supervisor.retune(preset, mode)
        except NothingPlayingError:
            return error_response(409, "nothing is playing", "start a session with /api/play")
        return jsonify(status.to_json()), 200

    @app.post("/api/stop")
    @logged_in
    async def stop() -> Response:
        ctx.supervisor.stop()
        return no_content()

    @app.get("/api/status")
    @logged_in
    async def status() -> Response:
        # The daemon's faults too (a full state directory, a failing extractor).
        return jsonify({**ctx.supervisor.status.to_json(), "problems": check(ctx).problems})

    @app.get("/api/presets")
    @logged_in
    async def presets() -> Response:
        return jsonify(
            {
                "presets": [p.to_json() for p in PRESETS.values()],
                "modes": [m.value for m in Mode],
                "default_preset": ctx.settings.default_preset,
                "default_mode": ctx.settings.default_mode,
                "adaptive_quality": ctx.settings.adaptive_quality,
            }
        )
