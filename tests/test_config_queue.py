"""The [queue] table: defaults, per-source rules, bad values named by their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuner.config import ConfigError, QueueSettings, SourceRule, load_settings


def _load(tmp_path: Path, toml: str) -> QueueSettings:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    return load_settings(path, environ={}).queue


def test_defaults_download_and_go_easy_on_youtube(tmp_path: Path) -> None:
    queue = _load(tmp_path, "")
    assert (queue.download, queue.autoplay, queue.cache_max_mb) == (True, True, 2000.0)
    assert queue.sources == {"youtube": SourceRule(1, 3.0)}


def test_sources_change_what_they_name_and_inherit_the_rest(tmp_path: Path) -> None:
    queue = _load(
        tmp_path,
        """
[queue]
download = false
cache_max_mb = 500
refresh_minutes = 30
per_source_limit = 3
per_source_delay_seconds = 0.5

[queue.sources.youtube]
delay_seconds = 5

[queue.sources."Media.Example.com:8443"]
limit = 1
""",
    )
    assert (queue.download, queue.cache_max_mb, queue.refresh_minutes) == (False, 500, 30)
    assert queue.sources == {
        "youtube": SourceRule(1, 5.0),
        "media.example.com:8443": SourceRule(1, 0.5),
    }


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[queue]\ncache_mb = 5", "unknown setting queue.'cache_mb'"),
        ("[queue]\ncache_max_mb = 0", "queue.cache_max_mb must be a number from 1"),
        ("[queue]\ndownload = 'yes'", "queue.download must be true or false"),
        ("[queue.sources.youtube]\nlimit = 0", "queue.sources.youtube.limit must be a whole"),
        ("[queue.sources.youtube]\nwait = 1", "unknown setting queue.sources.youtube.'wait'"),
        ("[queue.sources.'a b']\nlimit = 1", "a source is a host name"),
        ("queue = 5", "queue must be a table"),
    ],
)
def test_bad_values_name_the_key_and_the_file(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, toml)
    assert message in str(error.value)
    assert str(tmp_path / "config.toml") in str(error.value)
