"""``/healthz``, ``/readyz`` and ``/metrics``: for monitors, not for people."""

from __future__ import annotations

import hmac
import time

from quart import Response, jsonify, request
from quart_trio import QuartTrio

from tuner import __version__
from tuner.core.forwarded import (
    is_forwarding_header,
    is_in,
    is_loopback_name,
    name_of_host,
    parse_networks,
)
from tuner.core.health import Health, Level, combine
from tuner.core.throttle import wall_time
from tuner.metrics import make_registry, render
from tuner.web.auth import logins_paused_until
from tuner.web.context import WebContext
from tuner.web.errors import error_response

_LOOPBACK = parse_networks(["127.0.0.0/8", "::1"])


def _is_local_monitor() -> bool:
    """A request made on this machine to a loopback address, relayed by no one.

    A proxy or tunnel on this machine connects from loopback too. Most say so in a
    header (any of :data:`~tuner.core.forwarded.FORWARDING_HEADERS`), and those that
    relay HTTP pass on the public name they were asked for as ``Host``; a monitor
    asks for ``127.0.0.1``, ``[::1]`` or ``localhost``. A tunnel that relays bare
    TCP (ssh -R, frp, ngrok tcp) cannot be told apart: README says to set
    ``metrics_token`` behind one.
    """
    if not is_in(request.remote_addr or "", _LOOPBACK):
        return False
    if any(is_forwarding_header(name) for name, _ in request.headers.items()):
        return False
    name = name_of_host(request.host)
    return name is not None and is_loopback_name(name)


def check(ctx: WebContext) -> Health:
    """Ask every component now; the daemon's health is their sum.

    ``ok``; ``degraded`` (200: something broke that heals by itself or by the next
    play: a stream stalled, reconnecting or failed, an extractor failing, logins
    paused); ``unhealthy`` (503: it cannot do its job until someone acts or it heals:
    a dead task, the queue's database unwritable, no extractor run for long).
    """
    parts = [_web(ctx), ctx.supervisor.health()]
    if ctx.poller is not None:
        parts.append(ctx.poller.health())
    if ctx.queue is not None:
        parts.append(ctx.queue.health())
    parts.append(ctx.login_throttle.health(time.monotonic(), ctx.clock()))
    return combine(parts)


def _web(ctx: WebContext) -> Health:
    serving = ctx.serving and not ctx.shutting_down
    level = Level.UNHEALTHY if ctx.shutting_down else Level.OK
    return Health({"web": "ok" if serving else "stopping"}, level)


def _paused_until(ctx: WebContext) -> str | None:
    until = logins_paused_until(ctx)
    return None if until is None else wall_time(until)


def register(app: QuartTrio, ctx: WebContext) -> None:
    """Add the monitoring routes to ``app``."""
    registry = make_registry(ctx.supervisor)

    @app.get("/healthz")
    async def healthz() -> tuple[Response, int]:
        health = check(ctx)
        body = {
            "status": health.status,
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - ctx.started_at, 1),
            "session": ctx.supervisor.status.state.value,
            "components": health.components,
            "logins_paused_until": _paused_until(ctx),
        }
        return jsonify(body), 503 if health.status == "unhealthy" else 200

    @app.get("/readyz")
    async def readyz() -> tuple[Response, int]:
        if not ctx.serving or ctx.shutting_down:
            return jsonify({"ready": False, "reason": "not serving"}), 503
        if ctx.ffmpeg_problem is not None:
            return jsonify({"ready": False, "reason": ctx.ffmpeg_problem}), 503
        if not ctx.supervisor.alive:
            return jsonify({"ready": False, "reason": "session supervisor is not running"}), 503
        return jsonify({"ready": True}), 200

    @app.get("/metrics")
    async def metrics() -> Response:
        token = ctx.settings.metrics_token
        given = request.headers.get("Authorization", "")
        if token is not None:
            # The header's own bytes (it was decoded as Latin-1), against the token's.
            expected = f"Bearer {token}".encode()
            allowed = hmac.compare_digest(given.encode("latin-1", "replace"), expected)
        else:
            allowed = _is_local_monitor()
        if not allowed:
            return error_response(
                403,
                "forbidden",
                "without metrics_token, metrics are served only to requests made on this "
                "machine to 127.0.0.1, [::1] or localhost that no proxy relayed; set "
                "metrics_token to scrape them through a proxy or from elsewhere",
            )
        return Response(render(registry), content_type="text/plain; version=0.0.4")
