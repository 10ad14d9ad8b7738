"""Login session records (sans-IO): the file's format, what the daemon holds, how it
merges what another process changed, and what a User-Agent is called."""

from __future__ import annotations

import contextlib
import json

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.core.logins import (
    Login,
    LoginsFileError,
    LoginTable,
    decode,
    describe_device,
    encode,
    find,
)

NOW = 1_800_000_000.0
DAY = 86400.0


def _login(n: int, *, last_seen: float = NOW, expires: float = NOW + 30 * DAY) -> Login:
    return Login(f"login{n:07d}", f"device {n}", f"192.0.2.{n}", NOW, last_seen, expires)


def test_the_file_holds_every_field_and_reads_back_the_same() -> None:
    logins = [_login(1), _login(2, last_seen=NOW + 5)]
    assert decode(encode(logins)) == {login.id: login for login in logins}
    document = json.loads(encode(logins))
    assert document["version"] == 1
    assert document["logins"][1] == {
        "id": "login0000002",
        "device": "device 2",
        "address": "192.0.2.2",
        "created": NOW,
        "last_seen": NOW + 5,
        "expires": NOW + 30 * DAY,
    }


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "no list of logins"),
        (b'{"version": 1}', "no list of logins"),
        (b'{"version": 2, "logins": []}', "made by another tuner"),
        (b'{"version": 1, "logins": [7]}', "not an object"),
        (b'{"version": 1, "logins": [{"id": "login0000001"}]}', "has no 'device'"),
    ],
)
def test_a_file_that_is_not_logins_says_why(data: bytes, says: str) -> None:
    with pytest.raises(LoginsFileError, match=says):
        decode(data)


@pytest.mark.parametrize(
    "change",
    [{"id": "bad id"}, {"id": 7}, {"device": None}, {"created": "now"}, {"expires": True}],
)
def test_a_record_with_a_bad_field_is_refused(change: dict[str, object]) -> None:
    record = {**_login(1).to_json(), **change}
    with pytest.raises(LoginsFileError):
        decode(json.dumps({"version": 1, "logins": [record]}).encode())


@given(st.binary(max_size=200))
def test_any_bytes_either_read_as_logins_or_say_why(data: bytes) -> None:
    with contextlib.suppress(LoginsFileError):
        decode(data)


def test_a_login_holds_until_it_expires_or_is_removed() -> None:
    table = LoginTable()
    login = _login(1, expires=NOW + 100)
    table.add(login)
    assert table.get(login.id, NOW + 99) == login
    assert table.get(login.id, NOW + 100) is None
    assert table.get("login0000009", NOW) is None
    assert table.remove(login.id) == login
    assert table.get(login.id, NOW) is None
    assert table.remove(login.id) is None


def test_uses_are_kept_at_once_and_due_for_saving_only_every_so_often() -> None:
    table = LoginTable(save_every=60.0)
    table.add(_login(1))
    assert not table.unsaved
    table.seen("login0000001", NOW + 1, "198.51.100.7")
    held = table.get("login0000001", NOW + 1)
    assert held is not None
    assert (held.last_seen, held.address) == (NOW + 1, "198.51.100.7")
    assert table.unsaved
    # Many requests within the minute are one write, a minute after the first.
    for second in range(2, 60):
        table.seen("login0000001", NOW + second, "198.51.100.7")
        assert not table.save_due(NOW + second)
    assert table.save_due(NOW + 61)
    table.mark_saved()
    assert not table.save_due(NOW + 1000)
    # A use of a login that is not held changes nothing.
    table.seen("login0000009", NOW + 2000, "x")
    assert not table.unsaved


def test_beyond_the_cap_the_login_unused_for_longest_ends() -> None:
    table = LoginTable(max_logins=3)
    for n, seen in ((1, NOW + 30), (2, NOW + 10), (3, NOW + 20)):
        assert table.add(_login(n, last_seen=seen)) == []
    ended = table.add(_login(4, last_seen=NOW + 40))
    assert [login.id for login in ended] == ["login0000002"]
    assert len(table) == 3


def test_merging_takes_the_files_word_on_which_logins_exist() -> None:
    table = LoginTable()
    for n in (1, 2, 3):
        table.add(_login(n))
    table.seen("login0000001", NOW + 50, "203.0.113.1")
    # Another process ended login 2, and saw login 3 later than this one did.
    saved = {
        "login0000001": _login(1, last_seen=NOW + 10),
        "login0000003": _login(3, last_seen=NOW + 70),
        # A login this table does not hold (its own logout not yet written) stays out.
        "login0000004": _login(4),
    }
    gone = table.merge(saved)
    assert [login.id for login in gone] == ["login0000002"]
    assert [login.id for login in table.records(NOW)] == ["login0000001", "login0000003"]
    first, third = table.records(NOW)
    assert first.last_seen == NOW + 50  # ours, the later
    assert third.last_seen == NOW + 70  # the file's, the later
    # A file that was deleted: every login ended.
    assert len(table.merge({})) == 2
    assert len(table) == 0


def test_records_leave_out_the_expired_and_come_oldest_first() -> None:
    table = LoginTable()
    table.add(attrs.evolve(_login(2), created=NOW + 5))
    table.add(_login(1))
    table.add(_login(3, expires=NOW + 1))
    assert [login.id for login in table.records(NOW + 2)] == ["login0000001", "login0000002"]


def test_a_login_is_found_by_its_id_or_a_unique_start_of_it() -> None:
    logins = [
        Login("AbCdEfGhIjKl", "d", "a", NOW, NOW, NOW + DAY),
        Login("AbCdXyZ12345", "d", "a", NOW, NOW, NOW + DAY),
        Login("Zz9-_0000000", "d", "a", NOW, NOW, NOW + DAY),
    ]
    assert find(logins, "AbCdEfGhIjKl") is logins[0]
    assert find(logins, "AbCdE") is logins[0]
    assert find(logins, "Zz9-") is logins[2]
    with pytest.raises(LookupError, match="begins several login ids"):
        find(logins, "AbCd")
    with pytest.raises(LookupError, match="no login session has the id 'Zz9'"):
        find(logins, "Zz9")  # too short to be taken as a start
    with pytest.raises(LookupError, match="no login session"):
        find(logins, "nothing")


@pytest.mark.parametrize(
    ("agent", "described"),
    [
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "Safari on iPhone",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Firefox on Linux",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/109.0.5414.120 Safari/537.36 Tesla/2024.14.9-abc",
            "Tesla browser",
        ),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "a browser on macOS"),
        ("curl/8.5.0", "curl"),
        ("python-httpx/0.27.0", "python-httpx"),
        ("", "unknown"),
        (None, "unknown"),
        ("\x00\x01/", "unknown"),
        ("x" * 500, "x" * 40),
    ],
)
def test_a_user_agent_is_described_in_a_few_words(agent: str | None, described: str) -> None:
    assert describe_device(agent) == described


@given(st.text(max_size=300))
def test_any_user_agent_gives_a_short_printable_description(agent: str) -> None:
    described = describe_device(agent)
    assert 1 <= len(described) <= 48
    assert described.isprintable() and described.isascii()
