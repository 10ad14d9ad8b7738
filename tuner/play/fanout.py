"""One upstream, many subscribers: each gets its own bounded queue (the events of
``/ws/events``; viewers and listeners read the session's timeline instead, see
:mod:`tuner.play.consumers`).

Each item is published once and every subscriber's queue takes it, so a slow
subscriber never slows the publisher or the others: a full queue drops its oldest
item. Control messages have a queue of their own and are never dropped.
"""

from __future__ import annotations

import collections
import itertools
from typing import Generic, TypeVar

import attrs
import trio

T = TypeVar("T")

GOING_AWAY = 1001


class SubscriberClosed(Exception):
    """The subscriber was closed (``code`` says why, as a websocket close code)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


@attrs.frozen
class Control:
    """A control message for a subscriber (for video: a JSON text message)."""

    text: str


class Subscriber(Generic[T]):
    """One viewer's (or listener's) queue."""

    _ids = itertools.count(1)

    def __init__(self, fanout: Fanout[T], maxlen: int) -> None:
        self.id = next(self._ids)
        self._fanout = fanout
        self._items: collections.deque[T] = collections.deque(maxlen=maxlen)
        self._control: collections.deque[Control] = collections.deque()
        self._wakeup = trio.Event()
        self._closed: SubscriberClosed | None = None
        self.delivered = 0
        self.dropped = 0

    def put(self, item: T) -> None:
        """Queue an item, pushing out the oldest one when full."""
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)
        self._wakeup.set()

    def put_control(self, message: Control) -> None:
        """Queue a control message, delivered before any queued item."""
        self._control.append(message)
        self._wakeup.set()

    def clear(self) -> None:
        """Forget queued items (not control messages)."""
        self._items.clear()

    def close(self, code: int, reason: str) -> None:
        """End the subscription; :meth:`get` raises once the control queue is empty."""
        if self._closed is None:
            self._closed = SubscriberClosed(code, reason)
            self._wakeup.set()

    def leave(self) -> None:
        """Unsubscribe from the fan-out this came from (idempotent)."""
        self._fanout.unsubscribe(self)

    async def get(self) -> T | Control:
        """The next control message, else the next item; waits for one.

        Raises:
            SubscriberClosed: the subscription ended (after its last control message).
        """
        while True:
            if self._control:
                return self._control.popleft()
            if self._closed is not None:
                raise self._closed
            if self._items:
                self.delivered += 1
                return self._items.popleft()
            self._wakeup = trio.Event()
            await self._wakeup.wait()


class Fanout(Generic[T]):
    """The set of subscribers of one stream."""

    def __init__(self, maxlen: int) -> None:
        self._maxlen = maxlen
        self.subscribers: set[Subscriber[T]] = set()
        self._closed: tuple[int, str] | None = None
        self._departed_delivered = 0
        self._departed_dropped = 0

    def subscribe(self) -> Subscriber[T]:
        """A new subscriber; already closed if the fan-out is shutting down."""
        subscriber: Subscriber[T] = Subscriber(self, self._maxlen)
        if self._closed is not None:
            subscriber.close(*self._closed)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber[T]) -> None:
        """Forget a subscriber (idempotent), keeping its counts in the totals."""
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)
            self._departed_delivered += subscriber.delivered
            self._departed_dropped += subscriber.dropped

    def delivered_total(self) -> int:
        """Items delivered to every subscriber there has been."""
        return self._departed_delivered + sum(s.delivered for s in self.subscribers)

    def dropped_total(self) -> int:
        """Items dropped for every subscriber there has been."""
        return self._departed_dropped + sum(s.dropped for s in self.subscribers)

    def publish(self, item: T) -> None:
        """Offer an item to every subscriber."""
        for subscriber in self.subscribers:
            subscriber.put(item)

    def publish_control(self, message: Control, *, clear: bool = False) -> None:
        """Send a control message to every subscriber, optionally dropping their queues."""
        for subscriber in self.subscribers:
            if clear:
                subscriber.clear()
            subscriber.put_control(message)

    def close_all(self, code: int, reason: str, *, final: bool = False) -> None:
        """Close every subscriber; with ``final``, also those that subscribe later."""
        if final:
            self._closed = (code, reason)
        for subscriber in list(self.subscribers):
            subscriber.close(code, reason)
