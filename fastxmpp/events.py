"""Events the sans-IO client stream emits (frozen, slotted, keyword-only; past tense)."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from .errors import StreamError

__all__ = [
    "Event",
    "TLSRequested",
    "StreamOpened",
    "KeyDerivationRequested",
    "Authenticated",
    "SessionStarted",
    "StanzaReceived",
    "IQResponseReceived",
    "StanzasAcked",
    "ResumeFailed",
    "StreamErrorReceived",
    "StreamClosed",
    "LoginTimings",
]

_opts: Dict[str, Any] = {"frozen": True}
if sys.version_info >= (3, 10):
    _opts.update(slots=True, kw_only=True)


class Event:
    """Base class of everything :meth:`ClientStream.events` returns."""

    __slots__ = ()


@dataclass(**_opts)
class StreamOpened(Event):
    """The server opened its stream (initially and after each restart)."""

    id: Optional[str]
    from_: Optional[str]
    version: Optional[str]


@dataclass(**_opts)
class TLSRequested(Event):
    """The server said ``<proceed/>``: the driver must start TLS, then call ``tls_established()``."""

    server_hostname: str


@dataclass(**_opts)
class KeyDerivationRequested(Event):
    """SCRAM needs a PBKDF2 with more iterations than ``scram_inline_iterations``.

    The SASL exchange waits: the driver runs ``derivation.run()`` (a
    :class:`~fastxmpp.sasl.KeyDerivation`: pure, thread-safe, releases the GIL),
    in a thread if it has an event loop, and calls
    ``ClientStream.key_derived(result)``.  ``derivation`` holds the password; its
    repr does not show it.
    """

    mechanism: str
    derivation: Any


@dataclass(**_opts)
class Authenticated(Event):
    """SASL succeeded (and the server's SCRAM signature was verified)."""

    mechanism: str


@dataclass(**_opts)
class SessionStarted(Event):
    """Resource bound (or stream resumed): stanzas may flow."""

    jid: Any
    resumed: bool
    sm_enabled: bool
    resumable: bool = False


@dataclass(**_opts)
class StanzaReceived(Event):
    """A message, presence or IQ request (IQ responses go to IQResponseReceived)."""

    stanza: Any


@dataclass(**_opts)
class IQResponseReceived(Event):
    """The result or error answering an IQ sent with ``send_iq()``."""

    id: str
    stanza: Any


@dataclass(**_opts)
class StanzasAcked(Event):
    """The server acknowledged these stanzas (XEP-0198)."""

    stanzas: Tuple[Any, ...]


@dataclass(**_opts)
class ResumeFailed(Event):
    """Resumption failed; ``unacked`` are the stanzas the server may never have received."""

    unacked: Tuple[Any, ...]
    condition: Optional[str] = None


@dataclass(**_opts)
class StreamErrorReceived(Event):
    """The server sent ``<stream:error>``; the stream is over."""

    error: StreamError
    element: Any = field(default=None, compare=False)


@dataclass(**_opts)
class StreamClosed(Event):
    """Both sides have closed the stream (or the transport ended)."""

    clean: bool


@dataclass(**_opts)
class LoginTimings:
    """When each phase of one login ended, as both clients record it once per (re)connect.

    ``client.last_login_timings`` holds the newest one (``None`` before the first login);
    it is set before the session listeners and ``on_session_started`` run, so they see the
    timings of the login that just ended.  The sans-IO core marks the end of SASL
    (:class:`Authenticated`) and of bind (:class:`SessionStarted`); the driver marks the
    start, the TCP connection and the end of the TLS handshake.  Every time is a
    :func:`time.perf_counter` reading, in seconds; subtract two of them, never compare them
    with another clock.

    The phases follow each other with no gap, so they add up to :attr:`total`:

    - :attr:`tcp`: from the start of the attempt on this endpoint (the address lookup
      included) to the TCP connection;
    - :attr:`tls`: to the end of the TLS handshake: the whole handshake with Direct TLS
      (XEP-0368), with STARTTLS also the stream header, the features and ``<starttls/>``;
      ``None`` for a stream without TLS;
    - :attr:`sasl`: to the SASL ``<success/>`` (with no TLS, the stream header and the
      features too);
    - :attr:`bind`: to the session being ready: the stream restart, resource binding and the
      answer to stream management's ``<enable/>``, or the ``<resumed/>`` when
      :attr:`resumed`.
    """

    #: The attempt on this endpoint started.
    started: float
    #: The TCP connection was made.
    connected: float
    #: The TLS handshake ended (None: no TLS on this stream).
    secured: Optional[float]
    #: SASL succeeded.
    authenticated: float
    #: The session was ready (bound, or resumed with XEP-0198).
    bound: float
    #: The previous session was resumed (XEP-0198) instead of bound anew.
    resumed: bool = False

    @property
    def tcp(self) -> float:
        """Seconds to the TCP connection."""
        return self.connected - self.started

    @property
    def tls(self) -> Optional[float]:
        """Seconds of TLS (the STARTTLS exchange included), ``None`` without TLS."""
        return None if self.secured is None else self.secured - self.connected

    @property
    def sasl(self) -> float:
        """Seconds of SASL authentication."""
        return self.authenticated - (self.connected if self.secured is None else self.secured)

    @property
    def bind(self) -> float:
        """Seconds from SASL success to the ready session (bind and SM enable, or resume)."""
        return self.bound - self.authenticated

    @property
    def total(self) -> float:
        """Seconds of the whole login, from :attr:`started` to :attr:`bound`."""
        return self.bound - self.started

    def phases(self) -> Dict[str, float]:
        """The phases' seconds by name: ``tcp``, ``tls`` (0.0 without TLS), ``sasl``, ``bind``."""
        tls = self.tls
        return {"tcp": self.tcp, "tls": 0.0 if tls is None else tls, "sasl": self.sasl,
                "bind": self.bind}
