"""The settings of what the daemon lets in: proxies, host names, caps."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuner.config import ConfigError, Settings, load_settings


def test_the_defaults_trust_no_proxy_and_answer_any_host(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"HOME": str(tmp_path)})
    assert settings.trusted_proxies == ()
    assert settings.server_names == ()
    assert settings.metrics_token is None
    assert settings.max_concurrent_requests == 512
    # The event sockets' cap follows max_viewers unless it is set.
    assert settings.event_socket_limit == settings.max_viewers == 16
    assert Settings(max_viewers=40).event_socket_limit == 40
    assert Settings(max_viewers=40, max_event_sockets=5).event_socket_limit == 5


def test_the_environment_sets_them(tmp_path: Path) -> None:
    env = {
        "TUNER_TRUSTED_PROXIES": "127.0.0.1, ::1",
        "TUNER_SERVER_NAMES": "tuner.example.com,car.example.org",
        "TUNER_MAX_EVENT_SOCKETS": "4",
        "TUNER_MAX_CONCURRENT_REQUESTS": "100",
    }
    settings = load_settings(None, environ=env)
    assert settings.trusted_proxies == ("127.0.0.1", "::1")
    assert settings.server_names == ("tuner.example.com", "car.example.org")
    assert (settings.max_event_sockets, settings.max_concurrent_requests) == (4, 100)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('server_names = ["tuner.example.com:443"]', "is not a host name"),
        ('server_names = ["https://tuner.example.com"]', "is not a host name"),
        ("server_names = 3", "must be a list of host names"),
        ("max_event_sockets = 0", "max_event_sockets must be a whole number from 1"),
        ("max_concurrent_requests = 2", "max_concurrent_requests must be a whole number from 8"),
        ('trusted_proxies = ["cloudflared"]', "'cloudflared' is not an IP address or network"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(toml + "\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ={})
