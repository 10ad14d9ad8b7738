"""Adaptive quality (sans-IO): when a session steps down and back up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tuner.core.adapt import (
    DOWN_AFTER,
    SETTLE_SECONDS,
    STALE_SECONDS,
    UP_AFTER,
    Adapter,
    Report,
    ladder,
)
from tuner.core.presets import PRESETS

ULTRA, LOW = PRESETS["ultra"], PRESETS["low"]
WINDOW = 2.0  # seconds between a client's reports


def levels(presets: tuple[object, ...]) -> list[tuple[str, int]]:
    return [(p.name, p.fps) for p in presets]  # type: ignore[attr-defined]


def test_the_ladder_goes_down_the_presets_then_down_the_frame_rate() -> None:
    assert levels(ladder(ULTRA)) == [
        ("ultra", 30), ("high", 30), ("med", 30), ("low", 24), ("low", 15), ("low", 10),
    ]  # fmt: skip
    assert levels(ladder(LOW)) == [("low", 24), ("low", 15), ("low", 10)]


class Viewer:
    """A client reporting every WINDOW seconds."""

    def __init__(self, adapter: Adapter, viewer: int = 1, start: float = 100.0) -> None:
        self.adapter, self.viewer, self.at, self.resyncs = adapter, viewer, start, 0

    def report(self, render_ms: float, late: int = 0, resync: bool = False) -> object:
        self.at += WINDOW
        self.resyncs += resync
        fps = self.adapter.preset.fps
        report = Report(self.viewer, self.at, round(fps * WINDOW) - late, late, render_ms,
                        self.resyncs)  # fmt: skip
        return self.adapter.observe(report)


def test_slow_drawing_steps_down_after_two_reports_in_a_row_not_one() -> None:
    adapter = Adapter(ULTRA)
    car = Viewer(adapter)
    assert car.report(render_ms=30) is None
    assert car.report(render_ms=5) is None, "one bad report is noise"
    assert car.report(render_ms=30) is None
    assert car.report(render_ms=30) == PRESETS["high"]
    assert adapter.level == 1


def test_late_frames_or_a_resync_also_step_down() -> None:
    adapter = Adapter(ULTRA)
    car = Viewer(adapter)
    for _ in range(DOWN_AFTER):
        result = car.report(render_ms=2, late=20)
    assert result == PRESETS["high"]
    car.at += SETTLE_SECONDS
    for _ in range(DOWN_AFTER):
        result = car.report(render_ms=2, resync=True)
    assert result == PRESETS["med"], "the link could not carry the bytes"


def test_reports_right_after_a_change_are_ignored() -> None:
    adapter = Adapter(ULTRA)
    car = Viewer(adapter)
    car.report(render_ms=30)
    assert car.report(render_ms=30) == PRESETS["high"]
    # The restart's first frames are slow: not a reason to step again.
    assert car.report(render_ms=30) is None
    assert car.report(render_ms=30) is None
    assert adapter.level == 1


def test_room_steps_back_up_slowly_and_only_when_every_viewer_has_it() -> None:
    adapter = Adapter(ULTRA, level=3)  # low, 24 fps
    car, phone = Viewer(adapter, 1), Viewer(adapter, 2)
    for _ in range(UP_AFTER + 2):
        assert car.report(render_ms=2) is None
        assert phone.report(render_ms=20) is None, "the phone is busy: stay"
    # The phone goes silent: it no longer holds the car, which has had room all along.
    car.at += STALE_SECONDS
    assert car.report(render_ms=2) == PRESETS["med"]
    # And from there, it takes the car UP_AFTER good reports again.
    car.at += SETTLE_SECONDS
    results = [car.report(render_ms=2) for _ in range(UP_AFTER)]
    assert results == [None] * (UP_AFTER - 1) + [PRESETS["high"]]


def test_drawing_that_would_not_fit_the_next_level_up_stays() -> None:
    adapter = Adapter(ULTRA, level=1)  # high; ultra has 1.43x the cells
    car = Viewer(adapter)
    # 9 ms at high is ~13 ms at ultra: over a third of ultra's 33 ms interval.
    assert all(car.report(render_ms=9) is None for _ in range(3 * UP_AFTER))


def test_a_step_up_that_does_not_hold_doubles_the_wait_for_the_next() -> None:
    adapter = Adapter(ULTRA, level=1)
    car = Viewer(adapter)
    ups = []
    for cycle in range(2):
        count = 0
        while (result := car.report(render_ms=2)) is None:
            count += 1
        assert result == ULTRA
        ups.append(count + 1)
        car.at += SETTLE_SECONDS
        car.report(render_ms=30)
        assert car.report(render_ms=30) == PRESETS["high"], f"cycle {cycle}"
        car.at += SETTLE_SECONDS
    assert ups == [UP_AFTER, 2 * UP_AFTER]


def test_the_ladder_has_ends() -> None:
    top = Adapter(LOW)
    car = Viewer(top)
    assert all(car.report(render_ms=0.1) is None for _ in range(3 * UP_AFTER))
    bottom = Adapter(LOW, level=2)
    car = Viewer(bottom)
    assert all(car.report(render_ms=500, late=40) is None for _ in range(10))
    assert bottom.preset.fps == 10


@given(
    st.lists(
        st.tuples(
            st.integers(1, 3), st.floats(0, 200), st.integers(0, 60), st.floats(0, 100),
            st.booleans(),
        ),
        max_size=60,
    )
)  # fmt: skip
def test_any_reports_keep_the_level_on_the_ladder_and_still_while_settling(
    reports: list[tuple[int, float, int, float, bool]],
) -> None:
    adapter = Adapter(ULTRA)
    steps = ladder(ULTRA)
    now, resyncs, last_change = 0.0, 0, float("-inf")
    for viewer, render_ms, late, gap, resync in reports:
        now += gap
        resyncs += resync
        result = adapter.observe(Report(viewer, now, 48, late, render_ms, resyncs))
        assert 0 <= adapter.level < len(steps)
        if result is not None:
            assert now - last_change >= SETTLE_SECONDS
            assert result == steps[adapter.level]
            last_change = now
