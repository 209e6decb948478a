"""XEP-0191 blocking command, sans-IO: the requests, the block list and its pushes.

:class:`Blocklist` holds the JIDs the account blocks.  It builds the requests
(:meth:`~Blocklist.fetch_request`, :meth:`~Blocklist.block_request`,
:meth:`~Blocklist.unblock_request`, :meth:`~Blocklist.unblock_all_request`), applies the
server's answers and pushes, and returns an event per change (:class:`BlocklistReceived`,
:class:`JIDsBlocked`, :class:`JIDsUnblocked`).  :class:`BlockingBase` ties it to a
client (the push handlers and the listeners); ``client.blocking`` is its subclass in
:mod:`fastxmpp.aio.blocking` or :mod:`fastxmpp.sync.blocking`, which adds the methods
that send.

Bad input from the network never raises out of here: an item whose JID is not valid
is logged and dropped; a push from anyone but our own account or our server is
answered with ``service-unavailable`` and ignored (XEP-0191 section 3.3 and the
security considerations); a block push without items with ``bad-request``.
Bad input from the user raises: :class:`~fastxmpp.jid.InvalidJID` for a JID that is
not one, :class:`EmptyJIDList` for an empty list (an empty ``<unblock/>`` would unblock
everyone: :meth:`Blocklist.unblock_all_request` says so explicitly).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, FrozenSet, Iterable, Iterator, List, Optional, Set, Tuple, Union

from ..element import Element
from ..errors import XMPPError
from ..events import Event, _opts
from ..im._types import Listener
from ..jid import JID, InvalidJID, JIDLike
from ..stanza_errors import BadRequest, ServiceUnavailable
from ._iq import NS_CLIENT, empty_result, result_payload

__all__ = [
    "NS_BLOCKING", "NS_BLOCKING_ERRORS", "BLOCKLIST", "BLOCK", "UNBLOCK", "Blocklist",
    "BlockingBase", "BlocklistReceived", "JIDsBlocked", "JIDsUnblocked", "EmptyJIDList",
    "is_blocked_error", "JIDs",
]

log = logging.getLogger("fastxmpp.xep.blocking")

NS_BLOCKING = "urn:xmpp:blocking"
NS_BLOCKING_ERRORS = "urn:xmpp:blocking:errors"
BLOCKLIST = "{%s}blocklist" % NS_BLOCKING
BLOCK = "{%s}block" % NS_BLOCKING
UNBLOCK = "{%s}unblock" % NS_BLOCKING
_ITEM = "{%s}item" % NS_BLOCKING
_IQ = "{%s}iq" % NS_CLIENT

#: What block() and unblock() take: one JID or string, or an iterable of them.
JIDs = Union[JIDLike, Iterable[JIDLike]]


class EmptyJIDList(XMPPError, ValueError):
    """``block()`` or ``unblock()`` was given no JID (use ``unblock_all()`` to unblock everyone)."""


@dataclass(**_opts)
class BlocklistReceived(Event):
    """The block list was fetched: ``jids``, every JID blocked."""

    jids: FrozenSet[JID]


@dataclass(**_opts)
class JIDsBlocked(Event):
    """``jids`` were blocked (by this session or another resource of the account)."""

    jids: Tuple[JID, ...]


@dataclass(**_opts)
class JIDsUnblocked(Event):
    """``jids`` were unblocked; ``everything`` is True when the whole list was cleared."""

    jids: Tuple[JID, ...]
    everything: bool = False


def is_blocked_error(stanza: Element) -> bool:
    """Whether an error stanza says that we block its recipient (XEP-0191 section 3.5:
    ``<not-acceptable/>`` with ``<blocked xmlns='urn:xmpp:blocking:errors'/>``)."""
    error = stanza.find("{%s}error" % NS_CLIENT)
    return error is not None and error.find("{%s}blocked" % NS_BLOCKING_ERRORS) is not None


def _user_jids(jids: JIDs) -> Tuple[JID, ...]:
    """The JIDs the user gave (one JID or string, or an iterable of them), parsed."""
    if isinstance(jids, (str, JID)):
        jids = [jids]
    parsed = tuple(dict.fromkeys(j if isinstance(j, JID) else JID(j) for j in jids))
    if not parsed:
        raise EmptyJIDList("no JID given (unblock_all() unblocks everyone)")
    return parsed


def _items(payload: Element, where: str) -> List[JID]:
    """The valid JIDs of a payload's ``<item jid=.../>``; the others are logged and dropped."""
    found: List[JID] = []
    for item in payload:
        if item.tag != _ITEM:
            continue
        value = item.get("jid")
        try:
            if value is None:
                raise InvalidJID("item without a jid")
            found.append(JID(value))
        except InvalidJID as exc:
            log.warning("%s: dropping an item with an invalid JID: %s", where, exc)
    return found


def _request(tag: str, jids: Iterable[JID], kind: str = "set") -> Element:
    iq = Element(_IQ, {"type": kind})
    payload = iq.subelement(tag)
    for jid in jids:
        payload.subelement(_ITEM, {"jid": str(jid)})
    return iq


class Blocklist:
    """The account's block list (a set of :class:`~fastxmpp.jid.JID`), kept in sync with
    the server's by results and pushes.  ``loaded`` tells whether it was fetched in the
    current session."""

    def __init__(self, account: JIDLike) -> None:
        account = account if isinstance(account, JID) else JID(account)
        self.account = account.bare
        self.server = JID(account.domain)
        self.jids: Set[JID] = set()
        self.loaded = False

    def __contains__(self, jid: object) -> bool:
        if isinstance(jid, str):
            try:
                jid = JID(jid)
            except InvalidJID:
                return False
        return jid in self.jids

    def __iter__(self) -> Iterator[JID]:
        return iter(self.jids)

    def __len__(self) -> int:
        return len(self.jids)

    # -- requests -------------------------------------------------------------------------------
    def fetch_request(self) -> Element:
        """``<iq type='get'><blocklist xmlns='urn:xmpp:blocking'/></iq>`` (to our account)."""
        return _request(BLOCKLIST, (), "get")

    def block_request(self, jids: JIDs) -> Element:
        """Block ``jids`` (one JID or an iterable of them)."""
        return _request(BLOCK, _user_jids(jids))

    def unblock_request(self, jids: JIDs) -> Element:
        """Unblock ``jids`` (one JID or an iterable of them; at least one)."""
        return _request(UNBLOCK, _user_jids(jids))

    def unblock_all_request(self) -> Element:
        """Unblock everyone: an ``<unblock/>`` without items."""
        return _request(UNBLOCK, ())

    # -- answers and pushes -----------------------------------------------------------------------
    def apply_result(self, result: Element) -> List[Event]:
        """Apply the result of :meth:`fetch_request`: returns the changes from the list held
        before (when one was), then :class:`BlocklistReceived`.  An IQ error raises its
        :class:`~fastxmpp.stanza_errors.StanzaError`; a result without ``<blocklist/>``
        raises :class:`~fastxmpp.xep._iq.RemoteInvalidResult`; both change nothing."""
        jids = set(_items(result_payload(result, BLOCKLIST), "blocklist result"))
        old, self.jids = self.jids, jids
        evs: List[Event] = []
        if self.loaded:
            added = tuple(j for j in jids if j not in old)
            removed = tuple(j for j in old if j not in jids)
            if added:
                evs.append(JIDsBlocked(jids=added))
            if removed:
                evs.append(JIDsUnblocked(jids=removed))
        self.loaded = True
        evs.append(BlocklistReceived(jids=frozenset(jids)))
        return evs

    def apply_own(self, request: Element) -> List[Event]:
        """Apply one of our block/unblock requests once the server answered it with a
        result (the server's push, when it sends one, then changes nothing more)."""
        for payload in request:
            return self._change(payload, "our request")
        return []

    def _change(self, payload: Element, where: str) -> List[Event]:
        jids = _items(payload, where)
        if payload.tag == BLOCK:
            added = tuple(dict.fromkeys(j for j in jids if j not in self.jids))
            self.jids.update(added)
            return [JIDsBlocked(jids=added)] if added else []
        if payload.tag != UNBLOCK:
            return []
        if len(payload) == 0:
            removed, everything = tuple(self.jids), True
            self.jids.clear()
        else:
            removed, everything = tuple(dict.fromkeys(j for j in jids if j in self.jids)), False
            self.jids.difference_update(removed)
        return [JIDsUnblocked(jids=removed, everything=everything)] if removed or everything else []

    def is_trusted(self, stanza: Element) -> bool:
        """Whether a push comes from our account (no ``from``, or our bare JID) or our server."""
        sender = stanza.get("from")
        if sender is None:
            return True
        try:
            return JID(sender) in (self.account, self.server)
        except InvalidJID:
            return False

    def receive_push(self, push: Element) -> Tuple[Element, List[Event]]:
        """Apply a block or unblock push (an IQ set, XEP-0191 section 3.3): returns the result
        to answer with and the events.  Raises
        :class:`~fastxmpp.stanza_errors.ServiceUnavailable` for a push from anyone but our
        account or our server (ignored) and :class:`~fastxmpp.stanza_errors.BadRequest` for a
        block push without items (not applied)."""
        if not self.is_trusted(push):
            log.warning("ignoring a blocking push from %r (not our account %s nor our server)",
                        push.get("from"), self.account)
            raise ServiceUnavailable()
        payload = push.find(BLOCK)
        if payload is None:
            payload = push.find(UNBLOCK)
        if payload is None:
            raise BadRequest("not a blocking push")
        if payload.tag == BLOCK and payload.find(_ITEM) is None:
            log.warning("ignoring a block push without items")
            raise BadRequest("a block push carries at least one item")
        return empty_result(push), self._change(payload, "blocking push")


class BlockingBase:
    """What ``client.blocking`` does for both clients: from first access it answers and
    applies the server's block/unblock pushes and calls the ``on_event`` listeners with
    :class:`BlocklistReceived`, :class:`JIDsBlocked` and :class:`JIDsUnblocked`.  It is
    also the set of blocked JIDs (``jid in client.blocking``, ``len``, iteration), kept
    in sync once :meth:`fetch` was called (the server pushes changes only to sessions
    that fetched the list).  A fresh (not resumed) session fetches the list again when it
    was fetched before, so the list keeps following the server's."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.core = Blocklist(client.jid)
        self._listeners: List[Callable[[Any], Any]] = []
        client.add_iq_handler(BLOCK, self._push, types=("set",))
        client.add_iq_handler(UNBLOCK, self._push, types=("set",))
        client.add_session_listener(self._session_started)

    def on_event(self, fn: Listener) -> Listener:
        """Register ``fn(event)`` for the block list's events (decorator; a coroutine
        function runs as a task with the asyncio client)."""
        self._listeners.append(fn)
        return fn

    def remove_listener(self, fn: Callable[[Any], Any]) -> None:
        """Stop calling ``fn``."""
        self._listeners.remove(fn)

    @property
    def jids(self) -> FrozenSet[JID]:
        """The JIDs blocked, as last known."""
        return frozenset(self.core.jids)

    @property
    def loaded(self) -> bool:
        """Whether the list was fetched in the current session."""
        return self.core.loaded

    def __contains__(self, jid: object) -> bool:
        return jid in self.core

    def __iter__(self) -> Iterator[JID]:
        return iter(list(self.core.jids))

    def __len__(self) -> int:
        return len(self.core)

    def _notify(self, evs: List[Event]) -> None:
        call = self.client._call
        for event in evs:
            for fn in list(self._listeners):
                call(fn, event)

    def _push(self, request: Element) -> Element:
        reply, evs = self.core.receive_push(request)
        self._notify(evs)
        return reply

    def _received(self, result: Element) -> FrozenSet[JID]:
        self._notify(self.core.apply_result(result))
        return self.jids

    def _applied(self, request: Element, result: Optional[Element] = None) -> None:
        self._notify(self.core.apply_own(request))

    def fetch(self) -> Any:
        """Fetch the block list (each client says how: awaitable or blocking)."""
        raise NotImplementedError

    def _session_started(self, event: Any) -> Any:
        """A fresh session (not resumed) gets no pushes until it fetches the list: when it
        was fetched, fetch it again (the client runs what this returns); changes made
        meanwhile arrive as :class:`JIDsBlocked`/:class:`JIDsUnblocked` events."""
        if event.resumed or not self.core.loaded:
            return None
        return self.fetch()
