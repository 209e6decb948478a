"""XEP-0085 Chat State Notifications, sans-IO: add a state to a message, build a standalone
notification, and read the state of a received message.

``client.chat_states`` (:class:`ChatStatesAPI`, with the drivers' ``send``) advertises
``http://jabber.org/protocol/chatstates`` from its first access and fires a
:class:`ChatStateReceived` for every received message carrying a known state (unknown
elements in the namespace are ignored, error messages too).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

from ..element import Element
from ..events import _opts
from ..jid import JID, JIDLike
from ._messaging import MessageFeature, sender_of

__all__ = ["NS_CHATSTATES", "STATES", "InvalidChatState", "ChatStateReceived", "add_state",
           "state_message", "parse_state", "ChatStatesAPI"]

log = logging.getLogger("fastxmpp.xep")

NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
#: The five states of XEP-0085 section 2.
STATES = ("active", "composing", "paused", "inactive", "gone")
_TAGS = {"{%s}%s" % (NS_CHATSTATES, state): state for state in STATES}
_PREFIX = "{%s}" % NS_CHATSTATES
_MESSAGE = "{jabber:client}message"


class InvalidChatState(ValueError):
    """A state that is not one of :data:`STATES`."""


@dataclass(**_opts)
class ChatStateReceived:
    """``sender`` is in chat ``state`` (in a message of ``type``, in ``thread`` if any);
    ``stanza`` is the whole message (it may also carry a body)."""

    sender: Optional[JID]
    state: str
    type: str
    thread: Optional[str]
    stanza: Element


def _check(state: str) -> str:
    if state not in STATES:
        raise InvalidChatState(f"unknown chat state {state!r}; expected one of {', '.join(STATES)}")
    return state


def add_state(stanza: Element, state: str) -> Element:
    """Put ``state`` on the outgoing message ``stanza`` (replacing a state it had); returns it."""
    _check(state)
    for child in list(stanza):
        if child.tag.startswith(_PREFIX):
            stanza.remove(child)
    stanza.subelement(_PREFIX + state)
    return stanza


def state_message(to: JIDLike, state: str, *, type: str = "chat", thread: Optional[str] = None) -> Element:
    """A standalone notification: a message without body carrying only ``state``."""
    el = Element(_MESSAGE, {"to": str(to), "type": type})
    add_state(el, state)
    if thread is not None:
        el.subelement("{jabber:client}thread", text=thread)
    return el


def parse_state(stanza: Element) -> Optional[str]:
    """The chat state a message carries (the first known one), or None."""
    for child in stanza:
        state = _TAGS.get(child.tag)
        if state is not None:
            return state
    return None


class ChatStatesAPI(MessageFeature):
    """``client.chat_states``: ``send(to, state)`` sends a standalone notification,
    ``add(stanza, state)`` puts a state on a message you send; ``on_state(fn)`` is called
    with every :class:`ChatStateReceived`."""

    namespace = NS_CHATSTATES
    on_state = MessageFeature.on_event

    @staticmethod
    def add(stanza: Element, state: str) -> Element:
        """Put ``state`` on the outgoing message ``stanza``; returns it."""
        return add_state(stanza, state)

    def _on_message(self, stanza: Element) -> None:
        state = parse_state(stanza)
        kind = stanza.get("type", "normal")
        if state is None or kind == "error":
            return
        thread = stanza.findtext("{jabber:client}thread") or None
        self._fire(ChatStateReceived(sender=sender_of(stanza), state=state, type=kind,
                                     thread=thread, stanza=stanza))
