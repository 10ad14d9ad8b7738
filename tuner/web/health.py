"""``/healthz``, ``/readyz`` and ``/metrics``: for monitors, not for people."""

from __future__ import annotations

import hmac
import ipaddress
import time

from quart import Response, jsonify, request
from quart_trio import QuartTrio

from tuner import __version__
from tuner.metrics import make_registry, render
from tuner.web.context import WebContext
from tuner.web.errors import error_response

#: Headers that a reverse proxy or tunnel adds; a loopback peer that sends one is a
#: proxy relaying someone from outside, not a local monitor.
_PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP", "CF-Connecting-IP")


def _is_local_monitor() -> bool:
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    return loopback and not any(h in request.headers for h in _PROXY_HEADERS)


def register(app: QuartTrio, ctx: WebContext) -> None:
    """Add the monitoring routes to ``app``."""
    registry = make_registry(ctx.supervisor)

    @app.get("/healthz")
    async def healthz() -> tuple[Response, int]:
        sup = ctx.supervisor
        components = {
            "web": "ok" if ctx.serving and not ctx.shutting_down else "stopping",
            "supervisor": "ok" if sup.alive else "dead",
            "ffmpeg": "ok" if ctx.ffmpeg_problem is None else "missing",
        }
        healthy = sup.alive and not ctx.shutting_down
        # The poller is unhealthy when no run succeeded for twice its interval: the
        # list of live streams is then out of date. Its detail is in /api/extractors.
        if ctx.poller is not None:
            poller_ok = ctx.poller.health()[0]
            components["poller"] = "ok" if poller_ok else ("stale" if ctx.poller.alive else "dead")
            healthy = healthy and poller_ok
        # A queue database that was unusable at start was replaced by an empty one:
        # said here (a copy was kept; the log and GET /api/queue say where).
        if ctx.queue is not None:
            queue = ctx.queue
            components["queue"] = (
                ("recovered" if queue.recovered else "ok") if queue.running else "stopped"
            )
        body = {
            "status": "ok" if healthy else "unhealthy",
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - ctx.started_at, 1),
            "session": sup.status.state.value,
            "components": components,
        }
        return jsonify(body), 200 if healthy else 503

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
            allowed = hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
        else:
            allowed = _is_local_monitor()
        if not allowed:
            return error_response(
                403,
                "forbidden",
                "metrics are served to loopback only; set metrics_token to scrape remotely",
            )
        return Response(render(registry), content_type="text/plain; version=0.0.4")
