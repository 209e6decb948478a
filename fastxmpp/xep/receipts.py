"""XEP-0184 Message Delivery Receipts, sans-IO: request a receipt, answer requests, and
correlate the receipts that come back with what we sent.  A message that bounces (an
error message with its id, from its addressee or the addressee's server) ends the wait
with that error.

``client.receipts`` (:class:`ReceiptsAPI`, with the drivers' ``send`` and ``wait``) answers
every request from its first access (not for groupchat or error messages, XEP-0184 section
5.4) and advertises ``urn:xmpp:receipts``.  The ids we wait for are bounded
(``max_pending``): past it the oldest is forgotten, and its waiter told so.
"""
from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional

from ..element import Element
from ..errors import XMPPError
from ..events import _opts
from ..jid import JID
from ..stanza_errors import from_element
from ._messaging import MessageFeature, sender_of

__all__ = ["NS_RECEIPTS", "REQUEST", "RECEIVED", "ReceiptReceived", "ReceiptNotPending",
           "add_request", "receipt_for", "received_id", "ReceiptsAPI"]

log = logging.getLogger("fastxmpp.xep")

NS_RECEIPTS = "urn:xmpp:receipts"
REQUEST = "{%s}request" % NS_RECEIPTS
RECEIVED = "{%s}received" % NS_RECEIPTS
_MESSAGE = "{jabber:client}message"


class ReceiptNotPending(XMPPError, KeyError):
    """A wait for a receipt we are not waiting for: never requested, already forgotten
    (more than ``max_pending`` newer requests), or its message had no id."""


@dataclass(**_opts)
class ReceiptReceived:
    """The receipt for our message ``id``, from ``sender`` (XEP-0184 section 5.2)."""

    id: str
    sender: Optional[JID]
    stanza: Element


def add_request(stanza: Element) -> str:
    """Ask for a receipt on the outgoing message ``stanza``: adds ``<request/>`` (once) and
    an id when it has none (a receipt names the message by its id); returns the id."""
    if stanza.tag != _MESSAGE:
        raise ValueError(f"receipts are requested on messages, not {stanza.tag}")
    msg_id: Optional[str] = stanza.get("id")
    if not msg_id:
        msg_id = secrets.token_hex(8)
        stanza.set("id", msg_id)
    if stanza.find(REQUEST) is None:
        stanza.subelement(REQUEST)
    return msg_id


def receipt_for(stanza: Element) -> Optional[Element]:
    """The receipt answering a received message, or None when none is due: no request,
    no id or sender to answer, a groupchat or error message (XEP-0184 section 5.4), or a
    message that is itself a receipt."""
    if stanza.find(REQUEST) is None or stanza.find(RECEIVED) is not None:
        return None
    msg_id, sender = stanza.get("id"), stanza.get("from")
    if not msg_id or not sender or stanza.get("type") in ("groupchat", "error"):
        return None
    reply = Element(_MESSAGE, {"to": sender, "id": secrets.token_hex(8)})
    reply.subelement(RECEIVED, {"id": msg_id})
    return reply


def received_id(stanza: Element) -> Optional[str]:
    """The id a received receipt confirms, or None (not a receipt, or one without an id)."""
    el = stanza.find(RECEIVED)
    return (el.get("id") or None) if el is not None else None


class ReceiptsAPI(MessageFeature):
    """``client.receipts``: ``send(to, body)`` sends a message asking for a receipt and
    returns its id; ``wait(id)`` waits for its receipt; ``request(stanza)`` asks on a
    message you send yourself; ``on_receipt(fn)`` is called with every
    :class:`ReceiptReceived` for a message we asked about.  A receipt whose sender is not
    the message's addressee (bare JIDs compared) is ignored."""

    namespace = NS_RECEIPTS

    def __init__(self, client: Any, *, max_pending: int = 1024) -> None:
        super().__init__(client)
        #: How many ids are waited for (and confirmed ids remembered) at most.
        self.max_pending = max_pending
        #: Whether to answer requests: True (the default), False (never: receipts reveal
        #: that we are online, XEP-0184 section 8), or ``fn(stanza) -> bool`` per message.
        self.answer: Any = True
        self._pending: "OrderedDict[str, Optional[JID]]" = OrderedDict()
        self._confirmed: "OrderedDict[str, ReceiptReceived]" = OrderedDict()
        self._failed: "OrderedDict[str, Exception]" = OrderedDict()

    on_receipt = MessageFeature.on_event

    def request(self, stanza: Element) -> str:
        """Ask for a receipt on ``stanza`` (before sending it) and track its id, which it returns."""
        msg_id = add_request(stanza)
        to = stanza.get("to")
        pending = self._pending
        pending[msg_id] = JID(to) if to else None
        pending.move_to_end(msg_id)
        while len(pending) > self.max_pending:
            old, _ = pending.popitem(last=False)
            log.debug("receipt for %r no longer waited for (max_pending %d)", old, self.max_pending)
            self._settle(old, None)
        return msg_id

    @property
    def pending(self) -> int:
        """How many receipts we are waiting for."""
        return len(self._pending)

    def confirmed(self, msg_id: str) -> Optional[ReceiptReceived]:
        """The receipt of ``msg_id`` when it came (the last ``max_pending`` are remembered)."""
        return self._confirmed.get(msg_id)

    def _check_waitable(self, msg_id: str) -> Optional[ReceiptReceived]:
        """The receipt already received, None while pending; raises the bounce's
        StanzaError, or ReceiptNotPending."""
        done = self._confirmed.get(msg_id)
        if done is None and msg_id not in self._pending:
            failed = self._failed.get(msg_id)
            raise failed if failed is not None else ReceiptNotPending(msg_id)
        return done

    def _from_addressee(self, msg_id: str, sender: Optional[JID], what: str) -> bool:
        """Whether ``sender`` may answer for message ``msg_id``: its addressee (bare JIDs
        compared), or for a bounce the addressee's server too."""
        to = self._pending[msg_id]
        if to is None or (sender is not None and (sender.bare == to.bare or (
                what == "bounce" and sender == JID(to.domain)))):
            return True
        log.warning("ignoring a %s for %r from %s: the message went to %s", what, msg_id, sender, to)
        return False

    def _remember(self, done: "OrderedDict[str, Any]", msg_id: str, outcome: Any) -> None:
        del self._pending[msg_id]
        done[msg_id] = outcome
        while len(done) > self.max_pending:
            done.popitem(last=False)
        self._settle(msg_id, outcome)

    def _on_message(self, stanza: Element) -> None:
        reply = receipt_for(stanza)
        if reply is not None:
            answer = self.answer
            if answer is True or (answer is not False and answer(stanza)):
                self._send_now(reply)
            return
        if stanza.get("type") == "error":
            msg_id = stanza.get("id")
            if msg_id is not None and msg_id in self._pending \
                    and self._from_addressee(msg_id, sender_of(stanza), "bounce"):
                self._remember(self._failed, msg_id, from_element(stanza))
            return
        msg_id = received_id(stanza)
        if msg_id is None:
            return
        if msg_id not in self._pending:
            log.debug("receipt for %r, which we are not waiting for", msg_id)
            return
        sender = sender_of(stanza)
        if self._from_addressee(msg_id, sender, "receipt"):
            event = ReceiptReceived(id=msg_id, sender=sender, stanza=stanza)
            self._remember(self._confirmed, msg_id, event)
            self._fire(event)

    def _settle(self, msg_id: str, outcome: Any) -> None:
        """``msg_id``'s receipt came (a :class:`ReceiptReceived`), its message bounced (the
        StanzaError) or it is no longer waited for (None): the asyncio driver wakes its
        waiters here."""
