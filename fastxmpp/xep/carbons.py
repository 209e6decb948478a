"""XEP-0280 Message Carbons, sans-IO: enable/disable requests, the private hints, and the
unwrapping of carbon copies (XEP-0297 forwarded messages) with the security check.

A carbon copy is trusted only when its outer ``from`` is our own bare JID (XEP-0280
section 11): anything else, an absent ``from`` included, is refused, so that another
account cannot make us believe a message came from someone else, or was sent by us (the
carbon-spoofing bugs, CVE-2017-5589 and its kin).  ``client.carbons``
(:class:`CarbonsAPI`, with the drivers' ``enable``/``disable``) logs and drops refused
copies; the others reach ``on_carbon`` listeners as :class:`CarbonReceived`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from ..element import Element
from ..events import _opts
from ..im.messages import Message, parse_message
from ..jid import JID
from ._iq import RemoteInvalidResult
from ._messaging import MessageFeature, sender_of

__all__ = ["NS_CARBONS", "NS_FORWARD", "NS_HINTS", "RECEIVED", "SENT", "PRIVATE", "NO_COPY",
           "ForgedCarbon", "CarbonReceived", "enable_request", "disable_request", "mark_private",
           "unwrap", "CarbonsAPI"]

log = logging.getLogger("fastxmpp.xep")

NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_HINTS = "urn:xmpp:hints"
RECEIVED = "{%s}received" % NS_CARBONS
SENT = "{%s}sent" % NS_CARBONS
PRIVATE = "{%s}private" % NS_CARBONS
NO_COPY = "{%s}no-copy" % NS_HINTS
_FORWARDED = "{%s}forwarded" % NS_FORWARD
_MESSAGE = "{jabber:client}message"
_DIRECTIONS = ((RECEIVED, "received"), (SENT, "sent"))


class ForgedCarbon(RemoteInvalidResult):
    """A carbon copy we refuse: not from our own bare JID, or not shaped as XEP-0280 says;
    ``reason`` says why, ``stanza`` is the whole outer message."""


@dataclass(**_opts)
class CarbonReceived:
    """A carbon copy: ``direction`` "received" (a message another of our resources got) or
    "sent" (one another of our resources sent); ``message`` is the inner message parsed,
    ``stanza`` the outer one."""

    direction: str
    message: Message
    stanza: Element


def _iq(child: str) -> Element:
    # to no one: the request is for our own account (XEP-0280 section 4)
    iq = Element("{jabber:client}iq", {"type": "set"})
    iq.subelement("{%s}%s" % (NS_CARBONS, child))
    return iq


def enable_request() -> Element:
    """``<iq type='set'><enable xmlns='urn:xmpp:carbons:2'/></iq>``."""
    return _iq("enable")


def disable_request() -> Element:
    """``<iq type='set'><disable xmlns='urn:xmpp:carbons:2'/></iq>``."""
    return _iq("disable")


def mark_private(stanza: Element) -> Element:
    """Keep the outgoing ``stanza`` out of carbons: ``<private/>`` (XEP-0280 section 9) and
    the ``<no-copy/>`` hint (XEP-0334); returns it."""
    if stanza.find(PRIVATE) is None:
        stanza.subelement(PRIVATE)
    if stanza.find(NO_COPY) is None:
        stanza.subelement(NO_COPY)
    return stanza


def unwrap(stanza: Element, me: JID) -> Optional[Tuple[str, Element]]:
    """(direction, inner message) of a carbon copy received by ``me``; None when
    ``stanza`` is no carbon.  Raises :class:`ForgedCarbon` when it is one we must refuse:
    its ``from`` is not ``me``'s bare JID (XEP-0280 section 11), it holds no forwarded
    message, or the inner message is not ours (a "sent" copy not from our account, a
    "received" one not to it)."""
    wrapper = direction = None
    for tag, name in _DIRECTIONS:
        wrapper = stanza.find(tag)
        if wrapper is not None:
            direction = name
            break
    if wrapper is None or direction is None:
        return None
    own = me.bare
    sender = stanza.get("from")
    if sender is None or sender_of(stanza) != own:
        raise ForgedCarbon(f"carbon copy from {sender!r}, not from our bare JID {own}", stanza)
    inner = wrapper.find(_FORWARDED + "/" + _MESSAGE)
    if inner is None:
        raise ForgedCarbon("carbon copy without a forwarded message", stanza)
    # the inner address on our side must be our account's (absent: ours, RFC 6120 8.1.2.1)
    ours = inner.get("from" if direction == "sent" else "to")
    if ours is not None:
        jid = _jid(ours)
        if jid is None or jid.bare != own:
            raise ForgedCarbon(f"{direction} carbon copy of a message of another account ({ours!r})", stanza)
    return direction, inner


def _jid(text: str) -> Optional[JID]:
    try:
        return JID(text)
    except ValueError:
        return None


class CarbonsAPI(MessageFeature):
    """``client.carbons``: ``enable()`` and ``disable()`` (XEP-0280 sections 4 and 5),
    ``enabled`` (kept across a resumed session; a fresh session enables them again);
    ``on_carbon(fn)`` is called with every trusted :class:`CarbonReceived`; refused copies
    are logged (warning) and dropped; ``mark_private(stanza)`` keeps a message out of them."""

    namespace = NS_CARBONS
    on_carbon = MessageFeature.on_event
    mark_private = staticmethod(mark_private)

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        #: Whether the server said yes to our last enable (and no disable since).
        self.enabled = False
        #: How many carbon copies were refused.
        self.refused = 0
        client.add_session_listener(self._session_started)

    def enable(self) -> Any:
        """Ask our server to send us carbon copies (each client says how: awaitable or blocking)."""
        raise NotImplementedError

    def _session_started(self, event: Any) -> Any:
        """A fresh session (not resumed) starts with carbons off on the server: when they
        were on, enable them again (the client runs what this returns)."""
        if event.resumed or not self.enabled:
            return None
        self.enabled = False
        return self.enable()

    def _on_message(self, stanza: Element) -> None:
        try:
            found = unwrap(stanza, self._me())
        except ForgedCarbon as exc:
            self.refused += 1
            log.warning("refusing a carbon copy: %s", exc.reason)
            return
        if found is not None:
            direction, inner = found
            self._fire(CarbonReceived(direction=direction, message=parse_message(inner), stanza=stanza))
