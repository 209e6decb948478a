"""XEP-0199 XMPP Ping, sans-IO: the request, its result, and the answer to a ping.

The round trip is measured by the client (this module reads no clock).
"""
from __future__ import annotations

from ..element import Element
from ..jid import JIDLike
from ._iq import empty_result, get_request
from ..stanza_errors import from_element

__all__ = ["NS_PING", "PING", "ping_request", "check_pong", "answer_ping"]

NS_PING = "urn:xmpp:ping"
PING = "{%s}ping" % NS_PING


def ping_request(to: JIDLike) -> Element:
    """``<iq type='get' to=...><ping xmlns='urn:xmpp:ping'/></iq>``."""
    return get_request(to, PING)


def check_pong(iq: Element) -> None:
    """Accept the answer to a ping: a result (any payload); an error raises its
    :class:`~fastxmpp.stanza_errors.StanzaError` (``service-unavailable``: the entity
    does not support ping, XEP-0199 section 4.2)."""
    if iq.get("type") != "result":
        raise from_element(iq)


def answer_ping(request: Element) -> Element:
    """The empty result answering a ping (XEP-0199 section 4.2)."""
    return empty_result(request)
