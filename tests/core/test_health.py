"""Combining the components' health: their words in order, the worst level, every problem."""

from __future__ import annotations

from tuner.core.health import Health, Level, combine


def test_nothing_wrong_is_ok() -> None:
    health = combine([Health({"web": "ok"}), Health({"queue": "ok"})])
    assert health == Health({"web": "ok", "queue": "ok"}, Level.OK, ())
    assert health.status == "ok"


def test_the_worst_component_decides_and_every_problem_is_kept_in_order() -> None:
    health = combine(
        [
            Health({"web": "ok"}),
            Health({"playback": "stalled"}, Level.DEGRADED, ("no frame for 5 s",)),
            Health({"queue": "full"}, Level.UNHEALTHY, ("the queue cannot be saved",)),
            Health({"logins": "paused"}, Level.DEGRADED, ("logins are paused",)),
        ]
    )
    assert health.status == "unhealthy"
    assert list(health.components) == ["web", "playback", "queue", "logins"]
    assert health.problems == (
        "no frame for 5 s",
        "the queue cannot be saved",
        "logins are paused",
    )


def test_a_problem_alone_does_not_make_it_degraded() -> None:
    # A queue database replaced at start is said, and the daemon is still ok.
    health = combine([Health({"queue": "recovered"}, Level.OK, ("kept a copy",))])
    assert (health.status, health.problems) == ("ok", ("kept a copy",))


def test_degraded_without_anything_unhealthy() -> None:
    health = combine([Health({"web": "ok"}), Health({"extractors": "failing"}, Level.DEGRADED)])
    assert health.status == "degraded"
