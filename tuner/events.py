"""The event hub: every state change, as JSON, to every ``/ws/events`` subscriber.

Components publish events (the session's status, extractor results, queue jobs); a
subscriber first gets a snapshot of each kind of state, then every change. Events are
not dropped silently: a subscriber whose queue overflows is closed with 1013 (try again
later), so that its client reconnects and starts again from fresh snapshots instead of
showing a state that skipped a change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from tuner.play.fanout import Fanout, Subscriber

log = logging.getLogger(__name__)

#: Events queued per subscriber before it counts as fallen behind.
EVENT_QUEUE = 256
#: The close code for a subscriber that fell behind (RFC 6455: try again later).
FELL_BEHIND = 1013


def encode_event(event_type: str, data: Any) -> str:
    """One event as the JSON text message ``/ws/events`` sends."""
    return json.dumps({"type": event_type, "data": data}, separators=(",", ":"))


class EventHub:
    """Publishes events to subscribers, each with a bounded queue."""

    def __init__(self, queue: int = EVENT_QUEUE) -> None:
        self._fanout: Fanout[str] = Fanout(queue)
        self._snapshots: dict[str, Callable[[], Any]] = {}

    def add_snapshot(self, event_type: str, current: Callable[[], Any]) -> None:
        """Register the current state of ``event_type``, sent first to each subscriber.

        Raises:
            ValueError: ``event_type`` already has a snapshot (two owners of one state).
        """
        if event_type in self._snapshots:
            raise ValueError(f"event type {event_type!r} already has a snapshot")
        self._snapshots[event_type] = current

    def publish(self, event_type: str, data: Any) -> None:
        """Send an event to every subscriber; close those that fell behind."""
        text = encode_event(event_type, data)
        for subscriber in list(self._fanout.subscribers):
            subscriber.put(text)
            if subscriber.dropped:
                log.info("events subscriber %d fell behind: closing it", subscriber.id)
                subscriber.close(FELL_BEHIND, "fell behind; reconnect for a fresh snapshot")

    def subscribe(self) -> Subscriber[str]:
        """A new subscriber, its queue starting with a snapshot of every state."""
        subscriber = self._fanout.subscribe()
        for event_type, current in self._snapshots.items():
            subscriber.put(encode_event(event_type, current()))
        return subscriber

    def subscribers(self) -> int:
        """How many subscribers there are now."""
        return len(self._fanout.subscribers)

    def close_all(self, code: int, reason: str, *, final: bool = True) -> None:
        """Close every subscriber, and (with ``final``, for shutdown) those that come later."""
        self._fanout.close_all(code, reason, final=final)
