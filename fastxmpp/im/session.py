"""The glue between the sans-IO IM objects and a client, shared by both clients (no I/O here).

A client reaches the IM layer through ``client.roster``, ``client.presence``,
``client.subscriptions`` and ``client.messages``.  Each is created on first access
(:meth:`IM.of`), and only then registers its handlers on the client, so a session that
never uses them pays nothing.  :mod:`fastxmpp.aio.im` and :mod:`fastxmpp.sync.im` add
the methods that send (``async def`` or blocking), one or two lines each; what they
receive, decide and keep is here and in the sans-IO modules.
"""
from __future__ import annotations

import logging
from typing import (TYPE_CHECKING, Any, Callable, ClassVar, Dict, FrozenSet, Generic, Iterator, List, Mapping,
                    NamedTuple, Optional, Tuple, Type, TypeVar, cast, overload)

from ..element import Element
from ..events import Event
from ..jid import JID, JIDLike
from ..stanza_errors import StanzaError
from ._types import Listener
from .events import RosterReceived, SubscriptionRequested
from .messages import Message, parse_message
from .presence import PresenceTracker, ResourcePresence
from .roster import ROSTER_QUERY, Roster, RosterItem
from .subscriptions import Subscriptions

if TYPE_CHECKING:
    from .store import RosterStore

__all__ = ["IM", "Feature", "RosterAPI", "PresenceAPI", "SubscriptionsAPI", "MessagesAPI",
           "SubscriptionRequest", "Features"]

log = logging.getLogger("fastxmpp.im")

#: A function that ``@client.messages.on_message`` registers (and returns unchanged).
MessageListener = TypeVar("MessageListener", bound=Callable[[Message], Any])
#: What :meth:`SubscriptionRequest.approve` and ``deny()`` return: ``Awaitable[None]`` (a
#: coroutine) with the asyncio client, None with the blocking one (unparameterized: ``Any``).
if TYPE_CHECKING:
    from typing_extensions import TypeVar as _TypeVar

    Answer = _TypeVar("Answer", default=Any)
else:
    Answer = TypeVar("Answer")
#: A function that ``@client.subscriptions.on_request`` registers (and returns unchanged).
RequestListener = TypeVar("RequestListener", bound=Callable[["SubscriptionRequest[Any]"], Any])


class Feature:
    """One IM feature of a client: its sans-IO object (``core``) and its listeners."""

    def __init__(self, im: "IM", core: Any) -> None:
        self.im = im
        self.client = im.client
        self.core = core
        self._listeners: List[Callable[[Any], Any]] = []

    def on_event(self, fn: Listener) -> Listener:
        """Register ``fn(event)`` for this feature's events (decorator; a coroutine function
        runs as a task with the asyncio client)."""
        self._listeners.append(fn)
        return fn

    def remove_listener(self, fn: Callable[[Any], Any]) -> None:
        """Unregister ``fn``, registered with :meth:`on_event`; raises ``ValueError`` when it
        is not registered."""
        self._listeners.remove(fn)

    def _notify(self, evs: List[Event]) -> None:
        call = self.client._call
        for event in evs:
            for fn in list(self._listeners):
                call(fn, event)

    def _features(self) -> Optional[Element]:
        stream = self.client.stream
        return stream.server_features if stream is not None else None


class RosterAPI(Feature, Mapping[JID, RosterItem]):
    """``client.roster``: a read-only mapping of bare JID to
    :class:`~fastxmpp.im.roster.RosterItem`, kept in sync by roster pushes."""

    core: Roster

    def __init__(self, im: "IM") -> None:
        super().__init__(im, Roster(im.client.jid))
        self.client.add_iq_handler(ROSTER_QUERY, self._push, types=("set",))

    def _push(self, request: Element) -> Element:
        reply, evs = self.core.receive_push(request)
        self._notify(evs)
        return reply

    def _received(self, result: Element) -> RosterReceived:
        evs = self.core.apply_result(result)
        self._notify(evs)
        return cast(RosterReceived, evs[-1])

    @property
    def store(self) -> Optional[RosterStore]:
        """Where the roster and its version are kept besides this object (None: only here,
        in memory); set a :class:`~fastxmpp.im.store.JSONRosterStore` before the first
        fetch to keep them in a file."""
        return self.core.store

    @store.setter
    def store(self, store: Optional[RosterStore]) -> None:
        self.core.store = store

    @property
    def version(self) -> Optional[str]:
        """The roster version (RFC 6121 2.6) of what is held, sent with the next fetch; None
        when the server gave none."""
        return self.core.version

    @property
    def loaded(self) -> bool:
        """Whether the roster was fetched in the current session."""
        return self.core.loaded

    def __getitem__(self, jid: JIDLike) -> RosterItem:
        return self.core[jid]

    def __iter__(self) -> Iterator[JID]:
        return iter(self.core)

    def __len__(self) -> int:
        return len(self.core)

    def groups(self) -> Dict[str, List[RosterItem]]:
        """The items by group name, a ``dict`` of ``str`` to a list of
        :class:`~fastxmpp.im.roster.RosterItem` (an item in several groups is in each)."""
        return self.core.groups()


class PresenceAPI(Feature):
    """``client.presence``: our presence and the tracker of every contact's resources."""

    core: PresenceTracker

    def __init__(self, im: "IM") -> None:
        super().__init__(im, PresenceTracker())
        self.client.add_handler("presence", self._received)

    def _received(self, stanza: Element) -> None:
        self._notify(self.core.receive(stanza))

    def _roster_first(self, to: Optional[JIDLike]) -> bool:
        """Whether the roster is to be fetched before this presence: it is the session's
        initial presence (RFC 6121 2.2, 4.2) and the roster is not here yet."""
        return to is None and not self.core.sent_initial and not self.im.roster.loaded

    def best(self, jid: JIDLike) -> Optional[ResourcePresence]:
        """The available resource of ``jid`` (a JID or string; its bare JID counts) to talk
        to: highest priority, then most available ``show``; None when it is offline."""
        return self.core.best(jid)

    def resources(self, jid: JIDLike) -> List[ResourcePresence]:
        """The available resources of ``jid``'s bare JID, best first (empty when offline)."""
        return self.core.resources(jid)

    def is_online(self, jid: JIDLike) -> bool:
        """Whether ``jid``'s bare JID has at least one available resource."""
        return self.core.is_online(jid)

    def online(self) -> List[JID]:
        """The bare JIDs of the contacts with at least one available resource."""
        return self.core.online()

    def error(self, jid: JIDLike) -> Optional[StanzaError]:
        """The last presence error from ``jid``'s bare JID, a
        :class:`~fastxmpp.stanza_errors.StanzaError`; None when there was none."""
        return self.core.error(jid)


class SubscriptionRequest(Generic[Answer]):
    """An inbound subscription request, handed to ``on_request`` listeners:
    ``approve()`` / ``deny()`` answer it (awaitable with the asyncio client).

    ``Answer`` is what they return, as the client's ``approve``/``deny`` do: annotate a
    listener's parameter ``SubscriptionRequest[Awaitable[None]]`` with the asyncio client,
    ``SubscriptionRequest[None]`` with the blocking one (unparameterized: ``Any``)."""

    __slots__ = ("api", "jid", "status", "stanza")

    def __init__(self, api: "SubscriptionsAPI", event: SubscriptionRequested) -> None:
        self.api, self.jid, self.status, self.stanza = api, event.jid, event.status, event.stanza

    def approve(self) -> Answer:
        """Approve the request: sends ``<presence type='subscribed'/>`` to its bare JID
        (a coroutine with the asyncio client)."""
        return cast(Answer, self.api.approve(self.jid))

    def deny(self) -> Answer:
        """Refuse the request: sends ``<presence type='unsubscribed'/>`` to its bare JID
        (a coroutine with the asyncio client)."""
        return cast(Answer, self.api.deny(self.jid))

    def __repr__(self) -> str:
        return f"<SubscriptionRequest from {self.jid}>"


class SubscriptionsAPI(Feature):
    """``client.subscriptions``: requests out (subscribe, approve, deny, unsubscribe,
    cancel, preapprove) and in (``on_request``), with an opt-in ``policy``."""

    core: Subscriptions

    def __init__(self, im: "IM") -> None:
        super().__init__(im, Subscriptions(im.roster.core))
        self._request_listeners: List[Callable[[Any], Any]] = []
        self.client.add_handler("presence", self._received)

    @property
    def policy(self) -> str:
        """"ask" (default), "accept-roster" or "accept-all"."""
        return self.core.policy

    @policy.setter
    def policy(self, value: str) -> None:
        self.core.policy = value

    @property
    def subscribe_back(self) -> bool:
        """Whether a request approved by the policy is answered with a request of ours too,
        when we are not yet subscribed to the contact's presence (default False)."""
        return self.core.subscribe_back

    @subscribe_back.setter
    def subscribe_back(self, value: bool) -> None:
        self.core.subscribe_back = value

    def on_request(self, fn: RequestListener) -> RequestListener:
        """Register ``fn(request)`` for inbound requests the policy leaves to the application."""
        self._request_listeners.append(fn)
        return fn

    def _received(self, stanza: Element) -> None:
        out, evs = self.core.receive(stanza)
        for reply in out:
            self.im.send_now(reply)
        self._notify(evs)
        call = self.client._call
        for event in evs:
            if isinstance(event, SubscriptionRequested):
                if not self._request_listeners and not self._listeners:
                    log.info("subscription request from %s: no listener, left unanswered", event.jid)
                for fn in list(self._request_listeners):
                    call(fn, SubscriptionRequest(self, event))

    # the senders, defined by each client
    def approve(self, jid: JIDLike) -> Any:
        """Approve ``jid``'s request to see our presence (each client sends)."""
        raise NotImplementedError

    def deny(self, jid: JIDLike) -> Any:
        """Refuse ``jid``'s request to see our presence (each client sends)."""
        raise NotImplementedError


class MessagesAPI(Feature):
    """``client.messages``: parsed messages (:class:`~fastxmpp.im.messages.Message`) for
    ``on_message`` listeners, and ``send``/``reply``."""

    def __init__(self, im: "IM") -> None:
        super().__init__(im, None)
        self._message_listeners: List[Tuple[Callable[[Message], Any], Optional[FrozenSet[str]]]] = []

    @overload
    def on_message(self, fn: MessageListener, *, types: Optional[Tuple[str, ...]] = None) -> MessageListener: ...

    @overload
    def on_message(self, fn: None = None, *,
                   types: Optional[Tuple[str, ...]] = None) -> Callable[[MessageListener], MessageListener]: ...

    def on_message(self, fn: Optional[MessageListener] = None, *,
                   types: Optional[Tuple[str, ...]] = None) -> Any:
        """Register ``fn(message)`` for received messages (of ``types`` only, if given);
        usable as ``@client.messages.on_message`` or ``@...on_message(types=("chat",))``.
        Returns ``fn`` unchanged (or, without ``fn``, the decorator that registers it)."""
        def register(fn: MessageListener) -> MessageListener:
            if not self._message_listeners:
                self.client.add_handler("message", self._received)
            self._message_listeners.append((fn, frozenset(types) if types else None))
            return fn
        return register(fn) if fn is not None else register

    def _received(self, stanza: Element) -> None:
        msg = parse_message(stanza)
        call = self.client._call
        for fn, types in list(self._message_listeners):
            if types is None or msg.type in types:
                call(fn, msg)


class Features(NamedTuple):
    """The feature classes of one client kind (its methods that send)."""

    roster: Type[RosterAPI]
    presence: Type[PresenceAPI]
    subscriptions: Type[SubscriptionsAPI]
    messages: Type[MessagesAPI]


class IM:
    """The IM features of one client, each created on first access."""

    features: ClassVar[Features] = Features(RosterAPI, PresenceAPI, SubscriptionsAPI, MessagesAPI)

    def __init__(self, client: Any) -> None:
        self.client = client
        self._made: Dict[str, Any] = {}
        client.add_session_listener(self._session_started)

    @classmethod
    def of(cls, client: Any) -> Any:
        """The IM layer of ``client`` (created, with its session listener, on first use)."""
        im = client.__dict__.get("_im")
        if im is None:
            im = client.__dict__["_im"] = cls(client)
        return im

    def _feature(self, name: str) -> Any:
        feature = self._made.get(name)
        if feature is None:
            feature = self._made[name] = getattr(self.features, name)(self)
        return feature

    @property
    def roster(self) -> Any:
        """``client.roster`` (the client's :class:`RosterAPI` subclass)."""
        return self._feature("roster")

    @property
    def presence(self) -> Any:
        """``client.presence`` (the client's :class:`PresenceAPI` subclass)."""
        return self._feature("presence")

    @property
    def subscriptions(self) -> Any:
        """``client.subscriptions`` (the client's :class:`SubscriptionsAPI` subclass)."""
        return self._feature("subscriptions")

    @property
    def messages(self) -> Any:
        """``client.messages`` (the client's :class:`MessagesAPI` subclass)."""
        return self._feature("messages")

    def send_now(self, stanza: Element) -> None:
        """Send from inside a handler (each client says how)."""
        raise NotImplementedError

    def _session_started(self, event: Any) -> Any:
        """A fresh session (not a resumed one) lost the roster's and our presence's state
        on the server side: fetch the roster again if it was fetched, then send our last
        broadcast presence again if the application had set one (issue 13, part 5)."""
        if event.resumed:
            return None
        roster, presence = self._made.get("roster"), self._made.get("presence")
        refetch = roster is not None and roster.core.loaded
        if roster is not None:
            roster.core.loaded = False
        again: Optional[Element] = None
        if presence is not None:
            again, evs = presence.core.session_started(False)
            presence._notify(evs)
        if refetch or again is not None:
            return self._restore(refetch, again)
        return None

    def _restore(self, refetch: bool, presence: Optional[Element]) -> Any:
        """Fetch the roster (if ``refetch``), then send ``presence`` (if any)."""
        raise NotImplementedError
