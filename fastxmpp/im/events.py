"""Events of the IM layer (RFC 6121): frozen, slotted, keyword-only, past tense.

The sans-IO objects of :mod:`fastxmpp.im` return them; the clients hand each to the
listeners registered on ``client.roster``, ``client.presence``, ``client.subscriptions``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Tuple

from ..events import Event, _opts
from ..jid import JID

__all__ = [
    "RosterReceived",
    "RosterItemAdded",
    "RosterItemChanged",
    "RosterItemRemoved",
    "ContactOnline",
    "ContactChanged",
    "ContactOffline",
    "PresenceErrorReceived",
    "SubscriptionRequested",
    "SubscriptionApproved",
    "SubscriptionRevoked",
    "ContactUnsubscribed",
]


@dataclass(**_opts)
class RosterReceived(Event):
    """A roster fetch completed: ``items`` is the whole roster now held.

    ``cached`` is True when the server answered a versioned request with "no
    change" (RFC 6121 2.6.3): the items are the stored ones, and pushes bring
    the changes, if any."""

    version: Optional[str]
    items: Tuple[Any, ...]
    cached: bool


@dataclass(**_opts)
class RosterItemAdded(Event):
    item: Any


@dataclass(**_opts)
class RosterItemChanged(Event):
    old: Any
    item: Any


@dataclass(**_opts)
class RosterItemRemoved(Event):
    item: Any


@dataclass(**_opts)
class ContactOnline(Event):
    """The first available resource of ``jid`` (a bare JID) appeared."""

    jid: JID
    presence: Any


@dataclass(**_opts)
class ContactChanged(Event):
    """A resource of an online contact came, changed (show, status, priority) or left,
    and another one is still available; ``presence`` is the resource's new state
    (``available`` is False when it left), ``best`` the best resource now."""

    jid: JID
    presence: Any
    best: Any


@dataclass(**_opts)
class ContactOffline(Event):
    """The last available resource of ``jid`` went away (``presence`` is its unavailable),
    or a fresh session forgot every contact's presence (``presence`` is None) until the
    server sends it again."""

    jid: JID
    presence: Any


@dataclass(**_opts)
class PresenceErrorReceived(Event):
    """A presence of type error from ``jid``; ``error`` is its StanzaError (kept per contact)."""

    jid: JID
    error: Any


@dataclass(**_opts)
class SubscriptionRequested(Event):
    """``jid`` asks to see our presence (RFC 6121 3.1.3)."""

    jid: JID
    status: Optional[str]
    stanza: Any


@dataclass(**_opts)
class SubscriptionApproved(Event):
    """``jid`` approved our subscription request: we will see its presence (3.1.5)."""

    jid: JID


@dataclass(**_opts)
class SubscriptionRevoked(Event):
    """``jid`` denied our request or cancelled our subscription (3.2, 3.1.4)."""

    jid: JID


@dataclass(**_opts)
class ContactUnsubscribed(Event):
    """``jid`` no longer wants to see our presence (3.3)."""

    jid: JID
