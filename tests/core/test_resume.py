"""SentLog: where each byte of a listener's stream came from, and how the stream goes
on from any byte it sent while the sound ring holds it (a resume by bytes)."""

from __future__ import annotations

from tuner.core.resume import SentLog
from tuner.core.timeline import Sound, SoundEntry

PREROLL = (b"P0P0P0", b"P1P1")


def _ring(count: int, first: int = 0) -> Sound:
    """A sound ring with frames ``first`` .. ``count - 1`` held, frame ``i`` being
    ``f<i>`` repeated (frames of different lengths)."""
    sound = Sound()
    for index in range(count):
        sound.append(SoundEntry(index * 21.3, f"f{index};".encode() * (1 + index % 3)))
    sound.trim(first)
    return sound


def _send(log: SentLog, sound: Sound, indices: range) -> bytes:
    sent = b""
    for index in indices:
        entry = sound.get(index)
        assert entry is not None
        log.add(index, entry.frame, sound.first)
        sent += entry.frame
    return sent


def _go_on(log: SentLog, sound: Sound, offset: int, until: int) -> bytes:
    """What a stream resumed at ``offset`` sends, up to frame ``until`` (exclusive)."""
    point = log.rewind(offset, sound)
    assert point is not None
    out = point.head + b"".join(point.preroll)
    for index in range(point.next_index, until):
        entry = sound.get(index)
        assert entry is not None
        out += entry.frame
    return out


def test_every_byte_sent_goes_on_exactly_as_the_unbroken_stream() -> None:
    sound = _ring(40)
    whole = b"".join(PREROLL) + b"".join(e.frame for e in sound if e is not None)
    for offset in range(len(whole) + 1):
        log = SentLog(PREROLL)
        log.started(0)
        for frame in PREROLL:
            log.add_preroll(frame)
        _send(log, sound, range(40))
        # Byte for byte: inside the preroll, inside a frame, at a frame's start, at
        # the very end of what was sent.
        assert _go_on(log, sound, offset, 40) == whole[offset:], offset


def test_a_stream_resumed_can_be_resumed_again_and_says_where_its_clock_starts() -> None:
    sound = _ring(30)
    log = SentLog()
    log.started(5)
    sent = _send(log, sound, range(5, 20))
    point = log.rewind(40, sound)
    assert point is not None
    # The frame that holds byte 40 is the stream's frame n (from 0): its rest counts
    # as a frame sent, and frame n + 1 of the stream is the ring's next_index.
    assert point.next_index - point.frames_sent == 5 - 0
    assert log.sent == 40 + len(point.head)
    again = point.head + _send(log, sound, range(point.next_index, 25))
    stream = sent[:40] + again
    assert stream[: len(sent)] == sent
    # And from a byte of the resumed part, to frame 30.
    whole = stream + b"".join(sound.get(i).frame for i in range(25, 30))  # type: ignore[union-attr]
    assert _go_on(log, sound, len(sent) + 3, 30) == whole[len(sent) + 3 :]


def test_a_stream_that_skipped_goes_on_after_the_frame_it_really_sent() -> None:
    sound = _ring(30)
    log = SentLog()
    log.started(0)
    sent = _send(log, sound, range(0, 4)) + _send(log, sound, range(9, 12))  # fell behind
    at = len(sent) - len(sound.get(10).frame) - len(sound.get(11).frame) + 1  # type: ignore[union-attr]
    point = log.rewind(at, sound)
    assert point is not None and point.next_index == 11 and point.frames_sent == 6


def test_what_is_not_held_or_not_sent_cannot_be_resumed() -> None:
    sound = _ring(30)
    log = SentLog()
    log.started(0)
    sent = _send(log, sound, range(0, 20))
    assert log.rewind(len(sent) + 1, sound) is None  # never sent
    assert log.rewind(-1, sound) is None
    sound.trim(10)
    log.add(20, sound.get(20).frame, sound.first)  # type: ignore[union-attr]
    # The bytes of frames 0-9 are forgotten with them; frame 10 on goes on.
    assert log.rewind(5, sound) is None
    offset = sum(len(e.frame) for e in _ring(10))
    assert log.rewind(offset, sound) is not None
    assert log.resumable(sound)
    sound.trim(30)
    assert not log.resumable(sound)


def test_a_frame_a_cut_replaced_is_not_taken_for_the_one_sent() -> None:
    sound = _ring(10)
    log = SentLog()
    log.started(0)
    sent = _send(log, sound, range(0, 10))
    sound.cut(5 * 21.3)  # a seek: frames 6 on are gone, and others take their place
    for index in range(6, 10):
        sound.append(SoundEntry(index * 21.3, b"new" * index))
    assert log.rewind(len(sent) - 1, sound) is None
    assert not log.resumable(sound)


def test_a_stream_broken_in_its_preroll_needs_its_first_sound_held() -> None:
    sound = _ring(20)
    log = SentLog(PREROLL)
    log.started(3)
    log.add_preroll(PREROLL[0])
    point = log.rewind(2, sound)
    assert point is not None
    assert (point.head, point.preroll, point.next_index, point.frames_sent) == (
        PREROLL[0][2:], PREROLL[1:], 3, 1,
    )  # fmt: skip
    sound.trim(4)
    assert log.rewind(2, sound) is None
    # No session yet: nothing to go on with.
    waiting = SentLog(PREROLL)
    waiting.add_preroll(PREROLL[0])
    assert waiting.rewind(2, sound) is None
