"""Per-subscriber bounded queues (trio, no sockets)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from tuner.play.fanout import Control, Fanout, SubscriberClosed


async def test_a_slow_subscriber_drops_its_oldest_and_others_get_everything() -> None:
    fanout: Fanout[int] = Fanout(maxlen=3)
    slow, fast = fanout.subscribe(), fanout.subscribe()
    got: list[int | Control] = []
    for i in range(10):
        fanout.publish(i)
        got.append(await fast.get())
    assert got == list(range(10))
    assert [await slow.get() for _ in range(3)] == [7, 8, 9]
    assert (slow.dropped, fast.dropped) == (7, 0)
    assert fanout.dropped_total() == 7 and fanout.delivered_total() == 13


async def test_control_messages_jump_the_queue_and_are_never_dropped() -> None:
    fanout: Fanout[int] = Fanout(maxlen=2)
    sub = fanout.subscribe()
    fanout.publish(1)
    fanout.publish_control(Control("a"))
    fanout.publish_control(Control("b"), clear=True)
    fanout.publish(2)
    assert [await sub.get() for _ in range(3)] == [Control("a"), Control("b"), 2]


async def test_get_waits_and_close_wakes_it() -> None:
    fanout: Fanout[int] = Fanout(maxlen=2)
    sub = fanout.subscribe()
    result: list[object] = []

    async def reader() -> None:
        try:
            result.append(await sub.get())
            await sub.get()
        except SubscriberClosed as closed:
            result.append(closed.code)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        fanout.publish(5)
        await trio.testing.wait_all_tasks_blocked()
        fanout.close_all(1001, "bye")
    assert result == [5, 1001]


async def test_after_a_final_close_new_subscribers_are_closed_at_once() -> None:
    fanout: Fanout[int] = Fanout(maxlen=2)
    fanout.close_all(1001, "shutting down", final=True)
    with pytest.raises(SubscriberClosed):
        await fanout.subscribe().get()


async def test_unsubscribe_keeps_counts_in_the_totals() -> None:
    fanout: Fanout[int] = Fanout(maxlen=1)
    sub = fanout.subscribe()
    fanout.publish(1)
    fanout.publish(2)
    await sub.get()
    fanout.unsubscribe(sub)
    fanout.unsubscribe(sub)
    assert (fanout.delivered_total(), fanout.dropped_total()) == (1, 1)
    assert not fanout.subscribers
