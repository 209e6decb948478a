"""Presence subscriptions (RFC 6121 section 3), sans-IO.

:class:`Subscriptions` builds the subscription presences (subscribe, approve, deny,
unsubscribe, cancel, pre-approve) and turns the ones received into events, answering
inbound requests itself when a policy says so:

- ``"ask"`` (the default): every request is a :class:`~fastxmpp.im.events.SubscriptionRequested`
  event for the application to answer;
- ``"accept-roster"``: requests from contacts in the roster are approved, others asked;
- ``"accept-all"``: every request is approved (for bots); with ``subscribe_back`` the
  client also asks for the contact's presence when it does not have it yet.

The subscription states themselves (none, to, from, both, with ask and approved) are
the roster items': the server pushes every change (RFC 6121 3, Appendix A).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, List, Optional, Tuple

from ..element import Element
from ..errors import LocalProtocolError
from ..events import Event
from ..jid import JID, InvalidJID, JIDLike
from .events import ContactUnsubscribed, SubscriptionApproved, SubscriptionRequested, SubscriptionRevoked
from .presence import presence_stanza

if TYPE_CHECKING:
    from .roster import Roster

__all__ = ["Subscriptions", "PreApprovalNotSupported", "POLICIES", "NS_PREAPPROVAL"]

log = logging.getLogger("fastxmpp.im")

NS_PREAPPROVAL = "urn:xmpp:features:pre-approval"
POLICIES = ("ask", "accept-roster", "accept-all")
_STATUS = "{jabber:client}status"


class PreApprovalNotSupported(LocalProtocolError):
    """The server does not offer subscription pre-approval (RFC 6121 3.4)."""


def _bare(jid: JIDLike) -> JID:
    return (jid if isinstance(jid, JID) else JID(jid)).bare


class Subscriptions:
    """Subscription requests out and in.  ``roster`` (a :class:`~fastxmpp.im.roster.Roster`)
    is consulted by the ``accept-roster`` policy and ``subscribe_back``."""

    def __init__(self, roster: Optional["Roster"] = None, *, policy: str = "ask", subscribe_back: bool = False) -> None:
        self.roster = roster
        self.policy = policy
        self.subscribe_back = subscribe_back

    @property
    def policy(self) -> str:
        """How inbound requests are answered: ``"ask"`` (the application decides),
        ``"accept-roster"`` or ``"accept-all"`` (see :data:`POLICIES`); setting another value
        raises ``ValueError``."""
        return self._policy

    @policy.setter
    def policy(self, value: str) -> None:
        if value not in POLICIES:
            raise ValueError(f"subscription policy must be one of {POLICIES}, not {value!r}")
        self._policy = value

    # -- what we send (each to the contact's bare JID, 3.1.1) -----------------------------------
    def subscribe(self, jid: JIDLike, *, status: Optional[str] = None) -> Element:
        """Ask ``jid`` for its presence (3.1.1)."""
        return presence_stanza(type="subscribe", to=_bare(jid), status=status)

    def approve(self, jid: JIDLike) -> Element:
        """Approve ``jid``'s request to see our presence (3.1.4)."""
        return presence_stanza(type="subscribed", to=_bare(jid))

    def deny(self, jid: JIDLike) -> Element:
        """Refuse ``jid``'s request (3.1.4)."""
        return presence_stanza(type="unsubscribed", to=_bare(jid))

    #: Cancel the subscription ``jid`` has to our presence (3.2): the same stanza as deny.
    cancel = deny

    def unsubscribe(self, jid: JIDLike) -> Element:
        """Stop receiving ``jid``'s presence (3.3)."""
        return presence_stanza(type="unsubscribe", to=_bare(jid))

    def preapprove(self, jid: JIDLike, features: Optional[Element]) -> Element:
        """Approve ``jid`` before it asks (3.4); ``features`` are the server's stream
        features, which must offer pre-approval, else :class:`PreApprovalNotSupported`."""
        if features is None or features.find("{%s}sub" % NS_PREAPPROVAL) is None:
            raise PreApprovalNotSupported("the server does not offer subscription pre-approval")
        return self.approve(jid)

    # -- what we receive ---------------------------------------------------------------------
    def receive(self, stanza: Element) -> Tuple[List[Element], List[Event]]:
        """A received presence: (stanzas to send, events).  Presences that are not about
        subscriptions give nothing."""
        kind = stanza.get("type")
        if kind not in ("subscribe", "subscribed", "unsubscribe", "unsubscribed"):
            return [], []
        sender = stanza.get("from")
        try:
            jid = JID(sender).bare if sender else None
        except InvalidJID as exc:
            log.warning("ignoring a %s presence from an invalid JID %r: %s", kind, sender, exc)
            return [], []
        if jid is None:
            log.warning("ignoring a %s presence without a sender", kind)
            return [], []
        if kind == "subscribed":
            return [], [SubscriptionApproved(jid=jid)]
        if kind == "unsubscribed":
            return [], [SubscriptionRevoked(jid=jid)]
        if kind == "unsubscribe":
            return [], [ContactUnsubscribed(jid=jid)]
        if self._accepts(jid):
            log.info("approving the subscription request of %s (policy %s)", jid, self.policy)
            out = [self.approve(jid)]
            if self.subscribe_back and not self._subscribed_to(jid):
                out.append(self.subscribe(jid))
            return out, []
        return [], [SubscriptionRequested(jid=jid, status=stanza.findtext(_STATUS), stanza=stanza)]

    def _accepts(self, jid: JID) -> bool:
        if self.policy == "accept-all":
            return True
        return self.policy == "accept-roster" and self.roster is not None and jid in self.roster

    def _subscribed_to(self, jid: JID) -> bool:
        item = self.roster.get(jid) if self.roster is not None else None
        return item is not None and (item.subscription in ("to", "both") or item.ask == "subscribe")
