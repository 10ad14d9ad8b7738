"""The stage: what viewers and listeners see of the current session.

The supervisor (:mod:`tuner.play.supervisor`) decides which session runs and for how
long; the stage is what everyone watching sees of it:

- the viewers' fan-out (``/ws/video``): the session's frames, and the control
  messages around them: its ``hello`` (the grid, again after a retune), the clock of
  every audio listener, its ``end``;
- the hello and clocks a viewer who joins late is told first, and the picture now;
- the sound (``/audio``): the current session's fan-out, or, while idle, the one the
  next session will feed, each listener getting the preroll first
  (:class:`AudioListener`).

The seam: a session writes only into what :meth:`Stage.feeds` hands it (a frame sink
and a sound fan-out); the supervisor tells the stage when a session enters, is
retuned and exits; the web routes and ``/metrics`` read only through the stage. A
timeline (a buffer with a cursor per consumer) can replace what is behind these
methods without touching either side.
"""

from __future__ import annotations

import contextlib

import attrs

from tuner.core.codec import PROTOCOL_VERSION
from tuner.core.control import encode_control
from tuner.core.presets import Preset
from tuner.play.fanout import Control, Fanout, Subscriber
from tuner.play.session import AUDIO_FRAME_MS, FrameSink, Session

#: Per-listener audio queue, in ADTS frames (1024 samples each: ~2.7 s at 48 kHz).
AUDIO_QUEUE_FRAMES = 128


@attrs.define
class AudioListener:
    """An ``/audio`` subscription: the preroll to send first, then the session's
    ADTS frames from ``first_frame`` on."""

    subscriber: Subscriber[bytes]
    first_frame: int
    preroll: tuple[bytes, ...] = ()

    def start_ms(self) -> float:
        """Where this stream starts on the session's clock (the start of its preroll).

        A session's first ADTS frame carries the encoder's priming, so its frame ``k``
        starts at ``(k - 1)`` frames; frames the listener skipped move the rest later.
        """
        first = self.first_frame + self.subscriber.dropped - 1 - len(self.preroll)
        return first * AUDIO_FRAME_MS


class Stage:
    """The fan-outs of the current session, and what a newcomer is told first."""

    def __init__(self, viewer_queue: int) -> None:
        #: Every ``/ws/video`` viewer, whatever session plays.
        self.video: Fanout[bytes] = Fanout(viewer_queue)
        #: ADTS frames every listener gets first (see ``preroll_command``): set once,
        #: by the supervisor, before the first session.
        self.preroll: tuple[bytes, ...] = ()
        #: Listeners who came while idle, waiting for the next session's sound.
        self._next_audio: Fanout[bytes] = Fanout(AUDIO_QUEUE_FRAMES)
        #: Each audio listener's clock: its token, and the ``audio`` control message.
        self._audio_clocks: dict[str, Control] = {}
        self._hello: Control | None = None
        self._session: Session | None = None

    def feeds(self) -> tuple[FrameSink, Fanout[bytes]]:
        """Where a new session's frames and sound go: the viewers' fan-out (through a
        sink that its end shuts), and the sound fan-out that idle listeners already
        wait on (the next session gets a fresh one)."""
        audio = self._next_audio
        self._next_audio = Fanout(AUDIO_QUEUE_FRAMES)
        return FrameSink(self.video), audio

    def enter(self, session: Session, *, chosen: Preset, adaptive: bool) -> None:
        """``session`` is the one everyone sees now: viewers drop what they hold of
        the last one and get its ``hello``."""
        self._session = session
        self._publish_hello(session, chosen, adaptive, clear=True)

    def retuned(self, session: Session, *, chosen: Preset, adaptive: bool) -> None:
        """``session`` plays on at another preset or mode: viewers get its new grid."""
        if session is self._session:
            self._publish_hello(session, chosen, adaptive, clear=False)

    def exit(self, session: Session, reason: str, error: str | None) -> None:
        """``session`` is over: viewers are told why and drop what they hold of it."""
        if session is not self._session:
            return
        self._session = None
        self._hello = None
        self.video.publish_control(
            Control(encode_control("end", session_id=session.id, reason=reason, error=error)),
            clear=True,
        )

    def _publish_hello(
        self, session: Session, chosen: Preset, adaptive: bool, *, clear: bool
    ) -> None:
        preset = session.preset
        self._hello = Control(
            encode_control(
                "hello",
                protocol=PROTOCOL_VERSION,
                session_id=session.id,
                cols=preset.cols,
                rows=preset.rows,
                fps=preset.fps,
                mode=session.mode.value,
                preset=preset.name,
                chosen_preset=chosen.name,
                adaptive=adaptive,
                audio_frame_ms=AUDIO_FRAME_MS,
            )
        )
        self.video.publish_control(self._hello, clear=clear)

    def subscribe_video(self) -> Subscriber[bytes]:
        """A new viewer, told about the current session first if there is one, and
        about the clock of every audio listener."""
        viewer = self.video.subscribe()
        if self._hello is not None:
            viewer.put_control(self._hello)
        for clock in self._audio_clocks.values():
            viewer.put_control(clock)
        if self._session is not None:
            # The picture now, rather than at the next frame (which may be a while
            # when the session is reconnecting).
            with contextlib.suppress(LookupError):  # no frame yet
                viewer.put(self._session.encoder.keyframe())
                viewer.needs_keyframe = False
        return viewer

    def viewers(self) -> int:
        """How many ``/ws/video`` viewers there are now."""
        return len(self.video.subscribers)

    def close_viewers(self, code: int, reason: str, *, final: bool = False) -> None:
        """End every ``/ws/video`` stream now; with ``final``, refuse later ones too."""
        self.video.close_all(code, reason, final=final)

    def subscribe_audio(self) -> AudioListener:
        """A listener on the current session's sound (or the next session's, when idle).

        The subscription ends with that session.
        """
        if self._session is not None:
            session = self._session
            return AudioListener(session.audio.subscribe(), session.audio_frames, self.preroll)
        return AudioListener(self._next_audio.subscribe(), 0, self.preroll)

    def audio_listeners(self) -> int:
        """How many ``/audio`` listeners there are now."""
        current = len(self._session.audio.subscribers) if self._session is not None else 0
        return current + len(self._next_audio.subscribers)

    def close_listeners(self, code: int, reason: str) -> None:
        """End every ``/audio`` stream now (they may come back)."""
        if self._session is not None:
            self._session.audio.close_all(code, reason)
        self._next_audio.close_all(code, reason)

    def refuse_listeners(self, code: int, reason: str) -> None:
        """End the streams of listeners waiting for a next session, and refuse every
        later one (the daemon is shutting down; a session's own end closes its own)."""
        self._next_audio.close_all(code, reason, final=True)

    def publish_audio_clock(self, token: str, listener: AudioListener) -> None:
        """Tell every viewer where the listener ``token``'s sound starts on the session's
        clock (again whenever it skipped frames)."""
        start_ms = listener.start_ms()
        clock = Control(encode_control("audio", listener=token, start_ms=round(start_ms, 3)))
        self._audio_clocks[token] = clock
        self.video.publish_control(clock)

    def forget_audio_clock(self, token: str) -> None:
        """A listener left: new viewers need not hear of it."""
        self._audio_clocks.pop(token, None)
