"""The queue's routes: the up-next queue, its jobs, autoplay and the history.

=========================================  =====  ==========================================
route                                      ok     does
=========================================  =====  ==========================================
``GET /api/queue``                         200    the queue, autoplay, what plays next, the
                                                  latest history, the cache's use
``POST /api/queue`` ``{"query", "position"?}``  201    queue a query; answers with the item
``DELETE /api/queue``                      204    clear the queue
``DELETE /api/queue/<id>``                 204    remove an item
``POST /api/queue/<id>/move`` ``{"position"}``  200    move an item (0 plays next)
``POST /api/queue/<id>/cancel``            200    cancel its preparation (it stays queued)
``POST /api/queue/<id>/retry``             200    prepare a failed or cancelled item again
``POST /api/queue/<id>/play``              202    jump to it (as ``POST /api/play
                                                  {"item_id"}``)
``PUT /api/queue/autoplay`` ``{"autoplay"}``    200    autoplay on or off
``GET /api/history``                       200    what played, newest first
``POST /api/history/<id>/replay``          202    play it again
=========================================  =====  ==========================================

Errors: 400 a body that does not say what the route needs, or a query that cannot be
played; 404 an unknown id; 409 a full queue, or a job with nothing to cancel or
retry; 503 the queue is not running or its database failed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from quart import Response, jsonify
from quart_trio import QuartTrio

from tuner.core.state import Status
from tuner.jobs import (
    Queue,
    QueueConflictError,
    QueueError,
    QueueUnavailableError,
    UnknownItemError,
)
from tuner.play.supervisor import PlayError, UnavailableError
from tuner.web.auth import login_required
from tuner.web.bodies import (
    BadRequestError,
    json_object,
    optional_json_object,
    optional_str,
    play_choices,
    required_query,
)
from tuner.web.context import WebContext
from tuner.web.errors import error_response, no_content

#: The queue's and the supervisor's errors, as the API answers them.
_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (QueueError, 400, "cannot queue this"),
    (PlayError, 400, "cannot play this"),
    (UnknownItemError, 404, "not found"),
    (QueueConflictError, 409, "conflict"),
    (QueueUnavailableError, 503, "not available"),
    (UnavailableError, 503, "not available"),
)


def _error_handler(status: int, title: str) -> Callable[[Exception], Awaitable[Response]]:
    async def handle(exc: Exception) -> Response:
        # A LookupError's str() is its repr(); its message is its first argument.
        return error_response(status, title, str(exc.args[0]) if exc.args else title)

    return handle


def _position(body: dict[str, Any], required: bool) -> int | None:
    value = body.get("position")
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequestError("'position' must be a whole number from 0 (0 plays next)")
    return value


def _queue(ctx: WebContext) -> Queue:
    if ctx.queue is None or not ctx.queue.running:
        raise QueueUnavailableError("the queue is not running")
    return ctx.queue


def _played(status: Status) -> tuple[Response, int]:
    return jsonify({"session_id": status.session_id, "state": status.state.value}), 202


async def play_queued(ctx: WebContext, body: dict[str, Any]) -> tuple[Response, int]:
    """``POST /api/play {"item_id"}``: jump to a queued item.

    Raises:
        BadRequestError: ``item_id`` is not a string, or a bad preset or mode.
    """
    item_id = optional_str(body, "item_id")
    if not item_id:
        raise BadRequestError("'item_id' must be the id of a queued item")
    preset, mode = play_choices(ctx.settings, body)
    return _played(await _queue(ctx).play(item_id, preset, mode))


def register(app: QuartTrio, ctx: WebContext) -> None:
    """Add the queue's routes to ``app``."""
    logged_in = login_required(ctx)

    for error, status, title in _ERRORS:
        app.register_error_handler(error, _error_handler(status, title))

    @app.get("/api/queue")
    @logged_in
    async def show() -> Response:
        return jsonify(_queue(ctx).snapshot_json())

    @app.post("/api/queue")
    @logged_in
    async def add() -> tuple[Response, int]:
        body = await json_object()
        item = await _queue(ctx).add(required_query(body), _position(body, required=False))
        return jsonify(item.to_json()), 201

    @app.delete("/api/queue")
    @logged_in
    async def clear() -> Response:
        await _queue(ctx).clear()
        return no_content()

    @app.delete("/api/queue/<item_id>")
    @logged_in
    async def remove(item_id: str) -> Response:
        await _queue(ctx).remove(item_id)
        return no_content()

    @app.post("/api/queue/<item_id>/move")
    @logged_in
    async def move(item_id: str) -> Response:
        position = _position(await json_object(), required=True)
        assert position is not None
        queue = _queue(ctx)
        await queue.move(item_id, position)
        return jsonify(queue.snapshot_json())

    @app.post("/api/queue/<item_id>/<any(cancel, retry):action>")
    @logged_in
    async def cancel_or_retry(item_id: str, action: str) -> Response:
        queue = _queue(ctx)
        step = queue.cancel if action == "cancel" else queue.retry
        return jsonify((await step(item_id)).to_json())

    @app.post("/api/queue/<item_id>/play")
    @logged_in
    async def jump(item_id: str) -> tuple[Response, int]:
        return await play_queued(ctx, {**(await optional_json_object()), "item_id": item_id})

    @app.put("/api/queue/autoplay")
    @logged_in
    async def autoplay() -> Response:
        value = (await json_object()).get("autoplay")
        if not isinstance(value, bool):
            raise BadRequestError("'autoplay' must be true or false")
        await _queue(ctx).set_autoplay(value)
        return jsonify({"autoplay": value})

    @app.get("/api/history")
    @logged_in
    async def history() -> Response:
        return jsonify({"history": [h.to_json() for h in _queue(ctx).history()]})

    @app.post("/api/history/<int:entry_id>/replay")
    @logged_in
    async def replay(entry_id: int) -> tuple[Response, int]:
        preset, mode = play_choices(ctx.settings, await optional_json_object())
        return _played(await _queue(ctx).replay(entry_id, preset, mode))
