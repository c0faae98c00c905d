"""Who is on the other end: the client address that login throttling counts against.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only when the
connecting peer is one of ``api.trusted_proxies``. Then the header is read from the right (each
proxy appends the address it saw) past every hop that is itself a trusted proxy, and the first
address that is not is the client. With no trusted proxies (the default) the header is ignored
and the client is the peer: behind an undeclared proxy every caller then shares the proxy's
address, which throttles too much rather than letting anyone pick a fresh address per guess.

IPv6 clients are counted by their ``/64`` network: one host is usually given a whole ``/64``, so
counting single addresses would hand an attacker 2^64 fresh identities.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPV6_PREFIX = 64


@lru_cache(maxsize=8)
def proxy_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """Parse ``api.trusted_proxies`` (validated by the config model) once per distinct list."""
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Sequence[Network]
) -> bool:
    return any(addr in n for n in networks)


def client_key(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The throttling key of an address: itself for IPv4, its ``/64`` for IPv6."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/{IPV6_PREFIX}", strict=False))
    return str(addr)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client to count a request against.

    Args:
        peer: the connecting address (``request.client.host``), or ``None`` if unknown.
        forwarded_for: the ``X-Forwarded-For`` header (all of its values joined by commas).
        trusted: networks of proxies whose forwarding header is believed.
    """
    peer_addr = _address(peer) if peer else None
    if peer_addr is None:
        return (peer or "unknown")[:64]  # not an IP (a test client, a Unix socket): as given
    client = peer_addr
    if forwarded_for and _trusted(peer_addr, trusted):
        for hop in reversed(forwarded_for.split(",")):
            addr = _address(hop)
            if addr is None:
                break  # a trusted hop would not write garbage: stop at the last good one
            client = addr
            if not _trusted(addr, trusted):
                break
    return client_key(client)
