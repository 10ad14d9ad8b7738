"""The fetch policy (sans-IO): which addresses are public, what fetch_allow opens."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.config import ConfigError, load_settings
from tuner.core.egress import (
    AllowEntry,
    IPAddress,
    Policy,
    embedded_v4,
    literal_address,
    proxy_environment,
    special_kind,
)

ip = ipaddress.ip_address


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "this-network"),
        ("::", "unspecified"),
        ("10.1.2.3", "private network"),
        ("172.16.0.1", "private network"),
        ("172.31.255.255", "private network"),
        ("192.168.1.1", "private network"),
        ("100.64.0.1", "shared CGNAT"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00::1", "unique local"),
        ("fc00::1", "unique local"),
        ("fec0::1", "site-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "documentation"),
        ("2001:db8::1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        # IPv6 forms of IPv4 addresses are judged as those.
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.0.0.1", "private network"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::", "private network"),  # 6to4 of 192.168.1.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("::7f00:1", "reserved"),  # IPv4-compatible (deprecated)
        ("2001::1", "IETF protocol assignment"),  # Teredo
        ("100::1", "reserved"),  # discard-only
    ],
)
def test_addresses_that_are_not_public(address: str, kind: str) -> None:
    assert special_kind(ip(address)) == kind
    verdict = Policy().check("h", ip(address), 80)
    assert not verdict.allowed
    assert f"is a private address ({kind})" in verdict.sentence
    assert "fetch_allow" in verdict.sentence


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700::1111",
     "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"],
)  # fmt: skip
def test_public_addresses_are_allowed(address: str) -> None:
    assert special_kind(ip(address)) is None
    assert Policy().check("h", ip(address), 443).allowed


@pytest.mark.parametrize(
    ("entry", "host", "address", "port", "allowed"),
    [
        ("127.0.0.1", "127.0.0.1", "127.0.0.1", 8080, True),
        ("127.0.0.1", "x", "127.0.0.2", 8080, False),
        ("127.0.0.1", "x", "::ffff:127.0.0.1", 1, True),
        ("127.0.0.1:8080", "127.0.0.1", "127.0.0.1", 8080, True),
        ("127.0.0.1:8080", "127.0.0.1", "127.0.0.1", 8081, False),
        ("::1", "::1", "::1", 5, True),
        ("[::1]:5", "::1", "::1", 5, True),
        ("[::1]:5", "::1", "::1", 6, False),
        ("10.0.0.0/8", "x", "10.9.8.7", 1, True),
        ("10.0.0.0/8", "x", "11.0.0.1", 1, True),  # public anyway
        ("10.0.0.0/8", "x", "192.168.0.1", 1, False),
        ("fd00::/8", "x", "fd12::1", 1, True),
        ("nas.lan", "NAS.lan.", "192.168.1.5", 80, True),
        ("nas.lan", "other.lan", "192.168.1.5", 80, False),
        ("nas.lan:8080", "nas.lan", "192.168.1.5", 8080, True),
        ("nas.lan:8080", "nas.lan", "192.168.1.5", 80, False),
        ("localhost", "localhost", "127.0.0.1", 80, True),
    ],
)
def test_fetch_allow_entries(entry: str, host: str, address: str, port: int, allowed: bool) -> None:
    assert Policy.from_entries([entry]).check(host, ip(address), port).allowed is allowed


@pytest.mark.parametrize(
    "entry",
    ["", "a b", "http://x/", "x:0", "x:65536", "x:port", "10.0.0.0/8:80", "[::1", "[::1]x",
     "1.2.3.4/33", "-bad-.host", "a..b"],
)  # fmt: skip
def test_bad_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError):
        AllowEntry.parse(entry)


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://127.0.0.1:8080/", "refused: 127.0.0.1:8080 is a private address (loopback)"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254:80 is a private"),
        ("https://[::1]/", "refused: [::1]:443 is a private address (loopback)"),
        ("http://2130706433/", "refused: 2130706433:80 (127.0.0.1) is a private"),
        ("http://0x7f.1/", "(127.0.0.1) is a private address (loopback)"),
        ("http://0/", "(0.0.0.0) is a private address (this-network)"),
        ("http://LocalHost:1/", "refused: localhost:1 (127.0.0.1) is a private"),
        ("http://a.b.localhost/", "is a private address (loopback)"),
        ("http://example.com/", None),  # a name: only the proxy, after DNS, can tell
        ("http://8.8.8.8/", None),
    ],
)
def test_precheck_judges_what_needs_no_dns(url: str, refused: str | None) -> None:
    sentence = Policy().precheck(url)
    if refused is None:
        assert sentence is None
    else:
        assert sentence is not None and refused in sentence


def test_literal_addresses_in_their_legacy_forms() -> None:
    assert literal_address("0177.0.0.1") == ip("127.0.0.1")
    assert literal_address("[::1]") == ip("::1")
    assert literal_address("example.com") is None
    assert literal_address("deadbeef") is None


def test_children_get_no_proxy_variables_but_the_egress_proxy() -> None:
    environ = {"PATH": "/bin", "no_proxy": "127.0.0.1", "HTTPS_PROXY": "http://elsewhere"}
    assert proxy_environment(environ, None) == {"PATH": "/bin"}
    assert proxy_environment(environ, "http://u:p@127.0.0.1:1") == {
        "PATH": "/bin",
        "http_proxy": "http://u:p@127.0.0.1:1",
    }


def _as_address(value: int, version: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


addresses = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda n: _as_address(n, 4)),
    st.integers(0, 2**128 - 1).map(lambda n: _as_address(n, 6)),
    # Around the special ranges, where mistakes are.
    st.sampled_from(["127.0.0.0/8", "10.0.0.0/8", "169.254.0.0/16", "::ffff:0:0/96",
                     "2002::/16", "64:ff9b::/96", "fc00::/7", "fe80::/10", "100.64.0.0/10"])
    .flatmap(lambda net: st.integers(0, ipaddress.ip_network(net).num_addresses - 1)
             .map(lambda n, net=net: ipaddress.ip_network(net)[n])),
)  # fmt: skip


@given(addresses, st.integers(1, 65535))
def test_without_fetch_allow_only_global_addresses_pass(address: IPAddress, port: int) -> None:
    verdict = Policy().check("host", address, port)
    if verdict.allowed:
        assert address.is_global and not address.is_multicast
        inner = (
            address.ipv4_mapped or address.sixtofour
            if isinstance(address, ipaddress.IPv6Address)
            else None
        )
        assert inner is None or (inner.is_global and not inner.is_multicast)
    else:
        assert verdict.sentence.startswith("refused: ")


@given(addresses, st.integers(1, 65535), st.sampled_from(["127.0.0.1", "10.0.0.0/8", "nas.lan"]))
def test_an_entry_opens_only_what_it_names(address: IPAddress, port: int, entry: str) -> None:
    allowed = Policy.from_entries([entry]).check("other.example", address, port).allowed
    public = Policy().check("other.example", address, port).allowed
    if allowed and not public:
        # Opened by the entry: a network holding the address (or the IPv4 one it wraps);
        # never by a host name entry for another name.
        network = AllowEntry.parse(entry).network
        assert network is not None
        inner = embedded_v4(address)
        assert address in network or (inner is not None and inner in network)


def test_fetch_allow_from_the_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('fetch_allow = ["nas.lan:8000", "10.0.0.0/8"]\n')
    assert load_settings(config, environ={}).fetch_allow == ("nas.lan:8000", "10.0.0.0/8")
    from_env = load_settings(config, environ={"TUNER_FETCH_ALLOW": "127.0.0.1, [::1]:8080"})
    assert from_env.fetch_allow == ("127.0.0.1", "[::1]:8080")
    assert load_settings(environ={}).fetch_allow == ()
    config.write_text('fetch_allow = ["http://nas.lan/"]\n')
    with pytest.raises(ConfigError, match=r"fetch_allow 'http://nas.lan/' is a URL: name its host"):
        load_settings(config, environ={})
