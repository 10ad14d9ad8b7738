"""Settings: a TOML file, overridden by ``TUNER_*`` environment variables, overridden
by command-line flags.

Every value is checked where it enters; a bad one is a :class:`ConfigError` that names
the key and where it came from, so ``tuner serve`` can say exactly what to fix.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import platformdirs

from tuner.core.presets import PRESETS

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
    session_days: float = 30.0
    metrics_token: str | None = attrs.field(default=None, repr=False)
    log_level: str = "info"
    viewer_queue: int = 8
    drain_seconds: float = 1.5
    tcp_user_timeout: float = 10.0
    #: Sources are fetched at most this tall: the grid is at most 480x400 pixels.
    max_source_height: int = 480
    resolve_timeout: float = 20.0
    resolve_cache_seconds: float = 120.0
    #: A playing session with no frame for this long is restarted.
    stall_seconds: float = 10.0
    #: Reconnect attempts in a row (without a frame between them) before giving up.
    reconnect_attempts: int = 5
    config_file: Path | None = None


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


def _choice(*choices: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = _str(value).lower()
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


_PARSERS: dict[str, Callable[[object], Any]] = {
    "host": _str,
    "port": _number_range(int, 0, 65535),
    "state_dir": _path,
    "ffmpeg": _str,
    "ffprobe": _str,
    "pin_file": _path,
    "default_preset": _choice(*PRESETS),
    "session_days": _number_range(float, 0.01, 3650),
    "metrics_token": _str,
    "log_level": _choice("debug", "info", "warning", "error"),
    "viewer_queue": _number_range(int, 1, 1000),
    "drain_seconds": _number_range(float, 0.1, 60),
    "tcp_user_timeout": _number_range(float, 0.5, 600),
    "max_source_height": _number_range(int, 144, 4320),
    "resolve_timeout": _number_range(float, 1, 300),
    "resolve_cache_seconds": _number_range(float, 0, 3600),
    "stall_seconds": _number_range(float, 0.5, 600),
    "reconnect_attempts": _number_range(int, 0, 1000),
}

#: Keys a config file or the environment may set (others are errors: likely typos).
KEYS = tuple(_PARSERS)


def _apply(values: dict[str, Any], raw: Mapping[str, object], source: str) -> None:
    for key, value in raw.items():
        parser = _PARSERS.get(key)
        if parser is None:
            raise ConfigError(
                f"{source}: unknown setting {key!r}; known settings: {', '.join(KEYS)}"
            )
        try:
            values[key] = parser(value)
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
    return Settings(**values)
