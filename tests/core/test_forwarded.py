"""Which forwarding headers are believed, and what the same-origin check accepts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.core.forwarded import parse_networks, seen_request
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
