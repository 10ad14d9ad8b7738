"""``/metrics``: the daemon's counters in the Prometheus text format.

The figures live where the work happens (the supervisor, each viewer's queue); this
collector reads them at scrape time, so nothing on the hot path touches a metrics
library.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tuner.play.supervisor import Supervisor


class _TunerCollector(Collector):
    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def collect(self) -> Iterator[Metric]:
        sup = self._supervisor
        yield CounterMetricFamily(
            "tuner_sessions_started", "Sessions started by a play.", value=sup.sessions_started
        )
        yield CounterMetricFamily(
            "tuner_ffmpeg_failures",
            "Sessions whose ffmpeg failed or could not start.",
            value=sup.ffmpeg_failures,
        )
        yield CounterMetricFamily(
            "tuner_ffmpeg_restarts",
            "ffmpeg processes started again within a session (reconnects).",
            value=sup.ffmpeg_restarts,
        )
        viewers = list(sup.stage.viewers_now)
        yield GaugeMetricFamily("tuner_viewers_connected", "Open /ws/video sockets.", len(viewers))
        yield GaugeMetricFamily(
            "tuner_audio_listeners", "Open /audio streams.", sup.stage.audio_listeners()
        )
        yield GaugeMetricFamily(
            "tuner_supervisor_alive", "1 while the session supervisor runs.", int(sup.alive)
        )
        sent = CounterMetricFamily(
            "tuner_viewer_frames_sent", "Frames sent to a connected viewer.", labels=["viewer"]
        )
        dropped = CounterMetricFamily(
            "tuner_viewer_frames_dropped",
            "Frames a connected viewer skipped because it fell behind.",
            labels=["viewer"],
        )
        resyncs = CounterMetricFamily(
            "tuner_viewer_resyncs",
            "Times a connected viewer fell behind and was sent a keyframe of the newest frame.",
            labels=["viewer"],
        )
        for viewer in viewers:
            sent.add_metric([str(viewer.id)], viewer.delivered)
            dropped.add_metric([str(viewer.id)], viewer.dropped)
            resyncs.add_metric([str(viewer.id)], viewer.resyncs)
        yield sent
        yield dropped
        yield resyncs
        steps = CounterMetricFamily(
            "tuner_quality_steps",
            "Preset or frame rate changes made by adaptive quality.",
            labels=["direction"],
        )
        for direction, count in sup.quality_steps.items():
            steps.add_metric([direction], count)
        yield steps
        resolver = sup.resolver
        if resolver is not None:
            yield CounterMetricFamily(
                "tuner_resolutions",
                "Queries resolved by yt-dlp (a worker process each), failed ones included.",
                value=resolver.resolutions,
            )
            yield CounterMetricFamily(
                "tuner_resolve_failures",
                "Resolutions that found nothing playable, failed or timed out.",
                value=resolver.failures,
            )
            yield CounterMetricFamily(
                "tuner_resolve_cache_hits",
                "Plays whose query was answered from the resolver's cache.",
                value=resolver.cache_hits,
            )
            yield CounterMetricFamily(
                "tuner_searches",
                "Searches run by yt-dlp (a worker process each), failed ones included.",
                value=resolver.searches,
            )
            yield CounterMetricFamily(
                "tuner_search_failures",
                "Searches that failed or timed out.",
                value=resolver.search_failures,
            )
            yield CounterMetricFamily(
                "tuner_search_cache_hits",
                "Searches answered from the resolver's cache.",
                value=resolver.search_cache_hits,
            )
        yield CounterMetricFamily(
            "tuner_frames_sent",
            "Frames sent to all viewers, including those gone.",
            value=sup.stage.delivered_total(),
        )
        yield CounterMetricFamily(
            "tuner_frames_dropped",
            "Frames skipped by all viewers, including those gone.",
            value=sup.stage.dropped_total(),
        )


def make_registry(supervisor: Supervisor) -> CollectorRegistry:
    """A registry of this daemon's metrics (one per daemon, never the global one)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_TunerCollector(supervisor))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The registry in the Prometheus text exposition format."""
    return generate_latest(registry)
