"""Extractors: find live streams on a schedule, fast while an event is live.

The public face of the package; the modules with a leading underscore are private.

- :class:`Extractor` is what a source of streams implements; :class:`Registry` holds
  the enabled ones by key.
- :func:`run_extractors` runs them all at once, each under its own timeout.
- :class:`Poller` runs them on the schedule (:mod:`tuner.core.schedule`) and keeps
  their results (:class:`ResultCache`).
- Built in: ``demo`` (:mod:`.demo`), ``youtube_live`` (:mod:`.youtube_live`), ``page``
  (:mod:`.page`).
"""

from tuner.extract._base import (
    DuplicateExtractorError,
    Extractor,
    Health,
    Registered,
    Registry,
)
from tuner.extract._cache import ExtractorState, Listed, ResultCache, url_identity
from tuner.extract._http import Fetched, FetchError, HttpClient, SourceLimits, source_of
from tuner.extract._poller import (
    Poller,
    PollerUnavailableError,
    RunSummary,
    RunTicket,
)
from tuner.extract._records import (
    ExtractorError,
    PartialResultsError,
    StreamKind,
    StreamRecord,
)
from tuner.extract._run_all import Outcome, StreamChecker, describe_error, run_extractors, run_one
from tuner.extract._sources import (
    FetchedCalendar,
    IcsFile,
    ScheduleError,
    ScheduleSource,
    SourceState,
    f1_source,
    ics_url_source,
    parse_f1,
    parse_ics,
)
from tuner.extract._wiring import build_poller, make_poller, publish_to

__all__ = [
    "DuplicateExtractorError",
    "Extractor",
    "ExtractorError",
    "ExtractorState",
    "FetchError",
    "Fetched",
    "FetchedCalendar",
    "Health",
    "HttpClient",
    "IcsFile",
    "Listed",
    "Outcome",
    "PartialResultsError",
    "Poller",
    "PollerUnavailableError",
    "Registered",
    "Registry",
    "ResultCache",
    "RunSummary",
    "RunTicket",
    "ScheduleError",
    "ScheduleSource",
    "SourceLimits",
    "SourceState",
    "StreamChecker",
    "StreamKind",
    "StreamRecord",
    "build_poller",
    "describe_error",
    "f1_source",
    "ics_url_source",
    "make_poller",
    "parse_f1",
    "parse_ics",
    "publish_to",
    "run_extractors",
    "run_one",
    "source_of",
    "url_identity",
]
