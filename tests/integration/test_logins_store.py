"""The logins file in a real state directory, as the daemon's store and the
``tuner sessions`` command share it: revocations from the command line, writes that
fail and are retried, a damaged file, and a file root writes for the daemon's user."""

from __future__ import annotations

import errno
import json
import logging
import os
import time
from pathlib import Path

import attrs
import pytest

import tuner.logins
from tuner.logins import (
    LOGGED_OUT,
    LoginStore,
    LoginStoreError,
    list_logins,
    revoke_logins,
)

DAY = 86400.0


@attrs.define
class Clock:
    """A clock the test moves (from now: the command line uses the real one)."""

    now: float = attrs.field(factory=time.time)

    def __call__(self) -> float:
        return self.now


@attrs.define(eq=False)
class Stream:
    """An open stream: records how it was closed."""

    closed: list[tuple[int, str]] = attrs.field(factory=list)

    def close(self, code: int, reason: str) -> None:
        self.closed.append((code, reason))


def _state(tmp_path: Path) -> Path:
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    return state_dir


def test_a_revocation_by_the_command_line_ends_the_login_and_closes_its_streams(
    tmp_path: Path,
) -> None:
    state_dir = _state(tmp_path)
    clock = Clock()
    store = LoginStore.open(state_dir, clock=clock)
    phone = store.create("Chrome on Android", "198.51.100.5", 30 * DAY)
    clock.now += 1
    car = store.create("Tesla browser", "198.51.100.6", 30 * DAY)
    video, audio, cars_video = Stream(), Stream(), Stream()
    store.hold(phone.id, video)
    store.hold(phone.id, audio)
    store.hold(car.id, cars_video)
    # Written through: the command line sees both at once.
    assert [login.id for login in list_logins(state_dir, now=clock.now)] == [phone.id, car.id]

    assert store.refresh() == []  # nothing changed: the file is not even read
    ended = revoke_logins(state_dir, phone.id[:6])  # a unique start of the id will do
    assert [login.id for login in ended] == [phone.id]
    assert [login.id for login in store.refresh()] == [phone.id]
    assert store.check(phone.id) is None
    assert video.closed == audio.closed == [(LOGGED_OUT, "logged out")]
    assert cars_video.closed == []
    assert store.check(car.id) is not None

    # A stream that opens just after its login ended is closed at once.
    late = Stream()
    store.hold(phone.id, late)
    assert late.closed == [(LOGGED_OUT, "logged out")]
    store.release(phone.id, late)

    # --all, and a restart finds no one.
    assert [login.id for login in revoke_logins(state_dir, None)] == [car.id]
    store.refresh()
    assert cars_video.closed == [(LOGGED_OUT, "logged out")]
    assert LoginStore.open(state_dir, clock=clock).check(car.id) is None
    with pytest.raises(LookupError, match="no login session has the id"):
        revoke_logins(state_dir, car.id)


def test_last_uses_are_written_every_so_often_and_never_undo_a_revocation(
    tmp_path: Path,
) -> None:
    state_dir = _state(tmp_path)
    clock = Clock()
    store = LoginStore.open(state_dir, clock=clock, save_every=60.0)
    phone = store.create("Chrome on Android", "198.51.100.5", 30 * DAY)
    stolen = store.create("curl", "203.0.113.9", 30 * DAY)
    written = (state_dir / "logins.json").stat().st_mtime_ns

    clock.now += 10
    store.seen(phone.id, "198.51.100.7")
    store.seen(stolen.id, "203.0.113.9")
    store.save_if_due()
    assert (state_dir / "logins.json").stat().st_mtime_ns == written, "not per request"
    # Meanwhile the command line ends one of them; the daemon has not looked yet.
    revoke_logins(state_dir, stolen.id)
    clock.now += 60
    store.save_if_due()
    saved = {login.id: login for login in list_logins(state_dir, now=clock.now)}
    assert set(saved) == {phone.id}, "a write of last uses revoked nothing back"
    assert saved[phone.id].last_seen == phone.created + 10
    assert saved[phone.id].address == "198.51.100.7"
    assert store.check(stolen.id) is None


def test_a_logout_that_cannot_be_written_ends_at_once_and_is_written_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tuner")
    state_dir = _state(tmp_path)
    store = LoginStore.open(state_dir)
    phone = store.create("Chrome on Android", "198.51.100.5", 30 * DAY)
    car = store.create("Tesla browser", "198.51.100.6", 30 * DAY)
    real_replace = tuner.logins.replace_private

    def disk_full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tuner.logins, "replace_private", disk_full)
    with pytest.raises(LoginStoreError) as refused:
        store.revoke(phone.id)
    assert refused.value.reason == "the state directory's disk is full: free some space"
    assert store.check(phone.id) is None, "ended here at once"
    # A new login cannot be kept, so it is not made.
    with pytest.raises(LoginStoreError):
        store.create("Firefox on Linux", "198.51.100.8", 30 * DAY)
    assert len(store.table) == 1
    for _ in range(5):
        store.save_if_due()
    assert caplog.text.count("disk is full") == 1, "said once, not at every retry"
    assert store.pending

    monkeypatch.setattr(tuner.logins, "replace_private", real_replace)
    store.save_if_due()
    assert not store.pending
    assert [login.id for login in list_logins(state_dir)] == [car.id]
    assert "can be written again" in caplog.text


def test_a_damaged_file_is_kept_aside_and_no_one_is_let_in_by_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state_dir = _state(tmp_path)
    (state_dir / "logins.json").write_text('{"version": 1, "logins": [{"id": 7}]}')
    # The command line says so, and leaves the file as it is.
    with pytest.raises(LoginStoreError, match="cannot be used: a login has no 'device'"):
        list_logins(state_dir)
    with pytest.raises(LoginStoreError, match="cannot be used"):
        revoke_logins(state_dir, None)
    # The daemon keeps it aside and starts with no one logged in.
    store = LoginStore.open(state_dir)
    assert len(store.table) == 0
    kept = list(state_dir.glob("logins.json.unusable-*"))
    assert len(kept) == 1
    assert "could not be used" in caplog.text and "every browser must log in again" in caplog.text
    assert list_logins(state_dir) == []

    # Damaged while the daemon runs (edited by hand): what it holds is written back.
    phone = store.create("Chrome on Android", "198.51.100.5", 30 * DAY)
    (state_dir / "logins.json").write_text("not json")
    assert store.refresh() == []
    store.save_if_due()
    assert [login.id for login in list_logins(state_dir)] == [phone.id]
    assert len(list(state_dir.glob("logins.json.unusable-*"))) == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can write files for another user")
def test_files_root_writes_stay_readable_by_the_daemons_user(tmp_path: Path) -> None:
    """``sudo tuner sessions revoke`` on the service's state directory."""
    state_dir = _state(tmp_path)
    os.chown(state_dir, 4321, 4321)
    store = LoginStore.open(state_dir)
    store.create("Chrome on Android", "198.51.100.5", 30 * DAY)
    revoke_logins(state_dir, None)
    for name in ("logins.json", "logins.lock"):
        info = (state_dir / name).stat()
        assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (4321, 4321, 0o600), name
    assert json.loads((state_dir / "logins.json").read_text())["logins"] == []
