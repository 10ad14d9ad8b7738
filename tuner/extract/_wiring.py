"""The poller as the settings describe it, wired to the event hub."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tuner.config import Settings
from tuner.core.schedule import Event, Timing
from tuner.events import EventHub
from tuner.extract._base import Registry
from tuner.extract._http import HttpClient, SourceLimits
from tuner.extract._poller import Poller
from tuner.extract._sources import IcsFile, ScheduleSource, f1_source, ics_url_source
from tuner.extract.demo import DemoExtractor
from tuner.extract.page import PageExtractor
from tuner.extract.youtube_live import YoutubeLiveExtractor


def build_poller(
    settings: Settings, *, now: Callable[[], float] = time.time, proxy: str | None = None
) -> Poller:
    """A poller with the extractors and schedule sources that ``settings`` enable,
    fetching through ``proxy`` (the egress proxy) when given.

    Raises:
        DuplicateExtractorError: two extractors with one key.
    """
    config = settings.extract
    limits = SourceLimits(config.per_source_limit, config.per_source_delay_seconds)
    http = HttpClient(config.http_timeout_seconds, limits, proxy=proxy)
    registry = Registry(config.timeout_seconds)
    if config.demo.enabled:
        registry.add(DemoExtractor(config.demo.streams, clock=now), config.demo.timeout_seconds)
    if config.youtube_live.enabled:
        youtube = YoutubeLiveExtractor(
            config.youtube_live.channels,
            limits,
            socket_timeout=config.youtube_live.socket_timeout_seconds,
            clock=now,
            proxy=proxy,
        )
        registry.add(youtube, config.youtube_live.timeout_seconds)
    if config.page.enabled:
        registry.add(PageExtractor(config.page.sites, http, clock=now), config.page.timeout_seconds)

    schedule = settings.schedule
    cache_dir = settings.state_dir / "schedule"
    sources: list[ScheduleSource] = []
    for ics in schedule.ics:
        if ics.startswith(("http://", "https://")):
            sources.append(ics_url_source(ics, http, cache_dir, now))
        else:
            sources.append(IcsFile(Path(ics), now))
    if schedule.f1:
        sources.append(
            f1_source(
                schedule.f1_url,
                http,
                cache_dir,
                schedule.f1_race_minutes,
                schedule.f1_session_minutes,
            )
        )
    timing = Timing(
        live_interval=config.live_interval_minutes * 60,
        idle_interval=config.idle_interval_minutes * 60,
        lead=config.lead_minutes * 60,
        overrun=config.overrun_minutes * 60,
    )
    events = [
        Event(e.title, e.start.timestamp(), e.end.timestamp(), "config") for e in schedule.events
    ]
    return Poller(
        registry,
        timing,
        http=http,
        check_streams=config.check_streams,
        sources=sources,
        events=events,
        refresh=schedule.refresh_hours * 3600,
        now=now,
    )


def publish_to(poller: Poller, hub: EventHub) -> None:
    """Send ``streams`` and ``extractors`` events to ``hub`` (a snapshot of each first)."""
    views = {"streams": poller.streams_json, "extractors": poller.status_json}
    for event_type, view in views.items():
        hub.add_snapshot(event_type, view)
    poller.on_change.append(lambda event_type: hub.publish(event_type, views[event_type]()))


def make_poller(settings: Settings, hub: EventHub, proxy: str | None = None) -> Poller | None:
    """The daemon's poller, publishing to ``hub``; ``None`` when ``[extract]`` is off."""
    if not settings.extract.enabled:
        return None
    poller = build_poller(settings, proxy=proxy)
    publish_to(poller, hub)
    return poller
