"""The viewer of ``tuner watch``: its tasks under one nursery, around the sans-IO
:class:`~tuner.term._draw.Painter`.

* the receiver holds the ``/ws/video`` socket (reconnecting with backoff), applies
  every message to a :class:`~tuner.core.codec.Decoder` at once, and wakes the drawer;
* the drawer paints the decoder's latest grid and writes it in one write: while a
  write waits for a slow terminal, frames keep being applied, and only the newest is
  drawn next (the ones between are skipped, never queued);
* the keyboard task reads stdin (already in raw mode) and starts each action (a
  request to the daemon) as a task of its own, so that ``q`` is never stuck behind one;
* the signal task redraws on SIGWINCH and quits on SIGTERM, SIGHUP or SIGINT (a
  SIGINT taken as a message, not as trio's KeyboardInterrupt, which may be raised
  inside any task, trio-websocket's and httpx's included, and was seen lost there);
* the status task asks ``/api/status`` every few seconds, and at once after a
  ``hello`` or an ``end``.

Logging in first and the terminal's modes are :mod:`tuner.term._watch`'s.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import ssl
import time
from typing import Any

import attrs
import httpx
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    ConnectionTimeout,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from tuner.client import TIMEOUT, CommandError, LoginError, acall, alogin
from tuner.core.codec import Decoder, ProtocolError
from tuner.core.control import PROTOCOL_VERSION
from tuner.term._draw import Action, Painter, actions_of, cycle, status_text
from tuner.term._options import WatchOptions

__all__ = ["Viewer"]

#: Reconnect delays: the first, doubled after each failure up to the last.
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 5.0
#: A socket open this long counts as healthy: the next failure starts the backoff anew.
HEALTHY_AFTER = 5.0
#: With no message at all for this long (the server sends a keepalive every 15 s), the
#: socket is taken for dead and reopened.
SILENCE_LIMIT = 45.0
#: At most one keyframe request this often (the first answer fixes every later delta).
KEYFRAME_ASK_INTERVAL = 1.0
#: How often the status line's title and state are asked for.
STATUS_INTERVAL = 3.0
#: How long a note (a key's error, what a key did) stays on the status line.
NOTE_SECONDS = 5.0
#: Frames as large as the largest grid a daemon sends, with room to spare.
MAX_MESSAGE = 4 * 1024 * 1024


@attrs.define
class Viewer:
    """What one ``tuner watch`` shows and knows; :meth:`run` runs its tasks until a quit."""

    options: WatchOptions
    http: httpx.AsyncClient
    choices: dict[str, Any]
    decoder: Decoder = attrs.field(factory=Decoder)
    status: dict[str, Any] = attrs.field(factory=dict)
    hello: dict[str, Any] | None = None
    connection: str | None = "connecting"
    note: str | None = None
    note_until: float = 0.0
    fatal: str | None = None
    #: The last socket was closed by a daemon going away (1001).
    restarting: bool = False
    #: It quit on a SIGINT (the exit status says so).
    interrupted: bool = False
    drawn: collections.deque[float] = attrs.field(factory=lambda: collections.deque(maxlen=64))
    _changed: trio.Event = attrs.field(factory=trio.Event)
    _status_wanted: trio.Event = attrs.field(factory=trio.Event)
    _keyframe_asked: float = -1e9

    def changed(self) -> None:
        """Wake the drawer: what it shows has changed."""
        self._changed.set()

    async def run(self, out: trio.lowlevel.FdStream) -> None:
        """Run the tasks, drawing to ``out``, until a quit, a lost terminal or a fatal error."""
        size = os.get_terminal_size(1)
        painter = Painter(self.options.depth, size.columns, size.lines)
        signals = (signal.SIGWINCH, signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
        with trio.open_signal_receiver(*signals) as received:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._signals, received, painter, nursery.cancel_scope)
                nursery.start_soon(self._draw, out, painter)
                nursery.start_soon(self._keys, nursery)
                nursery.start_soon(self._poll_status)
                nursery.start_soon(self._ticker)
                await self._receive_forever()
                nursery.cancel_scope.cancel()  # only a fatal error ends the receiver

    # --- drawing ---------------------------------------------------------------------

    async def _draw(self, out: trio.lowlevel.FdStream, painter: Painter) -> None:
        while True:
            await self._changed.wait()
            self._changed = trio.Event()
            grid = self.decoder.grid
            text = painter.paint(grid, self._status_line(painter.width), self._message())
            if text:
                await out.send_all(text.encode())
                if grid is not None:
                    self.drawn.append(time.monotonic())

    async def _ticker(self) -> None:
        # The fps and notes age: the status line is redrawn if its text changed.
        while True:
            await trio.sleep(1.0)
            self.changed()

    def _fps(self) -> float | None:
        now = time.monotonic()
        recent = [t for t in self.drawn if now - t <= 2.0]
        return len(recent) / 2.0 if self.decoder.grid is not None else None

    def _status_line(self, width: int) -> str:
        status, hello = self.status, self.hello or {}
        note = self.note if time.monotonic() < self.note_until else None
        if self.connection is not None:
            note = self.connection if note is None else f"{self.connection}; {note}"
        state = status.get("state") or ("connecting" if self.connection else "?")
        return status_text(
            width,
            title=status.get("title") or status.get("query"),
            state=state,
            preset=status.get("preset") or hello.get("preset"),
            mode=status.get("mode") or hello.get("mode"),
            fps=self._fps(),
            note=note,
        )

    def _message(self) -> str:
        if self.connection is not None and not self.status:
            return f"tuner\n\n{self.connection}"
        state = self.status.get("state", "idle")
        if state == "idle":
            return "tuner: idle\n\nnothing is playing; waiting for a session\n(tuner play QUERY)"
        if state == "error":
            return f"tuner\n\n{self.status.get('error') or 'the session failed'}"
        title = self.status.get("title") or self.status.get("query") or ""
        return f"tuner: {state}\n\n{title}"

    def say(self, note: str) -> None:
        """Show ``note`` on the status line for a few seconds."""
        self.note, self.note_until = note, time.monotonic() + NOTE_SECONDS
        self.changed()

    # --- the socket ------------------------------------------------------------------

    async def _receive_forever(self) -> None:
        backoff = BACKOFF_FIRST
        url = "ws" + self.options.base_url.removeprefix("http") + "/ws/video"
        context = self.options.verify if isinstance(self.options.verify, ssl.SSLContext) else None
        # Said until the socket is back: the attempts that fail meanwhile say less.
        headline: str | None = None
        retried_at_once = False
        while True:
            opened = time.monotonic()
            self.restarting = False
            why, again_now = await self._one_connection(url, context)
            if self.fatal is not None:
                return
            if time.monotonic() - opened >= HEALTHY_AFTER:
                backoff, headline = BACKOFF_FIRST, None
            if self.restarting:
                headline = why
            elif self.connection is None:  # it was open: whatever said so is over
                headline = None
            # At once only after a fresh login, and not twice in a row (a daemon that
            # takes the PIN but refuses the socket must not be hammered).
            again_now, retried_at_once = again_now and not retried_at_once, again_now
            delay = 0.0 if again_now else backoff
            said = headline or why
            self.connection = f"{said}; reconnecting in {delay:g} s" if delay else said
            self.changed()
            await trio.sleep(delay)
            if not again_now:
                backoff = min(backoff * 2, BACKOFF_MAX)
            self.connection = f"{said}; reconnecting"
            self.changed()

    async def _one_connection(self, url: str, context: ssl.SSLContext | None) -> tuple[str, bool]:
        """Watch over one socket until it ends: why it ended, and whether to retry now."""
        cookie = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        try:
            async with open_websocket_url(
                url,
                ssl_context=context,
                extra_headers=[(b"Cookie", cookie.encode())],
                max_message_size=MAX_MESSAGE,
                connect_timeout=TIMEOUT,
                disconnect_timeout=2,
            ) as socket:
                self.connection = None
                self.decoder.reset()  # a keyframe comes first on a new socket
                self._status_wanted.set()
                self.changed()
                return await self._messages(socket)
        except ConnectionRejected as exc:
            if exc.status_code == 401:
                return await self._log_in_again()
            return f"the daemon refused the video socket (HTTP {exc.status_code})", False
        except ConnectionTimeout:
            return f"no answer from {self.options.base_url} within {TIMEOUT:.0f} s", False
        except (HandshakeError, OSError) as exc:
            # trio-websocket reports a refused or failed connection as the cause.
            cause = exc.__cause__ or exc
            return f"no daemon answers at {self.options.base_url} ({cause})", False

    async def _log_in_again(self) -> tuple[str, bool]:
        try:
            await alogin(self.http, self.options.pin)
        except LoginError as exc:
            self.fatal = str(exc)
            return str(exc), False
        except CommandError:
            return "the daemon is not answering", False
        return "logged in again", True

    async def _messages(self, socket: WebSocketConnection) -> tuple[str, bool]:
        while True:
            try:
                with trio.move_on_after(SILENCE_LIMIT) as silence:
                    message = await socket.get_message()
            except ConnectionClosed as exc:
                code = exc.reason.code if exc.reason is not None else None
                reason = (exc.reason.reason if exc.reason is not None else None) or ""
                if code == 1008:
                    self.status = {}
                    return await self._log_in_again()
                if code == 1013:
                    return f"the daemon refused: {reason or 'too many viewers'}", False
                if code == 1001:
                    self.restarting = True
                    return "tuner is restarting", False
                return f"the connection was lost (code {code})", False
            if silence.cancelled_caught:
                return f"no word from the daemon for {SILENCE_LIMIT:.0f} s", False
            if isinstance(message, str):
                self._control(message)
                if self.fatal is not None:
                    return self.fatal, False
                continue
            try:
                self.decoder.decode(message)
            except ProtocolError:
                now = time.monotonic()
                if now - self._keyframe_asked >= KEYFRAME_ASK_INTERVAL:
                    self._keyframe_asked = now
                    await socket.send_message(json.dumps({"type": "keyframe"}))
                continue
            self.changed()

    def _control(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if message.get("type") == "hello":
            if message.get("protocol") != PROTOCOL_VERSION:
                self.fatal = (
                    f"the daemon speaks protocol {message.get('protocol')}, this tuner "
                    f"speaks {PROTOCOL_VERSION}: update one of them"
                )
                return
            self.hello = message
            self._status_wanted.set()
        elif message.get("type") == "end":
            self.decoder.reset()
            self.hello = None
            if message.get("reason") == "error" and message.get("error"):
                self.say(str(message["error"]))
            self._status_wanted.set()
        self.changed()

    # --- the status ------------------------------------------------------------------

    async def _poll_status(self) -> None:
        while True:
            self._status_wanted = trio.Event()
            try:
                self.status = await acall(self.http, "GET", "/api/status")
            except CommandError as exc:
                if exc.status == 401:  # the cookie secret was rotated: log in again
                    await self._log_in_again()
            self.changed()
            with trio.move_on_after(STATUS_INTERVAL):
                await self._status_wanted.wait()

    # --- keys and signals ------------------------------------------------------------

    async def _keys(self, nursery: trio.Nursery) -> None:
        while True:
            await trio.lowlevel.wait_readable(0)
            try:
                typed = os.read(0, 1024)
            except OSError:  # the terminal went away (EIO from a closed pty)
                typed = b""
            if not typed:
                nursery.cancel_scope.cancel()  # the terminal went away
                return
            for action in actions_of(typed):
                if action is Action.QUIT:
                    nursery.cancel_scope.cancel()
                    return
                nursery.start_soon(self._act, action)

    async def _act(self, action: Action) -> None:
        try:
            if action is Action.STOP:
                await acall(self.http, "POST", "/api/stop")
                self.say("stopped")
            elif action is Action.NEXT:
                queue = await acall(self.http, "GET", "/api/queue")
                upcoming = queue.get("next")
                if not upcoming:
                    self.say("the queue has nothing to play next")
                    return
                await acall(self.http, "POST", f"/api/queue/{upcoming}/play")
                titles = {item["id"]: item.get("title") for item in queue.get("items", [])}
                self.say(f"playing the next item: {titles.get(upcoming) or upcoming}")
            else:
                await self._tune(action)
        except CommandError as exc:
            self.say(str(exc))
        self._status_wanted.set()

    async def _tune(self, action: Action) -> None:
        if self.status.get("state") in (None, "idle", "error"):
            self.say(f"nothing is playing: {action.value} changes a playing session")
            return
        if action is Action.MODE:
            key, options = "mode", list(self.choices.get("modes", []))
            current = self.status.get("mode")
        else:
            key = "preset"
            options = [p["name"] for p in self.choices.get("presets", [])]
            current = self.status.get("chosen_preset") or self.status.get("preset")
        choice = cycle(options, current)
        self.status = await acall(self.http, "POST", "/api/tune", json={key: choice})
        self.say(f"{key} {choice}")

    async def _signals(
        self,
        received: Any,
        painter: Painter,
        cancel_scope: trio.CancelScope,
    ) -> None:
        async for signum in received:
            if signum == signal.SIGWINCH:
                size = os.get_terminal_size(1)
                painter.resize(size.columns, size.lines)
                self.changed()
            else:
                self.interrupted = signum == signal.SIGINT
                cancel_scope.cancel()
                return
