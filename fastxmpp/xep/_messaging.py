"""What the message XEP features share (sans-IO): listeners, the message handler they
register on first access, and the disco feature they advertise.

:class:`MessageFeature` is the base of ``client.receipts``, ``client.chat_states`` and
``client.carbons`` (:mod:`fastxmpp.xep.receipts`, :mod:`~fastxmpp.xep.chatstates`,
:mod:`~fastxmpp.xep.carbons`); the drivers' subclasses add only the methods that send.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, List, Optional

from ..element import Element
from ..im._types import Listener
from ..jid import JID, InvalidJID

__all__ = ["MessageFeature", "sender_of"]

log = logging.getLogger("fastxmpp.xep")


def sender_of(stanza: Element) -> Optional[JID]:
    """The stanza's ``from`` as a :class:`JID`, or None when absent or invalid (logged)."""
    text = stanza.get("from")
    if text is None:
        return None
    try:
        return JID(text)
    except InvalidJID as exc:
        log.warning("stanza from an invalid JID %r: %s", text, exc)
        return None


class MessageFeature:
    """A message feature of one client: from construction (the first access to
    ``client.<feature>``) it reads every received message and advertises ``namespace``
    in disco#info; listeners registered with :meth:`on_event` get its events."""

    #: The namespace advertised in disco#info (None: nothing advertised).
    namespace: Optional[str] = None

    def __init__(self, client: Any) -> None:
        self.client = client
        self._listeners: List[Callable[[Any], Any]] = []
        client.add_handler("message", self._on_message)
        if self.namespace is not None:
            client.disco.responder.add_feature(self.namespace)

    def on_event(self, fn: Listener) -> Listener:
        """Register ``fn(event)`` (a coroutine function too, with asyncio); usable as a decorator."""
        self._listeners.append(fn)
        return fn

    def _fire(self, event: Any) -> None:
        call = self.client._call
        for fn in list(self._listeners):
            call(fn, event)

    def _me(self) -> JID:
        """Our JID: the bound one, else the one we log in with."""
        me: JID = self.client.bound_jid or self.client.jid
        return me

    def _on_message(self, stanza: Element) -> None:
        """Read one received message (never raises)."""
        raise NotImplementedError

    def _send_now(self, stanza: Element) -> None:
        """Send from inside a handler (the driver's subclass says how)."""
        raise NotImplementedError
