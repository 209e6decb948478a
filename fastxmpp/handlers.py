"""Stanza handler registration and the default IQ error reply, shared by both drivers (sans-IO)."""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, Union

from .element import Element

__all__ = ["Handler", "HandlerRegistry", "error_reply", "iq_reply", "stanza_kind", "CLAIMED"]

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
    sender = request.get("from")
    if sender:
        reply.set("to", sender)
    error = reply.subelement("{%s}error" % NS_CLIENT, {"type": type})
    error.subelement("{%s}%s" % (NS_STANZAS, condition))
    if text:
        error.subelement("{%s}text" % NS_STANZAS, text=text)
    return reply


def payload_tag(request: Element) -> Optional[str]:
    """The qualified name (``{ns}local``) of an IQ's payload: its first child element."""
    for child in request:
        return child.tag
    return None


#: What an IQ handler returns to say "this request is mine, and I answered it (or will)".
CLAIMED = True


def iq_reply(request: Element, results: List[Any], routed: bool) -> Optional[Element]:
    """The reply to send for an IQ get/set once its handlers have run (RFC 6120 8.2.3, 8.4).

    ``results`` are what the handlers returned (an exception a handler raised stands in
    for its return value); ``routed`` is True when a handler registered for the request's
    payload (:meth:`HandlerRegistry.add_iq_handler`) ran, which claims the request.

    - an :class:`Element` is the reply, sent as given (its ``id`` and ``to`` filled in
      from the request when missing);
    - a raised :class:`~fastxmpp.stanza_errors.StanzaError` is answered with that error;
    - any other exception with ``internal-server-error``;
    - ``True`` (:data:`CLAIMED`), or a routed handler returning None: the handler
      answered itself, nothing more is sent;
    - when no handler claimed the request: ``service-unavailable``.

    Returns None when nothing is to be sent.
    """
    from .stanza_errors import StanzaError

    failure: Optional[BaseException] = None
    for result in results:
        if isinstance(result, Element):
            if not result.get("id"):
                result.set("id", request.get("id", ""))
            sender = request.get("from")
            if sender and not result.get("to"):
                result.set("to", sender)
            return result
        if result is True:
            return None
        if isinstance(result, BaseException) and failure is None:
            failure = result
    if isinstance(failure, StanzaError):
        return error_reply(request, failure.condition, failure.type, failure.text)
    if failure is not None:
        return error_reply(request, "internal-server-error", "wait")
    if routed:
        return None
    return error_reply(request)


_KINDS = ("message", "presence", "iq")


class HandlerRegistry:
    """Handlers for incoming stanzas, by kind: ``@client.on_message`` or ``add_handler("iq", fn)``.

    IQ requests (get/set) are always answered (RFC 6120 8.4): by a handler registered
    for their payload with :meth:`add_iq_handler`, by an ``on_iq`` handler that claims
    them (it returns the reply :class:`Element`, or :data:`CLAIMED` when it sent the
    reply itself), or else by the client with ``service-unavailable``.  A handler that
    raises a :class:`~fastxmpp.stanza_errors.StanzaError` is answered with that error.
    """

    __slots__ = ("_handlers", "_iq_routes", "_session_listeners")
    _handlers: Dict[str, List[Handler]]
    _iq_routes: Optional[Dict[Tuple[str, str], Callable[[Element], Any]]]
    _session_listeners: Optional[List[Callable[[Any], Any]]]

    def _init_handlers(self) -> None:
        self._handlers = {}  # kind -> handlers, a list only once one is added
        self._iq_routes = None  # (type, payload tag) -> handler; a dict only once one is added
        self._session_listeners = None

    def add_iq_handler(self, payload: str, fn: Callable[[Element], Any], *,
                       types: Tuple[str, ...] = ("get", "set")) -> None:
        """Route IQ requests whose payload is ``payload`` (``"{jabber:iq:roster}query"``)
        to ``fn``, which owns them: it returns the reply :class:`Element` (sent by the
        client), raises a :class:`~fastxmpp.stanza_errors.StanzaError` (sent as the
        error reply), or returns None after sending the reply itself.  Routed requests
        do not reach the ``on_iq`` handlers.  One handler per (type, payload)."""
        if not payload.startswith("{") or "}" not in payload:
            raise ValueError(f"payload must be a qualified name '{{namespace}}local', not {payload!r}")
        routes = self._iq_routes
        if routes is None:
            routes = self._iq_routes = {}
        for kind in types:
            if kind not in ("get", "set"):
                raise ValueError(f"IQ handlers take type 'get' or 'set', not {kind!r}")
            if (kind, payload) in routes and routes[(kind, payload)] is not fn:
                raise ValueError(f"an IQ handler for {kind} {payload} is already registered")
            routes[(kind, payload)] = fn

    def remove_iq_handler(self, payload: str, *, types: Tuple[str, ...] = ("get", "set")) -> None:
        """Remove the IQ handler of ``payload`` (``"{ns}tag"``) for ``types``; requests for it
        are then answered ``service-unavailable`` unless an ``on_iq`` handler claims them.
        Removing what is not registered does nothing."""
        for kind in types:
            if self._iq_routes is not None:
                self._iq_routes.pop((kind, payload), None)

    def _iq_route(self, request: Element) -> Optional[Callable[[Element], Any]]:
        """The handler registered for this IQ request's payload, if any."""
        routes = self._iq_routes
        if routes is None:
            return None
        tag = payload_tag(request)
        return routes.get((request.get("type", ""), tag)) if tag is not None else None

    def add_session_listener(self, fn: Callable[[Any], Any]) -> None:
        """Call ``fn(event)`` with every :class:`~fastxmpp.events.SessionStarted`, before
        ``on_session_started``.  Feature modules use it to restore what a fresh session
        lost (``event.resumed`` is False): presence, rooms, the roster."""
        if self._session_listeners is None:
            self._session_listeners = []
        self._session_listeners.append(fn)

    def on(self, kind: str) -> Callable[[Handler], Handler]:
        """Decorator registering a handler for 'message', 'presence' or 'iq' stanzas."""
        def register(fn: Handler) -> Handler:
            self.add_handler(kind, fn)
            return fn
        return register

    def on_message(self, fn: Handler) -> Handler:
        """Decorator registering ``fn(stanza)`` for every received ``<message/>``."""
        return self.on("message")(fn)

    def on_presence(self, fn: Handler) -> Handler:
        """Decorator registering ``fn(stanza)`` for every received ``<presence/>``."""
        return self.on("presence")(fn)

    def on_iq(self, fn: Handler) -> Handler:
        """Register a handler for every IQ request and unrouted response (see the class
        docstring for how a handler claims a request)."""
        return self.on("iq")(fn)

    def add_handler(self, kind: str, fn: Handler) -> None:
        """Register ``fn(stanza)`` for stanzas of ``kind`` (``"message"``, ``"presence"`` or
        ``"iq"``), after those already registered; another kind raises ``ValueError``."""
        if kind not in _KINDS:
            raise ValueError(f"unknown stanza kind {kind!r}")
        self._handlers.setdefault(kind, []).append(fn)

    def remove_handler(self, kind: str, fn: Handler) -> None:
        """Unregister ``fn`` for ``kind``; raises ``KeyError`` for an unknown kind and
        ``ValueError`` when ``fn`` is not registered."""
        if kind not in _KINDS:
            raise KeyError(kind)
        self._handlers.get(kind, []).remove(fn)

    def handlers_for(self, stanza: Element) -> List[Any]:
        """The handlers registered for ``stanza``'s kind, in order (the list itself)."""
        return self._handlers.get(stanza_kind(stanza), [])
