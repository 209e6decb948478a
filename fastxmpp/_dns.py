"""What the two drivers' DNS lookups share (dnspython; no I/O of its own): the resolver's
configuration, the SRV answer turned into records, and dnspython's exceptions turned into
ours.  :mod:`fastxmpp.aio.dns` and :mod:`fastxmpp.sync.dns` only await or block."""
from __future__ import annotations

import errno
from typing import Any, Callable, List, Optional, Sequence, TypeVar

import dns.exception
import dns.resolver
from dns.rdtypes.IN.SRV import SRV

from .connect import DNSError, DNSTimeout, Endpoint, SRVRecord, fallback_endpoint, ip_literal

__all__ = ["configure", "srv_records", "lookup_failure", "NOT_FOUND", "endpoints_or_literal"]

_R = TypeVar("_R")

#: A name that does not exist, or has no records of the type asked for: an empty answer.
NOT_FOUND = (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer)


def configure(factory: Callable[..., _R], nameservers: Optional[Sequence[str]], port: int,
              timeout: float) -> _R:
    """A resolver from ``factory`` (dnspython's blocking or asyncio ``Resolver``):
    ``nameservers`` (queried on ``port``) instead of the system's, no cache, ``timeout``."""
    try:
        resolver: Any = factory(configure=nameservers is None)
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
    return resolver  # type: ignore[no-any-return]


def srv_records(answer: Any) -> List[SRVRecord]:
    """An SRV answer as records (a target of ``"."`` kept: the service is not offered)."""
    return [
        SRVRecord(rr.priority, rr.weight, rr.port, rr.target.to_text(omit_final_dot=True) or ".")
        for rr in answer
        if isinstance(rr, SRV)
    ]


def lookup_failure(what: str, exc: BaseException, timeout: float) -> BaseException:
    """The error to raise for a failed lookup ``what`` ("SRV lookup of NAME")."""
    if isinstance(exc, (dns.exception.Timeout, TimeoutError)):
        return DNSTimeout(errno.ETIMEDOUT, f"{what} timed out after {timeout:g}s")
    return DNSError(f"{what} failed: {exc}")  # NoNameservers (SERVFAIL/REFUSED), YXDOMAIN...


def endpoints_or_literal(domain: str) -> Optional[List[Endpoint]]:
    """An IP-literal domain's one endpoint (no lookup), or None: look it up."""
    return [fallback_endpoint(domain)] if ip_literal(domain) is not None else None
