"""What a load run counts: the :class:`Recorder` a scenario reports to, and the stamp that
travels in every measured stanza.

A scenario calls :meth:`Recorder.record_sent` for each stanza it sends (with the number of
deliveries that stanza should make), :meth:`Recorder.record_delivery` for each stamped
stanza that arrives (loss and duplicates are counted exactly, per sender and sequence
number), :meth:`Recorder.record_reply` for a round trip, and :meth:`Recorder.count_error`
or :meth:`Recorder.count` for the rest.  :class:`~fastxmpp.load.runner.LoadRunner` is a
recorder, and the report is made from these counters.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import TYPE_CHECKING, Dict, Optional, Tuple

from ..element import Element
from ..errors import SASLError, StreamError
from ..stanza_errors import StanzaError
from .histogram import Histogram

if TYPE_CHECKING:
    from .scenarios import User

__all__ = ["Recorder", "NS_LOAD", "stamp", "read_stamp", "error_name", "error_kind", "ERROR_KINDS"]

NS_LOAD = "urn:fastxmpp:load:0"
_X = "{%s}x" % NS_LOAD

_MAX_SEQ = 1 << 32
# With --loop, the sequence numbers a receiver has seen grow as they come; one far ahead of
# them (a forged or corrupted stamp) is counted as unexpected instead of growing the table
# to its size.
_MAX_GAP = 1 << 20

#: The kinds of errors the report counts (``error_kinds``), see :func:`error_kind`.
ERROR_KINDS = ("stream-error", "sasl-failure", "stanza-error", "timeout", "disconnect", "other")


def stamp(stanza: Element, seq: int) -> Element:
    """Add ``<x xmlns='urn:fastxmpp:load:0' t='...' seq='...'/>`` to ``stanza``: ``t`` is the
    time now in microseconds since the Unix epoch, ``seq`` the stanza's number for its
    sender.  Returns ``stanza``."""
    stanza.subelement(_X, {"t": str(time.time_ns() // 1000), "seq": str(seq)})
    return stanza


def read_stamp(stanza: Element) -> Optional[Tuple[int, int]]:
    """``(t, seq)`` of a stamped stanza (see :func:`stamp`); None when it has no stamp.
    A malformed stamp raises ValueError."""
    x = stanza.find(_X)
    if x is None:
        return None
    try:
        return int(x.get("t") or ""), int(x.get("seq") or "")
    except ValueError:
        raise ValueError("malformed load stamp") from None


def error_name(exc: BaseException) -> str:
    """A short class for an error: ``SASLError(not-authorized)``, ``ConnectionLost``..."""
    name = type(exc).__name__
    condition = getattr(exc, "condition", None)
    if isinstance(exc, (SASLError, StanzaError)) or (condition and isinstance(condition, str)):
        return f"{name}({condition})"
    if isinstance(exc, asyncio.TimeoutError):
        return "Timeout"
    return name


def error_kind(exc: Optional[BaseException], where: str = "") -> Tuple[str, str]:
    """``(kind, detail)`` of an error for the report's ``error_kinds``: a stream error and
    its condition, a SASL failure and its condition, a stanza error and its condition, a
    timeout and where (``login``, ``iq``...), a disconnect and what said so, or other."""
    if exc is None:
        return "disconnect", "closed"
    if isinstance(exc, StreamError):
        return "stream-error", exc.condition
    if isinstance(exc, SASLError):
        return "sasl-failure", exc.condition
    if isinstance(exc, StanzaError):
        return "stanza-error", str(getattr(exc, "condition", None) or type(exc).__name__)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout", where or "timeout"
    if isinstance(exc, (ConnectionError, OSError, EOFError)):
        return "disconnect", error_name(exc)
    return "other", error_name(exc)


class Recorder:
    """The counters of one load run (one process), shared by all its users.

    ``sent`` stanzas, ``awaited`` deliveries (what the sent stanzas should make arrive),
    ``received`` unique deliveries or replies, ``duplicates``, ``unexpected`` stanzas,
    ``latency`` (a :class:`~fastxmpp.load.histogram.Histogram` in microseconds), ``errors``
    by name and ``error_kinds`` by kind, and ``stats``: a scenario's own counters, reported
    under ``scenario_stats`` (summed over workers)."""

    def __init__(self, messages: Optional[int]) -> None:
        #: Sequence numbers run from 0 to ``messages - 1`` (None: without end, ``--loop``).
        self._messages = messages
        self._limit = messages if messages is not None else _MAX_SEQ
        self.sent = 0
        self.awaited = 0
        self.received = 0  # unique, well-formed receipts
        self.duplicates = 0
        self.unexpected = 0
        self.latency = Histogram()
        self.errors: "Counter[str]" = Counter()
        #: Errors by kind (:data:`ERROR_KINDS`) and detail: ``{("timeout", "iq"): 3}``.
        self.error_kinds: "Counter[Tuple[str, str]]" = Counter()
        self.stats: "Counter[str]" = Counter()
        #: A scenario's own latency histograms (microseconds) by name, see :meth:`record_latency`.
        self.scenario_latency: Dict[str, Histogram] = {}
        self._sending_done = False
        self._all_received: Optional[asyncio.Event] = None

    def record_sent(self, deliveries: int = 1) -> None:
        """One stanza sent, that should make ``deliveries`` deliveries (0 for none)."""
        self.sent += 1
        self.awaited += deliveries

    def record_delivery(self, receiver: "User", sender: "User", seq: int, sent_us: int) -> bool:
        """A stamped stanza (``seq``, sent at ``sent_us``) from ``sender`` reached ``receiver``:
        its latency is recorded unless it is a duplicate (counted) or its ``seq`` is out of
        range (counted as unexpected).  True when it was a new delivery."""
        now = time.time_ns() // 1000
        if not 0 <= seq < self._limit:
            self.unexpected += 1
            return False
        seen = receiver.seen.get(sender.number)
        if seen is None:
            seen = receiver.seen[sender.number] = bytearray(self._messages or 64)
        if seq >= len(seen):  # --loop: the numbers have no end
            if seq >= 2 * len(seen) + _MAX_GAP:  # not a number this sender can have reached
                self.unexpected += 1
                return False
            seen.extend(bytes(max(seq + 1, 2 * len(seen)) - len(seen)))
        if seen[seq]:
            self.duplicates += 1
            return False
        seen[seq] = 1
        self.received += 1
        self.latency.record(now - sent_us if now > sent_us else 0)
        if self._sending_done:
            self._check_drained()
        return True

    def record_reply(self, round_trip_us: int) -> None:
        """A reply arrived (one of the awaited deliveries) after ``round_trip_us``."""
        self.received += 1
        self.latency.record(max(0, round_trip_us))

    def record_unexpected(self) -> None:
        """A stamped stanza that no sender sent to this receiver (or a malformed stamp)."""
        self.unexpected += 1

    def count_error(self, where: str, exc: Optional[BaseException], name: Optional[str] = None) -> None:
        """Count one error: in ``errors`` as ``where:name`` and in ``error_kinds`` by kind."""
        self.errors[f"{where}:{name or error_name(exc) if exc is not None else name or 'closed'}"] += 1
        self.error_kinds[error_kind(exc, where)] += 1

    def record_latency(self, name: str, microseconds: int) -> None:
        """Record one of the scenario's own latencies under ``name`` (e.g. ``roster_push``):
        the report's ``scenario_latency_ms[name]``, histograms added over workers."""
        hist = self.scenario_latency.get(name)
        if hist is None:
            hist = self.scenario_latency[name] = Histogram()
        hist.record(max(0, int(microseconds)))

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the scenario's own counter ``name`` (``scenario_stats`` in the report)."""
        self.stats[name] += n

    @property
    def lost(self) -> int:
        """Awaited deliveries that did not arrive (so far)."""
        return max(0, self.awaited - self.received)

    def _check_drained(self) -> None:
        if self._sending_done and self.received >= self.awaited and self._all_received is not None:
            self._all_received.set()
