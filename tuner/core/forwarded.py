"""Who is really asking, when a trusted proxy or tunnel relays the request.

Sans-IO. A reverse proxy (Caddy, nginx) or a tunnel (cloudflared, Tailscale Funnel)
connects from its own address and says who it relays in ``X-Forwarded-For``, over
which scheme in ``X-Forwarded-Proto`` and for which host in ``X-Forwarded-Host``.
Those headers are believed only from a peer in the configured ``trusted_proxies``
(none by default): from anyone else they are whatever the client chose to write.
Of a header that several hops may have written, the address is found by walking
back from the last hop; the scheme and the host are the last values, those the
proxy nearest us wrote.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping

import attrs

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Headers by which a proxy, a tunnel or a CDN says whom it relays (names in lower
#: case; those ending in ``-`` are prefixes). A request that carries one came through
#: such a relay, whatever address it came from.
FORWARDING_HEADERS = (
    "x-forwarded-",
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "x-original-forwarded-for",
    "true-client-ip",
    "cf-connecting-ip",
    "cf-ray",
    "cdn-loop",
    "fastly-client-ip",
    "tailscale-",
    "via",
)
#: The forwarding headers this module reads (from a trusted proxy only).
READ_HEADERS = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host")

#: A host, with an optional port, as a Host header may carry it.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?")
#: A DNS name: labels of at most 63 letters, digits, underscores and inner hyphens
#: (lower case here; some home networks name machines with underscores).
_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*"
)


@attrs.frozen
class Seen:
    """The request as the daemon should see it."""

    client: str
    scheme: str
    host: str | None


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and CIDR networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``).

    Raises:
        ValueError: an entry that is neither, naming it.
    """
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


def is_in(address: str, networks: Iterable[Network]) -> bool:
    """Whether ``address`` (an IP, maybe IPv4-mapped IPv6) is in any of ``networks``."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def server_name(entry: str) -> str:
    """A host name or an IP address as ``server_names`` holds it: lower case, no
    port, no brackets, no trailing dot.

    Raises:
        ValueError: not a host name or an address (naming the entry).
    """
    name = entry.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(name.removeprefix("[").removesuffix("]")))
    except ValueError:
        pass
    if not _NAME.fullmatch(name):
        raise ValueError(f"{entry!r} is not a host name (give it without a port or scheme)")
    return name


def name_of_host(host: str) -> str | None:
    """The name in a ``Host`` header (as :func:`server_name` gives it), or ``None``
    for a header that is not a host with an optional port."""
    match = _HOST.fullmatch(host.strip())
    if match is None or (match.group(2) is not None and int(match.group(2)) > 65535):
        return None
    try:
        return server_name(match.group(1))
    except ValueError:
        return None


def is_loopback_name(name: str) -> bool:
    """Whether a name from :func:`name_of_host` is this machine's own: a loopback
    address or ``localhost``."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def is_forwarding_header(name: str) -> bool:
    """Whether a header (its name, any case) is one a relay adds (:data:`FORWARDING_HEADERS`)."""
    name = name.lower()
    return any(
        name.startswith(known) if known.endswith("-") else name == known
        for known in FORWARDING_HEADERS
    )


def seen_request(
    peer: str,
    scheme: str,
    headers: Mapping[str, str],
    trusted: tuple[Network, ...],
) -> Seen:
    """The client address, scheme and host to act on.

    Args:
        peer: the address the connection came from.
        scheme: ``http`` or ``https`` as the connection arrived.
        headers: the request's headers, names in lower case, repeated ones joined
            with ``,``.
        trusted: the proxies whose forwarding headers are believed.
    """
    if not is_in(peer, trusted):
        return Seen(peer, scheme, None)
    client = peer
    # The proxy nearest us appends last: walk back from it to the first address
    # not of a trusted proxy (those before it were written by the client, and so
    # was anything that is not an address).
    for hop in reversed(_values(headers.get("x-forwarded-for", ""))):
        if not _is_ip(hop):
            break
        client = hop
        if not is_in(hop, trusted):
            break
    # Of the scheme and the host, only the last value counts: the one the proxy
    # nearest us wrote. A proxy that appends (or passes on what the client sent)
    # leaves the client's own values first, and those are whatever it chose.
    proto = _last(headers.get("x-forwarded-proto", ""))
    if proto is not None and proto.lower() in ("http", "https"):
        scheme = proto.lower()
    forwarded_host = _last(headers.get("x-forwarded-host", ""))
    host = forwarded_host if forwarded_host and name_of_host(forwarded_host) else None
    return Seen(client, scheme, host)


def _values(header: str) -> list[str]:
    return [value.strip() for value in header.split(",") if value.strip()]


def _last(header: str) -> str | None:
    values = _values(header)
    return values[-1] if values else None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
