"""Stanza handler registration and the default IQ error reply, shared by both drivers (sans-IO)."""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, Optional, Union

from .element import Element

__all__ = ["Handler", "HandlerRegistry", "error_reply", "stanza_kind"]

NS_CLIENT = "jabber:client"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
Handler = Callable[[Element], Union[None, Awaitable[None]]]
KIND_START = len(NS_CLIENT) + 2  # stanza.tag[KIND_START:] is "message", "presence" or "iq"


def stanza_kind(stanza: Element) -> str:
    """'message', 'presence' or 'iq' for a jabber:client stanza."""
    return stanza.tag[KIND_START:]


def error_reply(request: Element, condition: str = "service-unavailable", type: str = "cancel",
                text: Optional[str] = None) -> Element:
    """The IQ error answering ``request`` (RFC 6120 8.3), e.g. when no handler wants it (8.4)."""
    reply = Element("{%s}iq" % NS_CLIENT, {"type": "error", "id": request.get("id", "")})
    if request.get("from"):
        reply.set("to", request.get("from"))
    error = reply.subelement("{%s}error" % NS_CLIENT, {"type": type})
    error.subelement("{%s}%s" % (NS_STANZAS, condition))
    if text:
        error.subelement("{%s}text" % NS_STANZAS, text=text)
    return reply


_KINDS = ("message", "presence", "iq")


class HandlerRegistry:
    """Handlers for incoming stanzas, by kind: ``@client.on_message`` or ``add_handler("iq", fn)``."""

    __slots__ = ("_handlers",)
    _handlers: Dict[str, List[Handler]]

    def _init_handlers(self) -> None:
        self._handlers = {}  # kind -> handlers, a list only once one is added

    def on(self, kind: str) -> Callable[[Handler], Handler]:
        """Decorator registering a handler for 'message', 'presence' or 'iq' stanzas."""
        def register(fn: Handler) -> Handler:
            self.add_handler(kind, fn)
            return fn
        return register

    def on_message(self, fn: Handler) -> Handler:
        return self.on("message")(fn)

    def on_presence(self, fn: Handler) -> Handler:
        return self.on("presence")(fn)

    def on_iq(self, fn: Handler) -> Handler:
        return self.on("iq")(fn)

    def add_handler(self, kind: str, fn: Handler) -> None:
        if kind not in _KINDS:
            raise ValueError(f"unknown stanza kind {kind!r}")
        self._handlers.setdefault(kind, []).append(fn)

    def remove_handler(self, kind: str, fn: Handler) -> None:
        if kind not in _KINDS:
            raise KeyError(kind)
        self._handlers.get(kind, []).remove(fn)

    def handlers_for(self, stanza: Element) -> List[Any]:
        return self._handlers.get(stanza_kind(stanza), [])
