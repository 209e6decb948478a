"""Namespaces of the XMPP core and builders for the three stanza kinds.

The builders return :class:`fastxmpp.element.Element` trees in the
``jabber:client`` namespace, ready for :func:`fastxmpp.serializer.serialize`.
``to``/``from_`` accept a str or anything whose ``str()`` is the address
(a JID).  Invalid ``type``/``show``/``priority`` values raise ValueError.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional

from ._accel import USE_EXTENSIONS
from .element import Element

__all__ = [
    "NS_CLIENT",
    "NS_STREAM",
    "NS_TLS",
    "NS_SASL",
    "NS_BIND",
    "NS_SESSION",
    "NS_SM",
    "NS_STANZAS",
    "NS_STREAMS",
    "NS_XML",
    "XML_LANG",
    "MESSAGE_TYPES",
    "PRESENCE_TYPES",
    "PRESENCE_SHOWS",
    "IQ_TYPES",
    "message",
    "presence",
    "iq",
]

NS_CLIENT = "jabber:client"
NS_STREAM = "http://etherx.jabber.org/streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_SM = "urn:xmpp:sm:3"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_XML = "http://www.w3.org/XML/1998/namespace"

XML_LANG = "{" + NS_XML + "}lang"
"""Clark name of the ``xml:lang`` attribute."""

MESSAGE_TYPES = frozenset({"chat", "error", "groupchat", "headline", "normal"})
PRESENCE_TYPES = frozenset(
    {"error", "probe", "subscribe", "subscribed", "unavailable", "unsubscribe", "unsubscribed"}
)
PRESENCE_SHOWS = frozenset({"away", "chat", "dnd", "xa"})
IQ_TYPES = frozenset({"get", "set", "result", "error"})

_MESSAGE = "{jabber:client}message"
_PRESENCE = "{jabber:client}presence"
_IQ = "{jabber:client}iq"
_BODY = "{jabber:client}body"
_SUBJECT = "{jabber:client}subject"
_THREAD = "{jabber:client}thread"
_SHOW = "{jabber:client}show"
_STATUS = "{jabber:client}status"
_PRIORITY = "{jabber:client}priority"


def _addr(value: Any) -> str:
    return value if type(value) is str else str(value)


def _stanza_attrib(kind: str, types: Any, to: Any, from_: Any, type: Optional[str],
                   id: Optional[str]) -> Dict[str, Any]:
    """The to/from/type/id attributes every stanza builder starts with, type checked."""
    attrib = {}
    if to is not None:
        attrib["to"] = _addr(to)
    if from_ is not None:
        attrib["from"] = _addr(from_)
    if type is not None:
        if type not in types:
            raise ValueError(f"invalid {kind} type {type!r}; expected one of {sorted(types)}")
        attrib["type"] = type
    if id is not None:
        attrib["id"] = id
    return attrib


def message(
    *,
    to: Any = None,
    type: Optional[str] = "chat",
    body: Optional[str] = None,
    id: Optional[str] = None,
    from_: Any = None,
    lang: Optional[str] = None,
    thread: Optional[str] = None,
    subject: Optional[str] = None,
) -> Element:
    """A ``<message/>``: attributes to, from, type, id, xml:lang; children
    subject, body, thread (each only when given).  ``type=None`` leaves the
    attribute out (which means "normal")."""
    # _stanza_attrib(), inlined for the most common stanza
    attrib = {}
    if to is not None:
        attrib["to"] = to if to.__class__ is str else str(to)
    if from_ is not None:
        attrib["from"] = from_ if from_.__class__ is str else str(from_)
    if type is not None:
        if type not in MESSAGE_TYPES:
            raise ValueError(f"invalid message type {type!r}; expected one of {sorted(MESSAGE_TYPES)}")
        attrib["type"] = type
    if id is not None:
        attrib["id"] = id
    if lang is not None:
        attrib[XML_LANG] = lang
    el = Element(_MESSAGE)
    if attrib:
        el.attrib = attrib  # a dict is taken as it is: no copy, unlike Element(tag, attrib)
    if subject is not None:
        el.subelement(_SUBJECT, text=subject)
    if body is not None:
        el.subelement(_BODY, text=body)
    if thread is not None:
        el.subelement(_THREAD, text=thread)
    return el


# The Python twin of fastxmpp._stanza_c.message, which replaces it when the
# extensions are in use (a sender builds a message per stanza).
_message_py = message
if USE_EXTENSIONS and not TYPE_CHECKING:
    from ._stanza_c import message  # noqa: F811


def presence(
    *,
    to: Any = None,
    type: Optional[str] = None,
    show: Optional[str] = None,
    status: Optional[str] = None,
    priority: Optional[int] = None,
    id: Optional[str] = None,
    from_: Any = None,
) -> Element:
    """A ``<presence/>``: attributes to, from, type, id; children show, status,
    priority (an int from -128 to 127).  ``type=None`` is "available"."""
    attrib = _stanza_attrib("presence", PRESENCE_TYPES, to, from_, type, id)
    el = Element(_PRESENCE, attrib)
    if show is not None:
        if show not in PRESENCE_SHOWS:
            raise ValueError(f"invalid presence show {show!r}; expected one of {sorted(PRESENCE_SHOWS)}")
        el.subelement(_SHOW, text=show)
    if status is not None:
        el.subelement(_STATUS, text=status)
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int) or not -128 <= priority <= 127:
            raise ValueError(f"invalid presence priority {priority!r}; expected an int from -128 to 127")
        el.subelement(_PRIORITY, text=str(priority))
    return el


def iq(
    *,
    type: str,
    to: Any = None,
    id: Optional[str] = None,
    from_: Any = None,
    payload: Optional[Element] = None,
) -> Element:
    """An ``<iq/>`` with attributes to, from, type, id and an optional payload
    child.  RFC 6120 requires an id on every iq: pass one (or let the stream
    layer add it)."""
    if type is None:
        raise ValueError(f"invalid iq type None; expected one of {sorted(IQ_TYPES)}")
    el = Element(_IQ, _stanza_attrib("iq", IQ_TYPES, to, from_, type, id))
    if payload is not None:
        el.append(payload)
    return el
