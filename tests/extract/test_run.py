"""One run's fan-out, the registry, and the merged cache, against fakes (MockClock)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from tests.extract.fakes import FakeExtractor, failing, mock_now
from tuner.extract import (
    DuplicateExtractorError,
    PartialResultsError,
    Registry,
    ResultCache,
    StreamKind,
    StreamRecord,
    run_extractors,
    url_identity,
)


async def test_a_hanging_and_a_raising_extractor_cost_only_their_own_results(
    autojump_clock: trio.testing.MockClock,
) -> None:
    registry = Registry(default_timeout=10)
    registry.add(FakeExtractor("fast", ["f"], latency=1))
    registry.add(FakeExtractor("hangs", hang=True))
    registry.add(failing("down", "example.com answered HTTP 503"))
    registry.add(FakeExtractor("buggy", error=KeyError("title")))
    registry.add(FakeExtractor("slow", ["s1", "s2"], latency=7))
    registry.add(FakeExtractor("hangs_long", hang=True), timeout=12)

    began = trio.current_time()
    outcomes = await run_extractors(registry, clock=mock_now)
    elapsed = trio.current_time() - began

    assert elapsed == 12, "the run ends when the longest timeout expires, not later"
    by_key = {o.key: o for o in outcomes}
    assert [o.key for o in outcomes] == registry.keys()
    assert [r.title for r in by_key["fast"].records] == ["f"]
    assert (by_key["fast"].ok, by_key["fast"].duration) == (True, 1)
    assert (by_key["slow"].ok, by_key["slow"].duration, len(by_key["slow"].records)) == (True, 7, 2)
    assert (by_key["hangs"].ok, by_key["hangs"].error) == (False, "timed out after 10 s")
    assert by_key["hangs"].duration == 10
    assert by_key["hangs_long"].error == "timed out after 12 s"
    assert by_key["down"].error == "example.com answered HTTP 503"
    assert by_key["down"].duration == 0
    assert by_key["buggy"].error == "KeyError: 'title'"


async def test_partial_results_count_as_success_with_notes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Partial(FakeExtractor):
        async def extract(self) -> list[StreamRecord]:
            found = await super().extract()
            raise PartialResultsError(found, ["b.example: cannot connect"])

    outcomes = await run_extractors(Registry.of([Partial("p", ["x"])]), clock=mock_now)
    assert outcomes[0].ok and [r.title for r in outcomes[0].records] == ["x"]
    assert outcomes[0].notes == ("b.example: cannot connect",)


async def test_an_extractor_that_returns_nonsense_fails_with_a_reason(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Liar(FakeExtractor):
        async def extract(self) -> list[StreamRecord]:
            record = (await super().extract())[0]
            import attrs

            return [attrs.evolve(record, extractor="someone_else")]

    class Junk(FakeExtractor):
        async def extract(self) -> list[StreamRecord]:
            return ["https://x.example/a.m3u8"]  # type: ignore[list-item]

    liar, junk = await run_extractors(Registry.of([Liar("liar"), Junk("junk")]), clock=mock_now)
    assert liar.error == "returned a record marked as found by 'someone_else'"
    assert junk.error == "returned str, not a stream record"


def test_the_registry_refuses_duplicate_and_bad_keys() -> None:
    registry = Registry.of([FakeExtractor("demo")])
    with pytest.raises(DuplicateExtractorError, match="two extractors have the key 'demo'"):
        registry.add(FakeExtractor("demo"))
    with pytest.raises(ValueError, match="lower case"):
        registry.add(FakeExtractor("Bad Key"))
    with pytest.raises(ValueError, match="timeout must be positive"):
        registry.add(FakeExtractor("ok"), timeout=0)


def test_stream_records_are_validated() -> None:
    with pytest.raises(ValueError, match="must be http"):
        StreamRecord("t", "file:///etc/passwd", StreamKind.HLS, "k", 0.0)
    with pytest.raises(ValueError, match="title must not be empty"):
        StreamRecord(" ", "https://a/b", StreamKind.HLS, "k", 0.0)


def _record(key: str, url: str, *, live: bool = True, title: str = "t") -> StreamRecord:
    return StreamRecord(title, url, StreamKind.HLS, key, 100.0, is_live=live)


def test_the_cache_deduplicates_by_url_preferring_live_and_fresh() -> None:
    from tuner.extract import Outcome

    cache = ResultCache([("a", "A", 10.0), ("b", "B", 10.0)])
    same = "https://CDN.example/live.m3u8#t=1"
    cache.apply(
        [
            Outcome("a", True, (_record("a", same, live=False, title="from a"),)),
            Outcome("b", True, (_record("b", "https://cdn.example/live.m3u8", title="from b"),)),
        ],
        finished_at=100.0,
    )
    listed = cache.streams()
    assert len(listed) == 1 and listed[0].record.title == "from b", "the live one wins"
    assert url_identity(same) == url_identity("https://cdn.example/live.m3u8")

    # b fails: its record is stale now, so a's fresh one wins... unless b's is live.
    changed = cache.apply(
        [Outcome("a", True, (_record("a", same, title="from a"),)), Outcome("b", False)], 200.0
    )
    assert changed
    assert [(item.record.title, item.stale) for item in cache.streams()] == [("from a", False)]
    assert not cache.apply(
        [Outcome("a", True, (_record("a", same, title="from a"),)), Outcome("b", False)], 300.0
    ), "the same list again is no change"
