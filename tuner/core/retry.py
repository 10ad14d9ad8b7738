"""A session's retry verdict: what an attempt came to, and what the session does next.

A session (:mod:`tuner.play.session`) plays its source in *attempts*, one ffmpeg run
each. The shell measures (frames read, ffmpeg's exit, its last lines, the clock); the
functions here judge, from those plain facts alone:

- :func:`watch`: while an attempt runs, whether it has stalled (the watchdog gives
  it up) or is suspected of stalling (no frame for :attr:`RetryPolicy.suspect_seconds`:
  said at once on ``/healthz`` and in ``/api/status``, before it is given up);
- :func:`failure`: once it is over, why it failed, or ``None`` when its source
  simply ended;
- :func:`after_attempt` and :func:`after_resolve_error`: what comes next: the end,
  another attempt at once (a retune), another after a backoff, or giving up with a
  sentence for a person.

No IO and no clock of its own: times are the caller's (``trio.current_time()``).
"""

from __future__ import annotations

import enum

import attrs

from tuner.core.diagnose import explain

#: A playing stream with no frame for this long (or half of ``stall_seconds``, if
#: shorter) is suspected of stalling.
SUSPECT_SECONDS = 2.0


@attrs.frozen
class RetryPolicy:
    """How long an attempt may go without a frame, and how a session retries."""

    #: No frame for this long while ffmpeg runs: the attempt is stalled.
    stall_seconds: float = 10.0
    #: The first frame of an attempt may take this long (connecting, probing).
    startup_seconds: float = 30.0
    #: Attempts in a row without a frame before the session gives up.
    reconnect_attempts: int = 5
    backoff_first: float = 0.5
    backoff_max: float = 15.0

    @property
    def suspect_seconds(self) -> float:
        """No frame for this long while playing: the stream is suspected of stalling."""
        return min(SUSPECT_SECONDS, self.stall_seconds / 2)

    def backoff(self, failures: int) -> float:
        """The pause before attempt ``failures + 1``: doubling, capped."""
        return float(min(self.backoff_max, self.backoff_first * 2 ** max(failures - 1, 0)))


@attrs.frozen
class Watch:
    """The watchdog's look at a running attempt."""

    #: Wake up again at this time (on the caller's clock).
    wake_at: float
    #: The attempt stalled: give it up, with this as the reason.
    stalled: str | None = None
    #: No frame for a while, though not given up yet: a sentence for a person.
    suspected: str | None = None


def watch(policy: RetryPolicy, now: float, last_progress: float, frames: int) -> Watch:
    """Whether an attempt that showed ``frames`` frames, the last (or its start) at
    ``last_progress``, has stalled, or is suspected of it, at ``now``.

    Suspicion needs a first frame: before it the attempt is still connecting (the
    status says ``resolving`` or ``reconnecting``) and has ``startup_seconds``.
    """
    if not frames:
        due = last_progress + policy.startup_seconds
        if now >= due:
            return Watch(now, stalled=_stalled("no first frame", policy.startup_seconds))
        # Not past ``due`` in one sleep: the limits shrink once the first frame is out.
        return Watch(min(due, now + policy.suspect_seconds))
    due = last_progress + policy.stall_seconds
    if now >= due:
        return Watch(now, stalled=_stalled("no frame", policy.stall_seconds))
    suspect_at = last_progress + policy.suspect_seconds
    if now < suspect_at:
        return Watch(suspect_at)
    suspected = (
        f"the stream has sent no frame for {policy.suspect_seconds:g} s "
        f"(tuner restarts it after {policy.stall_seconds:g} s without one)"
    )
    # Awake while suspected: frames may come back and stop again before ``due``.
    return Watch(min(due, now + policy.suspect_seconds), suspected=suspected)


def _stalled(what: str, limit: float) -> str:
    return f"the stream stalled ({what} for {limit:.0f} s)"


@attrs.frozen
class AttemptEnd:
    """How one ffmpeg run ended, as its readers and watchdog saw it."""

    #: Frames it showed.
    frames: int
    #: Where the source is now, in seconds (for a video with a known duration).
    played: float = 0.0
    #: ffmpeg's exit status (negative: the signal that killed it); ``None`` if unknown.
    returncode: int | None = None
    #: Its picture came to an end (the source ended, or looked so to ffmpeg).
    video_ended: bool = False
    #: ffmpeg still ran after its picture ended, and was stopped.
    stopped_after_end: bool = False
    #: The watchdog's reason, if it gave the run up.
    stalled: str | None = None
    #: ffmpeg could not even start.
    start_error: str | None = None
    #: ffmpeg's last lines on stderr.
    stderr: tuple[str, ...] = ()
    #: What the egress proxy refused or met for this run: ffmpeg says only "403
    #: Forbidden" or "5XX" when the proxy answered it, so this is the sentence to show.
    egress_problem: str | None = None


def failure(end: AttemptEnd, *, is_live: bool, duration: float | None) -> str | None:
    """Why an attempt failed (a sentence for a person), or ``None`` when its source
    simply ended."""
    found = _failure(end, is_live=is_live, duration=duration)
    if found is not None and end.egress_problem is not None:
        return end.egress_problem
    return found


def _failure(end: AttemptEnd, *, is_live: bool, duration: float | None) -> str | None:
    if end.start_error:
        return end.start_error
    if end.stalled:
        return end.stalled
    tail = "\n".join(end.stderr)
    clean = end.returncode == 0 or end.stopped_after_end
    if end.video_ended and clean:
        if duration and not is_live and end.played < duration - 5:
            # A dropped connection can look like the end of the file to ffmpeg.
            return explain(tail, "the stream broke") if tail else "the stream broke off"
        return None
    if end.returncode is not None and end.returncode < 0 and not tail:
        return f"ffmpeg was killed by signal {-end.returncode}"
    return explain(tail, "ffmpeg failed") if tail else "ffmpeg stopped without a word"


class Next(enum.Enum):
    """What a session does after an attempt (or a failed resolution)."""

    #: The source is over: the session ends without an error.
    END = "end"
    #: Play on at once with the same source (a retune asked for a new ffmpeg).
    RETUNE = "retune"
    #: Resolve again and start another attempt after ``delay``.
    RETRY = "retry"
    #: Stop trying: the session fails with ``reason``.
    GIVE_UP = "give up"


@attrs.frozen
class Verdict:
    """What comes next, and why."""

    next: Next
    #: Broken attempts in a row, this one included (0 after one that showed a frame
    #: and ended well or was retuned).
    failures: int
    #: RETRY: what broke (``/api/status`` says it while reconnecting); GIVE_UP: the
    #: session's error.
    reason: str | None = None
    #: RETRY: seconds to wait first.
    delay: float = 0.0


def after_attempt(
    policy: RetryPolicy,
    failures: int,
    end: AttemptEnd,
    *,
    is_live: bool,
    duration: float | None,
    shown: bool,
    retuning: bool = False,
) -> Verdict:
    """The verdict on an attempt that ran.

    Args:
        failures: broken attempts in a row before this one.
        end: how it ended.
        is_live: its source is a live stream (which never simply ends).
        duration: its source's length in seconds, if known.
        shown: the session has shown a frame (in this attempt or an earlier one).
        retuning: a retune ended it on purpose.
    """
    if end.frames:
        failures = 0
    if retuning:
        return Verdict(Next.RETUNE, failures)
    why = failure(end, is_live=is_live, duration=duration)
    if why is None and not is_live:
        return Verdict(Next.END, failures)
    if not shown:
        return Verdict(Next.GIVE_UP, failures, why or "the source ended before its first frame")
    return _retry(policy, failures, why or "the live stream stopped")


def after_resolve_error(
    policy: RetryPolicy, failures: int, message: str, *, shown: bool
) -> Verdict:
    """The verdict on a resolution that failed with ``message`` (a sentence): a session
    that never showed a frame fails with it; one that did tries again."""
    if not shown:
        return Verdict(Next.GIVE_UP, failures, message)
    return _retry(policy, failures, message)


def _retry(policy: RetryPolicy, failures: int, reason: str) -> Verdict:
    failures += 1
    if failures > policy.reconnect_attempts:
        return Verdict(
            Next.GIVE_UP, failures, f"{reason} (gave up after {failures - 1} reconnects)"
        )
    return Verdict(Next.RETRY, failures, reason, policy.backoff(failures))
