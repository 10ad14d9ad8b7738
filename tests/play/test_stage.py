"""The stage: what viewers and listeners see of a session (trio, no sockets, no ffmpeg).

The supervisor and the web routes drive it for real in tests/integration; these pin
down what a newcomer is told, and where an idle listener's sound comes from.
"""

from __future__ import annotations

import json

import pytest
import trio

from tuner.core.modes import MODE_SPECS, frame_view, render
from tuner.core.presets import PRESETS, Mode
from tuner.core.query import parse_query
from tuner.core.source import Source
from tuner.core.timeline import sendable_at_ms
from tuner.play.command import AUDIO_FRAME_MS
from tuner.play.consumers import BURST_MS, BURST_WAIT_SECONDS, Listener, Viewer
from tuner.play.fanout import Control, SubscriberClosed
from tuner.play.session import Session
from tuner.play.stage import Stage

LOW = PRESETS["low"]


def _session(stage: Stage) -> Session:
    return Session(parse_query("testcard"), LOW, Mode.MONO, stage.timeline_for_next())


def _control(item: object) -> dict[str, object]:
    assert isinstance(item, Control), item
    message: dict[str, object] = json.loads(item.text)
    return message


def _draw_a_frame(session: Session) -> bytes:
    """Hold the session's first frame; returns it as viewers get it (a keyframe)."""
    spec = MODE_SPECS[Mode.MONO]
    pixels = bytes(spec.frame_bytes(LOW.cols, LOW.rows))
    grid = render(Mode.MONO, frame_view(Mode.MONO, pixels, LOW.cols, LOW.rows))
    entry = session.timeline.add_frame(grid, 0, 0)
    assert entry is not None and entry.start is not None
    return entry.start


async def test_a_late_viewer_is_told_the_session_the_listeners_clocks_and_the_picture() -> None:
    stage = Stage(lead_seconds=0)
    stage.preroll = (b"p1", b"p2")
    session = _session(stage)
    stage.enter(session, chosen=PRESETS["high"], adaptive=True)
    listener = stage.subscribe_audio(session_id=None)
    keyframe = _draw_a_frame(session)
    session.timeline.add_sound(-AUDIO_FRAME_MS, b"adts")
    # The preroll, then the session's first frame, which holds the priming: the
    # stream starts two frames before it on the clock.
    assert [await listener.get() for _ in range(3)] == [b"p1", b"p2", b"adts"]
    stage.publish_audio_clock("car", listener)

    viewer = stage.subscribe_video()
    hello = _control(await viewer.get())
    assert (hello["type"], hello["session_id"], hello["preset"], hello["chosen_preset"]) == (
        "hello", session.id, "low", "high",
    )  # fmt: skip
    assert hello["adaptive"] is True and hello["audio_frame_ms"] == AUDIO_FRAME_MS
    clock = _control(await viewer.get())
    assert (clock["type"], clock["listener"]) == ("audio", "car")
    assert clock["start_ms"] == pytest.approx((0 - 1 - 2) * AUDIO_FRAME_MS, abs=1e-3)
    assert await viewer.get() == keyframe
    assert stage.viewers() == 1

    # A listener gone is not told to later viewers.
    stage.forget_audio_clock("car")
    later = stage.subscribe_video()
    assert _control(await later.get())["type"] == "hello"
    assert await later.get() == keyframe


async def test_a_listener_who_came_while_idle_hears_the_next_session() -> None:
    stage = Stage(lead_seconds=0)
    stage.preroll = (b"p",)
    early = stage.subscribe_audio()
    assert early.timeline is None and stage.audio_listeners() == 1
    session = _session(stage)
    stage.enter(session, chosen=LOW, adaptive=False)
    _draw_a_frame(session)  # the play head starts at the first frame
    for k in range(5):
        session.timeline.add_sound((k - 1) * AUDIO_FRAME_MS, bytes([k]))
    # From the session's start, after the preroll.
    assert [await early.get() for _ in range(3)] == [b"p", bytes([0]), bytes([1])]
    # One that resumes its stream names the session and where its sound was: no
    # preroll, from that frame on.
    resumed = stage.subscribe_audio(session_id=session.id, from_ms=2 * AUDIO_FRAME_MS)
    assert await resumed.get() == bytes([3])
    assert resumed.start_ms() == pytest.approx(2 * AUDIO_FRAME_MS)
    stage.close_listeners(1008, "logged out")
    with pytest.raises(SubscriberClosed):
        await early.get()


async def test_an_exit_tells_the_viewers_and_a_superseded_session_tells_nothing() -> None:
    stage = Stage(lead_seconds=0)
    first = _session(stage)
    stage.enter(first, chosen=LOW, adaptive=False)
    viewer = stage.subscribe_video()
    assert _control(await viewer.get())["session_id"] == first.id

    second = _session(stage)
    stage.enter(second, chosen=LOW, adaptive=False)
    stage.exit(first, "superseded", None)  # the old session's own end: nothing to say
    assert _control(await viewer.get())["session_id"] == second.id

    stage.exit(second, "error", "ffmpeg failed: x")
    end = _control(await viewer.get())
    assert (end["type"], end["session_id"], end["reason"], end["error"]) == (
        "end", second.id, "error", "ffmpeg failed: x",
    )  # fmt: skip
    # Nothing plays: a newcomer is told nothing, and an idle listener waits apart.
    newcomer = stage.subscribe_video()
    stage.close_viewers(1001, "shutting down", final=True)
    with pytest.raises(SubscriberClosed):
        await newcomer.get()
    stage.refuse_listeners(1001, "shutting down")
    with pytest.raises(SubscriberClosed):
        await stage.subscribe_audio().get()


def _hold_sound(session: Session, frames: int) -> None:
    for k in range(frames):
        session.timeline.add_sound((k - 1) * AUDIO_FRAME_MS, bytes([k % 256]))


async def test_with_a_lead_a_listener_starts_with_real_sound_when_enough_is_held() -> None:
    stage = Stage(lead_seconds=10)
    stage.preroll = (b"p",)
    session = _session(stage)
    stage.enter(session, chosen=LOW, adaptive=False)
    _draw_a_frame(session)
    _hold_sound(session, round(BURST_MS / AUDIO_FRAME_MS) + 10)
    listener = stage.subscribe_audio()
    # The burst fills the browser's first block: no silence first, and the clock
    # says so (the stream starts at the play head, with no preroll before it).
    first = await listener.get()
    assert first != b"p"
    assert listener.start_ms() == pytest.approx((first[0] - 1) * AUDIO_FRAME_MS)


async def test_a_listener_hands_over_all_it_can_send_in_one_piece() -> None:
    """The burst is one write: a frame at a time, each write waited its turn on an
    event loop busy making the session's frames, and 3 s of sound took ~0.3 s to go."""
    stage = Stage(lead_seconds=10)
    stage.preroll = (b"p",)
    session = _session(stage)
    stage.enter(session, chosen=LOW, adaptive=False)
    _draw_a_frame(session)
    held = round(BURST_MS / AUDIO_FRAME_MS) + 10
    _hold_sound(session, held)
    listener = stage.subscribe_audio()
    burst = await listener.get_many()
    # From the play head (the frame that holds 0 ms: frame 1) to the newest.
    assert burst == bytes(k % 256 for k in range(1, held)), "not all the sound held, at once"
    assert listener.delivered == held - 1
    # Then what comes, as it comes; and never more than asked (beyond one frame).
    session.timeline.add_sound((held - 1) * AUDIO_FRAME_MS, b"next")
    assert await listener.get_many() == b"next"
    for k in range(held, held + 5):
        session.timeline.add_sound(k * AUDIO_FRAME_MS, b"ab")
    assert await listener.get_many(most=3) == b"abab"
    # The preroll, with nothing to burst, goes in one piece too.
    real_time = Stage(lead_seconds=0)
    real_time.preroll = (b"p1", b"p2", b"p3")
    early = real_time.subscribe_audio()  # waits for the next session, from its start
    other = _session(real_time)
    real_time.enter(other, chosen=LOW, adaptive=False)
    _draw_a_frame(other)
    other.timeline.add_sound(-AUDIO_FRAME_MS, b"adts")
    assert await early.get_many() == b"p1p2p3adts"


async def test_with_a_lead_but_nothing_to_burst_the_preroll_comes_after_a_wait(
    autojump_clock: trio.abc.Clock,
) -> None:
    stage = Stage(lead_seconds=10)
    stage.preroll = (b"p",)
    session = _session(stage)
    stage.enter(session, chosen=LOW, adaptive=False)
    _draw_a_frame(session)
    _hold_sound(session, 3)  # a live stream at its edge: sound comes in real time
    listener = stage.subscribe_audio()
    started = trio.current_time()
    assert [await listener.get() for _ in range(2)] == [b"p", bytes([1])]
    assert trio.current_time() - started == pytest.approx(BURST_WAIT_SECONDS)
    assert listener.start_ms() == pytest.approx(-AUDIO_FRAME_MS)
    # Without a lead the preroll goes first at once, as ever.
    real_time = Stage(lead_seconds=0)
    real_time.preroll = (b"p",)
    other = _session(real_time)
    real_time.enter(other, chosen=LOW, adaptive=False)
    started = trio.current_time()
    assert await real_time.subscribe_audio().get() == b"p"
    assert trio.current_time() == started


async def test_a_seek_voids_what_viewers_hold_and_ends_the_sessions_sound() -> None:
    stage = Stage(lead_seconds=10)
    session = _session(stage)
    session.source = Source(title="clip", inputs=(), is_live=False, duration=30.0)
    stage.enter(session, chosen=LOW, adaptive=False)
    viewer = stage.subscribe_video()
    assert _control(await viewer.get())["type"] == "hello"
    listener = stage.subscribe_audio()
    session.media.mark(0, 0.0)
    stage.positioned(session)
    assert _control(await viewer.get()) == {
        "type": "position", "at_ms": 0, "position": 0.0, "duration": 30.0, "seekable": True,
        "window": None,
    }  # fmt: skip

    stage.seeked(session, 4321.4)
    assert _control(await viewer.get()) == {"type": "seek", "at_ms": 4321}
    with pytest.raises(SubscriberClosed):
        await listener.get()
    session.media.mark(4321.4, 20.0)
    stage.positioned(session)
    assert _control(await viewer.get())["position"] == 20.0
    # A viewer who comes later is told the newest place after its hello.
    later = stage.subscribe_video()
    hello = _control(await later.get())
    assert (hello["duration"], hello["seekable"]) == (30.0, True)
    assert _control(await later.get())["at_ms"] == 4321


async def test_sound_read_ahead_slowly_is_waited_for_rather_than_the_preroll(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A busy machine reads a video ahead at twice real time: 3 s of sound take 1.5 s,
    longer than the wait, but waiting costs less than the 3 s preroll would."""
    stage = Stage(lead_seconds=10)
    stage.preroll = (b"p",)
    session = _session(stage)
    stage.enter(session, chosen=LOW, adaptive=False)
    _draw_a_frame(session)
    listener = stage.subscribe_audio()

    async def read_ahead_at_twice_real_time() -> None:
        for k in range(400):
            session.timeline.add_sound((k - 1) * AUDIO_FRAME_MS, bytes([k % 256]))
            await trio.sleep(AUDIO_FRAME_MS / 2000)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read_ahead_at_twice_real_time)
        started = trio.current_time()
        first = await listener.get()
        waited = trio.current_time() - started
        nursery.cancel_scope.cancel()
    assert first != b"p", "the preroll went first"
    assert BURST_WAIT_SECONDS < waited < 2 * BURST_WAIT_SECONDS, waited


def _clocks(viewer: Viewer) -> list[str]:
    """The listeners a new viewer is told about (its queued ``audio`` messages)."""
    return [
        str(message["listener"])
        for message in (json.loads(c.text) for c in viewer._control)
        if message["type"] == "audio"
    ]


async def _take(listener: Listener, count: int) -> bytes:
    return b"".join([await listener.get() for _ in range(count)])


async def test_a_broken_stream_is_named_and_resumed_by_bytes_while_its_sound_is_held() -> None:
    stage = Stage(lead_seconds=0)
    stage.preroll = (b"p1", b"p2")
    session = _session(stage)
    stage.enter(session, chosen=LOW, adaptive=False)
    for k in range(8):
        session.timeline.add_sound((k - 1) * AUDIO_FRAME_MS, b"frame%d;" % k)
    listener = stage.subscribe_audio(token="car")
    sent = await _take(listener, 6)  # the preroll, then frames 1 to 4 (the play head's)
    assert sent == b"p1p2frame1;frame2;frame3;frame4;"
    stage.publish_audio_clock("car", listener)
    # Its connection goes (not the server's doing): it stays known, and named.
    stage.audio_gone("car", listener, ended=False)
    stage.leave(listener)
    assert stage.audio_listeners() == 0
    assert _clocks(stage.subscribe_video()) == ["car"]

    resumed = stage.resume_audio("car", session.id, len(sent) - 3)
    assert isinstance(resumed, Listener) and stage.audio_listeners() == 1
    # Mid-frame: the rest of frame 4, then on.
    assert await _take(resumed, 3) == b"e4;frame5;frame6;"
    assert resumed.start_ms() == listener.start_ms()
    # Refused: another session's, a token not known, a byte never sent.
    assert isinstance(stage.resume_audio("car", "other", 4), str)
    assert isinstance(stage.resume_audio("bus", session.id, 4), str)
    assert isinstance(stage.resume_audio("car", session.id, 10**6), str)

    # Once the ring lets go of all it sent, it is forgotten, and named no more.
    stage.audio_gone("car", resumed, ended=False)
    stage.leave(resumed)
    session.timeline.sound.trim(8)
    assert _clocks(stage.subscribe_video()) == []
    assert isinstance(stage.resume_audio("car", session.id, 4), str)


async def test_a_resume_replaces_a_stream_still_open_and_a_seek_forgets_broken_ones() -> None:
    stage = Stage(lead_seconds=0)
    session = _session(stage)
    stage.enter(session, chosen=LOW, adaptive=False)
    for k in range(8):
        session.timeline.add_sound((k - 1) * AUDIO_FRAME_MS, b"frame%d;" % k)
    old = stage.subscribe_audio(session_id=session.id, from_ms=0, token="car")
    await _take(old, 3)
    # The server has not seen it go: the resume is the same listener, not one more.
    assert stage.audio_listeners(resuming="car") == 0
    new = stage.resume_audio("car", session.id, 7)
    assert isinstance(new, Listener) and stage.audio_listeners() == 1
    with pytest.raises(SubscriberClosed):
        await old.get()
    # The old stream's end does not forget the new one's.
    stage.audio_gone("car", old, ended=True)
    assert await new.get() == b"frame2;"
    stage.audio_gone("car", new, ended=False)
    stage.leave(new)

    still_open = stage.subscribe_audio(session_id=session.id, from_ms=0, token="van")
    await _take(still_open, 3)
    stage.seeked(session, 0.0)  # what they were sent is void, open or not
    assert isinstance(stage.resume_audio("car", session.id, 7), str)
    assert isinstance(stage.resume_audio("van", session.id, 7), str)
    # A stream the server ended (a seek, its session's end) is forgotten at once.
    ended = stage.subscribe_audio(token="bus")
    stage.audio_gone("bus", ended, ended=True)
    assert isinstance(stage.resume_audio("bus", session.id, 0), str)


async def test_at_a_start_a_viewer_gets_a_second_ahead_then_the_rest_as_the_clock_runs(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The sound first: the first second's frames at once, the rest of the lead read
    ahead as the play head moves (all 10 s of it by 2.1 s in), not all at once."""
    stage = Stage(lead_seconds=10)
    session = _session(stage)
    stage.enter(session, chosen=LOW, adaptive=False)
    spec = MODE_SPECS[Mode.MONO]
    fps = 10
    for k in range(10 * fps):
        size = spec.frame_bytes(LOW.cols, LOW.rows)
        pixels = bytes((i * 7 + k * 37) % 256 for i in range(size))  # each one new
        grid = render(Mode.MONO, frame_view(Mode.MONO, pixels, LOW.cols, LOW.rows))
        assert session.timeline.add_frame(grid, k, k * 1000 // fps) is not None
    viewer = stage.subscribe_video()
    assert _control(await viewer.get())["type"] == "hello"
    started = trio.current_time()
    got: list[tuple[float, int]] = []
    while len(got) < 10 * fps:
        message = await viewer.get()
        assert isinstance(message, bytes)
        got.append(((trio.current_time() - started) * 1000, len(got) * 1000 // fps))
    for at_ms, pts_ms in got:
        # Never before its time, and not later than it (a frame's time, rounded).
        assert at_ms >= sendable_at_ms(pts_ms) - 1, (at_ms, pts_ms)
        assert at_ms <= max(0.0, sendable_at_ms(pts_ms)) + 2, (at_ms, pts_ms)
    assert [p for at, p in got if at == 0] == list(range(0, 1001, 1000 // fps))
    assert got[-1][0] <= 2100
