"""The roster (RFC 6121 section 2), sans-IO: requests to send, results and pushes applied.

:class:`Roster` holds the account's contact list as a mapping of bare JID to
:class:`RosterItem`.  It builds the requests (:meth:`Roster.fetch_request`,
:meth:`Roster.set_request`, :meth:`Roster.remove_request`), applies what the server
answers (:meth:`Roster.apply_result`) and pushes (:meth:`Roster.receive_push`), and
returns events describing each change.  The clients' ``client.roster`` wraps it.

Bad input from the server never raises out of these methods nor corrupts the roster: a
malformed item in a result is logged and skipped; a malformed push is answered with
``bad-request`` and not applied; a push from anyone but the account itself is answered
with ``service-unavailable`` and ignored (RFC 6121 2.1.6).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from sys import intern
from typing import (TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple)

from ..element import Element
from ..events import Event, _opts
from ..jid import JID, InvalidJID, JIDLike, _parse_once
from ..stanza_errors import BadRequest, ServiceUnavailable, from_element
from .events import RosterItemAdded, RosterItemChanged, RosterItemRemoved, RosterReceived, positional

if TYPE_CHECKING:
    from .store import RosterStore

__all__ = ["NS_ROSTER", "ROSTER_QUERY", "SUBSCRIPTIONS", "RosterItem", "Roster", "parse_item", "KEEP"]

log = logging.getLogger("fastxmpp.im")

NS_ROSTER = "jabber:iq:roster"
ROSTER_QUERY = "{%s}query" % NS_ROSTER
NS_ROSTERVER = "urn:xmpp:features:rosterver"
_ITEM = "{%s}item" % NS_ROSTER
_GROUP = "{%s}group" % NS_ROSTER
_IQ = "{jabber:client}iq"
SUBSCRIPTIONS = frozenset({"none", "to", "from", "both"})
# Each accepted attribute value to one shared string (a roster holds thousands of copies).
_SUBSCRIPTION = {value: intern(value) for value in SUBSCRIPTIONS}
_SUBSCRIPTION_PUSH = dict(_SUBSCRIPTION, remove="remove")
_APPROVED = {"true": True, "1": True, "false": False, "0": False}


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


#: Passed to :meth:`Roster.set_request` for a field that keeps its current value.
KEEP: Any = _Keep()


@dataclass(**_opts)
class RosterItem:
    """One contact (RFC 6121 2.1.2): ``subscription`` is none, to, from or both; ``ask`` is
    "subscribe" while our request waits for the contact's answer; ``approved`` is True when
    we pre-approved the contact's subscription; ``groups`` are sorted (a set, in RFC 6121)."""

    jid: JID
    name: Optional[str] = None
    subscription: str = "none"
    ask: Optional[str] = None
    approved: bool = False
    groups: Tuple[str, ...] = ()


_new_item = positional(RosterItem)


def _jid(value: JIDLike) -> JID:
    return value if isinstance(value, JID) else JID(value)


def parse_item(el: Element, push: bool = False,
               shared: Optional[Dict[Tuple[Optional[str], ...], Tuple[str, ...]]] = None) -> RosterItem:
    """The :class:`RosterItem` of an ``<item/>``; raises ValueError saying what is wrong.

    In a push (``push=True``) ``subscription='remove'`` is allowed and gives an item with
    that subscription.  Items parsed with the same ``shared`` dict share equal group tuples
    (a large roster has few distinct ones): it maps the group texts as written to them."""
    attrib = el.attrib
    get = attrib.get
    text = get("jid")
    if not text:
        raise ValueError("roster item without a jid")
    try:
        jid = _parse_once(text)
    except InvalidJID as exc:
        raise ValueError(f"roster item with an invalid jid {text!r}: {exc}") from None
    raw = get("subscription", "none")
    subscription = (_SUBSCRIPTION_PUSH if push else _SUBSCRIPTION).get(raw)
    if subscription is None:
        raise ValueError(f"roster item {text} with an unknown subscription {raw!r}")
    ask = get("ask")
    if ask is not None:
        if ask != "subscribe":
            raise ValueError(f"roster item {text} with an unknown ask {ask!r}")
        ask = "subscribe"
    approved = _APPROVED.get(get("approved", "false"))
    if approved is None:
        raise ValueError(f"roster item {text} with approved={get('approved')!r} (not a boolean)")
    written: Tuple[Optional[str], ...] = ()
    for child in el:  # no comprehension: a frame per item counts here
        if child.tag == _GROUP:
            written += (child.text,)
    groups = shared.get(written) if shared is not None else None
    if groups is None:
        groups = _groups(written, text)
        if shared is not None:
            shared[written] = groups
    return _new_item(jid, get("name") or None, subscription, ask, approved, groups)


def _groups(written: Tuple[Optional[str], ...], jid: str) -> Tuple[str, ...]:
    """The groups of an item from its ``<group/>`` texts as written: interned, without
    repeats, sorted; raises ValueError for an empty one."""
    if not all(written):
        raise ValueError(f"roster item {jid} with an empty group")
    return tuple(sorted({intern(name) for name in written if name}))


def item_to_dict(item: RosterItem) -> Dict[str, Any]:
    """A JSON-friendly dict of an item (what :class:`~fastxmpp.im.store.JSONRosterStore` writes)."""
    return {"jid": str(item.jid), "name": item.name, "subscription": item.subscription,
            "ask": item.ask, "approved": item.approved, "groups": list(item.groups)}


def item_from_dict(data: Dict[str, Any]) -> RosterItem:
    """The inverse of :func:`item_to_dict`; raises ValueError or TypeError on bad data."""
    subscription = data.get("subscription", "none")
    if subscription not in SUBSCRIPTIONS:
        raise ValueError(f"unknown subscription {subscription!r}")
    groups = data.get("groups") or ()
    if not all(isinstance(g, str) and g for g in groups):
        raise ValueError(f"bad groups {groups!r}")
    name, ask = data.get("name"), data.get("ask")
    if name is not None and not isinstance(name, str) or ask not in (None, "subscribe"):
        raise ValueError(f"bad name or ask in {data!r}")
    return RosterItem(jid=JID(data["jid"]), name=name, subscription=subscription, ask=ask,
                      approved=bool(data.get("approved")), groups=tuple(sorted(groups)))


def _item_element(query: Element, jid: JID, name: Optional[str], groups: Iterable[str]) -> Element:
    item = query.subelement(_ITEM, {"jid": str(jid)})
    if name:
        item.set("name", name)
    seen = set()
    for group in groups:
        if not isinstance(group, str) or not group:
            raise ValueError(f"a group name is a non-empty string, not {group!r}")
        if group not in seen:
            seen.add(group)
            item.subelement(_GROUP, text=group)
    return item


class Roster(Mapping[JID, RosterItem]):
    """The account's roster: a read-only mapping of bare :class:`JID` to :class:`RosterItem`
    (``roster["romeo@example.net"]`` takes a string too), kept in sync with the server;
    ``by_jid`` is the dict behind it.

    ``account`` is the account's JID (pushes from anyone else are ignored).  ``store`` keeps
    the roster and its version elsewhere too (a :class:`~fastxmpp.im.store.JSONRosterStore`
    for a file, a :class:`~fastxmpp.im.store.MemoryRosterStore` to hand to another client);
    without one, the roster and version held here are what the next fetch of the same
    object sends (in memory, for the life of the client), at no extra memory.
    """

    def __init__(self, account: JIDLike, *, store: Optional["RosterStore"] = None) -> None:
        self.account = _jid(account).bare
        self.by_jid: Dict[JID, RosterItem] = {}
        self.version: Optional[str] = None
        #: True once a fetch completed in the current session.
        self.loaded = False
        self._versioned_request = False
        self._store: Optional["RosterStore"] = None
        if store is not None:
            self.store = store

    # -- the store --------------------------------------------------------------------------
    @property
    def store(self) -> Optional["RosterStore"]:
        """Where the roster and its version are kept besides this object (None: only here).
        Setting a store uses it from now on: its roster and version replace what is held."""
        return self._store

    @store.setter
    def store(self, store: Optional["RosterStore"]) -> None:
        self._store = store
        if store is None:
            return
        version, items = store.load()
        self.version = version
        self.by_jid = {}
        for item in items:
            self.by_jid[item.jid] = item

    # -- mapping ----------------------------------------------------------------------------
    def __getitem__(self, jid: JIDLike) -> RosterItem:
        try:
            return self.by_jid[_jid(jid)]
        except (InvalidJID, TypeError):
            raise KeyError(jid) from None

    def __iter__(self) -> Iterator[JID]:
        return iter(self.by_jid)

    def __len__(self) -> int:
        return len(self.by_jid)

    def groups(self) -> Dict[str, List[RosterItem]]:
        """Items by group name (an item in several groups is in each)."""
        out: Dict[str, List[RosterItem]] = {}
        for item in self.by_jid.values():
            for group in item.groups:
                out.setdefault(group, []).append(item)
        return out

    # -- requests ---------------------------------------------------------------------------
    def fetch_request(self, features: Optional[Element] = None) -> Element:
        """The roster get (RFC 6121 2.1.3); with the server's stream ``features`` offering
        roster versioning (2.6.1), it carries the stored version (or ``ver=''``)."""
        iq = Element(_IQ, {"type": "get"})
        query = iq.subelement(ROSTER_QUERY)
        self._versioned_request = features is not None and features.find("{%s}ver" % NS_ROSTERVER) is not None
        if self._versioned_request:
            query.set("ver", self.version or "")
        return iq

    def set_request(self, jid: JIDLike, *, name: Optional[str] = KEEP, groups: Iterable[str] = KEEP) -> Element:
        """The roster set adding or updating ``jid`` (2.3, 2.4): ``name`` (None: no name) and
        ``groups`` (an iterable of names); :data:`KEEP` (the default) keeps the value this
        roster holds (the server's as of the last push received)."""
        jid = _jid(jid)
        current = self.by_jid.get(jid)
        if name is KEEP:
            name = current.name if current is not None else None
        if groups is KEEP:
            groups = current.groups if current is not None else ()
        if isinstance(groups, str):
            raise TypeError("groups is an iterable of group names, not a string")
        iq = Element(_IQ, {"type": "set"})
        _item_element(iq.subelement(ROSTER_QUERY), jid, name, groups)
        return iq

    def remove_request(self, jid: JIDLike) -> Element:
        """The roster set removing ``jid`` (2.5; the server also cancels both subscriptions)."""
        iq = Element(_IQ, {"type": "set"})
        query = iq.subelement(ROSTER_QUERY)
        query.subelement(_ITEM, {"jid": str(_jid(jid)), "subscription": "remove"})
        return iq

    # -- what the server sends ----------------------------------------------------------------
    def apply_result(self, result: Element) -> List[Event]:
        """Apply the result of :meth:`fetch_request`; returns :class:`RosterReceived`, preceded
        by an added/changed/removed event per difference from the roster held before (none
        when it held nothing).  An error result raises its
        :class:`~fastxmpp.stanza_errors.StanzaError` and changes nothing."""
        if result.get("type") == "error":
            raise from_element(result)
        self.loaded = True
        query = result.find(ROSTER_QUERY)
        if query is None:
            if not self._versioned_request:
                log.warning("roster result without <query/> to an unversioned request: roster kept")
            return [RosterReceived(version=self.version, items=tuple(self.by_jid.values()), cached=True)]
        items: Dict[JID, RosterItem] = {}
        shared: Dict[Tuple[Optional[str], ...], Tuple[str, ...]] = {}
        tag, parse = _ITEM, parse_item
        for el in query:
            if el.tag != tag:
                continue
            try:
                item = parse(el, False, shared)
            except ValueError as exc:
                log.warning("roster result: skipping a malformed item: %s", exc)
                continue
            if items.setdefault(item.jid, item) is not item:
                log.warning("roster result: duplicate item %s skipped", item.jid)
        old, self.by_jid = self.by_jid, items
        version = query.get("ver")
        self.version = version
        if self._store is not None:
            self._store.replace(version, items.values())
        evs: List[Event] = []
        if old:
            for jid, item in items.items():
                before = old.get(jid)
                if before is None:
                    evs.append(RosterItemAdded(item=item))
                elif before != item:
                    evs.append(RosterItemChanged(old=before, item=item))
            evs.extend(RosterItemRemoved(item=item) for jid, item in old.items() if jid not in items)
        evs.append(RosterReceived(version=version, items=tuple(items.values()), cached=False))
        return evs

    def is_from_account(self, stanza: Element) -> bool:
        """Whether a push comes from the account itself: no ``from``, or its bare JID (2.1.6)."""
        sender = stanza.get("from")
        if sender is None:
            return True
        try:
            return JID(sender) == self.account
        except InvalidJID:
            return False

    def receive_push(self, push: Element) -> Tuple[Element, List[Event]]:
        """Apply a roster push (an IQ set, 2.1.6): returns the reply and the events.

        Raises :class:`~fastxmpp.stanza_errors.ServiceUnavailable` for a push that does not
        come from the account (ignored, 2.1.6) and
        :class:`~fastxmpp.stanza_errors.BadRequest` for a malformed one (not applied)."""
        if not self.is_from_account(push):
            log.warning("ignoring a roster push from %r (not from our account %s)", push.get("from"), self.account)
            raise ServiceUnavailable()
        query = push.find(ROSTER_QUERY)
        els: Sequence[Element] = [el for el in query if el.tag == _ITEM] if query is not None else []
        if len(els) != 1:
            log.warning("ignoring a roster push with %d items (exactly one is allowed)", len(els))
            raise BadRequest("a roster push carries exactly one item")
        try:
            item = parse_item(els[0], push=True)
        except ValueError as exc:
            log.warning("ignoring a malformed roster push: %s", exc)
            raise BadRequest(str(exc)) from None
        assert query is not None
        version = query.get("ver", self.version)
        evs: List[Event] = []
        before = self.by_jid.get(item.jid)
        if item.subscription == "remove":
            if before is not None:
                del self.by_jid[item.jid]
                evs.append(RosterItemRemoved(item=before))
            if self._store is not None:
                self._store.update(version, item.jid, None)
        else:
            self.by_jid[item.jid] = item
            if before is None:
                evs.append(RosterItemAdded(item=item))
            elif before != item:
                evs.append(RosterItemChanged(old=before, item=item))
            if self._store is not None:
                self._store.update(version, item.jid, item)
        self.version = version
        reply = Element(_IQ, {"type": "result", "id": push.get("id", "")})
        sender = push.get("from")
        if sender:
            reply.set("to", sender)
        return reply, evs
