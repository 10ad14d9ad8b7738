"""The extractor interface and the registry that holds extractors by key."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Protocol, TypeVar, runtime_checkable

import attrs
import trio

from tuner.extract._records import ExtractorError, PartialResultsError, StreamRecord

T = TypeVar("T")

_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")


@attrs.frozen
class Health:
    """What an extractor's :meth:`Extractor.health_check` found."""

    ok: bool
    detail: str = "ok"


@runtime_checkable
class Extractor(Protocol):
    """A source of live streams (a site, a channel list, a fixed list).

    ``extract`` is called once per run, under the run's timeout for this extractor; it
    may be cancelled at any await. It returns what it found, raises
    :class:`~tuner.extract.ExtractorError` with a message a person can act on, or
    raises :class:`~tuner.extract.PartialResultsError` when only some of its sources
    failed. ``health_check`` is cheap and local (is a tool there, is it configured):
    it is run at startup and shown in ``/api/extractors``.
    """

    @property
    def key(self) -> str:
        """A stable identifier: lower case letters, digits and ``_``."""
        ...

    @property
    def name(self) -> str:
        """What a person calls it."""
        ...

    async def extract(self) -> Sequence[StreamRecord]:
        """Find the streams this extractor knows of now."""
        ...

    async def health_check(self) -> Health:
        """Whether this extractor can work at all, and if not, why."""
        ...


class DuplicateExtractorError(ValueError):
    """Two extractors with one key: a configuration or programming error at startup."""


@attrs.frozen
class Registered:
    """An extractor and the timeout of its part of a run."""

    extractor: Extractor
    timeout: float

    @property
    def key(self) -> str:
        """The extractor's key."""
        return self.extractor.key


class Registry:
    """The enabled extractors, by key, in the order they were added."""

    def __init__(self, default_timeout: float = 60.0) -> None:
        self.default_timeout = default_timeout
        self._entries: dict[str, Registered] = {}

    def add(self, extractor: Extractor, timeout: float | None = None) -> None:
        """Register ``extractor``; its part of a run is cut after ``timeout`` seconds.

        Raises:
            DuplicateExtractorError: another extractor has its key.
            ValueError: the key is not lower case letters, digits and ``_``, or the
                timeout is not positive.
        """
        key = extractor.key
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(f"extractor key {key!r}: use lower case letters, digits and _")
        if key in self._entries:
            raise DuplicateExtractorError(
                f"two extractors have the key {key!r}: "
                f"{self._entries[key].extractor.name!r} and {extractor.name!r}"
            )
        timeout = self.default_timeout if timeout is None else timeout
        if not timeout > 0:
            raise ValueError(f"extractor {key!r}: the timeout must be positive, got {timeout}")
        self._entries[key] = Registered(extractor, timeout)

    def get(self, key: str) -> Registered:
        """The entry for ``key``.

        Raises:
            KeyError: no extractor has that key.
        """
        return self._entries[key]

    def keys(self) -> list[str]:
        """The keys, in registration order."""
        return list(self._entries)

    def __iter__(self) -> Iterator[Registered]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def of(cls, extractors: Iterable[Extractor], default_timeout: float = 60.0) -> Registry:
        """A registry of ``extractors``, all with the default timeout."""
        registry = cls(default_timeout)
        for extractor in extractors:
            registry.add(extractor)
        return registry


async def gather_each(
    sources: Sequence[T], fetch: Callable[[T], Awaitable[Sequence[StreamRecord]]]
) -> list[StreamRecord]:
    """``fetch`` every source at once (an extractor's pages, channels...); one that fails
    costs only its own records.

    Raises:
        ExtractorError: every source failed (the message joins their problems).
        PartialResultsError: some sources failed; it carries the others' records.
    """
    records: list[StreamRecord] = []
    problems: list[str] = []

    async def fetch_into(source: T) -> None:
        try:
            records.extend(await fetch(source))
        except ExtractorError as exc:
            problems.append(str(exc))

    async with trio.open_nursery() as nursery:
        for source in sources:
            nursery.start_soon(fetch_into, source)
    if problems and len(problems) == len(sources):
        raise ExtractorError("; ".join(problems))
    if problems:
        raise PartialResultsError(records, problems)
    return records
