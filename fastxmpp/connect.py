"""Where to connect: SRV ordering and endpoint selection (sans-IO).

This module does no I/O.  A driver looks up the SRV records (see
:mod:`fastxmpp.aio.dns` and :mod:`fastxmpp.sync.dns`) and hands them to
:func:`endpoints_for`, which returns the endpoints to try, in order:

* ``_xmpps-client._tcp.DOMAIN`` records are Direct TLS endpoints (XEP-0368),
  ``_xmpp-client._tcp.DOMAIN`` records are STARTTLS endpoints (RFC 6120 3.2.1).
* XEP-0368 section 3, rule 1: both sets are treated as *one* SRV record set for
  the connection order, "all priorities and weights are mixed", so the server
  operator decides which method clients should use.  Neither kind is preferred
  on a tie: the RFC 2782 weighted draw decides.
* A set whose only record has the target ``"."`` says the service is decidedly
  not available (RFC 2782); it contributes no endpoint.  XEP-0368 section 5:
  a ``"."`` for Direct TLS does not allow the A/AAAA fallback either, so if no
  endpoint is left :class:`ServiceNotAvailable` is raised.
* With no records at all, the fallback is ``(DOMAIN, 5222, STARTTLS)``
  (RFC 6120 3.2.2).
* A host and port given by the user skip DNS entirely:
  :func:`explicit_endpoint`.

Domains: SRV names are built from the ASCII (A-label) form of the domain.
:attr:`fastxmpp.jid.JID.domain` holds U-labels; :func:`ascii_domain` converts
(ASCII input is only lowercased and loses its trailing dot).
"""
from __future__ import annotations

import errno
import functools
import ipaddress
import random
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar

import idna

__all__ = [
    "DEFAULT_PORT",
    "DNSError",
    "DNSTimeout",
    "ServiceNotAvailable",
    "Endpoint",
    "SRVRecord",
    "srv_order",
    "endpoints_for",
    "explicit_endpoint",
    "fallback_endpoint",
    "ascii_domain",
    "ip_literal",
    "srv_names",
    "connect_failure",
]

#: Port of the RFC 6120 fallback (STARTTLS, no SRV records).
DEFAULT_PORT = 5222

#: SRV service labels, Direct TLS (XEP-0368) and STARTTLS (RFC 6120).
XMPPS_CLIENT = "_xmpps-client._tcp"
XMPP_CLIENT = "_xmpp-client._tcp"

_T = TypeVar("_T")


class DNSError(OSError):
    """The SRV lookup failed: timeout, no answer from any nameserver, bad configuration.

    A name that does not exist (NXDOMAIN) or has no SRV records is not an
    error: it gives an empty record list.
    """


class DNSTimeout(DNSError, TimeoutError):
    """No nameserver answered the SRV query in time."""


class ServiceNotAvailable(DNSError):
    """The domain's SRV records say (target ``"."``) that it offers no XMPP client service."""

    def __init__(self, domain: str) -> None:
        super().__init__(
            f"{domain!r} offers no XMPP client service: its SRV records have the target '.'"
            " (RFC 2782, XEP-0368) and leave no endpoint to connect to"
        )
        self.domain = domain


@dataclass(frozen=True)
class SRVRecord:
    """One SRV resource record (RFC 2782).

    ``target`` is an ASCII host name without the trailing dot; the root,
    ``"."``, means "service not available".
    """

    priority: int
    weight: int
    port: int
    target: str

    @property
    def unavailable(self) -> bool:
        """Whether the record's target is ``"."``: the service is decidedly not offered there
        (RFC 2782, RFC 6120 3.2.1)."""
        return self.target == "."


@dataclass(frozen=True)
class Endpoint:
    """A place to open a TCP connection to, and how to secure it.

    ``direct_tls=True``: start TLS as soon as the TCP connection is up
    (XEP-0368); ``False``: negotiate STARTTLS inside the XMPP stream.
    """

    host: str
    port: int
    direct_tls: bool


def _weighted_order(items: List[_T], weights: List[int], rng: random.Random) -> List[_T]:
    """RFC 2782 selection within one priority: weight-0 entries first, then weighted draws."""
    # "arrange all SRV RRs (that have not been ordered yet) in any order, except
    # that all those with weight 0 are placed at the beginning of the list".
    # Shuffle first so that equal-weight (and all-zero) entries are in random order.
    pool = list(zip(weights, items))
    rng.shuffle(pool)
    pool.sort(key=lambda wi: wi[0] != 0)  # stable: zeros first, shuffled order kept
    out: List[_T] = []
    while pool:
        total = sum(w for w, _ in pool)
        # "choose a uniform random number between 0 and the sum computed (inclusive)"
        pick = rng.randint(0, total)
        running = 0
        for index, (w, item) in enumerate(pool):
            running += w
            # "select the RR whose running sum value is the first ... >= the random number"
            if running >= pick:
                out.append(item)
                del pool[index]
                break
    return out


def _order(items: Sequence[_T], keys: Sequence[Tuple[int, int]], rng: Optional[random.Random]) -> List[_T]:
    if rng is None:
        rng = random.Random()
    groups: Dict[int, Any] = {}
    for item, (priority, weight) in zip(items, keys):
        if priority < 0 or weight < 0:
            raise ValueError(f"SRV priority and weight must be >= 0, got {priority}, {weight}")
        groups.setdefault(priority, ([], []))
        groups[priority][0].append(item)
        groups[priority][1].append(weight)
    out: List[_T] = []
    for priority in sorted(groups):
        members, weights = groups[priority]
        out.extend(_weighted_order(members, weights, rng))
    return out


def srv_order(records: Iterable[Any], *, rng: Optional[random.Random] = None) -> List[Any]:
    """The records in RFC 2782 connection order.

    Lowest ``priority`` first; within one priority, a weighted random draw
    (records with weight 0 have a very small chance to come first, as the RFC
    says).  ``records`` are any objects with integer ``priority`` and ``weight``
    attributes (:class:`SRVRecord`, dnspython's SRV rdata...).  Pass a seeded
    :class:`random.Random` as ``rng`` for a reproducible order.
    """
    records = list(records)
    return _order(records, [(r.priority, r.weight) for r in records], rng)


def _usable(records: Sequence[SRVRecord]) -> Tuple[List[SRVRecord], bool]:
    """(records to use, whether the set says "not available")."""
    records = list(records)
    if len(records) == 1 and records[0].unavailable:
        return [], True
    # A "." next to real records is malformed (RFC 2782: only "if there is
    # precisely one SRV RR"); ignore that record and use the others.
    return [r for r in records if not r.unavailable], False


def endpoints_for(
    domain: str,
    xmpps_records: Sequence[SRVRecord],
    xmpp_records: Sequence[SRVRecord],
    *,
    rng: Optional[random.Random] = None,
) -> List[Endpoint]:
    """The endpoints to try for ``domain``, best first.

    ``xmpps_records`` are the ``_xmpps-client._tcp`` records (Direct TLS),
    ``xmpp_records`` the ``_xmpp-client._tcp`` ones (STARTTLS).  Both sets are
    ordered together as one set (XEP-0368 section 3).  Duplicate endpoints are
    dropped (the first place wins).

    Raises :class:`ServiceNotAvailable` when a ``"."`` target leaves no
    endpoint.  With no records at all, returns ``[fallback_endpoint(domain)]``.
    """
    direct, direct_off = _usable(xmpps_records)
    starttls, starttls_off = _usable(xmpp_records)
    if not direct and not starttls:
        if direct_off or starttls_off:
            raise ServiceNotAvailable(domain)
        return [fallback_endpoint(domain)]
    tagged = [(r, True) for r in direct] + [(r, False) for r in starttls]
    ordered = _order(tagged, [(r.priority, r.weight) for r, _ in tagged], rng)
    out: List[Endpoint] = []
    seen = set()
    for record, is_direct in ordered:
        endpoint = Endpoint(record.target.rstrip(".").lower(), record.port, is_direct)
        if endpoint not in seen:
            seen.add(endpoint)
            out.append(endpoint)
    return out


def fallback_endpoint(domain: str) -> Endpoint:
    """``(domain, 5222, STARTTLS)``: RFC 6120 3.2.2, used when there are no SRV records.

    An IP-literal domain (``"[::1]"``) gives the bare address (``"::1"``).
    """
    literal = ip_literal(domain)
    return Endpoint(literal if literal is not None else ascii_domain(domain), DEFAULT_PORT, False)


def explicit_endpoint(host: str, port: int, direct_tls: bool = False) -> Endpoint:
    """The endpoint for a host and port given by the user: no DNS lookup at all."""
    if not host:
        raise ValueError("host must not be empty")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port must be an integer in 1..65535, got {port!r}")
    literal = ip_literal(host)
    return Endpoint(literal if literal is not None else host, port, bool(direct_tls))


@functools.lru_cache(maxsize=256)  # asked on every connect; a miss costs two failed parses
def ip_literal(domain: str) -> Optional[str]:
    """The address if ``domain`` is an IP literal (``"127.0.0.1"``, ``"[::1]"``), else ``None``."""
    value = domain[1:-1] if domain.startswith("[") and domain.endswith("]") else domain
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def ascii_domain(domain: str) -> str:
    """The A-label (ASCII) form of a domain, lowercased, without the trailing dot.

    :attr:`fastxmpp.jid.JID.domain` is already normalised (UTS 46, IDNA2008)
    but holds U-labels; this gives the form DNS and SNI need.
    """
    domain = domain[:-1] if domain.endswith(".") else domain
    if not domain:
        raise ValueError("empty domain")
    if domain.isascii():
        return domain.lower()
    try:
        return ".".join(idna.alabel(label).decode("ascii") for label in domain.split("."))
    except UnicodeError as exc:  # idna.IDNAError is a UnicodeError
        raise ValueError(f"domain {domain!r} has no IDNA2008 A-label form: {exc}") from None


def srv_names(domain: str) -> Tuple[str, str]:
    """The absolute SRV owner names to query: (Direct TLS, STARTTLS)."""
    base = ascii_domain(domain)
    return f"{XMPPS_CLIENT}.{base}.", f"{XMPP_CLIENT}.{base}."


def _describe(exc: BaseException, timeout: float) -> str:
    """One failed connection attempt in words: the errno's name and text for an OS error."""
    code = getattr(exc, "errno", None)
    if isinstance(exc, TimeoutError) or type(exc).__name__ in ("TimeoutError", "timeout"):
        if not code:
            return f"timed out after {timeout:g}s" + (f" ({exc})" if str(exc) else "")
    if isinstance(exc, OSError) and isinstance(code, int) and code in errno.errorcode and exc.strerror:
        return f"{errno.errorcode[code]} ({exc.strerror})"
    return repr(exc)


def connect_failure(domain: str, failures: Sequence[Tuple[Endpoint, BaseException]], timeout: float) -> str:
    """The message of the error raised when no endpoint of ``domain`` could be reached:
    each endpoint tried, with why it failed (``127.0.0.1:5222: ECONNREFUSED (Connection
    refused)``).  The drivers raise it with the last failure as the cause."""
    if not failures:
        return f"could not connect to {domain}: no endpoint to try"
    tried = "; ".join(f"{endpoint.host}:{endpoint.port}: {_describe(exc, timeout)}" for endpoint, exc in failures)
    return f"could not connect to {domain}: {tried}"
