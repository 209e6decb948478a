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
