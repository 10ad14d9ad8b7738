"""What the daemon may fetch: public addresses only, unless ``fetch_allow`` names more.

Anyone logged in chooses what the daemon fetches (a URL, and whatever its redirects
and playlists name), and the daemon sits inside a home network. So by default every
connection must go to a globally routable address: never loopback, link-local,
private (RFC 1918, ULA), shared (CGNAT), multicast, documentation or reserved
ranges, nor an IPv6 form that wraps one of those (IPv4-mapped, 6to4, NAT64).
``fetch_allow`` opens exceptions, each one of:

- a host name (``nas.lan``), optionally with a port (``nas.lan:8080``): the name as
  the URL gives it, whatever it resolves to;
- an address (``192.168.1.5``, ``::1``, ``[::1]``), optionally with a port
  (``127.0.0.1:8080``, ``[::1]:8080``);
- a network (``192.168.1.0/24``, ``fd00::/8``), any port.

Sans-IO: :class:`Policy` judges a (host, address, port) that someone else resolved;
:mod:`tuner.egress_proxy` is the proxy that resolves, asks and connects.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import urlsplit

import attrs

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: IPv4 ranges that are not globally routable, and what to call each in a sentence.
_V4_SPECIAL: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), kind)
    for net, kind in (
        ("0.0.0.0/8", "this-network"),
        ("10.0.0.0/8", "private network"),
        ("100.64.0.0/10", "shared CGNAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private network"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay"),
        ("192.168.0.0/16", "private network"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    )
)
#: IPv6 ranges inside global unicast (2000::/3) that are not globally routable.
_V6_SPECIAL: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), kind)
    for net, kind in (
        ("2001::/23", "IETF protocol assignment"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
    )
)
_V6_OUTSIDE: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), kind)
    for net, kind in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fc00::/7", "unique local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")
#: The numeric forms ``inet_aton`` (and so getaddrinfo) reads as IPv4: ``2130706433``,
#: ``0x7f.1``, ``0177.0.0.1``.
_LEGACY_V4 = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}")


def embedded_v4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, 6to4, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def special_kind(address: IPAddress) -> str | None:
    """What makes ``address`` not globally routable (``"loopback"``...), or ``None``
    when it is a public address."""
    inner = embedded_v4(address)
    if inner is not None:
        return special_kind(inner)
    if isinstance(address, ipaddress.IPv4Address):
        found = next((kind for net, kind in _V4_SPECIAL if address in net), None)
    elif address not in _GLOBAL_UNICAST:
        found = next((kind for net, kind in _V6_OUTSIDE if address in net), "reserved")
    else:
        found = next((kind for net, kind in _V6_SPECIAL if address in net), None)
    if found is not None:
        return found
    # Belt and braces: Python's own registry of special-purpose addresses.
    if not address.is_global or address.is_multicast:
        return "reserved"
    return None


def _forms(address: IPAddress) -> Iterator[IPAddress]:
    yield address
    inner = embedded_v4(address)
    if inner is not None:
        yield inner


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return int(text)


@attrs.frozen
class AllowEntry:
    """One ``fetch_allow`` entry: a host name or a network, and maybe a port."""

    text: str
    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> AllowEntry:
        """Read one entry (see the module's docstring for the forms).

        Raises:
            ValueError: not one of the forms; the message says which entry.
        """
        entry = text.strip().lower()
        if not entry:
            raise ValueError("an empty entry")
        if "://" in entry:
            raise ValueError(f"{text!r} is a URL: name its host (host or host:port)")
        port: int | None = None
        where = entry
        if entry.startswith("["):
            inside, bracket, after = entry[1:].partition("]")
            if not bracket or (after and not after.startswith(":")):
                raise ValueError(f"{text!r}: write an IPv6 address as [addr] or [addr]:port")
            where = inside
            if after:
                port = _port(after[1:], text)
        elif entry.count(":") == 1:
            where, _, port_text = entry.partition(":")
            port = _port(port_text, text)
        try:
            network = ipaddress.ip_network(where, strict=False)
        except ValueError:
            network = None
        if network is not None:
            if "/" in where and port is not None:
                raise ValueError(f"{text!r}: a network takes no port")
            return cls(text.strip(), network=network, port=port)
        name = where.rstrip(".")
        if "/" in where or ":" in where or not _HOST_NAME.fullmatch(name):
            raise ValueError(
                f"{text!r} is not a host name, host:port, address, address:port or network"
            )
        return cls(text.strip(), host=name, port=port)

    def matches(self, host: str, address: IPAddress, port: int) -> bool:
        """Whether this entry allows connecting to ``address`` for ``host:port``."""
        if self.port is not None and port != self.port:
            return False
        if self.host is not None:
            return _normal_host(host) == self.host
        assert self.network is not None
        return any(form in self.network for form in _forms(address))


@attrs.frozen
class Verdict:
    """A policy's answer for one address: allowed or not, and why (for the log and
    the person who asked)."""

    allowed: bool
    #: ``"public"``, ``"fetch_allow 127.0.0.1:8080"``, or what kind of address it is.
    reason: str
    #: The sentence for a person, when refused.
    sentence: str = ""


def refusal_sentence(host: str, address: IPAddress | None, port: int, kind: str) -> str:
    """Why a fetch was refused and how to allow it, in one line (it travels as an HTTP
    reason phrase, so plain ASCII and no line breaks)."""
    shown = _display(host, port)
    what = shown if address is None or _normal_host(host) == str(address) else (
        f"{shown} ({address})"
    )  # fmt: skip
    return (
        f"refused: {what} is a private address ({kind}): tuner fetches only public "
        f'addresses; to allow it, add "{shown}" to fetch_allow'
    )


def _display(host: str, port: int) -> str:
    name = _normal_host(host)
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").lower().rstrip(".")


@attrs.frozen
class Policy:
    """Which connections the daemon may make."""

    allow: tuple[AllowEntry, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> Policy:
        """A policy from ``fetch_allow``'s text entries.

        Raises:
            ValueError: an entry that is not one of the forms.
        """
        return cls(tuple(AllowEntry.parse(entry) for entry in entries))

    def check(self, host: str, address: IPAddress, port: int) -> Verdict:
        """May the daemon connect to ``address`` (resolved from ``host``) on ``port``?"""
        for entry in self.allow:
            if entry.matches(host, address, port):
                return Verdict(True, f"fetch_allow {entry.text}")
        kind = special_kind(address)
        if kind is None:
            return Verdict(True, "public")
        return Verdict(False, kind, refusal_sentence(host, address, port, kind))

    def precheck(self, url: str) -> str | None:
        """The refusal sentence for a URL whose host needs no DNS to judge (an address,
        ``localhost``), else ``None``; the proxy still checks every connection."""
        parts = urlsplit(url)
        host = parts.hostname
        if not host:
            return None
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return None
        address = literal_address(host)
        if address is None:
            if host == "localhost" or host.endswith(".localhost"):
                # RFC 6761: such names always resolve to loopback.
                address = ipaddress.IPv4Address("127.0.0.1")
            else:
                return None
        verdict = self.check(host, address, port)
        return None if verdict.allowed else verdict.sentence


#: Environment variables that make a child pick a proxy, or bypass one, by itself.
PROXY_VARIABLES = frozenset(
    ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
     "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
)  # fmt: skip


def proxy_environment(environ: Mapping[str, str], proxy: str | None) -> dict[str, str]:
    """``environ`` without proxy variables (``no_proxy`` would let ffmpeg bypass the
    egress proxy for the hosts it names), with ``http_proxy`` set to ``proxy`` if
    given (ffmpeg's https and nested requests read it).

    Raises:
        ValueError: ``proxy`` is not an ``http://`` URL (ffmpeg would silently ignore
            it, and fetch directly).
    """
    if proxy is not None and not proxy.startswith("http://"):
        raise ValueError("ffmpeg reaches a proxy by http:// only")
    env = {name: value for name, value in environ.items() if name not in PROXY_VARIABLES}
    if proxy is not None:
        env["http_proxy"] = proxy
    return env


def literal_address(host: str) -> IPAddress | None:
    """The address a URL's host is written as (including IPv4's legacy numeric forms,
    which resolvers accept), or ``None`` for a name."""
    host = _normal_host(host)
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LEGACY_V4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None
