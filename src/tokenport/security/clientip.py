"""Where a request came from: the client's address, and the network prefix it shares.

The socket's peer is the client, unless the peer is one of the `trusted_proxies` (addresses
or CIDR networks, e.g. the nginx in front of the replicas). Then `X-Forwarded-For` is read
from the right: each hop a trusted proxy appended is skipped, and the first address that is
not a trusted proxy is the client. Anything further left was written by the client itself and
proves nothing, so it is never used. A peer that is not trusted cannot set the address at all.

    client_ip(scope, headers, ["10.0.0.0/8"])   # -> "203.0.113.7"
    ip_prefix("203.0.113.7")                    # -> "203.0.113.0/24"
    ip_prefix("2001:db8:1:2::5")                # -> "2001:db8:1::/48"
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Trusted:
    """Parsed `trusted_proxies`: membership tests without re-parsing per request."""

    def __init__(self, entries: Sequence[str]) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(e.strip(), strict=False) for e in entries
        )

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, address: str) -> bool:
        ip = _parse(address)
        return ip is not None and any(ip in net for net in self.networks)


@functools.lru_cache(maxsize=16)
def _trusted(entries: tuple[str, ...]) -> Trusted:
    return Trusted(entries)


def trusted_proxies(entries: Sequence[str] | Trusted) -> Trusted:
    """A `Trusted` for a settings list (cached), or the one given."""
    return entries if isinstance(entries, Trusted) else _trusted(tuple(entries))


def _parse(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:5123"
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _peer(scope: Mapping[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def client_ip(
    scope: MutableMapping[str, Any] | Mapping[str, Any],
    headers: Mapping[str, str],
    trusted: Sequence[str] | Trusted,
) -> str:
    """The client's address as text ("" when the server does not know its peer, e.g. a
    Unix socket). `headers` has lower-case names, as the edge builds them."""
    peer = _peer(scope)
    proxies = trusted_proxies(trusted)
    if not proxies or peer not in proxies:
        return _canonical(peer)
    forwarded = headers.get("x-forwarded-for")
    if not forwarded:
        return _canonical(peer)
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    nearest = peer
    for hop in reversed(hops):
        ip = _parse(hop)
        if ip is None:
            break  # garbage in the chain: trust nothing further left
        if str(ip) not in proxies:
            return str(ip)
        nearest = str(ip)
    # Every hop was a trusted proxy (an internal client), or the chain broke: the address
    # furthest from us that a trusted proxy vouched for.
    return _canonical(nearest)


@functools.lru_cache(maxsize=65_536)
def _canonical(address: str) -> str:
    # Cached: parsing through `ipaddress` costs more than the rest of `client_ip`, and a
    # gateway sees the same peers (its proxies, clients on keep-alive) again and again.
    ip = _parse(address)
    return str(ip) if ip is not None else address


@functools.lru_cache(maxsize=65_536)
def ip_prefix(address: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) network of an address; "" for none or garbage."""
    ip = _parse(address)
    if ip is None:
        return ""
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))
