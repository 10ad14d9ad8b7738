"""``/healthz``, ``/readyz`` and ``/metrics``: for monitors, not for people."""

from __future__ import annotations

import hmac
import time

import attrs
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
from tuner.core.state import State
from tuner.metrics import make_registry, render
from tuner.web.auth import logins_paused_until, wall_time
from tuner.web.context import WebContext
from tuner.web.errors import error_response

_BROKEN_SESSION = (State.RECONNECTING, State.ERROR)
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


@attrs.frozen
class Health:
    """The daemon's health as ``/healthz`` and ``/api/status`` say it.

    Attributes:
        status: ``ok``; ``degraded`` (200: something broke that heals by itself or
            by the next play: a stream stalled, reconnecting or failed, an extractor
            failing);
            ``unhealthy`` (503: it cannot do its job until someone acts or it heals:
            a dead task, the queue's database unwritable, no extractor run for long).
        components: a word per component, nothing private (no query, title or path).
        problems: a sentence per fault, for a logged-in person.
    """

    status: str
    components: dict[str, str]
    problems: list[str]


def check(ctx: WebContext) -> Health:
    """Look at every component now."""
    sup = ctx.supervisor
    problems: list[str] = []
    unhealthy = not sup.alive or ctx.shutting_down
    if not sup.alive:
        problems.append(f"the session supervisor is not running ({sup.death or 'stopped'})")
    if ctx.ffmpeg_problem is not None:
        problems.append(ctx.ffmpeg_problem)
    components = {
        "web": "ok" if ctx.serving and not ctx.shutting_down else "stopping",
        "supervisor": "ok" if sup.alive else "dead",
        "ffmpeg": "ok" if ctx.ffmpeg_problem is None else "missing",
    }
    # A stream that broke (reconnecting) or failed: the session's own error says why
    # in /api/status; the daemon itself is fine, hence degraded only.
    session = sup.status.state
    components["playback"] = session.value if session in _BROKEN_SESSION else "ok"
    degraded = session in _BROKEN_SESSION
    # No frame for a while: said at once, long before the watchdog restarts ffmpeg
    # (``stalled`` in /api/status says for how long).
    if session is State.PLAYING and sup.status.stalled is not None:
        components["playback"] = "stalled"
        degraded = True
    # The poller is unhealthy when no run succeeded for twice its interval: the
    # list of live streams is then out of date. Its detail is in /api/extractors.
    if ctx.poller is not None:
        poller_ok, why = ctx.poller.health()
        components["poller"] = "ok" if poller_ok else ("stale" if ctx.poller.alive else "dead")
        if not poller_ok:
            unhealthy = True
            problems.append(f"finding live streams: {why}")
        last_run = ctx.poller.last_run
        failed = last_run.failed if last_run is not None else ()
        components["extractors"] = "failing" if failed else "ok"
        if failed:
            degraded = True
            problems.append(
                f"extractor(s) failed in the last run: {', '.join(failed)} "
                "(GET /api/extractors says why)"
            )
    # A queue database that was unusable at start was replaced by an empty one (a
    # copy was kept; the log and GET /api/queue say where). One that cannot be
    # written now (a full or read-only state directory) refuses edits until it heals.
    if ctx.queue is not None:
        queue = ctx.queue
        if not queue.running:
            components["queue"] = "stopped"
            unhealthy = True
            problems.append("the queue is not running")
        elif queue.storage_fault is not None:
            components["queue"] = queue.storage_fault
            unhealthy = True
            problems.append(queue.storage_problem or "the queue cannot be saved")
        else:
            components["queue"] = "recovered" if queue.recovered else "ok"
            if queue.recovered:
                problems.append(queue.recovered)
    # Wrong PINs from many addresses pause logins from unknown clients for a while;
    # known devices and the machine itself can still log in.
    paused_until = logins_paused_until(ctx)
    components["logins"] = "ok" if paused_until is None else "paused"
    if paused_until is not None:
        degraded = True
        problems.append(
            f"logins from new devices are paused until {wall_time(paused_until)} after too "
            "many wrong PINs: log in from a device that logged in before, or from the "
            "machine itself (tuner's command line), or wait"
        )
    status = "unhealthy" if unhealthy else "degraded" if degraded else "ok"
    return Health(status, components, problems)


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
