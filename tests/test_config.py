"""Settings precedence and every kind of bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuner.config import ConfigError, Settings, load_settings
from tuner.credentials import load_pin, load_secret


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_without_file_env_or_flags(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"HOME": str(tmp_path)}, flags={})
    assert (settings.host, settings.port, settings.default_preset) == ("127.0.0.1", 8080, "low")


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.toml", 'host = "0.0.0.0"\nport = 9000\nlog_level = "debug"\n')
    only_file = load_settings(config, environ={})
    assert (only_file.host, only_file.port, only_file.log_level) == ("0.0.0.0", 9000, "debug")
    assert only_file.config_file == config

    env = {"TUNER_PORT": "9100", "TUNER_LOG_LEVEL": "warning"}
    with_env = load_settings(config, environ=env)
    assert (with_env.host, with_env.port, with_env.log_level) == ("0.0.0.0", 9100, "warning")

    with_flags = load_settings(config, environ=env, flags={"port": "9200", "host": None})
    assert (with_flags.host, with_flags.port, with_flags.log_level) == ("0.0.0.0", 9200, "warning")


def test_the_search_prefix_defaults_to_youtube_and_is_lowercased(tmp_path: Path) -> None:
    assert load_settings(None, environ={"HOME": str(tmp_path)}).search_prefix == "ytsearch"
    env = {"HOME": str(tmp_path), "TUNER_SEARCH_PREFIX": " SCsearch "}
    assert load_settings(None, environ=env).search_prefix == "scsearch"


def test_config_file_from_tuner_config(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.toml", "port = 9300\n")
    assert load_settings(None, environ={"TUNER_CONFIG": str(config)}).port == 9300


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("port = 'abc'", "port must be a whole number from 0 to 65535, got 'abc'"),
        ("port = 70000", "port must be a whole number from 0 to 65535, got 70000"),
        ("port = true", "port must be a whole number"),
        ("port = 80.5", "port must be a whole number"),
        ("host = ''", "host must be a non-empty string"),
        ("default_preset = 'huge'", "default_preset must be one of low, med, high, ultra"),
        ("log_level = 3", "log_level must be a non-empty string"),
        ("session_days = 0", "session_days must be a number from 0.01 to 3650"),
        ("lead_seconds = -1", "lead_seconds must be a number from 0 to 30"),
        ("search_prefix = 'ytsearch8'", "search_prefix must be a yt-dlp search key of letters"),
        ("search_prefix = 'yt search'", "search_prefix must be a yt-dlp search key of letters"),
        ("prot = 8080", "unknown setting 'prot'"),
        ("port = ", "not valid TOML"),
        ("[server]\nport = 1", "unknown setting 'server'"),
    ],
)
def test_bad_file_values_name_the_key_and_file(tmp_path: Path, toml: str, message: str) -> None:
    config = _write(tmp_path / "bad.toml", toml + "\n")
    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})
    assert message in str(error.value)
    assert str(config) in str(error.value)


def test_a_retired_setting_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An old config file still starts the daemon, and says what took the place.
    config = _write(tmp_path / "old.toml", "viewer_queue = 8\nlead_seconds = 4\n")
    settings = load_settings(config, environ={})
    assert settings.lead_seconds == 4
    assert "viewer_queue no longer does anything" in caplog.text
    assert "lead_seconds" in caplog.text


def test_bad_environment_and_flag_values_name_their_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment variable TUNER_PORT: port must be"):
        load_settings(None, environ={"TUNER_PORT": "eighty", "HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match="--port: port must be"):
        load_settings(None, environ={"HOME": str(tmp_path)}, flags={"port": "-1"})


def test_missing_and_unreadable_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "none.toml", environ={})
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path, environ={})


def _settings(tmp_path: Path, **kw: object) -> Settings:
    (tmp_path / "state").mkdir(exist_ok=True)
    return Settings(state_dir=tmp_path / "state", **kw)  # type: ignore[arg-type]


def test_pin_from_environment_wins_and_is_checked(tmp_path: Path) -> None:
    settings = _settings(tmp_path, pin_file=_write(tmp_path / "pin.txt", "5555\n"))
    assert load_pin(settings, {"TUNER_PIN": "1234"}).value == "1234"
    assert load_pin(settings, {}).value == "5555"
    with pytest.raises(ConfigError, match="TUNER_PIN: must be 4 to 12 digits"):
        load_pin(settings, {"TUNER_PIN": "12ab"})


def test_bad_pin_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be 4 to 12 digits"):
        load_pin(_settings(tmp_path, pin_file=_write(tmp_path / "p", "12")), {})
    with pytest.raises(ConfigError, match="cannot read PIN file"):
        load_pin(_settings(tmp_path, pin_file=tmp_path / "absent"), {})


def test_a_generated_pin_is_private_and_stable(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = load_pin(settings, {})
    assert first.created and first.value.isdigit() and len(first.value) == 6
    assert (settings.state_dir / "pin").stat().st_mode & 0o777 == 0o600
    again = load_pin(settings, {})
    assert (again.value, again.created) == (first.value, False)
    assert first.value not in repr(first), "the PIN must not show in logs of the object"


def test_the_secret_is_made_once_private_and_checked(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    secret = load_secret(state)
    assert len(secret) == 32 and load_secret(state) == secret
    assert (state / "secret").stat().st_mode & 0o777 == 0o600
    (state / "secret").write_bytes(b"short")
    with pytest.raises(ConfigError, match="shorter than 32 bytes"):
        load_secret(state)
