"""The session state machine (sans-IO)."""

from __future__ import annotations

import pytest

from tuner.core import state
from tuner.core.state import State, TransitionError


def test_a_session_resolves_plays_and_stops() -> None:
    status = state.start("s1", "testcard", "low", 24, "mono")
    assert status.state is State.RESOLVING
    status = state.resolved(status, "s1", "Test card", is_live=True)
    assert (status.state, status.title, status.is_live) == (State.PLAYING, "Test card", True)
    assert "error" not in status.to_json()
    assert state.describe(status) == "playing Test card (live) at low 24 fps, mono"
    assert state.stopped().to_json()["state"] == "idle"


def test_an_error_is_reported_with_its_message() -> None:
    status = state.failed(state.start("s1", "q", "low", 24, "mono"), "s1", "ffmpeg not found")
    assert status.to_json()["error"] == "ffmpeg not found"
    assert status.to_json()["state"] == "error"
    assert state.describe(status) == "error: ffmpeg not found"
    assert state.describe(state.stopped()) == "idle"


def test_events_of_another_session_are_bugs() -> None:
    status = state.start("s2", "q", "low", 24, "mono")
    with pytest.raises(TransitionError):
        state.resolved(status, "s1", "old", is_live=False)
    with pytest.raises(TransitionError):
        state.resolved(state.stopped(), "s2", "x", is_live=False)


def test_a_broken_stream_reconnects_and_plays_again() -> None:
    playing = state.resolved(state.start("s1", "q", "low", 24, "mono"), "s1", "News", True, None)
    status = state.reconnecting(playing, "s1", "the stream stalled (no frame for 10 s)")
    assert status.to_json()["state"] == "reconnecting"
    assert status.to_json()["error"] == "the stream stalled (no frame for 10 s)"
    assert state.describe(status) == "reconnecting News: the stream stalled (no frame for 10 s)"
    again = state.resolved(status, "s1", "News", True, None)
    assert again.state is State.PLAYING and "error" not in again.to_json()
    assert state.failed(status, "s1", "gave up").state is State.ERROR


def test_only_a_session_that_played_can_reconnect() -> None:
    with pytest.raises(TransitionError):
        state.reconnecting(state.start("s1", "q", "low", 24, "mono"), "s1", "why")


def test_a_retuned_session_says_what_it_runs_at_and_what_was_chosen() -> None:
    playing = state.resolved(state.start("s1", "q", "ultra", 30, "mono"), "s1", "News", True)
    status = state.retuned(playing, "s1", "low", 15, "color", "ultra")
    body = status.to_json()
    assert (body["preset"], body["fps"], body["mode"], body["chosen_preset"]) == (
        "low", 15, "color", "ultra",
    )  # fmt: skip
    assert body["state"] == "playing"
    with pytest.raises(TransitionError):
        state.retuned(state.stopped(), "s1", "low", 15, "color", "ultra")


def test_the_status_names_the_thumbnail_path_and_channel_while_playing() -> None:
    status = state.start("s1", "cats", "low", 24, "mono")
    assert (status.to_json()["thumbnail"], status.to_json()["channel"]) == (None, None)
    status = state.resolved(
        status, "s1", "Cats", False, 60.0, thumbnail="/api/thumbnail/abc", channel="Cat TV"
    )
    body = status.to_json()
    assert (body["thumbnail"], body["channel"]) == ("/api/thumbnail/abc", "Cat TV")
    # The next session starts without the last one's artwork.
    body = state.start("s2", "testcard", "low", 24, "mono").to_json()
    assert (body["thumbnail"], body["channel"]) == (None, None)


def test_a_playing_stream_without_frames_is_said_to_stall_until_they_come_back() -> None:
    playing = state.resolved(state.start("s1", "q", "low", 24, "mono"), "s1", "News", True)
    assert playing.to_json()["stalled"] is None
    why = "the stream has sent no frame for 2 s (tuner restarts it after 10 s without one)"
    stalled = state.stalled(playing, "s1", why)
    body = stalled.to_json()
    # Still playing (the client keeps its picture); the sentence says why it is frozen.
    assert (body["state"], body["stalled"]) == ("playing", why)
    assert "error" not in body
    assert state.describe(stalled) == f"playing News (live) at low 24 fps, mono: {why}"
    assert state.stalled(stalled, "s1", None) == playing
    # The watchdog gives up: reconnecting says why instead; a new frame ends it.
    broken = state.reconnecting(stalled, "s1", "the stream stalled (no frame for 10 s)")
    assert broken.stalled is None and "stalled" not in broken.to_json()
    assert state.resolved(stalled, "s1", "News", True).stalled is None
    assert state.failed(stalled, "s1", "gave up").stalled is None
    # Only a playing session can stall; another session's word is a bug.
    with pytest.raises(TransitionError):
        state.stalled(state.start("s1", "q", "low", 24, "mono"), "s1", why)
    with pytest.raises(TransitionError):
        state.stalled(playing, "s2", why)
