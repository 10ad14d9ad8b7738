"""The session's retry verdict (sans-IO): why an attempt failed, what comes next, and
when the watchdog gives an attempt up. Tables of plain facts, as the shell
(tuner.play.session) measures them."""

from __future__ import annotations

import pytest

from tuner.core.retry import (
    AttemptEnd,
    Next,
    RetryPolicy,
    Verdict,
    Watch,
    after_attempt,
    after_resolve_error,
    failure,
    watch,
)

POLICY = RetryPolicy(
    stall_seconds=10, startup_seconds=30, reconnect_attempts=3, backoff_first=0.5, backoff_max=15
)
#: A 60 s video that played to its end, ffmpeg exiting 0.
ENDED = AttemptEnd(frames=1440, played=60.0, returncode=0, video_ended=True)


@pytest.mark.parametrize(
    ("end", "is_live", "duration", "expected"),
    [
        pytest.param(ENDED, False, 60.0, None, id="a video that played to its end"),
        pytest.param(
            AttemptEnd(
                frames=240, played=10.0, returncode=None, video_ended=True, stopped_after_end=True
            ),
            False,
            10.0,
            None,
            id="ffmpeg stopped after its picture ended: still an end",
        ),
        pytest.param(
            AttemptEnd(frames=240, played=10.0, returncode=0, video_ended=True),
            False,
            60.0,
            "the stream broke off",
            id="ended 50 s early without a word",
        ),
        pytest.param(
            AttemptEnd(
                frames=240,
                played=10.0,
                returncode=0,
                video_ended=True,
                stderr=("http://x/v.mp4: Connection timed out",),
            ),
            False,
            60.0,
            "no network: the server did not answer in time",
            id="ended early, and ffmpeg says why",
        ),
        pytest.param(
            AttemptEnd(frames=240, played=57.0, returncode=0, video_ended=True),
            False,
            60.0,
            None,
            id="within 5 s of the end is the end",
        ),
        pytest.param(
            AttemptEnd(frames=240, returncode=0, video_ended=True),
            True,
            None,
            None,
            id="a live stream that ended cleanly (judged by after_attempt)",
        ),
        pytest.param(
            AttemptEnd(frames=0, start_error="cannot start ffmpeg (/x): No such file"),
            False,
            None,
            "cannot start ffmpeg (/x): No such file",
            id="ffmpeg cannot start",
        ),
        pytest.param(
            AttemptEnd(frames=50, returncode=-9, stalled="the stream stalled (no frame for 1 s)"),
            True,
            None,
            "the stream stalled (no frame for 1 s)",
            id="the watchdog gave it up",
        ),
        pytest.param(
            AttemptEnd(frames=50, returncode=-9),
            True,
            None,
            "ffmpeg was killed by signal 9",
            id="killed, without a word",
        ),
        pytest.param(
            AttemptEnd(frames=0, returncode=1, stderr=("fake ffmpeg: garbage, not a stream",)),
            False,
            None,
            "ffmpeg failed: fake ffmpeg: garbage, not a stream",
            id="a failure no rule knows: its last line",
        ),
        pytest.param(
            AttemptEnd(frames=0, returncode=1),
            False,
            None,
            "ffmpeg stopped without a word",
            id="a failure without a word",
        ),
        pytest.param(
            AttemptEnd(
                frames=0,
                returncode=1,
                stderr=("http://x/: Server returned 403 Forbidden (access denied)",),
                egress_problem="refused: 10.0.0.1 is a private address",
            ),
            False,
            None,
            "refused: 10.0.0.1 is a private address",
            id="the egress proxy's reason beats ffmpeg's 403",
        ),
        pytest.param(
            AttemptEnd(
                frames=1440,
                played=60.0,
                returncode=0,
                video_ended=True,
                egress_problem="refused: a segment",
            ),
            False,
            60.0,
            None,
            id="but not an end that was no failure",
        ),
    ],
)
def test_why_an_attempt_failed(
    end: AttemptEnd, is_live: bool, duration: float | None, expected: str | None
) -> None:
    assert failure(end, is_live=is_live, duration=duration) == expected


KILLED = AttemptEnd(frames=0, returncode=-9)
PLAYED_THEN_KILLED = AttemptEnd(frames=100, returncode=-9)


@pytest.mark.parametrize(
    ("failures", "end", "is_live", "shown", "retuning", "expected"),
    [
        pytest.param(0, ENDED, False, True, False, Verdict(Next.END, 0), id="a video ends"),
        pytest.param(
            2,
            AttemptEnd(frames=0, played=60.0, returncode=0, video_ended=True),
            False,
            True,
            False,
            Verdict(Next.END, 2),
            id="a reconnect that found the video over",
        ),
        pytest.param(
            0,
            AttemptEnd(frames=100, returncode=0, video_ended=True),
            True,
            True,
            False,
            Verdict(Next.RETRY, 1, "the live stream stopped", 0.5),
            id="a live stream never simply ends",
        ),
        pytest.param(
            0,
            AttemptEnd(frames=0, returncode=0, video_ended=True),
            True,
            False,
            False,
            Verdict(Next.GIVE_UP, 0, "the source ended before its first frame"),
            id="a live stream that ended before its first frame",
        ),
        pytest.param(
            0,
            KILLED,
            False,
            False,
            False,
            Verdict(Next.GIVE_UP, 0, "ffmpeg was killed by signal 9"),
            id="a session that never played does not retry",
        ),
        pytest.param(
            0,
            PLAYED_THEN_KILLED,
            True,
            True,
            False,
            Verdict(Next.RETRY, 1, "ffmpeg was killed by signal 9", 0.5),
            id="first break",
        ),
        pytest.param(
            2,
            KILLED,
            True,
            True,
            False,
            Verdict(Next.RETRY, 3, "ffmpeg was killed by signal 9", 2.0),
            id="the backoff doubles with each broken attempt in a row",
        ),
        pytest.param(
            2,
            PLAYED_THEN_KILLED,
            True,
            True,
            False,
            Verdict(Next.RETRY, 1, "ffmpeg was killed by signal 9", 0.5),
            id="an attempt that showed a frame starts the count again",
        ),
        pytest.param(
            3,
            KILLED,
            True,
            True,
            False,
            Verdict(Next.GIVE_UP, 4, "ffmpeg was killed by signal 9 (gave up after 3 reconnects)"),
            id="gives up after reconnect_attempts",
        ),
        pytest.param(
            3,
            KILLED,
            True,
            True,
            True,
            Verdict(Next.RETUNE, 3),
            id="a retune is no failure",
        ),
        pytest.param(
            3,
            PLAYED_THEN_KILLED,
            True,
            True,
            True,
            Verdict(Next.RETUNE, 0),
            id="a retune after frames",
        ),
    ],
)
def test_what_comes_after_an_attempt(
    failures: int, end: AttemptEnd, is_live: bool, shown: bool, retuning: bool, expected: Verdict
) -> None:
    verdict = after_attempt(
        POLICY, failures, end, is_live=is_live, duration=60.0, shown=shown, retuning=retuning
    )
    assert verdict == expected


@pytest.mark.parametrize(
    ("failures", "shown", "expected"),
    [
        (0, False, Verdict(Next.GIVE_UP, 0, "video unavailable")),
        (0, True, Verdict(Next.RETRY, 1, "video unavailable", 0.5)),
        (1, True, Verdict(Next.RETRY, 2, "video unavailable", 1.0)),
        (3, True, Verdict(Next.GIVE_UP, 4, "video unavailable (gave up after 3 reconnects)")),
    ],
)
def test_what_comes_after_a_failed_resolution(
    failures: int, shown: bool, expected: Verdict
) -> None:
    assert after_resolve_error(POLICY, failures, "video unavailable", shown=shown) == expected


def test_the_backoff_doubles_up_to_its_cap() -> None:
    assert [POLICY.backoff(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 15, 15]


SUSPECTED = "the stream has sent no frame for 2 s (tuner restarts it after 10 s without one)"


@pytest.mark.parametrize(
    ("now", "last_progress", "frames", "expected"),
    [
        pytest.param(105.0, 100.0, 0, Watch(107.0), id="connecting: never suspected"),
        pytest.param(129.0, 100.0, 0, Watch(130.0), id="connecting: at most until startup's end"),
        pytest.param(
            130.0,
            100.0,
            0,
            Watch(130.0, stalled="the stream stalled (no first frame for 30 s)"),
            id="no first frame within startup_seconds",
        ),
        pytest.param(101.0, 100.0, 5, Watch(102.0), id="playing: looks again at suspect_seconds"),
        pytest.param(
            102.0, 100.0, 5, Watch(104.0, suspected=SUSPECTED), id="no frame for 2 s: suspected"
        ),
        pytest.param(
            109.0, 100.0, 5, Watch(110.0, suspected=SUSPECTED), id="still suspected, not given up"
        ),
        pytest.param(
            110.0,
            100.0,
            5,
            Watch(110.0, stalled="the stream stalled (no frame for 10 s)"),
            id="no frame for stall_seconds: given up",
        ),
    ],
)
def test_the_watchdog(now: float, last_progress: float, frames: int, expected: Watch) -> None:
    assert watch(POLICY, now, last_progress, frames) == expected


@pytest.mark.parametrize(
    ("stall_seconds", "suspect_seconds", "sentence"),
    [
        (10.0, 2.0, "no frame for 2 s (tuner restarts it after 10 s without one)"),
        (600.0, 2.0, "no frame for 2 s (tuner restarts it after 600 s without one)"),
        (3.0, 1.5, "no frame for 1.5 s (tuner restarts it after 3 s without one)"),
        (1.0, 0.5, "no frame for 0.5 s (tuner restarts it after 1 s without one)"),
    ],
)
def test_a_stall_is_suspected_after_2_s_or_half_of_stall_seconds(
    stall_seconds: float, suspect_seconds: float, sentence: str
) -> None:
    policy = RetryPolicy(stall_seconds=stall_seconds)
    assert policy.suspect_seconds == suspect_seconds
    look = watch(policy, 100.0 + suspect_seconds, 100.0, 1)
    assert look.suspected == f"the stream has sent {sentence}"
    assert watch(policy, 100.0 + suspect_seconds - 0.01, 100.0, 1).suspected is None
