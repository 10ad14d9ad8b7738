"""The session state machine: what is playing, as ``/api/status`` reports it.

Plain values and pure transitions; the supervisor (``tuner.play.supervisor``) applies
them as events happen and publishes each new status.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs


class State(enum.StrEnum):
    """Where the current session is in its life."""

    IDLE = "idle"
    RESOLVING = "resolving"
    PLAYING = "playing"
    #: The stream broke after playing; a new attempt is on its way.
    RECONNECTING = "reconnecting"
    ERROR = "error"


class TransitionError(RuntimeError):
    """An event that cannot happen in the current state (a bug, not a user error)."""


@attrs.frozen
class Status:
    """A snapshot of the current session."""

    state: State = State.IDLE
    session_id: str | None = None
    query: str | None = None
    title: str | None = None
    is_live: bool = False
    duration: float | None = None
    #: The preset the session runs at now (adaptive quality may have stepped it down
    #: from ``chosen_preset``), and its frame rate.
    preset: str | None = None
    fps: int | None = None
    chosen_preset: str | None = None
    mode: str | None = None
    #: Why the session failed (error) or is reconnecting.
    error: str | None = None
    #: The source's thumbnail as a same-origin path (``/api/thumbnail/<token>``),
    #: and who published it: for the client's media session artwork and text.
    thumbnail: str | None = None
    channel: str | None = None
    #: While playing: no frame came for a while (the watchdog suspects a stall), as
    #: a sentence; ``None`` again once a frame comes or the stream is restarted.
    stalled: str | None = None
    #: The source can seek (``POST /api/seek``): a video of known length.
    seekable: bool = False

    def to_json(self) -> dict[str, Any]:
        """The status as ``/api/status`` shows it (``stalled`` only when playing,
        ``error`` only when failed or reconnecting)."""
        body: dict[str, Any] = {
            "state": self.state.value,
            "session_id": self.session_id,
            "query": self.query,
            "title": self.title,
            "is_live": self.is_live,
            "duration": self.duration,
            "seekable": self.seekable,
            "preset": self.preset,
            "fps": self.fps,
            "chosen_preset": self.chosen_preset,
            "mode": self.mode,
            "thumbnail": self.thumbnail,
            "channel": self.channel,
        }
        if self.state is State.PLAYING:
            body["stalled"] = self.stalled
        if self.state in (State.ERROR, State.RECONNECTING):
            body["error"] = self.error
        return body


def describe(status: Status) -> str:
    """One line for a person (systemd's ``STATUS=``): what plays, or why not."""
    if status.state is State.IDLE:
        return "idle"
    if status.state is State.RESOLVING:
        return f"resolving {status.query!r}"
    if status.state is State.ERROR:
        return f"error: {status.error}"
    if status.state is State.RECONNECTING:
        return f"reconnecting {status.title}: {status.error}"
    live = " (live)" if status.is_live else ""
    playing = f"playing {status.title}{live} at {status.preset} {status.fps} fps, {status.mode}"
    return f"{playing}: {status.stalled}" if status.stalled else playing


def start(session_id: str, query: str, preset: str, fps: int, mode: str) -> Status:
    """A play was accepted: a new session is resolving (from any state)."""
    return Status(
        State.RESOLVING, session_id, query, preset=preset, fps=fps, chosen_preset=preset, mode=mode
    )


def retuned(
    status: Status, session_id: str, preset: str, fps: int, mode: str, chosen_preset: str
) -> Status:
    """The session plays on at another preset, frame rate or mode."""
    _expect(status, session_id, State.RESOLVING, State.PLAYING, State.RECONNECTING)
    return attrs.evolve(status, preset=preset, fps=fps, mode=mode, chosen_preset=chosen_preset)


def resolved(
    status: Status,
    session_id: str,
    title: str,
    is_live: bool,
    duration: float | None = None,
    *,
    thumbnail: str | None = None,
    channel: str | None = None,
    seekable: bool = False,
) -> Status:
    """The session's source is known and its first frame is out (again, after a
    reconnect). ``thumbnail`` is the same-origin path of its thumbnail."""
    _expect(status, session_id, State.RESOLVING, State.PLAYING, State.RECONNECTING)
    return attrs.evolve(
        status,
        state=State.PLAYING,
        title=title,
        is_live=is_live,
        duration=duration,
        error=None,
        thumbnail=thumbnail,
        channel=channel,
        stalled=None,
        seekable=seekable,
    )


def stalled(status: Status, session_id: str, sentence: str | None) -> Status:
    """The playing stream sent no frame for a while (``sentence`` says how long), or
    (``None``) sends frames again. Only a playing session can be suspected."""
    _expect(status, session_id, State.PLAYING)
    return attrs.evolve(status, stalled=sentence)


def reconnecting(status: Status, session_id: str, reason: str) -> Status:
    """The stream broke after playing; the session tries again."""
    _expect(status, session_id, State.PLAYING, State.RECONNECTING)
    return attrs.evolve(status, state=State.RECONNECTING, error=reason, stalled=None)


def failed(status: Status, session_id: str, error: str) -> Status:
    """The session ended with an error a person can read."""
    _expect(status, session_id, State.RESOLVING, State.PLAYING, State.RECONNECTING)
    return attrs.evolve(status, state=State.ERROR, error=error, stalled=None)


def stopped() -> Status:
    """Nothing plays (a stop, or a video that ended)."""
    return Status()


def is_current(status: Status, session_id: str) -> bool:
    """Whether ``session_id`` is the session the status describes."""
    return status.session_id == session_id


def _expect(status: Status, session_id: str, *states: State) -> None:
    if status.session_id != session_id:
        raise TransitionError(f"session {session_id} is not current ({status.session_id})")
    if status.state not in states:
        raise TransitionError(f"session {session_id} is {status.state}, not {states}")
