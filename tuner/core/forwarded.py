"""Who is really asking, when a trusted proxy or tunnel relays the request.

Sans-IO. A reverse proxy (Caddy, nginx) or a tunnel (cloudflared, Tailscale Funnel)
connects from its own address and says who it relays in ``X-Forwarded-For``, over
which scheme in ``X-Forwarded-Proto`` and for which host in ``X-Forwarded-Host``.
Those headers are believed only from a peer in the configured ``trusted_proxies``:
from anyone else they are whatever the client chose to write.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping

import attrs

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: A host, with an optional port, as a Host header may carry it.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?")


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
    proto = _values(headers.get("x-forwarded-proto", ""))
    if proto and proto[0].lower() in ("http", "https"):
        scheme = proto[0].lower()
    forwarded_host = _values(headers.get("x-forwarded-host", ""))
    host = forwarded_host[0] if forwarded_host and _HOST.fullmatch(forwarded_host[0]) else None
    return Seen(client, scheme, host)


def _values(header: str) -> list[str]:
    return [value.strip() for value in header.split(",") if value.strip()]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
