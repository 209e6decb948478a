"""A shared pool of TLS 1.3 sessions, so repeated connections to one server resume.

A resumed TLS 1.3 handshake (RFC 8446 section 2.2) skips the server's
certificate chain, its verification and the server's signature.  Hand one
:class:`TLSSessionCache` to many clients (``tls_session_cache=``); each
connection takes a session before its handshake and gives its newest one back
once it is logged in.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from typing import Any, Callable, Deque, Dict, Hashable, Optional, Tuple

__all__ = ["TLSSessionCache"]


class TLSSessionCache:
    """A bounded, thread-safe pool of resumable :class:`ssl.SSLSession` objects.

    Sessions are pooled per ``(SSLContext, server_hostname, host, port)``: a
    session only works with the context that made it (CPython raises
    ``ValueError`` otherwise).  :meth:`take` hands a session out and forgets
    it, since a client should not offer one ticket on two connections (RFC
    8446 appendix C.4); :meth:`put` adds a connection's newest session.

    Only TLS 1.3 sessions are kept.  Resuming TLS 1.2 breaks ``tls-unique``
    channel binding without the extended master secret (the triple-handshake
    attack), so a TLS 1.2 connection is never pooled.  Expired sessions are
    dropped when met.  Resumed connections share a ticket lineage the server
    can link: pool only connections that may be linked (load tests, one
    user's devices).

    ``maxsize`` bounds the whole pool, ``per_key`` each server; the oldest
    sessions go first.  ``hits``/``misses`` count :meth:`take` results (a hit
    is only an offer: a server may refuse it and do a full handshake),
    ``resumed`` the connections given back that had resumed.  A server that
    refuses an offered session (Prosody does by default, yet sends tickets) is
    not offered any for ``refusal_ttl`` seconds: setting a session costs
    CPython a copy of it, certificate included (``refused`` counts these).
    ``clock`` gives the Unix time (``SSLSession.time`` is one).
    """

    def __init__(self, maxsize: int = 1024, *, per_key: int = 256, refusal_ttl: float = 600.0,
                 clock: Callable[[], float] = time.time) -> None:
        if maxsize < 1 or per_key < 1:
            raise ValueError("maxsize and per_key must be at least 1")
        self.maxsize = maxsize
        self.per_key = per_key
        self.refusal_ttl = refusal_ttl
        self._clock = clock
        self._refusing: Dict[Hashable, float] = {}  # server key -> when it refused
        self._pools: "OrderedDict[Hashable, Deque[Any]]" = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.resumed = 0
        self.refused = 0

    def take(self, context: Any, server_hostname: Optional[str], host: str, port: int) -> Optional[Any]:
        """Remove and return the oldest live session for this server, or None."""
        key = _key(context, server_hostname, host, port)
        now = self._clock()
        with self._lock:
            if self._refuses(key, now):
                self.misses += 1
                return None
            pool = self._pools.get(key)
            found = None
            while pool and found is None:
                session = pool.popleft()
                self._size -= 1
                if not _expired(session, now):
                    found = session
            if pool is not None and not pool:
                del self._pools[key]
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
            return found

    def put(self, tls: Any, server_hostname: Optional[str], host: str, port: int,
            offered: bool = False) -> bool:
        """Pool the current session of ``tls`` (an ``SSLObject`` or ``SSLSocket`` whose
        handshake finished); returns whether it was kept.  ``offered``: this connection
        was handed a session by :meth:`take` (not resuming it means the server refused).

        Call it once the connection is logged in: the TLS 1.3 tickets arrive after the
        handshake, and a failed login should not feed the pool.
        """
        key = _key(tls.context, server_hostname, host, port)
        now = self._clock()
        if tls.session_reused:
            with self._lock:
                self.resumed += 1
        elif offered:
            with self._lock:
                self.refused += 1
                self._refusing[key] = now
                self._size -= len(self._pools.pop(key, ()))
            return False
        if tls.version() != "TLSv1.3":
            return False
        session = tls.session
        if session is None or not session.has_ticket or _expired(session, now):
            return False
        with self._lock:
            if self._refuses(key, now):
                return False
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = deque()
            else:
                self._pools.move_to_end(key)
            pool.append(session)
            self._size += 1
            if len(pool) > self.per_key:
                pool.popleft()
                self._size -= 1
            while self._size > self.maxsize:
                self._evict_oldest()
        return True

    def _refuses(self, key: Hashable, now: float) -> bool:
        """Whether the server at ``key`` refused a session less than ``refusal_ttl`` ago."""
        since = self._refusing.get(key)
        if since is None:
            return False
        if now - since < self.refusal_ttl:
            return True
        del self._refusing[key]
        return False

    def _evict_oldest(self) -> None:
        """Drop the oldest session of the server pooled into least recently."""
        key, pool = next(iter(self._pools.items()))
        pool.popleft()
        self._size -= 1
        if not pool:
            del self._pools[key]

    def __len__(self) -> int:
        with self._lock:
            return self._size

    def clear(self) -> None:
        """Forget every kept TLS session (and which servers refused to resume)."""
        with self._lock:
            self._pools.clear()
            self._refusing.clear()
            self._size = 0

    def counters(self) -> Dict[str, int]:
        """``{"hits", "misses", "resumed", "refused", "size"}``, for reports."""
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "resumed": self.resumed,
                    "refused": self.refused, "size": self._size}

    def __repr__(self) -> str:
        return (f"<TLSSessionCache {len(self)}/{self.maxsize} hits={self.hits} "
                f"misses={self.misses} resumed={self.resumed}>")


def _expired(session: Any, now: float) -> bool:
    """Past the session's timeout or the server's ticket lifetime hint (whichever is sooner)."""
    lifetime = session.timeout
    hint = getattr(session, "ticket_lifetime_hint", 0)
    if hint:
        lifetime = min(lifetime, hint) if lifetime else hint
    expired: bool = now >= session.time + lifetime
    return expired


def _key(context: Any, server_hostname: Optional[str], host: str, port: int) -> Tuple[Any, ...]:
    return (context, server_hostname, host, port)
