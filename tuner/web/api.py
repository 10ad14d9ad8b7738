"""The JSON API: login, logout, play, tune, stop, status, presets."""

from __future__ import annotations

import logging
import time

from quart import Response, jsonify, request
from quart_trio import QuartTrio

from tuner.core.presets import PRESETS, Mode, get_mode, get_preset
from tuner.core.throttle import retry_after_header
from tuner.play.supervisor import NothingPlayingError, PlayError, UnavailableError
from tuner.web.auth import check_pin, clear_session_cookie, login_required, set_session_cookie
from tuner.web.bodies import (
    BadRequestError,
    choice,
    json_object,
    play_choices,
    refuse_unknown_keys,
    required_query,
)
from tuner.web.context import WebContext
from tuner.web.errors import error_response, no_content
from tuner.web.health import check
from tuner.web.queue_api import play_queued

log = logging.getLogger(__name__)


def register(app: QuartTrio, ctx: WebContext) -> None:
    """Add the API routes to ``app``."""
    logged_in = login_required(ctx)

    @app.post("/api/login")
    async def login() -> Response:
        body = await json_object()
        address = request.remote_addr or "unknown"
        throttle = ctx.login_throttle
        # Checked before the PIN is looked at (a locked-out guess tests nothing), and
        # with no await between the check and the count: concurrent guesses cannot
        # all slip through one open window.
        now = time.monotonic()
        wait = throttle.wait(address, now)
        if wait > 0:
            return _locked_out(wait)
        if not check_pin(ctx, body.get("pin")):
            wait = throttle.failed(address, now)
            failures = throttle.failures(address)
            if throttle.global_wait(now) > 0:
                log.error(
                    "wrong PIN from %s: too many wrong PINs from everyone, so logins are "
                    "paused for %.0f s (a browser already logged in is not affected)",
                    address,
                    wait,
                )
            elif wait > 0:
                log.warning(
                    "wrong PIN from %s (%d in a row): locked out for %.0f s",
                    address,
                    failures,
                    wait,
                )
            else:
                log.warning("wrong PIN from %s (%d in a row)", address, failures)
            return error_response(401, "wrong PIN")
        throttle.succeeded(address)
        log.info("login from %s", address)
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
        body = await json_object()
        if "item_id" in body:
            return await play_queued(ctx, body)
        query = required_query(body)
        preset, mode = play_choices(ctx.settings, body)
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
        body = await json_object()
        refuse_unknown_keys(body, {"preset", "mode"}, "send 'preset' and/or 'mode'")
        preset = choice(get_preset, body, "preset")
        mode = choice(get_mode, body, "mode")
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


def _locked_out(wait: float) -> Response:
    response = error_response(
        429,
        "too many wrong PINs",
        f"try again in {retry_after_header(wait)} s",
    )
    response.headers["Retry-After"] = retry_after_header(wait)
    return response
