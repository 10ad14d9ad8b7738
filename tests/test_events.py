"""The event hub: snapshots first, then every change; a subscriber that falls behind
is closed rather than silently skipping an event."""

from __future__ import annotations

import json

import pytest
import trio

from tuner.events import FELL_BEHIND, EventHub
from tuner.play.fanout import SubscriberClosed


async def _next(subscriber: object) -> dict[str, object]:
    with trio.fail_after(1):
        item = await subscriber.get()  # type: ignore[attr-defined]
    assert isinstance(item, str)
    decoded: dict[str, object] = json.loads(item)
    return decoded


async def test_a_subscriber_gets_the_snapshot_then_each_change() -> None:
    hub = EventHub()
    state = {"state": "idle"}
    hub.add_snapshot("session", lambda: dict(state))
    subscriber = hub.subscribe()
    state["state"] = "playing"
    hub.publish("session", dict(state))
    assert await _next(subscriber) == {"type": "session", "data": {"state": "idle"}}
    assert await _next(subscriber) == {"type": "session", "data": {"state": "playing"}}


async def test_a_subscriber_that_falls_behind_is_closed_not_skipped() -> None:
    hub = EventHub(queue=3)
    slow, fast = hub.subscribe(), hub.subscribe()
    for n in range(3):
        hub.publish("tick", n)
    assert [(await _next(fast))["data"] for _ in range(3)] == [0, 1, 2]
    hub.publish("tick", 3)
    assert (await _next(fast))["data"] == 3
    with pytest.raises(SubscriberClosed) as closed:
        await slow.get()
    assert closed.value.code == FELL_BEHIND


async def test_closing_refuses_later_subscribers_too() -> None:
    hub = EventHub()
    hub.close_all(1001, "shutting down")
    with pytest.raises(SubscriberClosed) as closed:
        await hub.subscribe().get()
    assert closed.value.code == 1001


def test_one_owner_per_snapshot() -> None:
    hub = EventHub()
    hub.add_snapshot("session", dict)
    with pytest.raises(ValueError, match="already has a snapshot"):
        hub.add_snapshot("session", dict)
