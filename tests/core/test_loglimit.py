"""Log lines anyone can cause, one per key per interval (sans-IO)."""

from __future__ import annotations

from tuner.core.loglimit import LogLimit


def test_one_line_per_key_per_interval_then_how_many_were_held() -> None:
    limit = LogLimit(interval=60)
    assert limit.allow("a", 0.0) == 0
    assert [limit.allow("a", t) for t in (1.0, 30.0, 59.9)] == [None, None, None]
    # Another key is not held back by the first.
    assert limit.allow("b", 10.0) == 0
    assert limit.allow("a", 60.0) == 3
    assert limit.allow("a", 61.0) is None
    assert limit.allow("a", 200.0) == 1


def test_made_up_keys_cannot_fill_the_memory() -> None:
    limit = LogLimit(interval=60, max_keys=100)
    for n in range(10_000):
        assert limit.allow(f"198.51.100.{n}", float(n) / 1000) == 0
    assert len(limit._last) == 100
    assert len(limit._held) <= 100
