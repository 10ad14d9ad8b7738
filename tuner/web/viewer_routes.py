"""The endless routes: ``/ws/video`` (frames), ``/ws/events`` (JSON events) and
``/audio`` (AAC in ADTS)."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypeGuard

import trio
from quart import Response, request, websocket
from quart_trio import QuartTrio

from tuner.core.control import ProtocolError, decode_control, encode_control
from tuner.play.fanout import Control, SubscriberClosed
from tuner.web.auth import current_login, login_refused
from tuner.web.context import WebContext
from tuner.web.errors import error_response

log = logging.getLogger(__name__)

#: With no frame for this long, a viewer gets a ``keepalive`` control message: it keeps
#: tunnels from closing an idle socket, and gives TCP_USER_TIMEOUT unacknowledged data
#: to find a peer that vanished (a car in a tunnel). Hypercorn's own pings are off: its
#: ping task outlives a closed socket by up to an interval and so holds up shutdown.
KEEPALIVE_SECONDS = 15.0
_KEEPALIVE = Control(encode_control("keepalive"))

#: What a client may name its audio stream with (``/audio?listener=...``).
_LISTENER_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: The close code for "the server is at its limit, try again later" (RFC 6455 7.4.1).
TRY_AGAIN_LATER = 1013

#: Client messages larger than this are a protocol violation (the client sends small
#: JSON). Hypercorn refuses them as they arrive (close code 1009, message too big),
#: before they are assembled: the daemon sets its ``websocket_max_message_size`` to it.
MAX_CLIENT_MESSAGE = 4096

#: ``/ws/events`` sockets one client address may hold at once: a page holds one, and
#: a few more ride out a reconnect whose old socket the server has not yet seen go.
MAX_EVENT_SOCKETS_PER_ADDRESS = 8


def register(app: QuartTrio, ctx: WebContext) -> None:
    """Add the streaming routes to ``app``."""

    @app.websocket("/ws/video")
    async def video() -> Response | None:
        login_id = current_login(ctx, websocket.cookies, websocket.remote_addr)
        if login_id is None:
            return login_refused()
        await websocket.accept()
        most = ctx.settings.max_viewers
        if ctx.supervisor.stage.viewers() >= most:
            # Accepted first so that the page can show why (a refused handshake
            # reaches a browser's script as a bare failure).
            log.warning("refused a viewer from %s: already %d", websocket.remote_addr, most)
            await websocket.close(TRY_AGAIN_LATER, f"too many viewers: at most {most} at once")
            return None
        after_seq = _whole(websocket.args.get("after_seq"))
        viewer = ctx.supervisor.stage.subscribe_video(
            session_id=websocket.args.get("session"), after_seq=after_seq
        )
        # Held under its login: a logout or a revocation closes it (1008).
        ctx.logins.hold(login_id, viewer)
        log.info("viewer %d connected from %s", viewer.id, websocket.remote_addr)

        def on_message(message: dict[str, Any]) -> None:
            if message["type"] == "keyframe":
                # The client lost step (a decode error): it gets the picture again,
                # from before the frame it last applied when it says which.
                seq = message.get("seq")
                valid = isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0
                ctx.supervisor.stage.lost_step(viewer, seq if valid else None)
            elif message["type"] == "stats":
                report = _viewer_report(message)
                if report is None:
                    log.debug("viewer %d sent a bad stats message: %r", viewer.id, message)
                else:
                    ctx.supervisor.report(viewer, *report)

        try:
            await _serve_subscriber(viewer, on_message)
        finally:
            ctx.logins.release(login_id, viewer)
            ctx.supervisor.stage.leave(viewer)
            ctx.supervisor.viewer_left(viewer)
            log.info(
                "viewer %d gone: %d frames sent, %d dropped",
                viewer.id,
                viewer.delivered,
                viewer.dropped,
            )
        return None

    #: Open ``/ws/events`` sockets per client address.
    events_by_address: Counter[str] = Counter()

    @app.websocket("/ws/events")
    async def events() -> Response | None:
        login_id = current_login(ctx, websocket.cookies, websocket.remote_addr)
        if login_id is None:
            return login_refused()
        await websocket.accept()
        # Checked after the accept, with no await until counted: accepted first so
        # that a client can read why in the close reason (as for /ws/video).
        address = websocket.remote_addr or ""
        most = ctx.settings.event_socket_limit
        per_address = min(most, MAX_EVENT_SOCKETS_PER_ADDRESS)
        refusal = None
        if ctx.events.subscribers() >= most:
            refusal = f"too many event sockets: at most {most} at once"
        elif events_by_address[address] >= per_address:
            refusal = f"too many event sockets from one address: at most {per_address}"
        if refusal is not None:
            log.warning("refused an event socket from %s: %s", address, refusal)
            await websocket.close(TRY_AGAIN_LATER, refusal)
            return None
        subscriber = ctx.events.subscribe()
        ctx.logins.hold(login_id, subscriber)
        events_by_address[address] += 1
        try:
            await _serve_subscriber(subscriber)
        finally:
            ctx.logins.release(login_id, subscriber)
            subscriber.leave()
            events_by_address[address] -= 1
            if not events_by_address[address]:
                del events_by_address[address]
        return None

    @app.get("/audio")
    async def audio() -> Response:
        login_id = current_login(ctx, request.cookies, request.remote_addr)
        if login_id is None:
            return login_refused()
        token = request.args.get("listener")
        if token is not None and not _LISTENER_TOKEN.fullmatch(token):
            return error_response(
                400, "bad listener token", "listener must be 1 to 64 letters, digits, - or _"
            )
        offset = _range_start(request.headers.get("Range"))
        if isinstance(offset, Response):
            return offset
        stage = ctx.supervisor.stage
        most = ctx.settings.max_listeners
        # A resume replaces its stream: it is that listener, not one more.
        if stage.audio_listeners(resuming=token if offset else None) >= most:
            log.warning("refused a listener from %s: already %d", request.remote_addr, most)
            response = error_response(
                503, "too many listeners", f"at most {most} audio streams at once"
            )
            response.headers["Retry-After"] = "10"
            return response
        from_ms = _from_ms(request.args.get("from_ms"))
        if from_ms is _BAD:
            return error_response(
                400, "bad from_ms", "from_ms must be a number of milliseconds, 0 or more"
            )
        session_id = request.args.get("session")
        if offset:
            # A browser whose stream broke asks for the rest of the same URL from the
            # first byte it lacks (Chromium does, within a second of its link coming
            # back) and glues it on: the same stream goes on from that byte, exact.
            resumed = (
                stage.resume_audio(token, session_id, offset)
                if token is not None
                else "a stream without a listener token cannot be resumed"
            )
            if isinstance(resumed, str):
                # The element ends with what it holds, and the page asks with from_ms.
                response = error_response(
                    416, "cannot resume", f"{resumed}: ask again with from_ms"
                )
                response.headers["Content-Range"] = "bytes */*"
                return response
            listener = resumed
            log.info("listener %s resumed at byte %d", token, offset)
        else:
            listener = stage.subscribe_audio(session_id=session_id, from_ms=from_ms, token=token)
        ctx.logins.hold(login_id, listener)

        async def body() -> AsyncIterator[bytes]:
            told: float | None = None
            ended = False
            try:
                while True:
                    # All there is, in one write (see Listener.get_many).
                    frame = await listener.get_many()
                    if token is not None and listener.start_ms() != told:
                        # The client maps its audio clock to frame times with this:
                        # told before the first byte (the browser may start playing
                        # at once), or once a session starts for a listener that
                        # waited, and again whenever the listener skipped.
                        told = listener.start_ms()
                        ctx.supervisor.stage.publish_audio_clock(token, listener)
                    yield frame
            except SubscriberClosed:
                ended = True
                return
            finally:
                ctx.logins.release(login_id, listener)
                if token is not None:
                    # Its connection went (not the server's end): kept for a resume.
                    stage.audio_gone(token, listener, ended=ended)
                stage.leave(listener)

        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        status = 200
        if offset:
            status = 206
            # An endless stream has no last byte, but Chromium takes a 206 only with a
            # number there (then reads on to the response's end).
            headers["Content-Range"] = f"bytes {offset}-{max(offset, _ENDLESS_LAST)}/*"
        response = Response(body(), status=status, mimetype="audio/aac", headers=headers)
        # Quart would cut an endless body after RESPONSE_TIMEOUT (60 s by default).
        response.timeout = None
        return response


#: The last byte position a resumed stream's ``Content-Range`` names (it has none).
_ENDLESS_LAST = 2**53 - 1
#: ``bytes=N-``: the only range an endless stream serves (what Chromium asks).
_OPEN_RANGE = re.compile(r"(\d{1,15})-")
#: Any other byte-range-set (RFC 9110 14.1.2): closed, suffix, several.
_BYTE_RANGES = re.compile(r"(\d+-\d*|-\d+)(\s*,\s*(\d+-\d*|-\d+))*")


def _range_start(header: str | None) -> int | Response:
    """The byte a ``Range`` header asks a stream to start at (0 without one), or the
    answer to a range this endless stream cannot serve (416) or a header that is not
    a range (400)."""
    if header is None:
        return 0
    unit, equals, ranges = header.partition("=")
    unit, ranges = unit.strip().lower(), ranges.strip()
    if not equals or not unit:
        return error_response(400, "bad Range", "Range must be bytes=N- (N a byte offset)")
    start = _OPEN_RANGE.fullmatch(ranges)
    if unit == "bytes" and start is not None:
        return int(start.group(1))
    if unit == "bytes" and not _BYTE_RANGES.fullmatch(ranges):
        return error_response(400, "bad Range", f"not a byte range: {ranges[:40]!r}")
    response = error_response(
        416,
        "cannot resume",
        "an audio stream has no end: it resumes only from a byte on (bytes=N-)",
    )
    response.headers["Content-Range"] = "bytes */*"
    return response


def _whole(value: str | None) -> int | None:
    """A query argument that must be a whole number from 0 to 2**32 - 1 (a frame's
    seq); None when absent or not one (a bad resume starts afresh, as a new viewer)."""
    if value is None or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if number < 2**32 else None


#: What :func:`_from_ms` returns for a value that is not a clock time.
_BAD = float("nan")


def _from_ms(value: str | None) -> float | None:
    """``/audio?from_ms=``: where on the session's clock a resumed stream starts, None
    when not asked, :data:`_BAD` (compare with ``is``) when not a time."""
    if value is None:
        return None
    try:
        ms = float(value)
    except ValueError:
        return _BAD
    return ms if math.isfinite(ms) and 0 <= ms <= _MAX_FROM_MS else _BAD


#: A clock time past any session's length (a year).
_MAX_FROM_MS = 365 * 24 * 3600 * 1000.0


def _viewer_report(message: dict[str, Any]) -> tuple[int, int, float] | None:
    """``(frames, late, render_ms)`` of a ``stats`` message, or None if malformed."""
    frames, late, render_ms = (message.get(k) for k in ("frames", "late", "render_ms"))
    if not (
        _in_range(frames, int, _MAX_REPORTED_FRAMES)
        and _in_range(late, int, _MAX_REPORTED_FRAMES)
        and _in_range(render_ms, int | float, _MAX_REPORTED_MS)
    ):
        return None
    return int(frames), int(late), float(render_ms)


def _in_range(value: object, kind: Any, top: float) -> TypeGuard[float]:
    """``value`` is a ``kind`` (never a bool: JSON's true is not 1) from 0 to ``top``."""
    return isinstance(value, kind) and not isinstance(value, bool) and 0 <= value <= top


#: Bounds on a ``stats`` message's numbers (a report covers a few seconds).
_MAX_REPORTED_FRAMES = 100_000
_MAX_REPORTED_MS = 60_000.0


class _Queue(Protocol):
    """What a socket sends from: a viewer, or an event subscriber."""

    async def get(self) -> Any: ...


async def _serve_subscriber(
    subscriber: _Queue,
    on_message: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Send a subscriber's queue on the current websocket until the server closes it;
    hand each valid control message the client sends to ``on_message``."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_read_client, on_message)
        closed = await _send_until_closed(subscriber)
        nursery.cancel_scope.cancel()
    await websocket.close(closed.code, closed.reason)


async def _send_until_closed(subscriber: _Queue) -> SubscriberClosed:
    """Send the queue until the server closes it; returns why it closed."""
    try:
        while True:
            item: Any = _KEEPALIVE
            with trio.move_on_after(KEEPALIVE_SECONDS):
                item = await subscriber.get()
            await websocket.send(item.text if isinstance(item, Control) else item)
    except SubscriberClosed as closed:
        return closed


async def _read_client(on_message: Callable[[dict[str, Any]], None] | None) -> None:
    """Read what the client sends (it must be read, or Hypercorn's queue fills).

    Runs until cancelled: by the handler when it closes, or by Quart-Trio when the
    client goes. A message this protocol does not know is logged and ignored.
    """
    while True:
        message = await websocket.receive()
        # Quart hands over an empty message (text or binary) as None.
        if not isinstance(message, str) or len(message) > MAX_CLIENT_MESSAGE:
            log.debug("client sent a message this protocol version does not know")
            continue
        try:
            control = decode_control(message)
        except ProtocolError as exc:
            log.debug("client sent a bad message: %s", exc)
            continue
        if on_message is not None:
            on_message(control)
