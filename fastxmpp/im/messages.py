"""Messages (RFC 6121 section 5), sans-IO: a parsed view and a builder.

:func:`parse_message` reads a ``<message/>`` into a :class:`Message`: its type (an absent
or unknown type is "normal", 5.2.2), every body and subject with its xml:lang, the thread
and its parent, and for type error the :class:`~fastxmpp.stanza_errors.StanzaError`.
:meth:`Message.reply` builds the answer keeping type and thread; :func:`build_message`
builds a message with several bodies or subjects.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from ..element import Element
from ..events import _opts
from ..jid import JID, InvalidJID, JIDLike
from ..stanza import MESSAGE_TYPES, XML_LANG
from ..stanza_errors import from_element

__all__ = ["Message", "parse_message", "build_message"]

log = logging.getLogger("fastxmpp.im")

_MESSAGE = "{jabber:client}message"
_BODY = "{jabber:client}body"
_SUBJECT = "{jabber:client}subject"
_THREAD = "{jabber:client}thread"

Texts = Tuple[Tuple[Optional[str], str], ...]


def _texts(stanza: Element, tag: str, default_lang: Optional[str]) -> Texts:
    return tuple((el.get(XML_LANG, default_lang), el.text or "") for el in stanza.findall(tag))


def _pick(texts: Texts, lang: Optional[str]) -> Optional[str]:
    for text_lang, text in texts:
        if text_lang == lang:
            return text
    return texts[0][1] if texts else None


@dataclass(**_opts)
class Message:
    """A received message.  ``bodies`` and ``subjects`` are (xml:lang or None, text) pairs;
    ``body`` / ``subject`` are the ones in the message's own language (or the first)."""

    type: str
    sender: Optional[JID]
    to: Optional[str]
    id: Optional[str]
    lang: Optional[str]
    bodies: Texts
    subjects: Texts
    thread: Optional[str]
    parent_thread: Optional[str]
    error: Any
    stanza: Any

    @property
    def body(self) -> Optional[str]:
        """The text of the ``<body/>`` in the message's ``xml:lang`` (else the first one);
        None when there is no body."""
        return _pick(self.bodies, self.lang)

    @property
    def subject(self) -> Optional[str]:
        """The text of the ``<subject/>`` in the message's ``xml:lang`` (else the first one);
        None when there is no subject."""
        return _pick(self.subjects, self.lang)

    @property
    def delay(self) -> Any:
        """XEP-0203: the :class:`~fastxmpp.xep.delay.Delay` with the earliest stamp, or
        None when the message was not delayed (read from the stanza on each access)."""
        from ..xep.delay import parse_delay
        return parse_delay(self.stanza)

    @property
    def origin_id(self) -> Optional[str]:
        """XEP-0359: the sender's origin id, or None."""
        from ..xep.stanzaid import origin_id
        return origin_id(self.stanza)

    def stanza_id(self, by: Any = None) -> Optional[str]:
        """XEP-0359: the stanza id given by ``by``; by default the room for a groupchat
        message, else the account it was delivered to (the bare ``to``).  Other ``by``
        values are not to be trusted (see :mod:`fastxmpp.xep.stanzaid`)."""
        from ..xep.stanzaid import stanza_id
        if by is None:
            by = self.sender if self.type == "groupchat" else self.to
            if by is None:
                return None
        try:
            return stanza_id(self.stanza, by)
        except InvalidJID:
            return None

    def body_in(self, lang: Optional[str]) -> Optional[str]:
        """The body in ``lang`` exactly, or None."""
        for text_lang, text in self.bodies:
            if text_lang == lang:
                return text
        return None

    def reply(self, body: Union[None, str, Mapping[Optional[str], str]] = None, **kw: Any) -> Element:
        """A message answering this one: to its sender (a groupchat's room, the bare JID),
        same type and thread (with its parent); more keywords go to :func:`build_message`.
        Error messages are not answered (RFC 6120 8.3.1): ValueError."""
        if self.type == "error":
            raise ValueError("an error message is not answered")
        if self.sender is None:
            raise ValueError("the message has no sender to answer")
        to = self.sender.bare if self.type == "groupchat" else self.sender
        kw.setdefault("thread", self.thread)
        kw.setdefault("parent_thread", self.parent_thread)
        return build_message(to=to, type=self.type, body=body, **kw)


def parse_message(stanza: Element) -> Message:
    """The :class:`Message` of a ``<message/>`` (never raises: odd values are logged)."""
    kind = stanza.get("type", "normal")
    if kind not in MESSAGE_TYPES:
        log.warning("message of unknown type %r read as normal (RFC 6121 5.2.2)", kind)
        kind = "normal"
    sender: Optional[JID] = None
    text = stanza.get("from")
    if text is not None:
        try:
            sender = JID(text)
        except InvalidJID as exc:
            log.warning("message from an invalid JID %r: %s", text, exc)
    lang = stanza.get(XML_LANG)
    thread_el = stanza.find(_THREAD)
    thread = parent = None
    if thread_el is not None:
        thread = thread_el.text or None
        parent = thread_el.get("parent")
    return Message(type=kind, sender=sender, to=stanza.get("to"), id=stanza.get("id"), lang=lang,
                   bodies=_texts(stanza, _BODY, lang), subjects=_texts(stanza, _SUBJECT, lang),
                   thread=thread, parent_thread=parent,
                   error=from_element(stanza) if kind == "error" else None, stanza=stanza)


def _add_texts(el: Element, tag: str, value: Union[None, str, Mapping[Optional[str], str]],
               lang: Optional[str]) -> None:
    if value is None:
        return
    items: Mapping[Optional[str], str] = {None: value} if isinstance(value, str) else value
    for text_lang, text in items.items():
        child = el.subelement(tag, text=text)
        if text_lang is not None and text_lang != lang:
            child.set(XML_LANG, text_lang)


def build_message(*, to: JIDLike, body: Union[None, str, Mapping[Optional[str], str]] = None,
                  type: str = "chat", subject: Union[None, str, Mapping[Optional[str], str]] = None,
                  thread: Optional[str] = None, parent_thread: Optional[str] = None,
                  id: Optional[str] = None, lang: Optional[str] = None) -> Element:
    """A message; ``body`` and ``subject`` are one text or a mapping of xml:lang (None:
    the message's language ``lang``) to text (RFC 6121 5.2.3, 5.2.4)."""
    if type not in MESSAGE_TYPES:
        raise ValueError(f"invalid message type {type!r}; expected one of {sorted(MESSAGE_TYPES)}")
    if parent_thread is not None and thread is None:
        raise ValueError("a parent thread needs a thread")
    attrib: Dict[str, str] = {"to": str(to), "type": type}
    if id is not None:
        attrib["id"] = id
    if lang is not None:
        attrib[XML_LANG] = lang
    el = Element(_MESSAGE, attrib)
    _add_texts(el, _SUBJECT, subject, lang)
    _add_texts(el, _BODY, body, lang)
    if thread is not None:
        thread_el = el.subelement(_THREAD, text=thread)
        if parent_thread is not None:
            thread_el.set("parent", parent_thread)
    return el
