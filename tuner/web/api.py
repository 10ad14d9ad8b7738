"""The JSON API: login, logout, play, tune, seek, stop, status, presets."""

from __future__ import annotations

import contextlib
import logging
import time

from quart import Response, jsonify, request
from quart_trio import QuartTrio

from tuner.core.logins import describe_device
from tuner.core.presets import PRESETS, Mode, get_mode, get_preset
from tuner.core.seek import NotSeekableError, SeekError, parse_seek
from tuner.core.throttle import retry_after_header, wall_time
from tuner.core.tokens import new_id
from tuner.logins import LoginStoreError
from tuner.play.supervisor import NothingPlayingError, PlayError, UnavailableError
from tuner.web.auth import (
    check_pin,
    clear_session_cookie,
    current_login,
    is_this_machine,
    known_device,
    login_refused,
    login_required,
    set_device_mark,
    set_session_cookie,
)
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
        # A browser that logged in before, and the machine itself, skip the pause that
        # wrong PINs from unknown clients cause (each still has its own lockout).
        device = known_device(ctx, request.cookies)
        local = is_this_machine(request.remote_addr, request.headers.keys())
        who = _who(address, device, local)
        throttle = ctx.login_throttle
        # Checked before the PIN is looked at (a locked-out guess tests nothing), and
        # with no await between the check and the count: concurrent guesses cannot
        # all slip through one open window.
        now = time.monotonic()
        wait = throttle.wait(address, now, device=device, local=local)
        if wait > 0:
            paused = device is None and not local and throttle.global_wait(now) > 0
            return _locked_out(wait, paused)
        if not check_pin(ctx, body.get("pin")):
            was_paused = throttle.global_wait(now) > 0
            wait = throttle.failed(address, now, device=device, local=local)
            failures = throttle.failures(address, device=device)
            paused_for = throttle.global_wait(now)
            if paused_for > 0 and not was_paused:
                log.error(
                    "wrong PIN from %s: too many wrong PINs from unknown clients, so their "
                    "logins are paused until %s (%.0f s); a browser that logged in before, "
                    "or tuner on this machine, can still log in, and a browser already "
                    "logged in is not affected",
                    who,
                    wall_time(ctx.clock() + paused_for),
                    paused_for,
                )
            elif wait > 0:
                log.warning(
                    "wrong PIN from %s (%d in a row): locked out for %.0f s",
                    who,
                    failures,
                    wait,
                )
            else:
                log.warning("wrong PIN from %s (%d in a row)", who, failures)
            return error_response(401, "wrong PIN")
        throttle.succeeded(address, device=device)
        device_name = describe_device(request.headers.get("User-Agent"))
        try:
            record = ctx.logins.create(device_name, address, ctx.settings.session_days * 86400)
        except LoginStoreError as exc:
            return error_response(503, "cannot log in now", f"cannot save the login: {exc.reason}")
        log.info("login from %s with %s: session %s", who, device_name, record.id)
        response = no_content()
        set_session_cookie(ctx, response, record.id)
        set_device_mark(ctx, response, device or new_id())
        return response

    @app.post("/api/logout")
    async def logout() -> Response:
        login_id = current_login(ctx, request.cookies, request.remote_addr)
        if login_id is None:
            return login_refused()
        with contextlib.suppress(LoginStoreError):
            # Ended here at once even if the file cannot be written yet (that is
            # logged, and retried every second until it can).
            ctx.logins.revoke(login_id)
        log.info("logout of session %s from %s", login_id, request.remote_addr)
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
            ctx.supervisor.retune(preset, mode)
        except NothingPlayingError:
            return error_response(409, "nothing is playing", "start a session with /api/play")
        return jsonify(ctx.supervisor.status_json()), 200

    @app.post("/api/seek")
    @logged_in
    async def seek() -> Response | tuple[Response, int]:
        try:
            wanted = parse_seek(await json_object())
            ctx.supervisor.seek(wanted)
        except SeekError as exc:
            raise BadRequestError(str(exc)) from None
        except NothingPlayingError:
            return error_response(409, "nothing is playing", "start a session with /api/play")
        except NotSeekableError as exc:
            return error_response(409, "cannot seek", str(exc))
        return jsonify(ctx.supervisor.status_json()), 200

    @app.post("/api/stop")
    @logged_in
    async def stop() -> Response:
        ctx.supervisor.stop()
        return no_content()

    @app.get("/api/status")
    @logged_in
    async def status() -> Response:
        # The daemon's faults too (a full state directory, a failing extractor).
        return jsonify({**ctx.supervisor.status_json(), "problems": check(ctx).problems})

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


def _locked_out(wait: float, paused: bool) -> Response:
    seconds = retry_after_header(wait)
    if paused:
        detail = (
            f"logins from new devices are paused for {seconds} s after too many wrong PINs; "
            "a device that logged in here before can log in now"
        )
    else:
        detail = f"try again in {seconds} s"
    response = error_response(429, "too many wrong PINs", detail)
    response.headers["Retry-After"] = seconds
    return response


def _who(address: str, device: str | None, local: bool) -> str:
    """The client, for the log."""
    if device is not None:
        return f"{address} (known device {device})"
    return f"{address} (this machine)" if local else address
