"""Adaptive quality: the preset and frame rate a session runs at, from what viewers report.

Sans-IO: an :class:`Adapter` takes each viewer's periodic :class:`Report` and says
when the session should step down (a viewer cannot keep up) or back up (every viewer
has room), along a :func:`ladder` that starts at the preset the user chose.

A viewer cannot keep up when drawing a frame takes most of a frame's interval, when
many of its frames were due before it could draw them (late), or when the server had
to drop its queue and resync it with a keyframe (the link cannot carry the bytes).
Steps down are quick (two bad reports in a row); steps up are slow (several good
ones, from every viewer) and slower again after a step up that did not hold, so the
picture does not flap between two presets. Right after a change, reports are not
trusted for a moment: ffmpeg restarts and the first frames of the new grid cost more.
"""

from __future__ import annotations

import attrs

from tuner.core.presets import PRESETS, Preset

#: Frame rates below the smallest preset's own, for a viewer that still cannot keep up.
LOW_FPS_STEPS = (15, 10)
#: Drawing may take up to this share of a frame's interval; beyond it, step down.
BUSY_SHARE = 0.7
#: Step up only when the next level up is expected to take less than this share.
ROOM_SHARE = 0.35
#: Share of a report's frames that may be late (dropped unseen) before stepping down.
LATE_SHARE = 0.2
#: Late share under which there is room to step up.
CALM_LATE_SHARE = 0.02
#: Bad reports in a row from one viewer that step down.
DOWN_AFTER = 2
#: Good reports in a row (from every viewer) that step up, before any backoff.
UP_AFTER = 5
#: The longest wait for a step up, in multiples of :data:`UP_AFTER`.
MAX_UP_BACKOFF = 8
#: A step down this soon after a step up doubles the wait for the next step up.
FLAP_SECONDS = 30.0
#: Reports that arrive this soon after a change are ignored.
SETTLE_SECONDS = 4.0
#: A viewer silent for this long no longer holds a step up back.
STALE_SECONDS = 10.0


def ladder(chosen: Preset) -> tuple[Preset, ...]:
    """The levels a session may run at: the chosen preset, every smaller one, then
    the smallest at :data:`LOW_FPS_STEPS`."""
    cells = chosen.cols * chosen.rows
    smaller = sorted(
        (p for p in PRESETS.values() if p.cols * p.rows < cells),
        key=lambda p: p.cols * p.rows,
        reverse=True,
    )
    steps = [chosen, *smaller]
    smallest = steps[-1]
    steps += [attrs.evolve(smallest, fps=fps) for fps in LOW_FPS_STEPS if fps < smallest.fps]
    return tuple(steps)


@attrs.frozen
class Report:
    """What one viewer says about the last few seconds (its ``stats`` message).

    Attributes:
        viewer: which viewer (the server's subscriber id).
        at: when the report arrived, in seconds on the session's clock.
        frames: frames drawn since the last report.
        late: frames dropped unseen because their time had passed.
        render_ms: how long drawing one frame took (a high percentile).
        resyncs: how many times the server has resynced this viewer so far (its
            queue was full, the link did not carry the bytes).
    """

    viewer: int
    at: float
    frames: int
    late: int
    render_ms: float
    resyncs: int


@attrs.define
class _Viewer:
    resyncs: int
    at: float
    bad: int = 0
    good: int = 0


@attrs.define
class Adapter:
    """Steps a session's quality up and down its :func:`ladder`.

    Attributes:
        chosen: the preset the user asked for: the top of the ladder.
        level: where on the ladder the session is (0 is ``chosen``).
    """

    chosen: Preset
    level: int = 0
    _ladder: tuple[Preset, ...] = attrs.field(init=False)
    _viewers: dict[int, _Viewer] = attrs.field(factory=dict, init=False)
    _settle_until: float = attrs.field(default=float("-inf"), init=False)
    _stepped_up_at: float = attrs.field(default=float("-inf"), init=False)
    _up_backoff: int = attrs.field(default=1, init=False)

    def __attrs_post_init__(self) -> None:
        self._ladder = ladder(self.chosen)

    @property
    def preset(self) -> Preset:
        """The preset (and frame rate) the session should run at now."""
        return self._ladder[self.level]

    def settle(self, now: float) -> None:
        """Ignore reports for a moment: the session (re)started its ffmpeg at ``now``."""
        self._settle_until = now + SETTLE_SECONDS
        for viewer in self._viewers.values():
            viewer.bad = viewer.good = 0

    def forget(self, viewer: int) -> None:
        """A viewer left: it no longer holds a step up back."""
        self._viewers.pop(viewer, None)

    def observe(self, report: Report) -> Preset | None:
        """Take a report; returns the preset to switch to, or ``None`` to stay."""
        viewer = self._viewers.get(report.viewer)
        if viewer is None:
            viewer = self._viewers[report.viewer] = _Viewer(report.resyncs, report.at)
            resynced = False
        else:
            resynced = report.resyncs > viewer.resyncs
        viewer.resyncs, viewer.at = report.resyncs, report.at
        if report.at < self._settle_until:
            return None
        if self._busy(report, resynced):
            viewer.bad, viewer.good = viewer.bad + 1, 0
        elif self._roomy(report):
            viewer.bad, viewer.good = 0, viewer.good + 1
        else:
            viewer.bad = viewer.good = 0
        if viewer.bad >= DOWN_AFTER and self.level + 1 < len(self._ladder):
            if report.at - self._stepped_up_at < FLAP_SECONDS:
                self._up_backoff = min(self._up_backoff * 2, MAX_UP_BACKOFF)
            return self._step(+1, report.at)
        fresh = [v for v in self._viewers.values() if report.at - v.at < STALE_SECONDS]
        wanted = UP_AFTER * self._up_backoff
        if self.level > 0 and all(v.good >= wanted for v in fresh):
            self._stepped_up_at = report.at
            return self._step(-1, report.at)
        return None

    def _step(self, direction: int, now: float) -> Preset:
        self.level += direction
        self.settle(now)
        return self.preset

    def _busy(self, report: Report, resynced: bool) -> bool:
        interval_ms = 1000 / self.preset.fps
        shown = report.frames + report.late
        late = shown > 0 and report.late / shown > LATE_SHARE
        return resynced or late or report.render_ms > BUSY_SHARE * interval_ms

    def _roomy(self, report: Report) -> bool:
        if self.level == 0:
            return False
        now, up = self.preset, self._ladder[self.level - 1]
        # Drawing costs about the same per cell per frame (only changed cells are
        # drawn, and the share that changes does not depend much on the size).
        expected_ms = report.render_ms * (up.cols * up.rows) / (now.cols * now.rows)
        shown = report.frames + report.late
        calm = shown > 0 and report.late / shown <= CALM_LATE_SHARE
        return calm and expected_ms < ROOM_SHARE * 1000 / up.fps
