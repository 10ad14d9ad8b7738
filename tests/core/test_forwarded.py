"""Which forwarding headers are believed, and what the same-origin check accepts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.config import Settings
from tuner.core.forwarded import (
    is_forwarding_header,
    is_loopback_name,
    name_of_host,
    parse_networks,
    seen_request,
    server_name,
)
from tuner.web.security import same_origin

LOCAL = parse_networks(["127.0.0.1", "::1"])


def test_headers_from_an_untrusted_peer_are_ignored() -> None:
    headers = {
        "x-forwarded-for": "192.0.2.1",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "evil.example",
    }
    seen = seen_request("203.0.113.7", "http", headers, LOCAL)
    assert (seen.client, seen.scheme, seen.host) == ("203.0.113.7", "http", None)


def test_a_trusted_proxy_names_the_client_scheme_and_host() -> None:
    headers = {
        "x-forwarded-for": "198.51.100.1, 203.0.113.7",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "tuner.example.com",
    }
    seen = seen_request("127.0.0.1", "http", headers, LOCAL)
    # The rightmost address not of a trusted proxy: the one the proxy itself added.
    assert (seen.client, seen.scheme, seen.host) == ("203.0.113.7", "https", "tuner.example.com")


def test_a_chain_of_trusted_proxies_is_walked_back() -> None:
    trusted = parse_networks(["127.0.0.1", "10.0.0.0/8"])
    seen = seen_request("127.0.0.1", "http", {"x-forwarded-for": "203.0.113.7, 10.1.2.3"}, trusted)
    assert seen.client == "203.0.113.7"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-forwarded-for": "not-an-address"},
        {"x-forwarded-proto": "gopher"},
        {"x-forwarded-host": "bad host/with path"},
        {},
    ],
)
def test_garbage_from_a_trusted_proxy_changes_nothing(headers: dict[str, str]) -> None:
    seen = seen_request("::1", "http", headers, LOCAL)
    assert (seen.client, seen.scheme, seen.host) == ("::1", "http", None)


def test_bad_networks_are_named() -> None:
    with pytest.raises(ValueError, match="'nope' is not an IP address or network"):
        parse_networks(["10.0.0.0/8", "nope"])


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://127.0.0.1:8080", "127.0.0.1:8080", True),
        ("https://tuner.example.com", "tuner.example.com", True),  # TLS ended
        ("https://tuner.example.com:443", "tuner.example.com", True),
        ("http://127.0.0.1:8081", "127.0.0.1:8080", False),
        ("http://localhost:8080", "127.0.0.1:8080", False),
        ("https://tuner.example.com:8443", "tuner.example.com", False),
        ("http://evil.example", "tuner.example.com", False),
        ("null", "127.0.0.1:8080", False),
        ("http://127.0.0.1:99999", "127.0.0.1:8080", False),
        ("file://127.0.0.1", "127.0.0.1", False),
        ("http://127.0.0.1:8080/path", "127.0.0.1:8080", False),
    ],
)
def test_same_origin(origin: str, host: str, same: bool) -> None:
    assert same_origin(origin, host) is same


@given(st.text(max_size=60), st.text(max_size=40))
def test_same_origin_never_raises(origin: str, host: str) -> None:
    same_origin(origin, host)


def test_the_last_scheme_and_host_count_those_the_nearest_proxy_wrote() -> None:
    # A proxy that appends (or passes on what the client sent) leaves the client's
    # own values first.
    headers = {
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-proto": "http, https",
        "x-forwarded-host": "evil.example, tuner.example.com",
    }
    seen = seen_request("127.0.0.1", "http", headers, LOCAL)
    assert (seen.scheme, seen.host) == ("https", "tuner.example.com")
    # A last value that is garbage is not replaced by an earlier one.
    headers = {"x-forwarded-proto": "https, gopher", "x-forwarded-host": "ok.example, bad/host"}
    seen = seen_request("127.0.0.1", "http", headers, LOCAL)
    assert (seen.scheme, seen.host) == ("http", None)


def test_no_proxy_is_trusted_by_default() -> None:
    headers = {"x-forwarded-for": "192.0.2.1", "x-forwarded-host": "evil.example"}
    trusted = parse_networks(Settings().trusted_proxies)
    assert trusted == ()
    seen = seen_request("127.0.0.1", "http", headers, trusted)
    assert (seen.client, seen.host) == ("127.0.0.1", None)


@pytest.mark.parametrize(
    ("name", "forwarding"),
    [
        ("X-Forwarded-For", True),
        ("x-forwarded-prefix", True),
        ("Forwarded", True),
        ("X-Real-IP", True),
        ("True-Client-IP", True),
        ("CF-Connecting-IP", True),
        ("Tailscale-User-Login", True),
        ("Via", True),
        ("Host", False),
        ("Cookie", False),
        ("Forwarded-Thing", False),
    ],
)
def test_forwarding_headers_are_known_by_name(name: str, forwarding: bool) -> None:
    assert is_forwarding_header(name) is forwarding


@pytest.mark.parametrize(
    ("host", "name", "loopback"),
    [
        ("Tuner.Example.com:443", "tuner.example.com", False),
        ("tuner.example.com.", "tuner.example.com", False),
        ("127.0.0.1:8080", "127.0.0.1", True),
        ("127.1.2.3", "127.1.2.3", True),
        ("[::1]:8080", "::1", True),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1", True),
        ("localhost:8080", "localhost", True),
        ("app.localhost", "app.localhost", True),
        ("192.168.1.5:8080", "192.168.1.5", False),
        ("bad host", None, False),
        ("a..b", None, False),
        ("-a.example", None, False),
        ("é.example", None, False),
        ("", None, False),
        ("x" * 300, None, False),
        # A DNS label is at most 63 characters (werkzeug fails on a longer one).
        ("a" * 64 + ".example", None, False),
        ("a" * 63 + ".example", "a" * 63 + ".example", False),
        ("my_pc.lan:8080", "my_pc.lan", False),
        ("host:99999", None, False),
    ],
)
def test_the_name_in_a_host_header(host: str, name: str | None, loopback: bool) -> None:
    assert name_of_host(host) == name
    assert (name is not None and is_loopback_name(name)) is loopback


@given(st.text(max_size=80))
def test_name_of_host_never_raises(host: str) -> None:
    name_of_host(host)


def test_server_names_are_checked_and_normalised() -> None:
    assert server_name(" Tuner.Example.COM. ") == "tuner.example.com"
    assert server_name("[::1]") == "::1"
    for bad in ("tuner.example.com:443", "https://tuner.example.com", "bad name", ""):
        with pytest.raises(ValueError, match="is not a host name"):
            server_name(bad)
