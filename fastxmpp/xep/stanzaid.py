"""XEP-0359 Unique and Stable Stanza IDs, sans-IO: read ``<stanza-id/>`` and
``<origin-id/>``, add an origin id to an outgoing message.

A ``<stanza-id/>`` is trusted only when its ``by`` is the entity that must have stamped it:
our own bare JID for messages to our account, the room's bare JID for a room's messages
(XEP-0359 section 7).  Anyone can put a stanza-id with any ``by`` in a message; a server
that supports the XEP removes those claiming to be its own, so check that the entity
advertises ``urn:xmpp:sid:0`` (disco) before relying on it.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ..element import Element
from ..events import _opts
from ..jid import JID, InvalidJID, JIDLike

__all__ = ["NS_SID", "STANZA_ID", "ORIGIN_ID", "StanzaID", "stanza_ids", "stanza_id",
           "origin_id", "add_origin_id"]

log = logging.getLogger("fastxmpp.xep")

NS_SID = "urn:xmpp:sid:0"
STANZA_ID = "{%s}stanza-id" % NS_SID
ORIGIN_ID = "{%s}origin-id" % NS_SID


@dataclass(**_opts)
class StanzaID:
    """A stanza id ``id`` assigned by ``by`` (a bare JID or a domain)."""

    id: str
    by: JID


def stanza_ids(stanza: Element) -> Tuple[StanzaID, ...]:
    """Every ``<stanza-id/>`` of ``stanza`` with an id and a valid ``by`` (untrusted: see
    :func:`stanza_id`)."""
    found: List[StanzaID] = []
    for el in stanza.findall(STANZA_ID):
        value, by = el.get("id"), el.get("by")
        if not value or not by:
            continue
        try:
            found.append(StanzaID(id=value, by=JID(by)))
        except InvalidJID:
            log.debug("stanza-id with an invalid by %r skipped", by)
    return tuple(found)


def stanza_id(stanza: Element, by: JIDLike) -> Optional[str]:
    """The id ``by`` (our bare JID, or a room's) gave ``stanza``, or None: none from it,
    or several (which the stamping entity would have removed: untrustworthy, logged)."""
    want = (by if isinstance(by, JID) else JID(by)).bare
    ids = [sid.id for sid in stanza_ids(stanza) if sid.by == want]
    if len(ids) > 1:
        log.warning("%d stanza-ids claim to be by %s; none trusted", len(ids), want)
        return None
    return ids[0] if ids else None


def origin_id(stanza: Element) -> Optional[str]:
    """The sender's ``<origin-id/>`` of ``stanza``, or None."""
    el = stanza.find(ORIGIN_ID)
    return (el.get("id") or None) if el is not None else None


def add_origin_id(stanza: Element, value: Optional[str] = None) -> str:
    """Give the outgoing ``stanza`` an ``<origin-id/>`` (``value``, or a new random one;
    an origin id it has already is kept); returns it."""
    known = origin_id(stanza)
    if known is not None:
        return known
    value = value or secrets.token_hex(12)
    stanza.subelement(ORIGIN_ID, {"id": value})
    return value
