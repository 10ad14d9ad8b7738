"""Settings: a TOML file, overridden by ``TUNER_*`` environment variables, overridden
by command-line flags.

Every value is checked where it enters; a bad one is a :class:`ConfigError` that names
the key and where it came from, so ``tuner serve`` can say exactly what to fix.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import platformdirs

from tuner.core.egress import AllowEntry
from tuner.core.forwarded import parse_networks, server_name
from tuner.core.presets import PRESETS, Mode
from tuner.core.search import check_prefix

log = logging.getLogger(__name__)

APP_NAME = "tuner"
ENV_PREFIX = "TUNER_"


class ConfigError(Exception):
    """A setting that cannot be used; the message names the key and its source."""


@attrs.frozen
class Settings:
    """Everything the daemon is configured with. Defaults are for a first run."""

    host: str = "127.0.0.1"
    port: int = 8080
    state_dir: Path = attrs.field(factory=lambda: default_state_dir())
    ffmpeg: str | None = None
    ffprobe: str | None = None
    pin_file: Path | None = None
    default_preset: str = "low"
    default_mode: str = "mono"
    #: Step the preset and frame rate down when a viewer cannot keep up, and back up.
    adaptive_quality: bool = True
    session_days: float = 30.0
    metrics_token: str | None = attrs.field(default=None, repr=False)
    log_level: str = "info"
    #: How far ffmpeg reads ahead of the play head, in seconds (0: in real time).
    lead_seconds: float = 10.0
    drain_seconds: float = 1.5
    tcp_user_timeout: float = 10.0
    #: Sources are fetched at most this tall: the grid is at most 480x400 pixels.
    max_source_height: int = 480
    resolve_timeout: float = 20.0
    resolve_cache_seconds: float = 120.0
    #: Where ``/api/search`` searches: a yt-dlp search key (``<prefix><n>:<words>``).
    search_prefix: str = "ytsearch"
    #: A playing session with no frame for this long is restarted.
    stall_seconds: float = 10.0
    #: Reconnect attempts in a row (without a frame between them) before giving up.
    reconnect_attempts: int = 5
    #: Proxies and tunnels whose ``X-Forwarded-*`` headers are believed (IPs, CIDRs).
    #: None by default: a tunnel that relays TCP (ssh -R, frp, ngrok tcp) connects
    #: from loopback too, and behind one those headers are the client's own.
    trusted_proxies: tuple[str, ...] = ()
    #: When not empty, the host names (or addresses) the daemon answers to; a
    #: request for another gets 421 (a DNS rebinding page, a scanner). Loopback
    #: addresses and ``localhost`` are always answered.
    server_names: tuple[str, ...] = ()
    #: Serve https directly with this certificate chain and key (PEM files).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: At most this many video sockets and audio streams at once.
    max_viewers: int = 16
    max_listeners: int = 16
    #: At most this many ``/ws/events`` sockets at once; ``None``: as ``max_viewers``.
    max_event_sockets: int | None = None
    #: Requests answered at once, open streams (websockets, ``/audio``) included;
    #: beyond it a request gets a fast 503 with ``Retry-After``.
    max_concurrent_requests: int = 512
    #: A request's head (and body) must arrive within this long, and an idle
    #: keep-alive connection is closed after it: slow clients are cut.
    request_timeout: float = 5.0
    config_file: Path | None = None
    #: Hosts, addresses and networks fetched although not public (see tuner.core.egress).
    fetch_allow: tuple[str, ...] = ()
    #: ``[extract]``: the extractor poller and each extractor (see the end of this module).
    extract: ExtractSettings = attrs.field(factory=lambda: ExtractSettings())
    #: ``[schedule]``: where the poller learns when events are live.
    schedule: ScheduleSettings = attrs.field(factory=lambda: ScheduleSettings())
    #: ``[queue]``: the up-next queue, its preparation jobs and its download cache.
    queue: QueueSettings = attrs.field(factory=lambda: QueueSettings())

    @property
    def event_socket_limit(self) -> int:
        """How many ``/ws/events`` sockets may be open at once."""
        return self.max_viewers if self.max_event_sockets is None else self.max_event_sockets


def default_config_file() -> Path:
    """Where the config file is looked for when ``--config`` is not given."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_state_dir() -> Path:
    """systemd's ``StateDirectory=`` when set, else the platform's per-user state dir."""
    from_systemd = os.environ.get("STATE_DIRECTORY")
    if from_systemd:
        # systemd passes a colon-separated list when several are configured.
        return Path(from_systemd.split(":")[0])
    return Path(platformdirs.user_state_dir(APP_NAME))


# Each parser takes a value as a TOML file, the environment or a flag gives it, and
# returns it typed, or raises ValueError with what was expected.


def _str(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return value.strip()


def _number_range(kind: type[int] | type[float], lo: float, hi: float) -> Callable[[object], Any]:
    noun = "a whole number" if kind is int else "a number"
    accepted = (int, str) if kind is int else (int, float, str)

    def parse(value: object) -> int | float:
        number = None
        # bool is an int to Python, never to a person editing a config file.
        if isinstance(value, accepted) and not isinstance(value, bool):
            with contextlib.suppress(ValueError):
                number = kind(value)
        if number is None or not lo <= number <= hi:
            raise ValueError(f"must be {noun} from {lo} to {hi}, got {value!r}")
        return number

    return parse


def _path(value: object) -> Path:
    return Path(_str(str(value) if isinstance(value, Path) else value)).expanduser()


_FLAG_WORDS = {"true": True, "yes": True, "on": True, "1": True,
               "false": False, "no": False, "off": False, "0": False}  # fmt: skip


def _flag(value: object) -> bool:
    # TOML has booleans; the environment only has words.
    if isinstance(value, bool):
        return value
    word = _FLAG_WORDS.get(_str(value).strip().lower()) if isinstance(value, str) else None
    if word is None:
        raise ValueError(f"must be true or false, got {value!r}")
    return word


def _choice(*choices: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = _str(value).lower()
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


def _entries(check: Callable[[str], object], noun: str) -> Callable[[object], tuple[str, ...]]:
    def parse(value: object) -> tuple[str, ...]:
        # A TOML list, or one comma-separated string (the environment's only form).
        entries = value.split(",") if isinstance(value, str) else value
        if not isinstance(entries, list | tuple) or not all(isinstance(e, str) for e in entries):
            raise ValueError(f"must be a list of {noun}, got {value!r}")
        entries = [entry.strip() for entry in entries if entry.strip()]
        for entry in entries:
            check(entry)  # its ValueError names the entry
        return tuple(entries)

    return parse


_PARSERS: dict[str, Callable[[object], Any]] = {
    "host": _str,
    "port": _number_range(int, 0, 65535),
    "state_dir": _path,
    "ffmpeg": _str,
    "ffprobe": _str,
    "pin_file": _path,
    "default_preset": _choice(*PRESETS),
    "default_mode": _choice(*(mode.value for mode in Mode)),
    "adaptive_quality": _flag,
    "session_days": _number_range(float, 0.01, 3650),
    "metrics_token": _str,
    "log_level": _choice("debug", "info", "warning", "error"),
    "lead_seconds": _number_range(float, 0, 30),
    "drain_seconds": _number_range(float, 0.1, 60),
    "tcp_user_timeout": _number_range(float, 0.5, 600),
    "max_source_height": _number_range(int, 144, 4320),
    "resolve_timeout": _number_range(float, 1, 300),
    "resolve_cache_seconds": _number_range(float, 0, 3600),
    "search_prefix": lambda value: check_prefix(_str(value)),
    "stall_seconds": _number_range(float, 0.5, 600),
    "reconnect_attempts": _number_range(int, 0, 1000),
    "trusted_proxies": _entries(lambda entry: parse_networks([entry]), "IP addresses or networks"),
    "server_names": _entries(server_name, "host names"),
    "tls_cert": _path,
    "tls_key": _path,
    "max_viewers": _number_range(int, 1, 10_000),
    "max_listeners": _number_range(int, 1, 10_000),
    "max_event_sockets": _number_range(int, 1, 10_000),
    "max_concurrent_requests": _number_range(int, 8, 100_000),
    "request_timeout": _number_range(float, 1, 600),
    "fetch_allow": _entries(AllowEntry.parse, "host names, addresses or networks"),
    # Tables: in the config file only (an environment variable cannot hold one).
    "extract": lambda value: _parse_extract(value),
    "schedule": lambda value: _parse_schedule(value),
    "queue": lambda value: _parse_queue(value),
}

#: Keys a config file or the environment may set (others are errors: likely typos).
KEYS = tuple(_PARSERS)
#: Settings that no longer do anything: accepted with a warning, so that an old
#: config file still starts the daemon.
RETIRED = {
    "viewer_queue": "each viewer now reads the session's timeline from a cursor of its "
    "own; lead_seconds says how much is held ahead",
}


def _apply(values: dict[str, Any], raw: Mapping[str, object], source: str) -> None:
    for key, value in raw.items():
        if key in RETIRED:
            log.warning("%s: %s no longer does anything (%s)", source, key, RETIRED[key])
            continue
        parser = _PARSERS.get(key)
        if parser is None:
            raise ConfigError(
                f"{source}: unknown setting {key!r}; known settings: {', '.join(KEYS)}"
            )
        try:
            values[key] = parser(value)
        except KeyedError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        except ValueError as exc:
            raise ConfigError(f"{source}: {key} {exc}") from None


def read_config_file(path: Path) -> dict[str, object]:
    """Parse a TOML config file.

    Raises:
        ConfigError: unreadable or not valid TOML (with the parser's line and column).
    """
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, object | None] | None = None,
) -> Settings:
    """Build the settings from a file, the environment and flags, later ones winning.

    Args:
        config_file: an explicit file (it must exist); else ``TUNER_CONFIG``, else
            :func:`default_config_file` if it exists.
        environ: the environment (``os.environ`` by default); ``TUNER_<KEY>`` sets a key.
        flags: values from the command line; ``None`` means "not given".

    Raises:
        ConfigError: a missing or malformed file, an unknown key, or a bad value.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}

    path = config_file
    if path is None and environ.get(ENV_PREFIX + "CONFIG"):
        path = Path(environ[ENV_PREFIX + "CONFIG"]).expanduser()
    if path is None and default_config_file().is_file():
        path = default_config_file()
    if path is not None:
        _apply(values, read_config_file(path), str(path))
        values["config_file"] = path

    from_env = {
        key: environ[ENV_PREFIX + key.upper()]
        for key in KEYS
        if environ.get(ENV_PREFIX + key.upper()) not in (None, "")
    }
    for key, text in from_env.items():
        _apply(values, {key: text}, f"environment variable {ENV_PREFIX}{key.upper()}")

    for key, flag in (flags or {}).items():
        if flag is not None:
            _apply(values, {key: flag}, f"--{key.replace('_', '-')}")
    if ("tls_cert" in values) != ("tls_key" in values):
        raise ConfigError("tls_cert and tls_key: give both (https) or neither (plain http)")
    return Settings(**values)


# ---------------------------------------------------------------------------------------
# [extract] and [schedule]: the extractor poller, its extractors and its schedule.
#
# Nested tables are checked key by key like the top level: an unknown key is an error
# naming its dotted path (``extract.demo.strems``), likely a typo.

#: Public HLS test streams the ``demo`` extractor lists unless configured otherwise.
DEFAULT_DEMO_STREAMS_RAW = (
    (
        "Apple bipbop test pattern",
        "https://devstreaming-cdn.apple.com/videos/streaming/examples/"
        "img_bipbop_adv_example_fmp4/master.m3u8",
    ),
    ("Big Buck Bunny (Mux test stream)", "https://test-streams.mux.dev/x36xhzz/x36xhzz.m3u8"),
    (
        "Akamai live test stream",
        "https://cph-p2p-msl.akamaized.net/hls/live/2000341/test/master.m3u8",
    ),
)
#: Jolpica's mirror of the Ergast API: the current Formula 1 season, every session.
DEFAULT_F1_URL = "https://api.jolpi.ca/ergast/f1/current.json"


class KeyedError(ValueError):
    """A bad value or unknown key deep in a table; the message names its dotted path."""


@attrs.frozen
class StreamSpec:
    """A stream named in the config (the ``demo`` extractor's list)."""

    title: str
    url: str


@attrs.frozen
class PageSite:
    """A page the ``page`` extractor scans for ``.m3u8`` links.

    Attributes:
        url: the page.
        pattern: a regular expression for the links (group 1 if it has one, else the
            whole match); ``None`` for any ``.m3u8`` URL.
        title: what to call its streams; ``None`` for the page's ``<title>``.
    """

    url: str
    pattern: str | None = None
    title: str | None = None


DEFAULT_DEMO_STREAMS = tuple(StreamSpec(title, url) for title, url in DEFAULT_DEMO_STREAMS_RAW)


@attrs.frozen
class DemoSettings:
    """``[extract.demo]``: a fixed list of streams (public HLS test streams by default)."""

    enabled: bool = False
    timeout_seconds: float | None = None
    streams: tuple[StreamSpec, ...] = DEFAULT_DEMO_STREAMS


@attrs.frozen
class YoutubeLiveSettings:
    """``[extract.youtube_live]``: channels checked through yt-dlp for a live broadcast."""

    enabled: bool = False
    timeout_seconds: float | None = None
    #: ``@handle``, a channel ID (``UC...``) or a channel URL.
    channels: tuple[str, ...] = ()
    #: yt-dlp's own socket timeout for each request it makes.
    socket_timeout_seconds: float = 15.0


@attrs.frozen
class PageSettings:
    """``[extract.page]``: pages scanned for ``.m3u8`` links."""

    enabled: bool = False
    timeout_seconds: float | None = None
    sites: tuple[PageSite, ...] = ()


@attrs.frozen
class ExtractSettings:
    """``[extract]``: the poller's timing, its HTTP limits, and each extractor."""

    enabled: bool = True
    live_interval_minutes: float = 5.0
    idle_interval_minutes: float = 30.0
    lead_minutes: float = 15.0
    overrun_minutes: float = 30.0
    #: How long one extractor may take in a run before it counts as failed.
    timeout_seconds: float = 60.0
    #: Fetch each HLS URL found and list only those that answer with a playlist.
    check_streams: bool = True
    http_timeout_seconds: float = 10.0
    #: Requests at once to one source (a host, or YouTube for yt-dlp).
    per_source_limit: int = 2
    #: Seconds between the starts of two requests to one source.
    per_source_delay_seconds: float = 1.0
    demo: DemoSettings = DemoSettings()
    youtube_live: YoutubeLiveSettings = YoutubeLiveSettings()
    page: PageSettings = PageSettings()


@attrs.frozen
class ScheduledEvent:
    """An event from ``[[schedule.events]]``: a title and its start and end (aware)."""

    title: str
    start: datetime.datetime
    end: datetime.datetime


@attrs.frozen
class ScheduleSettings:
    """``[schedule]``: where the poller learns when events are live."""

    events: tuple[ScheduledEvent, ...] = ()
    #: iCalendar (.ics) sources: http(s) URLs or file paths.
    ics: tuple[str, ...] = ()
    f1: bool = False
    f1_url: str = DEFAULT_F1_URL
    #: F1 sessions have only a start: how long a race, and any other session, lasts.
    f1_race_minutes: float = 120.0
    f1_session_minutes: float = 60.0
    #: How often fetched calendars are fetched again.
    refresh_hours: float = 24.0


Parser = Callable[[object, str], Any]


def _plain(parse: Callable[[object], Any]) -> Parser:
    """A value parser as a table field parser (the path is added to its error)."""

    def parse_at(value: object, path: str) -> Any:
        try:
            return parse(value)
        except KeyedError:
            raise
        except ValueError as exc:
            raise KeyedError(f"{path} {exc}") from None

    return parse_at


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


def _url(value: object) -> str:
    text = _str(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
    return text


def _regex(value: object) -> str:
    text = _str(value)
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"is not a valid regular expression: {exc}") from None
    return text


def _table(value: object, path: str, fields: Mapping[str, Parser]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise KeyedError(f"{path} must be a table ([{path}] in the config file), got {value!r}")
    parsed: dict[str, Any] = {}
    for key, item in value.items():
        parser = fields.get(key)
        if parser is None:
            raise KeyedError(
                f"unknown setting {path}.{key!r}; known in [{path}]: {', '.join(fields)}"
            )
        parsed[key] = parser(item, f"{path}.{key}")
    return parsed


def _list_of(parse: Parser) -> Parser:
    def parse_list(value: object, path: str) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise KeyedError(f"{path} must be a list, got {value!r}")
        return tuple(parse(item, f"{path}[{n}]") for n, item in enumerate(value))

    return parse_list


def _stream_spec(value: object, path: str) -> StreamSpec:
    fields = _table(value, path, {"title": _plain(_str), "url": _plain(_url)})
    if "url" not in fields:
        raise KeyedError(f"{path} needs a url")
    return StreamSpec(fields.get("title", fields["url"]), fields["url"])


def _page_site(value: object, path: str) -> PageSite:
    fields = _table(
        value, path, {"url": _plain(_url), "pattern": _plain(_regex), "title": _plain(_str)}
    )
    if "url" not in fields:
        raise KeyedError(f"{path} needs a url")
    return PageSite(**fields)


_CHANNEL = re.compile(r"@[\w.\-]{3,100}|UC[\w\-]{22}|https?://(www\.|m\.)?youtube\.com/\S+")


def _channel(value: object) -> str:
    text = _str(value)
    if not _CHANNEL.fullmatch(text):
        raise ValueError(
            f"must be a @handle, a channel ID (UC...) or a youtube.com channel URL, got {value!r}"
        )
    return text


_TIMEOUT = _plain(_number_range(float, 0.1, 3600))
_EXTRACTOR_FIELDS: dict[str, Parser] = {"enabled": _plain(_bool), "timeout_seconds": _TIMEOUT}


def _parse_extract(value: object) -> ExtractSettings:
    minutes = _plain(_number_range(float, 0.1, 7 * 24 * 60))
    margin = _plain(_number_range(float, 0, 24 * 60))
    demo = {**_EXTRACTOR_FIELDS, "streams": _list_of(_stream_spec)}
    youtube = {
        **_EXTRACTOR_FIELDS,
        "channels": _list_of(_plain(_channel)),
        "socket_timeout_seconds": _plain(_number_range(float, 1, 300)),
    }
    page = {**_EXTRACTOR_FIELDS, "sites": _list_of(_page_site)}
    fields = _table(
        value,
        "extract",
        {
            "enabled": _plain(_bool),
            "live_interval_minutes": minutes,
            "idle_interval_minutes": minutes,
            "lead_minutes": margin,
            "overrun_minutes": margin,
            "timeout_seconds": _TIMEOUT,
            "check_streams": _plain(_bool),
            "http_timeout_seconds": _plain(_number_range(float, 0.5, 300)),
            "per_source_limit": _plain(_number_range(int, 1, 64)),
            "per_source_delay_seconds": _plain(_number_range(float, 0, 600)),
            "demo": lambda v, p: DemoSettings(**_table(v, p, demo)),
            "youtube_live": lambda v, p: YoutubeLiveSettings(**_table(v, p, youtube)),
            "page": lambda v, p: PageSettings(**_table(v, p, page)),
        },
    )
    settings = ExtractSettings(**fields)
    if settings.live_interval_minutes > settings.idle_interval_minutes:
        raise KeyedError(
            "extract.live_interval_minutes must not be longer than idle_interval_minutes "
            f"({settings.live_interval_minutes} > {settings.idle_interval_minutes})"
        )
    return settings


def _aware(value: object, path: str) -> datetime.datetime:
    """A TOML datetime (or ISO 8601 text); a local one is in this machine's time zone."""
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise KeyedError(f"{path} must be a date and time, got {value!r}") from None
    if not isinstance(value, datetime.datetime):
        raise KeyedError(f"{path} must be a date and time (2025-06-01T14:00:00Z), got {value!r}")
    return value if value.tzinfo is not None else value.astimezone()


def _scheduled_event(value: object, path: str) -> ScheduledEvent:
    fields = _table(
        value,
        path,
        {
            "title": _plain(_str),
            "start": _aware,
            "end": _aware,
            "duration_minutes": _plain(_number_range(float, 0, 7 * 24 * 60)),
        },
    )
    if "title" not in fields or "start" not in fields:
        raise KeyedError(f"{path} needs a title and a start")
    start: datetime.datetime = fields["start"]
    if "end" in fields and "duration_minutes" in fields:
        raise KeyedError(f"{path} has both end and duration_minutes: keep one")
    if "end" in fields:
        end: datetime.datetime = fields["end"]
    elif "duration_minutes" in fields:
        end = start + datetime.timedelta(minutes=fields["duration_minutes"])
    else:
        raise KeyedError(f"{path} needs an end or a duration_minutes")
    if end < start:
        raise KeyedError(f"{path} ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    return ScheduledEvent(fields["title"], start, end)


def _ics_source(value: object) -> str:
    text = _str(value)
    if re.match(r"[a-z][a-z0-9+.\-]*://", text, re.IGNORECASE):
        return _url(text)
    return str(Path(text).expanduser())


def _parse_schedule(value: object) -> ScheduleSettings:
    duration = _plain(_number_range(float, 1, 24 * 60))
    fields = _table(
        value,
        "schedule",
        {
            "events": _list_of(_scheduled_event),
            "ics": _list_of(_plain(_ics_source)),
            "f1": _plain(_bool),
            "f1_url": _plain(_url),
            "f1_race_minutes": duration,
            "f1_session_minutes": duration,
            "refresh_hours": _plain(_number_range(float, 0.1, 24 * 30)),
        },
    )
    return ScheduleSettings(**fields)


# ---------------------------------------------------------------------------------------
# [queue]: the up-next queue and the preparation of what plays next.


@attrs.frozen
class SourceRule:
    """How the queue treats one source (site): jobs at once, seconds between starts."""

    limit: int
    delay_seconds: float


#: YouTube answers too many requests from one address with HTTP 429: one job at a
#: time, 3 s apart, unless the config says otherwise.
DEFAULT_QUEUE_SOURCES = {"youtube": SourceRule(1, 3.0)}


@attrs.frozen
class QueueSettings:
    """``[queue]``: how queued items are prepared and where downloads are kept."""

    #: Autoplay for a queue database made afresh (afterwards, the switch is stored).
    autoplay: bool = True
    #: Download videos that are not live into the cache (else only resolve them).
    download: bool = True
    #: The cache's size, in megabytes (10^6 bytes); least recently used goes first.
    cache_max_mb: float = 2000.0
    #: A prepared (resolved, not downloaded) item is resolved again after this long,
    #: before its URLs expire (YouTube's last about 6 hours).
    refresh_minutes: float = 60.0
    max_items: int = 200
    #: Jobs at once per source (a host, or ``youtube``), and seconds between starts.
    per_source_limit: int = 2
    per_source_delay_seconds: float = 1.0
    #: Sources with their own limit and delay (``[queue.sources.youtube]``).
    sources: Mapping[str, SourceRule] = attrs.field(factory=lambda: dict(DEFAULT_QUEUE_SOURCES))


_SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9.\-]*(:\d+)?", re.IGNORECASE)


def _queue_sources(value: object, path: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise KeyedError(f"{path} must be a table ([{path}.youtube] in the config file)")
    rules = {}
    for name, table in value.items():
        where = f"{path}.{name}"
        if not _SOURCE_NAME.fullmatch(name):
            raise KeyedError(f"{where}: a source is a host name (or youtube), got {name!r}")
        fields = _table(
            table,
            where,
            {
                "limit": _plain(_number_range(int, 1, 64)),
                "delay_seconds": _plain(_number_range(float, 0, 600)),
            },
        )
        rules[name.lower()] = fields
    return rules


def _parse_queue(value: object) -> QueueSettings:
    fields = _table(
        value,
        "queue",
        {
            "autoplay": _plain(_bool),
            "download": _plain(_bool),
            "cache_max_mb": _plain(_number_range(float, 1, 10_000_000)),
            "refresh_minutes": _plain(_number_range(float, 1, 24 * 60)),
            "max_items": _plain(_number_range(int, 1, 10_000)),
            "per_source_limit": _plain(_number_range(int, 1, 64)),
            "per_source_delay_seconds": _plain(_number_range(float, 0, 600)),
            "sources": _queue_sources,
        },
    )
    # A source names what it changes; the rest comes from its default, else from the
    # table's per_source_limit and per_source_delay_seconds.
    defaults = QueueSettings()
    fallback = SourceRule(
        fields.get("per_source_limit", defaults.per_source_limit),
        fields.get("per_source_delay_seconds", defaults.per_source_delay_seconds),
    )
    sources = dict(DEFAULT_QUEUE_SOURCES)
    for name, changes in fields.pop("sources", {}).items():
        sources[name] = attrs.evolve(sources.get(name, fallback), **changes)
    return QueueSettings(**fields, sources=sources)
