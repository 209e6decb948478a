"""SRV lookups for the asyncio driver (dnspython's :mod:`dns.asyncresolver`).

The two queries (``_xmpps-client._tcp`` and ``_xmpp-client._tcp``) run
concurrently; the ordering and the fallback are the sans-IO
:func:`fastxmpp.connect.endpoints_for`.

Domains: the SRV names are built from the A-label (ASCII) form of the domain.
An ASCII domain is used as it is (lowercased, trailing dot removed); a U-label
domain such as :attr:`fastxmpp.jid.JID.domain` is converted with IDNA2008
(:func:`fastxmpp.connect.ascii_domain`), never with dnspython's own codec.

:mod:`fastxmpp.sync.dns` has the same functions for blocking code.
"""
from __future__ import annotations

import asyncio
import random
from typing import List, Optional, Sequence, Tuple

import dns.asyncresolver
import dns.exception
import dns.rdatatype
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA

from .._dns import NOT_FOUND, configure, endpoints_or_literal, lookup_failure, srv_records
from ..connect import DNSError, DNSTimeout, Endpoint, SRVRecord, ascii_domain, endpoints_for, ip_literal, srv_names

__all__ = ["resolve_srv", "resolve_endpoints", "resolve_addresses", "DNSError", "DNSTimeout"]


async def _query(resolver: dns.asyncresolver.Resolver, name: str, timeout: float) -> List[SRVRecord]:
    try:
        answer = await resolver.resolve(name, dns.rdatatype.SRV, lifetime=timeout, search=False)
    except NOT_FOUND:
        return []
    except dns.exception.DNSException as exc:
        raise lookup_failure(f"SRV lookup of {name}", exc, timeout) from exc
    return srv_records(answer)


async def resolve_srv(
    domain: str,
    *,
    nameservers: Optional[Sequence[str]] = None,
    port: int = 53,
    timeout: float = 5.0,
) -> Tuple[List[SRVRecord], List[SRVRecord]]:
    """Look up ``(xmpps_records, xmpp_records)`` for ``domain``.

    ``nameservers`` (IP addresses, queried on ``port``) replace the system's
    resolvers (``/etc/resolv.conf``).  A name that does not exist or has no SRV
    records gives an empty list.  No answer within ``timeout`` seconds raises
    :class:`~fastxmpp.connect.DNSTimeout`; other failures (every nameserver
    answered SERVFAIL or REFUSED...) raise :class:`~fastxmpp.connect.DNSError`.
    """
    xmpps_name, xmpp_name = srv_names(domain)
    resolver = configure(dns.asyncresolver.Resolver, nameservers, port, timeout)
    results = await asyncio.gather(
        _query(resolver, xmpps_name, timeout),
        _query(resolver, xmpp_name, timeout),
        return_exceptions=True,  # let both finish: no task left behind on an error
    )
    xmpps, xmpp = results
    if isinstance(xmpps, BaseException):
        raise xmpps
    if isinstance(xmpp, BaseException):
        raise xmpp
    return xmpps, xmpp


async def resolve_endpoints(
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
    literal = endpoints_or_literal(domain)
    if literal is not None:
        return literal
    xmpps, xmpp = await resolve_srv(domain, nameservers=nameservers, port=port, timeout=timeout)
    return endpoints_for(domain, xmpps, xmpp, rng=rng)


async def resolve_addresses(
    host: str,
    *,
    nameservers: Optional[Sequence[str]] = None,
    port: int = 53,
    timeout: float = 5.0,
) -> List[str]:
    """IPv6 and IPv4 addresses of ``host`` from the given nameservers (AAAA first, then A).

    Used when the caller named its own nameservers, so that SRV targets are
    resolved by the same servers; otherwise the system resolver is used.
    """
    literal = ip_literal(host)
    if literal is not None:
        return [literal]
    resolver = configure(dns.asyncresolver.Resolver, nameservers, port, timeout)
    name = ascii_domain(host)
    found: List[str] = []
    for rdtype in ("AAAA", "A"):
        try:
            answer = await asyncio.wait_for(resolver.resolve(name, rdtype), timeout)
        except NOT_FOUND:
            continue
        except (asyncio.TimeoutError, dns.exception.DNSException) as exc:
            raise lookup_failure(f"looking up {name}", exc, timeout) from exc
        found.extend(rr.address for rr in answer if isinstance(rr, (A, AAAA)))
    if not found:
        raise DNSError(f"{name} has no address")
    return found
