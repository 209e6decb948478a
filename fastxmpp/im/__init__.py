"""Instant messaging and presence (RFC 6121), sans-IO: roster, presence, subscriptions, messages.

The clients expose it as ``client.roster``, ``client.presence``, ``client.subscriptions``
and ``client.messages`` (see :mod:`fastxmpp.im.session`); the objects here can also be
fed stanzas directly.
"""
from .events import (ContactChanged, ContactOffline, ContactOnline, ContactUnsubscribed,
                     PresenceErrorReceived, RosterItemAdded, RosterItemChanged, RosterItemRemoved,
                     RosterReceived, SubscriptionApproved, SubscriptionRequested, SubscriptionRevoked)
from .messages import Message, build_message, parse_message
from .presence import PresenceTracker, ResourcePresence
from .roster import KEEP, Roster, RosterItem
from .store import JSONRosterStore, MemoryRosterStore, RosterStore
from .subscriptions import PreApprovalNotSupported, Subscriptions

__all__ = [
    "ContactChanged", "ContactOffline", "ContactOnline", "ContactUnsubscribed", "JSONRosterStore",
    "KEEP", "MemoryRosterStore", "Message", "PreApprovalNotSupported", "PresenceErrorReceived",
    "PresenceTracker", "ResourcePresence", "Roster", "RosterItem", "RosterItemAdded",
    "RosterItemChanged", "RosterItemRemoved", "RosterReceived", "RosterStore", "Subscriptions",
    "SubscriptionApproved", "SubscriptionRequested", "SubscriptionRevoked", "build_message",
    "parse_message",
]
