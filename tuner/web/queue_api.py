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

from typing import Any

from quart import Response, jsonify, request
from quart_trio import QuartTrio

from tuner.core.presets import Mode, Preset, UnknownChoiceError, get_mode, get_preset
from tuner.core.query import MAX_QUERY_LENGTH
from tuner.core.state import Status
from tuner.jobs import (
    Queue,
    QueueConflictError,
    QueueError,
    QueueUnavailableError,
    UnknownItemError,
)
from tuner.play.session import PLAYABLE_MODES
from tuner.play.supervisor import PlayError, UnavailableError
from tuner.web.api import BadRequestError, _json_object, _optional_str
from tuner.web.auth import login_required
from tuner.web.context import WebContext
from tuner.web.errors import error_response, no_content


def play_choices(ctx: WebContext, body: dict[str, Any]) -> tuple[Preset, Mode]:
    """The ``preset`` and ``mode`` of a play request (the defaults when not given).

    Raises:
        BadRequestError: an unknown preset, or a mode that does not play yet.
    """
    try:
        preset = get_preset(_optional_str(body, "preset") or ctx.settings.default_preset)
        mode = get_mode(_optional_str(body, "mode") or Mode.MONO.value)
    except UnknownChoiceError as exc:
        raise BadRequestError(str(exc)) from None
    if mode not in PLAYABLE_MODES:
        raise BadRequestError(f"mode {mode.value!r} does not play yet")
    return preset, mode


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
    item_id = _optional_str(body, "item_id")
    if not item_id:
        raise BadRequestError("'item_id' must be the id of a queued item")
    preset, mode = play_choices(ctx, body)
    return _played(await _queue(ctx).play(item_id, preset, mode))


def register(app: QuartTrio, ctx: WebContext) -> None:
    """Add the queue's routes to ``app``."""
    logged_in = login_required(ctx)

    @app.errorhandler(QueueError)
    async def cannot_queue(exc: QueueError) -> Response:
        return error_response(400, "cannot queue this", str(exc))

    @app.errorhandler(UnknownItemError)
    async def unknown(exc: UnknownItemError) -> Response:
        return error_response(404, "not found", str(exc.args[0]))

    @app.errorhandler(QueueConflictError)
    async def conflict(exc: QueueConflictError) -> Response:
        return error_response(409, "conflict", str(exc))

    @app.errorhandler(QueueUnavailableError)
    async def unavailable(exc: QueueUnavailableError) -> Response:
        return error_response(503, "not available", str(exc))

    @app.errorhandler(PlayError)
    async def cannot_play(exc: PlayError) -> Response:
        return error_response(400, "cannot play this", str(exc))

    @app.errorhandler(UnavailableError)
    async def no_player(exc: UnavailableError) -> Response:
        return error_response(503, "not available", str(exc))

    @app.get("/api/queue")
    @logged_in
    async def show() -> Response:
        return jsonify(_queue(ctx).snapshot_json())

    @app.post("/api/queue")
    @logged_in
    async def add() -> tuple[Response, int]:
        body = await _json_object()
        query = _optional_str(body, "query")
        if query is None or not query.strip():
            raise BadRequestError(
                "'query' is required: a URL, a YouTube video ID, words to search, or 'testcard'"
            )
        if len(query) > MAX_QUERY_LENGTH:
            raise BadRequestError(f"'query' is longer than {MAX_QUERY_LENGTH} characters")
        item = await _queue(ctx).add(query, _position(body, required=False))
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
        position = _position(await _json_object(), required=True)
        assert position is not None
        queue = _queue(ctx)
        await queue.move(item_id, position)
        return jsonify(queue.snapshot_json())

    @app.post("/api/queue/<item_id>/cancel")
    @logged_in
    async def cancel(item_id: str) -> Response:
        return jsonify((await _queue(ctx).cancel(item_id)).to_json())

    @app.post("/api/queue/<item_id>/retry")
    @logged_in
    async def retry(item_id: str) -> Response:
        return jsonify((await _queue(ctx).retry(item_id)).to_json())

    @app.post("/api/queue/<item_id>/play")
    @logged_in
    async def jump(item_id: str) -> tuple[Response, int]:
        return await play_queued(ctx, {**(await _optional_body()), "item_id": item_id})

    @app.put("/api/queue/autoplay")
    @logged_in
    async def autoplay() -> Response:
        value = (await _json_object()).get("autoplay")
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
        preset, mode = play_choices(ctx, await _optional_body())
        return _played(await _queue(ctx).replay(entry_id, preset, mode))


async def _optional_body() -> dict[str, Any]:
    """A JSON object body, or ``{}`` when there is no body at all."""
    if not await request.get_data(as_text=False):
        return {}
    return await _json_object()
