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


def _frames(fanout: Fanout[str], first: int, last: int, *, empty: tuple[int, ...] = ()) -> None:
    """Publish deltas ``d<n>``, each with its keyframe ``k<n>`` (``None`` when empty)."""
    for n in range(first, last + 1):
        fanout.publish_frame(None if n in empty else f"d{n}", lambda n=n: f"k{n}")


async def _drain(subscriber: object) -> list[object]:
    items = []
    get = subscriber.get  # type: ignore[attr-defined]
    while True:
        with trio.move_on_after(0) as scope:
            items.append(await get())
        if scope.cancelled_caught:
            return items


async def test_a_delta_stream_starts_each_viewer_with_a_keyframe_then_deltas() -> None:
    fanout: Fanout[str] = Fanout(maxlen=4)
    early = fanout.subscribe()
    _frames(fanout, 1, 2)
    late = fanout.subscribe()
    _frames(fanout, 3, 4, empty=(4,))
    assert await _drain(early) == ["k1", "d2", "d3"], "an empty delta is left out"
    assert await _drain(late) == ["k3"]


async def test_a_slow_viewer_drops_to_the_newest_keyframe_and_a_fast_one_gets_every_delta() -> None:
    fanout: Fanout[str] = Fanout(maxlen=3)
    slow, fast = fanout.subscribe(), fanout.subscribe()
    received: list[object] = []
    for n in range(1, 11):
        _frames(fanout, n, n)
        received += await _drain(fast)
    assert received == ["k1"] + [f"d{n}" for n in range(2, 11)]
    # Full at frame 4 (k1 d2 d3): dropped whole, k4; full again at 7 and at 10.
    assert await _drain(slow) == ["k10"]
    assert (slow.resyncs, slow.dropped, fast.resyncs) == (3, 9, 0)
    # From the keyframe on, it follows the deltas again.
    _frames(fanout, 11, 11)
    assert await _drain(slow) == ["d11"]


async def test_asking_for_a_keyframe_or_a_new_session_gets_one_at_the_next_frame() -> None:
    fanout: Fanout[str] = Fanout(maxlen=8)
    viewer = fanout.subscribe()
    _frames(fanout, 1, 2)
    viewer.needs_keyframe = True
    _frames(fanout, 3, 3, empty=(3,))
    assert await _drain(viewer) == ["k1", "d2", "k3"], "even when the frame changed nothing"
    fanout.publish_control(Control("hello"), clear=True)
    _frames(fanout, 4, 4)
    assert await _drain(viewer) == [Control("hello"), "k4"]
