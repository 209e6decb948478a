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

import random
import time
from typing import List, Optional, Sequence, Tuple

import dns.exception
import dns.rdatatype
import dns.resolver

from .._dns import NOT_FOUND, configure, endpoints_or_literal, lookup_failure, srv_records
from ..connect import DNSError, DNSTimeout, Endpoint, SRVRecord, endpoints_for, srv_names

__all__ = ["resolve_srv", "resolve_endpoints", "DNSError", "DNSTimeout"]


def _query(resolver: dns.resolver.Resolver, name: str, timeout: float, deadline: float) -> List[SRVRecord]:
    what = f"SRV lookup of {name}"
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise lookup_failure(what, TimeoutError(), timeout)
    try:
        answer = resolver.resolve(name, dns.rdatatype.SRV, lifetime=remaining, search=False)
    except NOT_FOUND:
        return []
    except dns.exception.DNSException as exc:
        raise lookup_failure(what, exc, timeout) from exc
    return srv_records(answer)


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
    resolver = configure(dns.resolver.Resolver, nameservers, port, timeout)
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
    literal = endpoints_or_literal(domain)
    if literal is not None:
        return literal
    xmpps, xmpp = resolve_srv(domain, nameservers=nameservers, port=port, timeout=timeout)
    return endpoints_for(domain, xmpps, xmpp, rng=rng)
