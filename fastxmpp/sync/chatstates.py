"""``client.chat_states`` for the blocking client: the method that sends, over
:mod:`fastxmpp.xep.chatstates` (which builds and parses)."""
from __future__ import annotations

from typing import Optional

from ..element import Element
from ..jid import JIDLike
from ..xep import chatstates

__all__ = ["ChatStates"]


class ChatStates(chatstates.ChatStatesAPI):
    """XEP-0085 chat states (blocking): ``send(to, "composing")``."""

    def send(self, to: JIDLike, state: str, *, type: str = "chat", thread: Optional[str] = None) -> Element:
        """Send ``state`` to ``to`` as a standalone notification; returns the message."""
        stanza = chatstates.state_message(to, state, type=type, thread=thread)
        self.client.send(stanza)
        return stanza
