"""The stage: what viewers and listeners see of the current session.

The supervisor (:mod:`tuner.play.supervisor`) decides which session runs and for how
long; the stage is what everyone watching sees of it:

- the viewers (``/ws/video``): each reads the session's timeline from a cursor of
  its own (:class:`~tuner.play.consumers.Viewer`), after the control messages
  around it: its ``hello`` (the grid, again after a retune), the clock of every
  audio listener, its ``end``;
- the hello and clocks a viewer who joins late is told first, then the picture from
  the start point at the play head;
- the listeners (``/audio``): each reads the session's sound from a cursor of its
  own, from the play head (or where it asks), after the preroll when it comes while
  nothing plays (:class:`~tuner.play.consumers.Listener`); one that comes while
  idle hears the next session from its start;
- the streams a browser may ask for the rest of by bytes (``Range: bytes=N-``) after
  its connection broke: by the listener's token, what each sent
  (:class:`~tuner.core.resume.SentLog`), while the timeline holds it.

The seam: a session writes only into the timeline :meth:`Stage.timeline_for_next`
hands it; the supervisor tells the stage when a session enters, is retuned, cut and
exits; the web routes and ``/metrics`` read only through the stage.
"""

from __future__ import annotations

import collections

import attrs
import trio

from tuner.core.control import PROTOCOL_VERSION, encode_control
from tuner.core.presets import Preset
from tuner.play.command import AUDIO_FRAME_MS
from tuner.play.consumers import Listener, Viewer
from tuner.play.fanout import Control
from tuner.play.session import Session
from tuner.play.timeline import SessionTimeline

#: Streams kept for a resume by bytes at most (the oldest gone is forgotten first).
MAX_RESUMABLE = 32
#: How long a stream whose connection went may be resumed by bytes at most: a
#: browser asks again within a second or two of its link coming back, and the
#: timeline usually lets go of the stream's sound sooner.
RESUMABLE_SECONDS = 60.0


@attrs.define(eq=False)
class _AudioStream:
    """A listener's stream, by its token: who sends it now, and on which timeline."""

    listener: Listener
    timeline: SessionTimeline | None = None
    #: When its connection went (None while it is open).
    gone_at: float | None = None


class Stage:
    """The viewers and listeners, the current session, and what a newcomer is told."""

    def __init__(self, lead_seconds: float) -> None:
        self.lead_ms = lead_seconds * 1000
        #: Every ``/ws/video`` viewer, whatever session plays.
        self.viewers_now: set[Viewer] = set()
        #: Every ``/audio`` listener, on the current session or waiting for the next.
        self.listeners_now: set[Listener] = set()
        #: ADTS frames a listener who comes while nothing plays gets first (see
        #: ``preroll_command``): set once, by the supervisor, before the first session.
        self.preroll: tuple[bytes, ...] = ()
        #: Each audio listener's clock: its token, and the ``audio`` control message.
        self._audio_clocks: dict[str, Control] = {}
        #: Each audio listener's stream by its token, open or resumable by bytes.
        self._streams: collections.OrderedDict[str, _AudioStream] = collections.OrderedDict()
        self._hello: Control | None = None
        #: The newest ``position`` message: which place in the source plays when.
        self._position: Control | None = None
        self._session: Session | None = None
        self._closed: tuple[int, str] | None = None
        self._refusing_listeners: tuple[int, str] | None = None
        # Counts of the viewers and listeners gone.
        self._departed_delivered = 0
        self._departed_dropped = 0

    def timeline_for_next(self) -> SessionTimeline:
        """The timeline a new session writes into."""
        return SessionTimeline(self.lead_ms)

    def enter(self, session: Session, *, chosen: Preset, adaptive: bool) -> None:
        """``session`` is the one everyone sees now: viewers drop what they hold of
        the last one and get its ``hello``; listeners waiting for it hear it."""
        previous = self._session
        self._session = session
        self._position = None
        session.on_cut = lambda index: self._cut(session, index)
        self._publish_hello(session, chosen, adaptive)
        for viewer in self.viewers_now:
            viewer.attach(session.timeline)
        for listener in list(self.listeners_now):
            if listener.timeline is None and previous is None:
                listener.attach(session.timeline, from_ms=0)
            elif listener.timeline is not session.timeline:
                # Its stream belongs to the session superseded: it comes back for
                # this one (a new request, with the preroll again).
                listener.close(1000, "superseded")

    def retuned(self, session: Session, *, chosen: Preset, adaptive: bool) -> None:
        """``session`` plays on at another preset or mode: viewers get its new grid."""
        if session is self._session:
            self._publish_hello(session, chosen, adaptive)
            if self._position is not None:
                for viewer in self.viewers_now:
                    viewer.put_control(self._position)

    def seeked(self, session: Session, at_ms: float) -> None:
        """``session`` plays on from another place in its source: viewers hear that
        what they hold from ``at_ms`` on is void (the new place's keyframe comes), and
        its listeners' streams end, since a browser cannot drop the sound it holds
        (they come back from ``at_ms``)."""
        if session is not self._session:
            return
        seek = Control(encode_control("seek", at_ms=round(at_ms)))
        for viewer in self.viewers_now:
            viewer.put_control(seek)
        for listener in list(self.listeners_now):
            if listener.timeline is session.timeline:
                listener.close(1000, "seek")
        # What they were sent is void from the seek on, and the ring is cut there.
        self._forget_streams(session.timeline)

    def positioned(self, session: Session) -> None:
        """``session``'s run shows its first frame: viewers hear which place in the
        source plays from when (nothing for a live stream played at its edge, which has no
        place)."""
        source = session.source
        if session is not self._session or source is None or not session.media.anchors:
            return
        anchor = session.media.anchors[-1]
        self._position = Control(
            encode_control(
                "position",
                at_ms=round(anchor.at_ms),
                position=round(anchor.position, 3),
                duration=source.duration,
                seekable=session.can_seek(),
                window=session.window_json(),
            )
        )
        for viewer in self.viewers_now:
            viewer.put_control(self._position)

    def _cut(self, session: Session, index: int) -> None:
        if session is self._session:
            for viewer in self.viewers_now:
                viewer.cut_at(index)

    def exit(self, session: Session, reason: str, error: str | None) -> None:
        """``session`` is over: viewers are told why, and its listeners' streams end."""
        for listener in list(self.listeners_now):
            if listener.timeline is session.timeline:
                listener.close(1000, reason)
        self._forget_streams(session.timeline)
        if session is not self._session:
            return
        self._session = None
        self._hello = None
        self._position = None
        end = Control(encode_control("end", session_id=session.id, reason=reason, error=error))
        for viewer in self.viewers_now:
            viewer.detach()
            viewer.put_control(end)

    def _publish_hello(self, session: Session, chosen: Preset, adaptive: bool) -> None:
        preset = session.preset
        source = session.source
        position = session.shown_position()
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
                position=None if position is None else round(position, 3),
                duration=None if source is None else source.duration,
                seekable=session.can_seek(),
                window=session.window_json(),
            )
        )
        for viewer in self.viewers_now:
            viewer.put_control(self._hello)

    def subscribe_video(
        self, *, session_id: str | None = None, after_seq: int | None = None
    ) -> Viewer:
        """A new viewer, told about the current session first if there is one, and
        about the clock of every audio listener; then the picture at the play head,
        or (a socket that replaces one that died: it names the session and the last
        frame it applied) the frames after that one, while the timeline holds them."""
        viewer = Viewer()
        self.viewers_now.add(viewer)
        if self._closed is not None:
            viewer.close(*self._closed)
            return viewer
        if self._hello is not None:
            viewer.put_control(self._hello)
        if self._position is not None:
            viewer.put_control(self._position)
        # A stream that broke and can still be resumed is named: the page then leaves
        # it to its element, whose own retry by bytes gets the rest.
        self._prune_streams()
        for clock in self._audio_clocks.values():
            viewer.put_control(clock)
        session = self._session
        if session is not None:
            viewer.attach(session.timeline)
            if session_id == session.id and after_seq is not None:
                viewer.cursor.resume_after(session.timeline.frames, after_seq)
        return viewer

    def leave(self, consumer: Viewer | Listener) -> None:
        """A viewer or listener went away (idempotent); its counts stay in the totals."""
        consumer.detach()
        if isinstance(consumer, Viewer):
            if consumer in self.viewers_now:
                self.viewers_now.remove(consumer)
                self._departed_delivered += consumer.delivered
                self._departed_dropped += consumer.dropped
        else:
            self.listeners_now.discard(consumer)

    def viewers(self) -> int:
        """How many ``/ws/video`` viewers there are now."""
        return len(self.viewers_now)

    def delivered_total(self) -> int:
        """Frames sent to every viewer there has been."""
        return self._departed_delivered + sum(v.delivered for v in self.viewers_now)

    def dropped_total(self) -> int:
        """Frames skipped by every viewer there has been."""
        return self._departed_dropped + sum(v.dropped for v in self.viewers_now)

    def lost_step(self, viewer: Viewer, seq: int | None) -> None:
        """A viewer could not apply a frame: it gets the picture again."""
        viewer.lost_step(seq)

    def close_viewers(self, code: int, reason: str, *, final: bool = False) -> None:
        """End every ``/ws/video`` stream now; with ``final``, refuse later ones too."""
        if final:
            self._closed = (code, reason)
        for viewer in list(self.viewers_now):
            viewer.close(code, reason)

    def subscribe_audio(
        self,
        *,
        session_id: str | None = None,
        from_ms: float | None = None,
        token: str | None = None,
    ) -> Listener:
        """A listener on the current session's sound from the play head, or from
        ``from_ms`` when it names that session (a stream resumed); while idle, one
        that waits for the next session and hears it from its start. The
        subscription ends with that session. With ``token``, its stream can be
        resumed by bytes (:meth:`resume_audio`); a stream under that token before
        ends."""
        session = self._session
        resumed = session is not None and session_id == session.id and from_ms is not None
        listener = Listener(() if resumed else self.preroll, burst=self.lead_ms > 0)
        self.listeners_now.add(listener)
        if session is not None:
            listener.attach(session.timeline, from_ms if resumed else None)
        elif self._refusing_listeners is not None:
            listener.close(*self._refusing_listeners)
        if token is not None:
            self._replace_stream(token, listener)
        return listener

    def resume_audio(self, token: str, session_id: str | None, offset: int) -> Listener | str:
        """The stream ``token`` of the session ``session_id`` again from its byte
        ``offset``, as a new listener that sends exactly what the stream would have
        sent from there (the old one, if still open, ends: it is the same listener);
        or why not, a sentence: no such stream of the session playing now, or that
        byte or the sound after it is no longer held."""
        self._prune_streams()
        session, stream = self._session, self._streams.get(token)
        if session is None or session_id != session.id or stream is None:
            return "no such stream of the session playing now"
        old = stream.listener
        timeline = old.timeline if stream.gone_at is None else stream.timeline
        if timeline is not session.timeline:
            return "no such stream of the session playing now"
        point = old.log.rewind(offset, timeline.sound)
        if point is None:
            return f"byte {offset} of that stream, or the sound after it, is no longer held"
        listener = Listener(point.preroll, log=old.log)
        listener.resume(timeline, point)
        self.listeners_now.add(listener)
        self._replace_stream(token, listener)
        return listener

    def _replace_stream(self, token: str, listener: Listener) -> None:
        old = self._streams.pop(token, None)
        if old is not None and old.listener is not listener:
            old.listener.close(1000, "replaced")
            self.leave(old.listener)
        self._streams[token] = _AudioStream(listener)
        self._prune_streams()

    def audio_gone(self, token: str, listener: Listener, *, ended: bool) -> None:
        """The stream of ``listener`` (named ``token``) is over: ``ended`` by the
        server (its session ended, a seek, shutdown), so forgotten, or its connection
        went, so kept while it can be resumed by bytes. Call before :meth:`leave`."""
        stream = self._streams.get(token)
        if stream is None or stream.listener is not listener:
            return  # replaced by a newer stream under the token: that one stays
        if ended or listener.timeline is None:
            self._forget_stream(token)
        else:
            stream.timeline = listener.timeline
            stream.gone_at = trio.current_time()
        self._prune_streams()

    def _prune_streams(self) -> None:
        """Forget the streams whose connection went that can no longer be resumed,
        and the oldest of them past :data:`MAX_RESUMABLE`."""
        now = trio.current_time()
        session = self._session
        for token, stream in list(self._streams.items()):
            timeline = stream.timeline
            if stream.gone_at is None:
                continue  # open: its route forgets it when it ends
            if (
                session is None
                or timeline is not session.timeline
                or now - stream.gone_at > RESUMABLE_SECONDS
                or not stream.listener.log.resumable(timeline.sound)
            ):
                self._forget_stream(token)
        excess = len(self._streams) - MAX_RESUMABLE
        if excess > 0:
            gone = [token for token, stream in self._streams.items() if stream.gone_at is not None]
            for token in gone[:excess]:
                self._forget_stream(token)

    def _forget_streams(self, timeline: SessionTimeline) -> None:
        """Forget every stream of ``timeline``, open or gone: none can be resumed (a
        seek or the session's end; the open ones are being closed)."""
        for token, stream in list(self._streams.items()):
            of = stream.listener.timeline if stream.gone_at is None else stream.timeline
            if of is timeline:
                self._forget_stream(token)

    def _forget_stream(self, token: str) -> None:
        self._streams.pop(token, None)
        self.forget_audio_clock(token)

    def audio_listeners(self, *, resuming: str | None = None) -> int:
        """How many ``/audio`` listeners there are now; with ``resuming`` (a token),
        besides that stream's own (which a resume replaces)."""
        stream = self._streams.get(resuming) if resuming is not None else None
        own = stream is not None and stream.listener in self.listeners_now
        return len(self.listeners_now) - own

    def close_listeners(self, code: int, reason: str) -> None:
        """End every ``/audio`` stream now (they may come back)."""
        for listener in list(self.listeners_now):
            listener.close(code, reason)

    def refuse_listeners(self, code: int, reason: str) -> None:
        """End the streams of listeners waiting for a next session, and refuse every
        later one that would wait (the daemon is shutting down; a session's own end
        closes its own)."""
        self._refusing_listeners = (code, reason)
        for listener in list(self.listeners_now):
            if listener.timeline is None:
                listener.close(code, reason)

    def publish_audio_clock(self, token: str, listener: Listener) -> None:
        """Tell every viewer where the listener ``token``'s sound starts on the
        session's clock (again whenever it skipped frames)."""
        start_ms = listener.start_ms()
        if start_ms is None:
            return
        clock = Control(encode_control("audio", listener=token, start_ms=round(start_ms, 3)))
        self._audio_clocks[token] = clock
        for viewer in self.viewers_now:
            viewer.put_control(clock)

    def forget_audio_clock(self, token: str) -> None:
        """A listener left: new viewers need not hear of it."""
        self._audio_clocks.pop(token, None)
