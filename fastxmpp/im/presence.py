"""Presence (RFC 6121 section 4), sans-IO: our own presence, and every contact's resources.

:class:`PresenceTracker` builds the presence stanzas we send (:meth:`~PresenceTracker.available`,
:meth:`~PresenceTracker.unavailable`, directed with ``to=``), remembers the last broadcast
presence the application set so that a fresh session can restore it, and follows each
contact's resources from the presence the server delivers (:meth:`~PresenceTracker.receive`),
with the best resource by priority and the last presence error per contact.

Subscription presences (subscribe, subscribed, unsubscribe, unsubscribed) are left to
:mod:`fastxmpp.im.subscriptions`.  A presence with a bad priority counts as priority 0, an
unknown ``<show/>`` as plain available (each logged); an unknown type, a probe (servers
answer those) or a sender that is not a valid JID is logged and ignored.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from .._accel import USE_EXTENSIONS
from ..element import Element
from ..events import Event, _opts
from ..jid import JID, InvalidJID, JIDLike, _parse_once, _resource_fast
from ..stanza import PRESENCE_SHOWS, XML_LANG
from ..stanza_errors import StanzaError, from_element
from .events import ContactChanged, ContactOffline, ContactOnline, PresenceErrorReceived, positional

__all__ = ["ResourcePresence", "PresenceTracker", "parse_presence", "SHOW_RANK"]

log = logging.getLogger("fastxmpp.im")

_PRESENCE = "{jabber:client}presence"
_SHOW = "{jabber:client}show"
_STATUS = "{jabber:client}status"
_PRIORITY = "{jabber:client}priority"
_SUBSCRIPTION_TYPES = frozenset({"subscribe", "subscribed", "unsubscribe", "unsubscribed"})

#: How available each ``show`` is, to break ties between resources of the same priority.
SHOW_RANK = {"chat": 5, None: 4, "away": 3, "xa": 2, "dnd": 1}
_JID_CACHE = 65536  # senders whose parsed JID is kept (the cache is emptied when full)



@dataclass(**_opts)
class ResourcePresence:
    """The presence of one resource: ``show`` is None for plain available (or away, chat,
    dnd, xa); ``status`` is the status text in the stanza's language (or the only one),
    ``statuses`` every status as (xml:lang or None, text); ``stanza`` is the last presence."""

    jid: JID
    available: bool
    show: Optional[str] = None
    status: Optional[str] = None
    statuses: Tuple[Tuple[Optional[str], str], ...] = ()
    priority: int = 0
    stanza: Any = None


def parse_presence(stanza: Element, jid: JID) -> ResourcePresence:
    """The :class:`ResourcePresence` an available or unavailable presence from ``jid`` says
    (a bad priority or show is logged and read as 0 / plain available)."""
    return _parse(stanza, jid, stanza.get("type") != "unavailable")


def _parse(stanza: Element, jid: JID, available: bool) -> ResourcePresence:
    default_lang = stanza.get(XML_LANG)
    show = priority_text = status = None
    statuses = []
    for child in stanza:  # one pass: presence storms go through here
        tag = child.tag
        if tag == _STATUS:
            text = child.text or ""
            lang = child.get(XML_LANG, default_lang)
            if lang == default_lang and status is None:
                status = text
            statuses.append((lang, text))
        elif tag == _SHOW:
            if show is None:
                show = (child.text or "").strip()
        elif tag == _PRIORITY:
            if priority_text is None:
                priority_text = child.text or ""
    if show is not None:
        known = _SHOWS.get(show)
        if known is None:
            log.warning("presence from %s: unknown show %r taken as available", jid, show)
        show = known
    priority = 0
    if priority_text is not None:
        try:
            priority = int(priority_text)
        except ValueError:
            priority = 128  # out of range: handled below
        if not -128 <= priority <= 127:
            log.warning("presence from %s: bad priority %r taken as 0", jid, priority_text)
            priority = 0
    if status is None and statuses:
        status = statuses[0][1]
    return _new_presence(jid, available, show if available else None, status, tuple(statuses), priority, stanza)


_new_presence = positional(ResourcePresence)
_online = positional(ContactOnline)
_changed = positional(ContactChanged)
_SHOWS = {show: show for show in PRESENCE_SHOWS}  # each accepted <show/> to one shared string


def _rank(presence: ResourcePresence) -> Tuple[int, int]:
    return presence.priority, SHOW_RANK.get(presence.show, 0)


def _best(resources: Mapping[JID, ResourcePresence]) -> ResourcePresence:
    """The resource to talk to: highest priority, then most available show (the first
    of equals, as ``max(..., key=_rank)``); a loop, as presence storms come here each time."""
    best = None
    top = rank = 0
    for presence in resources.values():
        priority = presence.priority
        if best is None or priority > top:
            best, top, rank = presence, priority, SHOW_RANK.get(presence.show, 0)
        elif priority == top:
            r = SHOW_RANK.get(presence.show, 0)
            if r > rank:
                best, rank = presence, r
    return best  # type: ignore[return-value]


def presence_stanza(*, type: Optional[str] = None, to: Any = None, show: Optional[str] = None,
                    status: Union[None, str, Mapping[Optional[str], str]] = None,
                    priority: Optional[int] = None, lang: Optional[str] = None) -> Element:
    """A presence to send: ``status`` is one text, or a mapping of xml:lang (None: the
    stanza's language) to text for several languages (RFC 6121 4.7.2.2)."""
    from ..stanza import presence

    el = presence(to=to, type=type, show=show, priority=priority)
    if lang is not None:
        el.set(XML_LANG, lang)
    if isinstance(status, str):
        status = {None: status}
    for status_lang, text in (status or {}).items():
        child = el.subelement(_STATUS, text=text)
        if status_lang is not None and status_lang != lang:
            child.set(XML_LANG, status_lang)
    return el


def _receive_py(tracker: PresenceTracker, stanza: Element) -> List[Event]:
    """Apply a received presence to ``tracker``; returns the events (none for ignored
    stanzas).  The pure-Python twin of :mod:`fastxmpp._presence_c`'s ``receive``."""
    kind = stanza.get("type")
    if kind in _SUBSCRIPTION_TYPES:
        return []
    sender = stanza.get("from")
    if sender is None:
        log.debug("ignoring a presence without a sender")
        return []
    jids = tracker._jids
    known = jids.get(sender)
    if known is None:
        try:
            jid = _parse_once(sender)
        except InvalidJID as exc:
            log.warning("ignoring a presence from an invalid JID %r: %s", sender, exc)
            return []
        known = jids[sender] = _cache_entry(jids, jid)
    jid, bare = known
    if kind is None:
        return _update(tracker, jid, bare, _parse(stanza, jid, True))
    if kind == "unavailable":
        return _update(tracker, jid, bare, _parse(stanza, jid, False))
    if kind == "error":
        error = from_element(stanza)
        tracker.errors[bare] = error
        return [PresenceErrorReceived(jid=bare, error=error)]
    if kind == "probe":
        log.debug("ignoring a presence probe from %s (the server answers probes)", jid)
    else:
        log.warning("ignoring a presence of unknown type %r from %s", kind, jid)
    return []


def _cache_entry(jids: Dict[str, Tuple[JID, JID]], jid: JID) -> Tuple[JID, JID]:
    """(``jid``, its bare JID) for the sender cache, the bare JID one object for all the
    resources of a contact (kept under its own string), so that the dict operations keyed
    by it find it by identity, without calling ``JID.__eq__``."""
    if len(jids) >= _JID_CACHE:
        jids.clear()
    bare = jid.bare
    text = str(bare)
    shared = jids.get(text)
    if shared is None:
        jids[text] = (bare, bare)
    else:
        bare = shared[1]
    return jid, bare


def _update(tracker: PresenceTracker, jid: JID, bare: JID, presence: ResourcePresence) -> List[Event]:
    contacts = tracker.contacts
    resources = contacts.get(bare)
    if presence.available:
        if tracker.errors:
            tracker.errors.pop(bare, None)
        if resources is None:
            contacts[bare] = {jid: presence}
            return [_online(bare, presence)]
        resources[jid] = presence
        return [_changed(bare, presence, _best(resources))]
    if resources is None:
        return []
    if jid.is_bare:  # unavailable from the bare JID: every resource is gone
        resources.clear()
    else:
        if resources.pop(jid, None) is None:
            return []
    if resources:
        return [_changed(bare, presence, _best(resources))]
    del contacts[bare]
    return [ContactOffline(jid=bare, presence=presence)]


_receive_c: Optional[Callable[[PresenceTracker, Element], List[Event]]] = None
if USE_EXTENSIONS:
    from .. import _presence_c

    _presence_c.bind(_receive_py, ResourcePresence, ContactOnline, ContactChanged, ContactOffline, JID,
                     _parse_once, InvalidJID, _resource_fast, _SHOWS, SHOW_RANK, _JID_CACHE)
    _receive_c = _presence_c.receive


class PresenceTracker:
    """Our presence and every contact's.  ``contacts`` maps a bare JID to its available
    resources (full JID -> :class:`ResourcePresence`); ``errors`` maps a bare JID to the
    last presence error it sent (cleared by its next available presence)."""

    def __init__(self) -> None:
        self.contacts: Dict[JID, Dict[JID, ResourcePresence]] = {}
        self.errors: Dict[JID, StanzaError] = {}
        #: The last broadcast presence set through :meth:`available` (None: none, or
        #: :meth:`unavailable` since); a fresh session sends it again.
        self.own: Optional[Element] = None
        #: Whether the initial presence went out in the current session.
        self.sent_initial = False
        self._jids: Dict[str, Tuple[JID, JID]] = {}  # 'from' -> (JID, bare JID), parsed once
        #: Callables each giving a child for every available presence we send (XEP-0115 caps).
        self.extensions: List[Callable[[], Element]] = []
        # what available() was given for ``own``, to build it again with fresh extensions
        self._own_args: Optional[Tuple[Element, Dict[str, Any]]] = None

    # -- what we send -------------------------------------------------------------------------
    def available(self, *, to: Optional[JIDLike] = None, show: Optional[str] = None,
                  status: Union[None, str, Mapping[Optional[str], str]] = None,
                  priority: Optional[int] = None, lang: Optional[str] = None) -> Element:
        """An available presence: broadcast (and remembered) without ``to``, directed
        (RFC 6121 4.6) with it."""
        el = presence_stanza(to=to, show=show, status=status, priority=priority, lang=lang)
        for extension in self.extensions:
            el.append(extension())
        if to is None:
            self.own = el
            self._own_args = (el, {"show": show, "status": status, "priority": priority, "lang": lang})
            self.sent_initial = True
        return el

    def unavailable(self, *, to: Optional[JIDLike] = None,
                    status: Union[None, str, Mapping[Optional[str], str]] = None,
                    lang: Optional[str] = None) -> Element:
        """An unavailable presence: broadcast (ends the presence session, 4.5) or directed."""
        el = presence_stanza(type="unavailable", to=to, status=status, lang=lang)
        if to is None:
            self.own = None
            self._own_args = None
        return el

    def session_started(self, resumed: bool) -> Tuple[Optional[Element], List[Event]]:
        """A session started: after a fresh one (``resumed`` False) every contact is
        offline until the server says otherwise, and our last broadcast presence (if the
        application set one) is to be sent again, built again so that the extensions'
        children (XEP-0115 caps) are current.  Returns (that presence, the events)."""
        if resumed:
            return None, []
        self.sent_initial = False
        evs: List[Event] = [ContactOffline(jid=jid, presence=None) for jid in self.contacts]
        self.contacts = {}
        again = self.own
        if again is not None:
            if self._own_args is not None and self._own_args[0] is again:
                # built again: the extensions' children may have changed since (XEP-0115
                # caps carry the ver of our features now)
                again = self.available(**self._own_args[1])
            self.sent_initial = True
        return again, evs

    # -- what we receive -----------------------------------------------------------------------
    if TYPE_CHECKING:
        def receive(self, stanza: Element) -> List[Event]:
            """Apply a received presence; returns the events (none for ignored stanzas)."""
    else:  # the compiled twin (fastxmpp._presence_c) when the extensions are in use
        receive = _receive_py if _receive_c is None else _receive_c

    # -- queries ------------------------------------------------------------------------------
    def best(self, jid: JIDLike) -> Optional[ResourcePresence]:
        """The resource of ``jid`` to talk to: highest priority, then most available show."""
        resources = self.contacts.get(_bare(jid))
        return _best(resources) if resources else None

    def resources(self, jid: JIDLike) -> List[ResourcePresence]:
        """The available resources of ``jid``, best first."""
        resources = self.contacts.get(_bare(jid))
        return sorted(resources.values(), key=_rank, reverse=True) if resources else []

    def is_online(self, jid: JIDLike) -> bool:
        """Whether ``jid`` (its bare JID) has at least one available resource."""
        return bool(self.contacts.get(_bare(jid)))

    def online(self) -> List[JID]:
        """The bare JIDs with at least one available resource."""
        return list(self.contacts)

    def error(self, jid: JIDLike) -> Optional[StanzaError]:
        """The last presence error from ``jid`` (a StanzaError), or None."""
        return self.errors.get(_bare(jid))


def _bare(jid: JIDLike) -> JID:
    return (jid if isinstance(jid, JID) else JID(jid)).bare
