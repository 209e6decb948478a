"""SRV lookups for the blocking driver (dnspython's :mod:`dns.resolver`).

Plain blocking sockets, no threads, so gevent's monkey-patching makes these
cooperative.  The two queries run one after the other within one overall
``timeout``; the ordering and the fallback are the sans-IO
:func:`fastxmpp.connect.endpoints_for`.

Domains: the SRV names are built from the A-label (ASCII) form of the domain.
An ASCII domain is used as it is (lowercased, trailing dot removed); a U-label
domain such as :attr:`fastxmpp.jid.JID.domain` is converted with IDNA2008
(:func:`fastxmpp.connect.ascii_domain`), never with dnspython's own codec.

:mod:`fastxmpp.aio.dns` has the same functions for asyncio.
"""
from __future__ import annotations

import errno
import random
import time
from typing import List, Optional, Sequence, Tuple

import dns.exception
import dns.rdatatype
import dns.resolver
from dns.rdtypes.IN.SRV import SRV

from ..connect import (
    DNSError,
    DNSTimeout,
    Endpoint,
    SRVRecord,
    endpoints_for,
    fallback_endpoint,
    ip_literal,
    srv_names,
)

__all__ = ["resolve_srv", "resolve_endpoints", "DNSError", "DNSTimeout"]


def _resolver(nameservers: Optional[Sequence[str]], port: int, timeout: float) -> dns.resolver.Resolver:
    try:
        resolver = dns.resolver.Resolver(configure=nameservers is None)
    except dns.exception.DNSException as exc:  # no /etc/resolv.conf, unreadable...
        raise DNSError(f"cannot configure the DNS resolver: {exc}") from exc
    resolver.port = port  # before the nameservers: dnspython reads it when they are set
    if nameservers is not None:
        if isinstance(nameservers, str):
            nameservers = [nameservers]
        resolver.nameservers = list(nameservers)
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = None
    return resolver


def _query(resolver: dns.resolver.Resolver, name: str, timeout: float, deadline: float) -> List[SRVRecord]:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DNSTimeout(errno.ETIMEDOUT, f"SRV lookup of {name} timed out after {timeout:g}s")
    try:
        answer = resolver.resolve(name, dns.rdatatype.SRV, lifetime=remaining, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.Timeout as exc:
        raise DNSTimeout(errno.ETIMEDOUT, f"SRV lookup of {name} timed out after {timeout:g}s") from exc
    except dns.exception.DNSException as exc:  # NoNameservers (SERVFAIL/REFUSED), YXDOMAIN...
        raise DNSError(f"SRV lookup of {name} failed: {exc}") from exc
    return [
        SRVRecord(rr.priority, rr.weight, rr.port, rr.target.to_text(omit_final_dot=True) or ".")
        for rr in answer
        if isinstance(rr, SRV)
    ]


def resolve_srv(
    domain: str,
    *,
    nameservers: Optional[Sequence[str]] = None,
    port: int = 53,
    timeout: float = 5.0,
) -> Tuple[List[SRVRecord], List[SRVRecord]]:
    """Look up ``(xmpps_records, xmpp_records)`` for ``domain``, blocking.

    ``nameservers`` (IP addresses, queried on ``port``) replace the system's
    resolvers (``/etc/resolv.conf``).  A name that does not exist or has no SRV
    records gives an empty list.  No answer within ``timeout`` seconds (for both
    queries together) raises :class:`~fastxmpp.connect.DNSTimeout`; other
    failures raise :class:`~fastxmpp.connect.DNSError`.
    """
    xmpps_name, xmpp_name = srv_names(domain)
    resolver = _resolver(nameservers, port, timeout)
    deadline = time.monotonic() + timeout
    xmpps = _query(resolver, xmpps_name, timeout, deadline)
    xmpp = _query(resolver, xmpp_name, timeout, deadline)
    return xmpps, xmpp


def resolve_endpoints(
    domain: str,
    *,
    nameservers: Optional[Sequence[str]] = None,
    port: int = 53,
    timeout: float = 5.0,
    rng: Optional[random.Random] = None,
) -> List[Endpoint]:
    """The endpoints to try for ``domain``, best first (see :func:`fastxmpp.connect.endpoints_for`).

    An IP-literal domain gives ``(address, 5222, STARTTLS)`` without a lookup.
    A host and port chosen by the user need no call at all:
    :func:`fastxmpp.connect.explicit_endpoint`.
    """
    if ip_literal(domain) is not None:
        return [fallback_endpoint(domain)]
    xmpps, xmpp = resolve_srv(domain, nameservers=nameservers, port=port, timeout=timeout)
    return endpoints_for(domain, xmpps, xmpp, rng=rng)
