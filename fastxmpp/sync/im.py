"""``client.roster``, ``client.presence``, ``client.subscriptions`` and ``client.messages``
for the blocking client: the sending methods, each a line or two over
:mod:`fastxmpp.im` (which receives, decides and keeps the state)."""
from __future__ import annotations

from typing import Any, Iterable, Optional

from ..element import Element
from ..im import session
from ..im._types import Text
from ..im.events import RosterReceived
from ..im.messages import Message, build_message
from ..im.roster import KEEP
from ..jid import JIDLike

__all__ = ["IM", "Roster", "Presence", "Subscriptions", "Messages"]


class Roster(session.RosterAPI):
    """``client.roster``: the roster (RFC 6121 section 2), its items and the requests that change
    it; blocking methods for :class:`fastxmpp.sync.Client`.
    """

    def fetch(self) -> RosterReceived:
        """Fetch the roster (with versioning when the server offers it); returns
        :class:`~fastxmpp.im.events.RosterReceived` once it is applied."""
        return self._received(self.client.iq(self.core.fetch_request(self._features())))

    def add(self, jid: JIDLike, *, name: Optional[str] = None, groups: Iterable[str] = ()) -> None:
        """Add ``jid`` or set all of its item (the server's push updates the roster)."""
        self.client.iq(self.core.set_request(jid, name=name, groups=groups))

    def update(self, jid: JIDLike, *, name: Optional[str] = KEEP, groups: Iterable[str] = KEEP) -> None:
        """Change the name and/or groups of ``jid``, keeping what is not given."""
        self.client.iq(self.core.set_request(jid, name=name, groups=groups))

    def remove(self, jid: JIDLike) -> None:
        """Remove ``jid`` from the roster (a roster set with ``subscription='remove'``, RFC 6121
        2.5; the server also cancels the subscriptions both ways and pushes the removal).
        An error from the server raises its :class:`~fastxmpp.stanza_errors.StanzaError`."""
        self.client.iq(self.core.remove_request(jid))


class Presence(session.PresenceAPI):
    """``client.presence``: the presence you send and the presence of contacts (RFC 6121 section
    4); blocking methods for :class:`fastxmpp.sync.Client`.
    """

    def available(self, *, to: Optional[JIDLike] = None, show: Optional[str] = None, status: Text = None,
                        priority: Optional[int] = None, lang: Optional[str] = None) -> None:
        """Send available presence: broadcast (the first one after the roster), or directed ``to``."""
        if self._roster_first(to):
            self.im.roster.fetch()
        self.client.send(self.core.available(to=to, show=show, status=status, priority=priority, lang=lang))

    def unavailable(self, *, to: Optional[JIDLike] = None, status: Text = None,
                    lang: Optional[str] = None) -> None:
        """Send unavailable presence: broadcast (ends the presence session, RFC 6121 4.5), or
        directed ``to`` one entity; ``status`` is a text or a mapping of language to text."""
        self.client.send(self.core.unavailable(to=to, status=status, lang=lang))


class Subscriptions(session.SubscriptionsAPI):
    """``client.subscriptions``: presence subscription requests and their policy (RFC 6121 section
    3); blocking methods for :class:`fastxmpp.sync.Client`.
    """

    def subscribe(self, jid: JIDLike, *, status: Optional[str] = None) -> None:
        """Ask ``jid`` for its presence: sends ``<presence type='subscribe'/>`` to its bare JID
        (RFC 6121 3.1.1); the answer arrives as a roster push and an event."""
        self.client.send(self.core.subscribe(jid, status=status))

    def approve(self, jid: JIDLike) -> None:
        """Approve ``jid``'s request to see our presence: sends ``<presence type='subscribed'/>``
        to its bare JID (RFC 6121 3.1.4)."""
        self.client.send(self.core.approve(jid))

    def deny(self, jid: JIDLike) -> None:
        """Refuse ``jid``'s request, or (as ``cancel``) end the subscription it has to our
        presence: sends ``<presence type='unsubscribed'/>`` to its bare JID (RFC 6121 3.1.4, 3.2)."""
        self.client.send(self.core.deny(jid))

    cancel = deny

    def unsubscribe(self, jid: JIDLike) -> None:
        """Stop receiving ``jid``'s presence: sends ``<presence type='unsubscribe'/>`` to its
        bare JID (RFC 6121 3.3)."""
        self.client.send(self.core.unsubscribe(jid))

    def preapprove(self, jid: JIDLike) -> None:
        """Approve ``jid`` before it asks (RFC 6121 3.4): sends ``<presence type='subscribed'/>``.
        Raises :class:`~fastxmpp.im.subscriptions.PreApprovalNotSupported` when the server's
        stream features do not offer pre-approval."""
        self.client.send(self.core.preapprove(jid, self._features()))


class Messages(session.MessagesAPI):
    """``client.messages``: message sending and the parsed messages that arrive (RFC 6121 section
    5); blocking methods for :class:`fastxmpp.sync.Client`.
    """

    def send(self, to: JIDLike, body: Text = None, **kw: Any) -> Element:
        """Send a message (keywords of :func:`~fastxmpp.im.messages.build_message`); returns it."""
        stanza = build_message(to=to, body=body, **kw)
        self.client.send(stanza)
        return stanza

    def reply(self, message: Message, body: Text = None, **kw: Any) -> Element:
        """Answer ``message`` keeping its type and thread."""
        stanza = message.reply(body, **kw)
        self.client.send(stanza)
        return stanza


class IM(session.IM):
    """The IM features of one blocking client: roster, presence, subscriptions and messages, each
    made on first use.
    """

    features = session.Features(Roster, Presence, Subscriptions, Messages)

    def send_now(self, stanza: Element) -> None:
        """Send ``stanza`` at once from inside a handler (:meth:`fastxmpp.sync.Client.send`)."""
        self.client.send(stanza)

    def _restore(self, refetch: bool, presence: Optional[Element]) -> None:
        if refetch:
            self.roster.fetch()
        if presence is not None:
            self.client.send(presence)
