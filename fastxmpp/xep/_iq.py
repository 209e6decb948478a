"""What the XEP modules share (sans-IO): their error class and the IQ shapes they build."""
from __future__ import annotations

from typing import Dict, Optional, Type

from ..element import Element
from ..jid import JIDLike
from ..errors import XMPPError
from ..stanza_errors import from_element

__all__ = ["RemoteInvalidResult", "get_request", "result_payload", "empty_result"]

NS_CLIENT = "jabber:client"


class RemoteInvalidResult(XMPPError, ValueError):
    """The peer answered with a result its XEP does not allow (a disco item without a
    ``jid``, an identity without a ``category``, a version without a ``name``...);
    ``stanza`` is the whole result."""

    def __init__(self, reason: str, stanza: Optional[Element] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stanza = stanza


def get_request(to: JIDLike, tag: str, attrib: Optional[Dict[str, str]] = None) -> Element:
    """An IQ get to ``to`` with an empty ``tag`` payload (``{ns}local``)."""
    iq = Element("{%s}iq" % NS_CLIENT, {"type": "get", "to": str(to)})
    iq.subelement(tag, attrib)
    return iq


def result_payload(iq: Element, tag: str, error: Type[RemoteInvalidResult] = RemoteInvalidResult) -> Element:
    """The ``tag`` payload of the IQ result ``iq``.  An IQ error raises its
    :class:`~fastxmpp.stanza_errors.StanzaError`; anything else but a result with that
    payload raises ``error``."""
    kind = iq.get("type")
    if kind == "error":
        raise from_element(iq)
    if kind != "result":
        raise error(f"expected an IQ result, got type {kind!r}", iq)
    payload = iq.find(tag)
    if payload is None:
        raise error(f"IQ result without its {tag} payload", iq)
    return payload


def empty_result(request: Element) -> Element:
    """The IQ result answering ``request`` (its id; to its sender), without payload."""
    reply = Element("{%s}iq" % NS_CLIENT, {"type": "result", "id": request.get("id", "")})
    sender = request.get("from")
    if sender:
        reply.set("to", sender)
    return reply
