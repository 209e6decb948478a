"""Stream management (XEP-0198) bookkeeping, sans-IO: counters, the unacked queue, resumption state."""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, List, Optional, Tuple

from . import errors

__all__ = ["NS_SM", "MOD", "parse_h", "SMState", "StreamManagement"]

NS_SM = "urn:xmpp:sm:3"
MOD = 1 << 32  # the h counters wrap at 2**32 (XEP-0198)

# XEP-0198's schema types 'h' as xs:unsignedInt: ASCII digits with an optional sign ('-'
# only for zero), leading zeros allowed, and whitespace collapsed (leading and trailing
# XML spaces dropped); the value at most 2**32 - 1.  int() would also take '1_000', Unicode
# digits and values past the range.
_UNSIGNED_INT = re.compile(r"[ \t\r\n]*(?:\+|-(?=0+[ \t\r\n]*\Z))?([0-9]+)[ \t\r\n]*\Z")


def parse_h(text: Optional[str]) -> int:
    """The value of an 'h' attribute; raises UndefinedCondition (the condition XEP-0198
    uses for a bad 'h') when it is missing or not an xs:unsignedInt."""
    match = _UNSIGNED_INT.match(text or "")
    if match is None:
        raise errors.UndefinedCondition(f"invalid h={text!r}: not an unsigned 32-bit integer")
    value = int(match.group(1))
    if value >= MOD:
        raise errors.UndefinedCondition(f"invalid h={text!r}: above 2**32 - 1")
    return value


@dataclass
class SMState:
    """What survives a broken connection and lets a new one resume the session."""

    id: Optional[str] = None
    resumable: bool = False
    location: Optional[str] = None
    max: Optional[int] = None
    inbound: int = 0          # stanzas we handled (our 'h')
    acked: int = 0            # last 'h' the server reported for our stanzas
    unacked: Deque[Any] = field(default_factory=deque)
    jid: Any = None


class StreamManagement:
    """Counts stanzas both ways and keeps what the server has not acknowledged yet."""

    # ClientStream.send() and ClientStream._dispatch_all() do what outbound() and inbound()
    # do without calling them (once per stanza each way): keep them in step.
    __slots__ = ("state", "enabled", "active", "since_request", "awaiting")

    def __init__(self, state: Optional[SMState] = None) -> None:
        self.state = state if state is not None else SMState()
        self.enabled = False      # we sent <enable/> (outbound counting runs) or resumed
        self.active = False       # the server confirmed (<enabled/> or <resumed/>)
        self.since_request = 0    # stanzas sent since the last ack request
        self.awaiting = False     # an <r/> is out and no <a/> has come back since

    def outbound(self, stanza: Any) -> int:
        """Record a sent stanza; returns how many were sent since the last ack request
        (0 when stream management is not enabled)."""
        if not self.enabled:
            return 0
        self.state.unacked.append(stanza)
        self.since_request += 1
        return self.since_request

    def requested(self) -> None:
        """Note that an ``<r/>`` was sent: the count since the last request restarts."""
        self.since_request = 0
        self.awaiting = True

    def inbound(self) -> None:
        """Count one handled inbound stanza (the ``h`` we report), once stream management is
        active."""
        if self.active:
            self.state.inbound = (self.state.inbound + 1) % MOD

    def acked(self, h: int) -> Tuple[Any, ...]:
        """Apply an ``<a h=.../>`` or ``<resumed h=.../>``; return the stanzas it acknowledges."""
        self.awaiting = False
        state = self.state
        count = (h - state.acked) % MOD
        if count > len(state.unacked):
            raise errors.UndefinedCondition(
                f"server acknowledged {count} stanzas but only {len(state.unacked)} were sent")
        state.acked = h % MOD
        unacked = state.unacked
        if count == len(unacked):
            acked = tuple(unacked)
            unacked.clear()
            return acked
        popleft = unacked.popleft
        return tuple([popleft() for _ in range(count)])

    def take_unacked(self) -> List[Any]:
        """Remove and return the stanzas not acknowledged, oldest first (for a new session to
        resend or report)."""
        items = list(self.state.unacked)
        self.state.unacked.clear()
        return items
