"""XEP-0045 multi-user chat, sans-IO: join and leave rooms, groupchat and private messages,
occupants with their roles and affiliations, the subject, nickname changes, moderation
(muc#admin), room creation and configuration (muc#owner, with :mod:`fastxmpp.xep.forms`).

:class:`MUCCore` builds what to send (:meth:`~MUCCore.join`, :meth:`~MUCCore.leave`, ...),
reads the presences and messages the rooms send (:meth:`~MUCCore.receive_presence`,
:meth:`~MUCCore.receive_message`) into events (:class:`RoomJoined`, :class:`OccupantJoined`,
:class:`OccupantChanged`, :class:`OccupantLeft`, :class:`RoomMessage`,
:class:`SubjectChanged`, :class:`NickChanged`, :class:`RoomLeft`, :class:`JoinFailed`) and
keeps each room's state in a :class:`RoomState`: occupants by nick, our own occupant, the
subject, the joined flag.  :class:`MUCBase` ties it to a client (``client.muc``; the
drivers' :mod:`fastxmpp.aio.muc` and :mod:`fastxmpp.sync.muc` add the methods that send
and wait) and rejoins every room after a session that could not be resumed, asking for the
history since the last message seen.

Bad input from the network never raises out of here: a presence without its ``<item/>``,
with an unknown role or affiliation, a message from a nick that is not in the room, a
status code that is not a number are logged and dropped.  A join the room refuses becomes
a :class:`JoinError` (:class:`NicknameInUse`, :class:`PasswordRequired`, :class:`Banned`,
:class:`MembersOnly`, :class:`RoomFull`, ...), raised by ``join()``.  Bad input from the
user raises :class:`MUCValueError` (a ``ValueError``) or :class:`~fastxmpp.jid.InvalidJID`.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import (TYPE_CHECKING, Any, Callable, Deque, Dict, FrozenSet, Generic, Iterator, List, Mapping,
                    Optional, Set, Tuple, Type, TypeVar, Union, cast, overload)

from .._accel import USE_EXTENSIONS
from ..element import Element
from ..errors import XMPPError
from ..events import Event, _opts
from ..im._types import Listener, Text
from ..im.messages import Message, build_message, parse_message
from ..jid import JID, InvalidJID, JIDLike
from ..stanza_errors import StanzaError, from_element
from . import forms
from ._iq import NS_CLIENT, get_request, result_payload

__all__ = [
    "NS_MUC", "NS_MUC_USER", "NS_MUC_ADMIN", "NS_MUC_OWNER", "NS_ROOMCONFIG", "ROLES", "AFFILIATIONS",
    "Occupant", "History", "RoomState", "MUCCore", "MUCBase", "RoomBase", "Waiter",
    "RoomJoined", "JoinFailed", "OccupantJoined", "OccupantChanged", "OccupantLeft", "RoomMessage",
    "SubjectChanged", "NickChanged", "RoomLeft", "RoomEvent",
    "MUCValueError", "NotInRoom", "JoinError", "NicknameInUse", "PasswordRequired", "Banned",
    "MembersOnly", "RoomFull", "RoomNotFound", "CreationNotAllowed", "NicknameLocked",
    "status_codes", "is_muc_private",
]

log = logging.getLogger("fastxmpp.xep.muc")

NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_MUC_ADMIN = NS_MUC + "#admin"
NS_MUC_OWNER = NS_MUC + "#owner"
NS_ROOMCONFIG = NS_MUC + "#roomconfig"
ROLES: FrozenSet[str] = frozenset(("moderator", "participant", "visitor", "none"))
AFFILIATIONS: FrozenSet[str] = frozenset(("owner", "admin", "member", "outcast", "none"))

_PRESENCE = "{%s}presence" % NS_CLIENT
_X_MUC = "{%s}x" % NS_MUC
_X_USER = "{%s}x" % NS_MUC_USER
_ITEM = "{%s}item" % NS_MUC_USER
_STATUS = "{%s}status" % NS_MUC_USER
_DESTROY_USER = "{%s}destroy" % NS_MUC_USER
_ADMIN_QUERY = "{%s}query" % NS_MUC_ADMIN
_ADMIN_ITEM = "{%s}item" % NS_MUC_ADMIN
_OWNER_QUERY = "{%s}query" % NS_MUC_OWNER
_BODY = "{%s}body" % NS_CLIENT
_SUBJECT = "{%s}subject" % NS_CLIENT
_SHOW = "{%s}show" % NS_CLIENT
_STATUS_TEXT = "{%s}status" % NS_CLIENT
_DELAY = "{urn:xmpp:delay}delay"

#: Why an occupant (or we) left, by the status code the room gave (XEP-0045 section 15.6).
_REMOVALS = {301: "banned", 307: "kicked", 321: "affiliation", 322: "members-only", 332: "shutdown"}


# -- errors -----------------------------------------------------------------------------------
class MUCValueError(XMPPError, ValueError):
    """A value the caller gave that multi-user chat does not take: an unknown role or
    affiliation, an empty nickname, a negative history limit."""


class NotInRoom(XMPPError, LookupError):
    """The room was not joined (or was left): nothing can be sent to it."""


class JoinError(StanzaError):
    """The room refused our join (or nickname change); ``room`` is its JID, ``nick`` the
    nickname asked, ``condition`` the stanza error's (each subclass names one; another
    condition is raised as its plain :class:`~fastxmpp.stanza_errors.StanzaError`)."""

    room: Optional[JID] = None
    nick: Optional[str] = None


if TYPE_CHECKING:
    # stanza_errors makes its condition classes at run time; to the type checker they are
    # StanzaError, which every JoinError already is
    _Conflict = StanzaError
    _NotAuthorized = StanzaError
    _Forbidden = StanzaError
    _RegistrationRequired = StanzaError
    _ServiceUnavailable = StanzaError
    _ItemNotFound = StanzaError
    _NotAllowed = StanzaError
    _NotAcceptable = StanzaError
else:
    from ..stanza_errors import Conflict as _Conflict
    from ..stanza_errors import Forbidden as _Forbidden
    from ..stanza_errors import ItemNotFound as _ItemNotFound
    from ..stanza_errors import NotAcceptable as _NotAcceptable
    from ..stanza_errors import NotAllowed as _NotAllowed
    from ..stanza_errors import NotAuthorized as _NotAuthorized
    from ..stanza_errors import RegistrationRequired as _RegistrationRequired
    from ..stanza_errors import ServiceUnavailable as _ServiceUnavailable

# Each refusal is its JoinError and the stanza_errors class of its condition:
# ``except NicknameInUse`` and ``except stanza_errors.Conflict`` both catch a nickname clash.


class NicknameInUse(JoinError, _Conflict):
    """``<conflict/>``: another occupant has this nickname (XEP-0045 7.2.9); also a
    :class:`~fastxmpp.stanza_errors.Conflict`."""

    condition = "conflict"


class PasswordRequired(JoinError, _NotAuthorized):
    """``<not-authorized/>``: the room needs a password, or the one given is wrong (7.2.6);
    also a :class:`~fastxmpp.stanza_errors.NotAuthorized`."""

    condition = "not-authorized"


class Banned(JoinError, _Forbidden):
    """``<forbidden/>``: we are banned from the room (7.2.7); also a
    :class:`~fastxmpp.stanza_errors.Forbidden`."""

    condition = "forbidden"


class MembersOnly(JoinError, _RegistrationRequired):
    """``<registration-required/>``: a members-only room and we are not a member (7.2.8);
    also a :class:`~fastxmpp.stanza_errors.RegistrationRequired`."""

    condition = "registration-required"


class RoomFull(JoinError, _ServiceUnavailable):
    """``<service-unavailable/>``: the room has its maximum number of occupants (7.2.10);
    also a :class:`~fastxmpp.stanza_errors.ServiceUnavailable`."""

    condition = "service-unavailable"


class RoomNotFound(JoinError, _ItemNotFound):
    """``<item-not-found/>``: the room is locked (being created by someone else) or does
    not exist and may not be created (7.2.11); also a
    :class:`~fastxmpp.stanza_errors.ItemNotFound`."""

    condition = "item-not-found"


class CreationNotAllowed(JoinError, _NotAllowed):
    """``<not-allowed/>``: the service does not let us create this room (7.2.12); also a
    :class:`~fastxmpp.stanza_errors.NotAllowed`."""

    condition = "not-allowed"


class NicknameLocked(JoinError, _NotAcceptable):
    """``<not-acceptable/>``: the room wants our reserved nickname (7.2.13); also a
    :class:`~fastxmpp.stanza_errors.NotAcceptable`."""

    condition = "not-acceptable"


_JOIN_ERRORS: Dict[str, Type[JoinError]] = {
    cls.condition: cls for cls in (NicknameInUse, PasswordRequired, Banned, MembersOnly, RoomFull,
                                   RoomNotFound, CreationNotAllowed, NicknameLocked)}


def _join_error(stanza: Element, room: JID, nick: Optional[str]) -> StanzaError:
    error = from_element(stanza)
    cls: Type[StanzaError] = _JOIN_ERRORS.get(error.condition) or type(error)
    out = cls(error.text, type=error.type, stanza=stanza, by=error.by)
    if isinstance(out, JoinError):
        out.room, out.nick = room, nick
    return out


#: The room class of a client's ``client.muc`` (``fastxmpp.aio.muc.Room``,
#: ``fastxmpp.sync.muc.Room``): what :meth:`MUCBase.room` and :attr:`MUCBase.rooms` hold,
#: and the type of the room events' ``room`` (``RoomMessage[fastxmpp.aio.muc.Room]``; the
#: events a bare :class:`MUCCore` makes carry its :class:`RoomState`).  Unparameterized
#: (``RoomEvent``, ``RoomMessage``), the type checker takes it as ``Any``.
if TYPE_CHECKING:
    from typing_extensions import TypeVar as _TypeVar

    RoomT = _TypeVar("RoomT", bound="RoomState", default=Any)
else:
    RoomT = TypeVar("RoomT", bound="RoomState")


# -- values and events ------------------------------------------------------------------------
@dataclass(**_opts)
class Occupant:
    """One occupant of a room: ``nick``, ``role`` (moderator, participant, visitor),
    ``affiliation`` (owner, admin, member, none), ``jid`` (the real JID when the room shows
    it to us, else None), ``show`` and ``status`` from its presence."""

    room: JID
    nick: str
    role: str
    affiliation: str
    jid: Optional[JID] = None
    show: Optional[str] = None
    status: Optional[str] = None

    @property
    def occupant_jid(self) -> JID:
        """room@service/nick."""
        return self.room.with_resource(self.nick)


@dataclass(**_opts)
class History:
    """How much of the room's history to ask for when joining (XEP-0045 7.2.15): at most
    ``maxstanzas`` messages, ``maxchars`` characters, those of the last ``seconds``, or those
    ``since`` a time (a ``datetime`` or an XEP-0082 string); None everywhere: the room's
    default.  ``History(maxstanzas=0)`` asks for none."""

    maxstanzas: Optional[int] = None
    maxchars: Optional[int] = None
    seconds: Optional[int] = None
    since: Union[None, str, datetime] = None


@dataclass(**_opts)
class RoomJoined(Event, Generic[RoomT]):
    """We are in ``room`` (its :class:`RoomState`, or the client's room object): ``occupant``
    is our own; ``created`` when the join created the room (code 201); ``rejoined`` when
    this is the automatic rejoin after a new session."""

    room: RoomT
    occupant: Occupant
    created: bool = False
    rejoined: bool = False


@dataclass(**_opts)
class JoinFailed(Event, Generic[RoomT]):
    """The room refused our join: ``error`` is the :class:`JoinError` (or other stanza error)."""

    room: RoomT
    error: StanzaError


@dataclass(**_opts)
class OccupantJoined(Event, Generic[RoomT]):
    """``occupant`` entered the room after us; ``renamed_from`` is its previous nickname
    when it only changed nickname (code 303), else None.  (Those already there when we
    join are in the room's ``occupants`` when :class:`RoomJoined` comes.)"""

    room: RoomT
    occupant: Occupant
    renamed_from: Optional[str] = None


@dataclass(**_opts)
class OccupantChanged(Event, Generic[RoomT]):
    """``occupant`` changed: its role, affiliation, show or status (``old`` is as it was)."""

    room: RoomT
    old: Occupant
    occupant: Occupant


@dataclass(**_opts)
class OccupantLeft(Event, Generic[RoomT]):
    """``occupant`` left.  ``reason``: None (it left), ``"nick-change"`` (``new_nick``
    follows), ``"kicked"``, ``"banned"``, ``"affiliation"``, ``"members-only"``,
    ``"shutdown"``, or ``"gone"`` (not there any more after our rejoin); ``actor`` the
    nick of the moderator when the room says, ``text`` the reason given."""

    room: RoomT
    occupant: Occupant
    reason: Optional[str] = None
    new_nick: Optional[str] = None
    actor: Optional[str] = None
    text: Optional[str] = None


class RoomMessage(Event, Generic[RoomT]):
    """A message in the room: from ``nick`` (None: from the room itself), ``private`` for a
    private message (type chat, to us only), ``delayed`` the XEP-0203 stamp of a history
    message (else None), ``body`` its body (in the message's language, else the first;
    None without one), ``stanza`` the ``<message/>`` received and ``message`` its parsed
    :class:`~fastxmpp.im.messages.Message` (read from the stanza on first access).

    Read-only, like the other events; keyword-only: pass ``stanza`` (or a parsed ``message``)."""

    # one is made per delivery: private slots behind read-only properties are filled by
    # plain stores, a third of what a frozen dataclass's object.__setattr__ calls cost
    __slots__ = ("_room", "_nick", "_body", "_private", "_delayed", "_stanza", "_message")

    _room: RoomT
    _nick: Optional[str]
    _body: Optional[str]
    _private: bool
    _delayed: Optional[str]
    _stanza: Element
    _message: Optional[Message]

    def __init__(self, *, room: RoomT, nick: Optional[str], body: Optional[str], private: bool,
                 delayed: Optional[str], stanza: Optional[Element] = None,
                 message: Optional[Message] = None) -> None:
        if stanza is None:
            if message is None:
                raise TypeError("RoomMessage() needs its stanza or its parsed message")
            stanza = message.stanza
        self._room, self._nick, self._body, self._private = room, nick, body, private
        self._delayed, self._stanza, self._message = delayed, stanza, message

    @property
    def room(self) -> RoomT:
        """The room (its :class:`RoomState`, or the client's room object)."""
        return self._room

    @property
    def nick(self) -> Optional[str]:
        """The sender's nickname (None: the room itself)."""
        return self._nick

    @property
    def body(self) -> Optional[str]:
        """The body (in the message's language, else the first), or None."""
        return self._body

    @property
    def private(self) -> bool:
        """Whether it is a private message (type chat, to us only)."""
        return self._private

    @property
    def delayed(self) -> Optional[str]:
        """The XEP-0203 stamp of a history message, else None."""
        return self._delayed

    @property
    def stanza(self) -> Element:
        """The ``<message/>`` received."""
        return self._stanza

    @property
    def message(self) -> Message:
        """The parsed :class:`~fastxmpp.im.messages.Message` (made on first access)."""
        msg = self._message
        if msg is None:
            msg = self._message = parse_message(self._stanza)
        return msg

    @property
    def from_me(self) -> bool:
        """Whether we sent it (our own groupchat message, echoed by the room)."""
        return self._nick is not None and self._nick == getattr(self._room, "nick", None)

    def _key(self) -> Tuple[Any, ...]:
        return (self._room, self._nick, self._body, self._private, self._delayed, self._stanza)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RoomMessage) or type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"RoomMessage(room={self._room!r}, nick={self._nick!r}, body={self._body!r}, "
                f"private={self._private!r}, delayed={self._delayed!r})")


_new_event = object.__new__


@dataclass(**_opts)
class SubjectChanged(Event, Generic[RoomT]):
    """The room's subject is ``subject`` (empty: none), set by ``nick`` (None: unknown);
    ``delayed`` when it is the subject sent on join with a stamp."""

    room: RoomT
    subject: str
    nick: Optional[str]
    delayed: Optional[str] = None


@dataclass(**_opts)
class NickChanged(Event, Generic[RoomT]):
    """Our nickname in ``room`` is now ``nick`` (was ``old``); ``by_service`` when the room
    changed it (code 210) rather than at our request."""

    room: RoomT
    old: str
    nick: str
    by_service: bool = False


@dataclass(**_opts)
class RoomLeft(Event, Generic[RoomT]):
    """We are out of ``room``.  ``reason``: None (we left), ``"kicked"``, ``"banned"``,
    ``"affiliation"``, ``"members-only"``, ``"shutdown"``, ``"destroyed"`` (``text`` the
    reason, ``alternate`` the room to go to); ``actor`` the moderator's nick."""

    room: RoomT
    reason: Optional[str] = None
    actor: Optional[str] = None
    text: Optional[str] = None
    alternate: Optional[str] = None


#: The events ``client.muc.on_event`` listeners get, one of the room events, each with its
#: ``room`` (annotate a listener's parameter with it; ``isinstance`` tells them apart):
#: ``RoomEvent[fastxmpp.aio.muc.Room]`` types ``event.room`` as the client's room class.
RoomEvent = Union[RoomJoined[RoomT], JoinFailed[RoomT], OccupantJoined[RoomT], OccupantChanged[RoomT],
                  OccupantLeft[RoomT], RoomMessage[RoomT], SubjectChanged[RoomT], NickChanged[RoomT],
                  RoomLeft[RoomT]]


# -- parsing helpers --------------------------------------------------------------------------
def status_codes(x: Optional[Element]) -> FrozenSet[int]:
    """The status codes in a ``<x xmlns='...muc#user'/>`` (invalid ones logged and dropped)."""
    if x is None:
        return frozenset()
    codes = set()
    for el in x.findall(_STATUS):
        value = el.get("code", "")
        if len(value) == 3 and value.isdigit() and value[0] != "0":
            codes.add(int(value))
        else:
            log.warning("dropping an invalid MUC status code %r", value)
    return frozenset(codes)


def is_muc_private(stanza: Element) -> bool:
    """Whether a message carries the ``<x xmlns='http://jabber.org/protocol/muc#user'/>``
    marker of a MUC private message."""
    return stanza.find(_X_USER) is not None


#: How many groupchat messages a room remembers, to drop the history a rejoin repeats.
_RECENT = 100

# the compiled twin of MUCCore.receive_message (fastxmpp/_muc_c.pyx), when the extensions are in use
_receive_message_c: Optional[Callable[[Any, Element], List[Event]]] = None
if USE_EXTENSIONS:
    from .. import _muc_c

    _receive_message_c = _muc_c.receive_message
_STANZA_ID = "{urn:xmpp:sid:0}stanza-id"


#: How many senders' routes (room, nick) a core remembers before starting afresh.
_SENDERS = 4096
_ELSEWHERE: Tuple[Optional[RoomState], Optional[str]] = (None, None)


def _xep82(value: Union[str, datetime]) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_nick(nick: str) -> str:
    if not isinstance(nick, str) or not nick.strip():
        raise MUCValueError(f"a nickname is a non-empty string, not {nick!r}")
    return nick


def _room_jid(room: JIDLike) -> JID:
    jid = room if isinstance(room, JID) else JID(room)
    if jid.localpart is None or jid.resource is not None:
        raise MUCValueError(f"a room JID is room@service, not {str(jid)!r}")
    return jid


class RoomState:
    """One room as we know it: ``jid`` (room@service), ``nick`` (ours), ``occupants``
    (nick -> :class:`Occupant`), ``me`` (our occupant), ``subject``, ``joined``.  The
    clients' room objects subclass it with the methods that send."""

    def __init__(self, jid: JID, nick: str, *, password: Optional[str] = None,
                 history: Optional[History] = None, config: Optional[Mapping[str, Any]] = None,
                 muc: Any = None) -> None:
        self.jid = jid
        self._jid_str = str(jid)  # what a room's stanza-id 'by' says, compared per message
        self.nick = nick
        self.password = password
        self.history = history
        #: The configuration to submit when our join creates the room (None: instant room).
        self.config = config
        self.muc = muc
        self.occupants: Dict[str, Occupant] = {}
        self.me: Optional[Occupant] = None
        self.subject: Optional[str] = None
        self.subject_by: Optional[str] = None
        self.joined = False
        #: Whether our join created the room (status code 201).
        self.created = False
        # the last message seen: its XEP-0203 stamp, or the clock's seconds when it came
        # (formatted only when read: see last_seen)
        self._last_seen: Union[None, str, float] = None
        self._joining = False
        self._leaving = False
        self._rejoin = False
        self._pending_nick: Optional[str] = None
        self._renames: Dict[str, str] = {}  # new nick -> old nick, between 303 and the new presence
        self._stale: Dict[str, Occupant] = {}  # occupants before a rejoin, not yet seen again
        self._after_shutdown = False
        # keys of the last groupchat messages seen: a set to look up, a queue oldest first
        # to forget (a dict used both ways costs 4 times as much per message)
        self._recent: Set[str] = set()
        self._recent_order: Deque[str] = deque()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.jid} as {self.nick!r}{' joined' if self.joined else ''}>"

    def __contains__(self, nick: object) -> bool:
        return nick in self.occupants

    def __iter__(self) -> Iterator[Occupant]:
        return iter(list(self.occupants.values()))

    def __len__(self) -> int:
        return len(self.occupants)

    @property
    def last_seen(self) -> Optional[str]:
        """XEP-0082 time of the last message seen (the rejoin asks for the history since),
        or None."""
        seen = self._last_seen
        if seen is None or isinstance(seen, str):
            return seen
        return _xep82(datetime.fromtimestamp(seen, timezone.utc))

    @last_seen.setter
    def last_seen(self, value: Union[None, str, datetime]) -> None:
        self._last_seen = None if value is None else _xep82(value)

    def occupant(self, nick: str) -> Optional[Occupant]:
        """The occupant called ``nick``, or None."""
        return self.occupants.get(nick)

    def _reset(self) -> None:
        self.joined = False
        self._leaving = False
        self._pending_nick = None
        self._renames.clear()


class MUCCore:
    """The rooms of one account, sans-IO: builds the stanzas to send and reads the ones
    received into events.  ``room_class`` makes the room objects (a :class:`RoomState`
    subclass); ``clock`` (a function returning seconds since the epoch) stamps live
    messages for the rejoin's history (None: only the stamps of history messages)."""

    def __init__(self, *, room_class: Callable[..., RoomState] = RoomState,
                 clock: Optional[Callable[[], float]] = None, muc: Any = None) -> None:
        self.rooms: Dict[JID, RoomState] = {}
        self.room_class = room_class
        self.clock = clock
        self.muc = muc
        # sender ('from' as received) -> (its room, its nick), or _ELSEWHERE: each sender's
        # JID is parsed once, not per stanza; emptied whenever a room object is made
        self._senders: Dict[str, Tuple[Optional[RoomState], Optional[str]]] = {}

    def room(self, room: JIDLike) -> Optional[RoomState]:
        """The room ``room`` (joined, joining, or left and kept), or None."""
        try:
            return self.rooms.get(_room_jid(room))
        except (InvalidJID, MUCValueError):
            return None

    def _joined(self, room: JIDLike) -> RoomState:
        state = self.room(room)
        if state is None or not state.joined:
            raise NotInRoom(f"not in room {room}")
        return state

    # -- building -------------------------------------------------------------------------------
    def join(self, room: JIDLike, nick: str, *, password: Optional[str] = None,
             history: Optional[History] = None, config: Optional[Mapping[str, Any]] = None,
             show: Optional[str] = None, status: Optional[str] = None) -> Tuple[RoomState, Element]:
        """Start joining ``room`` as ``nick``: returns the room and the presence to send."""
        jid = _room_jid(room)
        _check_nick(nick)
        if history is not None:
            for name in ("maxstanzas", "maxchars", "seconds"):
                value = getattr(history, name)
                if value is not None and (not isinstance(value, int) or value < 0):
                    raise MUCValueError(f"history {name} is a count >= 0, not {value!r}")
        state = self.rooms.get(jid)
        if state is None or not state.joined:
            state = self.room_class(jid, nick, password=password, history=history, config=config, muc=self.muc)
            self.rooms[jid] = state
            self._senders.clear()
        state.nick, state.password, state.history, state.config = nick, password, history, config
        state._joining = True
        return state, self._join_presence(state, history, show, status)

    def _join_presence(self, state: RoomState, history: Optional[History],
                       show: Optional[str] = None, status: Optional[str] = None) -> Element:
        presence = Element(_PRESENCE, {"to": str(state.jid.with_resource(state.nick))})
        if show is not None:
            presence.subelement(_SHOW, text=show)
        if status is not None:
            presence.subelement(_STATUS_TEXT, text=status)
        x = presence.subelement(_X_MUC)
        if state.password is not None:
            x.subelement("{%s}password" % NS_MUC, text=state.password)
        if history is not None:
            attrs = {k: str(getattr(history, k)) for k in ("maxstanzas", "maxchars", "seconds")
                     if getattr(history, k) is not None}
            if history.since is not None:
                attrs["since"] = _xep82(history.since)
            x.subelement("{%s}history" % NS_MUC, attrs)
        return presence

    def leave(self, room: JIDLike, status: Optional[str] = None) -> Element:
        """The presence that leaves ``room``."""
        state = self._joined(room)
        state._leaving = True
        presence = Element(_PRESENCE, {"to": str(state.jid.with_resource(state.nick)), "type": "unavailable"})
        if status is not None:
            presence.subelement(_STATUS_TEXT, text=status)
        return presence

    def change_nick(self, room: JIDLike, nick: str) -> Element:
        """The presence asking for a new nickname in ``room``."""
        state = self._joined(room)
        state._pending_nick = _check_nick(nick)
        return Element(_PRESENCE, {"to": str(state.jid.with_resource(nick))})

    def groupchat(self, room: JIDLike, body: Text = None, **kw: Any) -> Element:
        """A groupchat message to ``room`` (keywords of :func:`~fastxmpp.im.messages.build_message`)."""
        return build_message(to=self._joined(room).jid, body=body, type="groupchat", **kw)

    def private(self, room: JIDLike, nick: str, body: Text = None, **kw: Any) -> Element:
        """A private message to ``nick`` in ``room`` (type chat, with the muc#user marker)."""
        state = self._joined(room)
        stanza = build_message(to=state.jid.with_resource(_check_nick(nick)), body=body, type="chat", **kw)
        stanza.subelement(_X_USER)
        return stanza

    def subject(self, room: JIDLike, subject: str) -> Element:
        """The message that sets the room's subject (empty: clears it)."""
        stanza = build_message(to=self._joined(room).jid, type="groupchat")
        stanza.subelement(_SUBJECT, text=subject)
        return stanza

    def admin_request(self, room: JIDLike, items: List[Dict[str, str]],
                      reason: Optional[str] = None) -> Element:
        """A muc#admin IQ set to ``room`` with one ``<item/>`` per dict of attributes."""
        iq = Element("{%s}iq" % NS_CLIENT, {"type": "set", "to": str(_room_jid(room))})
        query = iq.subelement(_ADMIN_QUERY)
        for attrs in items:
            item = query.subelement(_ADMIN_ITEM, attrs)
            if reason is not None:
                item.subelement("{%s}reason" % NS_MUC_ADMIN, text=reason)
        return iq

    def set_role(self, room: JIDLike, nick: str, role: str, reason: Optional[str] = None) -> Element:
        """Give ``nick`` the ``role`` (``"none"`` kicks it)."""
        if role not in ROLES:
            raise MUCValueError(f"unknown role {role!r}; one of {sorted(ROLES)}")
        return self.admin_request(room, [{"nick": _check_nick(nick), "role": role}], reason)

    def set_affiliation(self, room: JIDLike, jid: JIDLike, affiliation: str,
                        reason: Optional[str] = None) -> Element:
        """Give the bare ``jid`` the ``affiliation`` (``"outcast"`` bans it)."""
        if affiliation not in AFFILIATIONS:
            raise MUCValueError(f"unknown affiliation {affiliation!r}; one of {sorted(AFFILIATIONS)}")
        target = (jid if isinstance(jid, JID) else JID(jid)).bare
        return self.admin_request(room, [{"jid": str(target), "affiliation": affiliation}], reason)

    def affiliations_request(self, room: JIDLike, affiliation: str) -> Element:
        """The muc#admin IQ get listing the JIDs with ``affiliation`` (parse with :meth:`parse_affiliations`)."""
        if affiliation not in AFFILIATIONS:
            raise MUCValueError(f"unknown affiliation {affiliation!r}; one of {sorted(AFFILIATIONS)}")
        iq = Element("{%s}iq" % NS_CLIENT, {"type": "get", "to": str(_room_jid(room))})
        iq.subelement(_ADMIN_QUERY).subelement(_ADMIN_ITEM, {"affiliation": affiliation})
        return iq

    @staticmethod
    def parse_affiliations(result: Element) -> Dict[JID, str]:
        """{bare JID: affiliation} of a muc#admin list result (invalid items dropped)."""
        out: Dict[JID, str] = {}
        for item in result_payload(result, _ADMIN_QUERY).findall(_ADMIN_ITEM):
            try:
                out[JID(item.get("jid", "")).bare] = item.get("affiliation", "none")
            except InvalidJID as exc:
                log.warning("dropping an affiliation item with an invalid JID: %s", exc)
        return out

    @staticmethod
    def config_request(room: JIDLike) -> Element:
        """The muc#owner IQ get fetching the room's configuration form."""
        return get_request(_room_jid(room), _OWNER_QUERY)

    @staticmethod
    def config_form(result: Element) -> forms.Form:
        """The configuration form in a :meth:`config_request` result
        (:class:`~fastxmpp.xep.forms.InvalidForm` when there is none or it is malformed)."""
        form = forms.find_form(result_payload(result, _OWNER_QUERY))
        if form is None:
            raise forms.InvalidForm("room configuration result without a data form", result)
        return form

    @staticmethod
    def owner_submit(room: JIDLike, form: Optional[forms.Form] = None) -> Element:
        """The muc#owner IQ set submitting ``form``; None submits an empty form, which
        accepts the default configuration (an instant room, XEP-0045 10.1.2)."""
        iq = Element("{%s}iq" % NS_CLIENT, {"type": "set", "to": str(_room_jid(room))})
        query = iq.subelement(_OWNER_QUERY)
        query.append(form.to_element() if form is not None else forms.Form("submit").to_element())
        return iq

    @staticmethod
    def configure_submit(room: JIDLike, form: forms.Form, fields: Mapping[str, Any]) -> Element:
        """The owner IQ submitting ``form`` filled with ``fields`` ({var: value}; the short
        names of muc#roomconfig fields may leave out the ``muc#roomconfig_`` prefix)."""
        values: Dict[str, Any] = {}
        for var, value in fields.items():
            if var not in form and "muc#roomconfig_" + var in form:
                var = "muc#roomconfig_" + var
            values[var] = value
        return MUCCore.owner_submit(room, form.submit(values))

    @staticmethod
    def destroy_request(room: JIDLike, reason: Optional[str] = None,
                        alternate: Optional[JIDLike] = None) -> Element:
        """The muc#owner IQ set destroying the room."""
        iq = Element("{%s}iq" % NS_CLIENT, {"type": "set", "to": str(_room_jid(room))})
        destroy = iq.subelement(_OWNER_QUERY).subelement(
            "{%s}destroy" % NS_MUC_OWNER, {"jid": str(alternate)} if alternate is not None else None)
        if reason is not None:
            destroy.subelement("{%s}reason" % NS_MUC_OWNER, text=reason)
        return iq

    def rejoin_all(self) -> List[Tuple[RoomState, Element]]:
        """After a session that was not resumed: the join presence of every room we were in
        (or joining, or left by a service shutdown, code 332), asking for the history since
        the last message seen."""
        out = []
        for state in self.rooms.values():
            if not (state.joined or state._joining or state._after_shutdown) or state._leaving:
                continue
            state._after_shutdown = False
            state._stale = dict(state.occupants) if state.joined else {}
            state.occupants.clear()
            state._reset()
            state._joining = state._rejoin = True
            history = state.history
            if state.last_seen is not None:
                history = History(since=state.last_seen)
            out.append((state, self._join_presence(state, history)))
        return out

    # -- receiving ------------------------------------------------------------------------------
    def _lookup(self, sender: Optional[str]) -> Tuple[Optional[RoomState], Optional[str]]:
        """(the room, the nick) a stanza comes from; (None, None) when not from a room of ours."""
        if not sender or not self.rooms:
            return _ELSEWHERE
        route = self._senders.get(sender)
        if route is None:
            try:
                jid = JID(sender)
            except InvalidJID:
                return _ELSEWHERE
            state = self.rooms.get(jid.bare)
            route = _ELSEWHERE if state is None else (state, jid.resource)
            senders = self._senders
            if len(senders) >= _SENDERS:
                senders.clear()
            senders[sender] = route
        return route

    def receive_presence(self, stanza: Element) -> List[Event]:
        """Read a presence: the events of the room it comes from ([] when it is not from
        one of our rooms, or is malformed: logged)."""
        state, nick = self._lookup(stanza.get("from"))
        if state is None:
            return []
        kind = stanza.get("type")
        if kind == "error":
            return self._presence_error(state, nick, stanza)
        if nick is None:
            return []
        x = stanza.find(_X_USER)
        codes = status_codes(x)
        item = x.find(_ITEM) if x is not None else None
        unavailable = kind == "unavailable"
        if kind not in (None, "unavailable"):
            return []
        if item is None:
            if not unavailable:
                log.warning("dropping a presence from %s without its muc#user item", stanza.get("from"))
                return []
            role, affiliation = "none", "none"
        else:
            role, affiliation = item.get("role", "none"), item.get("affiliation", "none")
            if role not in ROLES or affiliation not in AFFILIATIONS:
                log.warning("dropping a presence from %s with role %r, affiliation %r",
                            stanza.get("from"), role, affiliation)
                return []
        real: Optional[JID] = None
        if item is not None and item.get("jid"):
            try:
                real = JID(item.get("jid"))
            except InvalidJID as exc:
                log.warning("occupant %s with an invalid real JID: %s", stanza.get("from"), exc)
        occupant = Occupant(room=state.jid, nick=nick, role=role, affiliation=affiliation, jid=real,
                            show=stanza.findtext(_SHOW), status=stanza.findtext(_STATUS_TEXT))
        is_self = 110 in codes or (nick == state.nick and (state._joining or state.joined)
                                   and (state.me is None or state.me.nick == nick))
        if unavailable:
            return self._unavailable(state, occupant, item, x, codes, is_self)
        return self._available(state, occupant, codes, is_self)

    def _presence_error(self, state: RoomState, nick: Optional[str], stanza: Element) -> List[Event]:
        if state._pending_nick is not None and nick == state._pending_nick and state.joined:
            state._pending_nick = None
            log.warning("nickname change in %s refused: %s", state.jid, from_element(stanza))
            return [JoinFailed(room=state, error=_join_error(stanza, state.jid, nick))]
        if not state._joining:
            log.info("presence error from %s while not joining: %s", stanza.get("from"), from_element(stanza))
            return []
        state._joining = state._rejoin = False
        state._reset()
        return [JoinFailed(room=state, error=_join_error(stanza, state.jid, nick))]

    def _available(self, state: RoomState, occupant: Occupant, codes: FrozenSet[int], is_self: bool) -> List[Event]:
        evs: List[Event] = []
        nick = occupant.nick
        old = state.occupants.get(nick)
        if old is None and state._stale:
            old = state._stale.pop(nick, None)
        state.occupants[nick] = occupant
        renamed_from = state._renames.pop(nick, None)
        if is_self:
            previous, state.me = state.nick, occupant
            state.nick = nick
            if state._pending_nick == nick:
                state._pending_nick = None
            if not state.joined:
                rejoined = state._rejoin
                state.joined, state._joining, state._rejoin = True, False, False
                state.created = 201 in codes
                if not rejoined:
                    state._stale.clear()
                evs.append(RoomJoined(room=state, occupant=occupant, created=state.created, rejoined=rejoined))
                for gone in state._stale.values():
                    evs.append(OccupantLeft(room=state, occupant=gone, reason="gone"))
                state._stale.clear()
                if previous != nick:
                    evs.append(NickChanged(room=state, old=previous, nick=nick, by_service=210 in codes))
                return evs
            if renamed_from is not None or previous != nick:
                evs.append(NickChanged(room=state, old=renamed_from or previous, nick=nick, by_service=210 in codes))
                return evs
            if old is not None and old != occupant:
                evs.append(OccupantChanged(room=state, old=old, occupant=occupant))
            return evs
        if old is None:
            # the occupants listed before our own presence were there before us: they are
            # in the room's state and not announced, but on a rejoin the newcomers are
            if state.joined or state._rejoin:
                evs.append(OccupantJoined(room=state, occupant=occupant, renamed_from=renamed_from))
        elif old != occupant:
            evs.append(OccupantChanged(room=state, old=old, occupant=occupant))
        return evs

    def _unavailable(self, state: RoomState, occupant: Occupant, item: Optional[Element], x: Optional[Element],
                     codes: FrozenSet[int], is_self: bool) -> List[Event]:
        nick = occupant.nick
        actor = text = new_nick = None
        if item is not None:
            actor_el = item.find("{%s}actor" % NS_MUC_USER)
            actor = actor_el.get("nick") if actor_el is not None else None
            text = item.findtext("{%s}reason" % NS_MUC_USER)
            new_nick = item.get("nick") if 303 in codes else None
        reason = next((r for c, r in _REMOVALS.items() if c in codes), None)
        if 303 in codes and new_nick:
            reason = "nick-change"
        known = state.occupants.pop(nick, None) or occupant
        if reason == "nick-change" and new_nick:
            state._renames[new_nick] = nick
            if is_self:
                return []
            return [OccupantLeft(room=state, occupant=known, reason=reason, new_nick=new_nick)]
        if is_self:
            destroy = x.find(_DESTROY_USER) if x is not None else None
            alternate = None
            if destroy is not None:
                reason, alternate = "destroyed", destroy.get("jid")
                text = destroy.findtext("{%s}reason" % NS_MUC_USER)
            if not state.joined and not state._joining:
                return []
            # out without having asked, and not sent away: a service going down (332, or
            # a server shutting down) takes our session with it, or soon: the next one rejoins
            state._after_shutdown = not state._leaving and reason in (None, "shutdown")
            state.occupants.clear()
            state.me = None
            state._joining = state._rejoin = False
            state._reset()
            return [RoomLeft(room=state, reason=reason, actor=actor, text=text, alternate=alternate)]
        if nick not in state.occupants and known is occupant and not state.joined:
            return []
        return [OccupantLeft(room=state, occupant=known, reason=reason, actor=actor, text=text)]

    def _receive_message_py(self, stanza: Element) -> List[Event]:
        """The pure-Python twin of :meth:`receive_message` (the compiled one,
        :mod:`fastxmpp._muc_c`, calls it for anything but the common case)."""
        # the path of every groupchat delivery: one look-up of the sender, one pass over
        # the children, no JID parsed, no Message built (RoomMessage.message is lazy)
        sender = stanza.get("from")
        if not sender or not self.rooms:
            return []
        route = self._senders.get(sender) or self._lookup(sender)
        state = route[0]
        if state is None:
            return []
        nick = route[1]
        kind = stanza.get("type")
        if kind == "groupchat":
            private = False
        elif kind in ("chat", "normal", None):
            private = True
        else:
            if kind == "error":
                log.warning("error from room %s: %s", state.jid, from_element(stanza))
            return []
        if not (state.joined or state._joining):
            log.info("dropping a message from %s: not in that room", sender)
            return []
        if private and nick is None:
            return []  # from the room itself: an invitation, a registration request...
        body_el = subject_el = delay_el = None
        bodies = 0
        sid: Optional[str] = None
        room_str = state._jid_str
        for child in stanza:
            tag = child.tag
            if tag == _BODY:
                bodies += 1
                if body_el is None:
                    body_el = child
            elif tag == _STANZA_ID:
                if sid is None and child.get("by") == room_str:
                    sid = child.get("id") or None
            elif tag == _DELAY:
                if delay_el is None:
                    delay_el = child
            elif tag == _SUBJECT:
                if subject_el is None:
                    subject_el = child
        stamp = delay_el.get("stamp") if delay_el is not None else None
        if stamp is None and nick is not None and nick not in state.occupants and nick not in state._renames:
            log.warning("dropping a message from %s: not an occupant of %s", nick, state.jid)
            return []
        if not private:
            if subject_el is not None and body_el is None:
                state.subject, state.subject_by = subject_el.text or "", nick
                return [SubjectChanged(room=state, subject=state.subject, nick=nick, delayed=stamp)]
            if sid is not None:
                key: Optional[str] = "sid:" + sid
            else:
                msg_id = stanza.get("id")
                key = f"id:{nick}/{msg_id}" if msg_id else None
            if key is not None:
                recent = state._recent
                if key in recent:
                    if stamp is not None:
                        return []  # history we saw before (the rejoin's "since" is inclusive)
                else:
                    recent.add(key)
                    order = state._recent_order
                    order.append(key)
                    if len(order) > _RECENT:
                        recent.discard(order.popleft())
            if stamp is not None:
                state._last_seen = stamp
            elif self.clock is not None:
                state._last_seen = self.clock()
        message: Optional[Message] = None
        if bodies > 1:  # several languages: the body in the message's own, else the first
            message = parse_message(stanza)
            body = message.body
        else:
            body = None if body_el is None else (body_el.text or "")
        ev = _new_event(RoomMessage)
        ev._room, ev._nick, ev._body, ev._private = state, nick, body, private
        ev._delayed, ev._stanza, ev._message = stamp, stanza, message
        return [ev]

    if TYPE_CHECKING:
        def receive_message(self, stanza: Element) -> List[Event]:
            """Read a message: the events of the room it comes from ([] when it is not from
            one of our rooms, or comes from a nick that is not in the room: logged)."""
    else:  # the compiled twin (fastxmpp._muc_c) when the extensions are in use
        receive_message = _receive_message_py if _receive_message_c is None else _receive_message_c


if _receive_message_c is not None:
    _muc_c.bind(MUCCore._receive_message_py, RoomMessage, _RECENT)


class Waiter:
    """One wait for a room's answer: ``event`` once it came; ``wake`` is called with it."""

    __slots__ = ("room", "kinds", "event", "wake")

    def __init__(self, room: RoomState, kinds: Tuple[type, ...]) -> None:
        self.room = room
        self.kinds = kinds
        self.event: Optional[Event] = None
        self.wake: Optional[Callable[[Event], Any]] = None


class MUCBase(Generic[RoomT]):
    """What ``client.muc`` does for both clients: from first access it reads the presences
    and messages of the rooms joined, keeps their state (``client.muc.rooms``: room JID ->
    room object), calls the listeners (:meth:`on_event`, or the per-kind decorators
    :meth:`on_message`, :meth:`on_join`, ...) and, after a session that could not be
    resumed, rejoins every room with the history since the last message seen."""

    #: The drivers' room class (with the methods that send).
    room_class: Callable[..., RoomState] = RoomState
    #: Seconds since the epoch (the drivers give time.time): stamps live messages.
    clock: Optional[Callable[[], float]] = None

    def __init__(self, client: Any) -> None:
        self.client = client
        self.core = MUCCore(room_class=self.room_class, clock=type(self).clock, muc=self)
        # replaced, never changed in place: _notify runs over the list without a copy
        self._listeners: List[Tuple[Callable[[Any], Any], Optional[Tuple[type, ...]]]] = []
        self._by_kind: Dict[type, Tuple[Callable[[Any], Any], ...]] = {}  # event class -> its listeners
        self._waiters: List[Waiter] = []
        client.add_handler("presence", self._on_presence)
        client.add_handler("message", self._on_message)
        client.add_session_listener(self._session_started)
        client.disco.responder.add_feature(NS_MUC)

    @property
    def rooms(self) -> Dict[JID, RoomT]:
        """Every room joined (or being joined, or left in this session), by room JID."""
        return cast(Dict[JID, RoomT], self.core.rooms)  # made by room_class

    def room(self, room: JIDLike) -> Optional[RoomT]:
        """The room object of ``room`` (the client's :class:`Room`), or None."""
        return cast(Optional[RoomT], self.core.room(room))  # made by room_class

    @overload
    def on_event(self, fn: Listener, *, kinds: Tuple[type, ...] = ()) -> Listener: ...

    @overload
    def on_event(self, fn: None = None, *, kinds: Tuple[type, ...] = ()) -> Callable[[Listener], Listener]: ...

    def on_event(self, fn: Optional[Listener] = None, *, kinds: Tuple[type, ...] = ()) -> Any:
        """Register ``fn(event)`` for the rooms' events (of ``kinds`` only, if given);
        a decorator too (``@muc.on_event`` or ``@muc.on_event(kinds=(...))``), which returns
        ``fn`` unchanged; a coroutine function runs as a task with the asyncio client."""
        def register(fn: Listener) -> Listener:
            return self._add_listener(fn, kinds)
        return register(fn) if fn is not None else register

    def _add_listener(self, fn: Listener, kinds: Tuple[type, ...]) -> Listener:
        self._listeners = self._listeners + [(fn, tuple(kinds) or None)]
        self._by_kind = {}
        return fn

    def remove_listener(self, fn: Callable[[Any], Any]) -> None:
        """Stop calling ``fn``."""
        self._listeners = [(f, k) for f, k in self._listeners if f is not fn]
        self._by_kind = {}

    def _listeners_of(self, kind: type) -> Tuple[Callable[[Any], Any], ...]:
        """The listeners of events of class ``kind``, in the order registered."""
        found = self._by_kind.get(kind)
        if found is None:
            found = self._by_kind[kind] = tuple(fn for fn, kinds in self._listeners
                                                if kinds is None or issubclass(kind, kinds))
        return found

    def on_message(self, fn: Listener) -> Listener:
        """Register ``fn(event)`` for :class:`RoomMessage` (groupchat and private)."""
        return self._add_listener(fn, (RoomMessage,))

    def on_join(self, fn: Listener) -> Listener:
        """Register ``fn(event)`` for :class:`OccupantJoined` (others entering our rooms)."""
        return self._add_listener(fn, (OccupantJoined,))

    def on_leave(self, fn: Listener) -> Listener:
        """Register ``fn(event)`` for :class:`OccupantLeft` (others leaving, kicked, banned...)."""
        return self._add_listener(fn, (OccupantLeft,))

    def on_subject(self, fn: Listener) -> Listener:
        """Register ``fn(event)`` for :class:`SubjectChanged`."""
        return self._add_listener(fn, (SubjectChanged,))

    def _notify(self, evs: List[Event]) -> None:
        call = self.client._call
        for event in evs:
            if self._waiters:
                self._settle(event)
            kind = type(event)
            for fn in self._by_kind.get(kind) or self._listeners_of(kind):
                call(fn, event)
            if isinstance(event, RoomJoined) and event.rejoined and event.room.created:
                call(self._set_up_again, event.room)

    def _on_presence(self, stanza: Element) -> None:
        if self.core.rooms:
            self._notify(self.core.receive_presence(stanza))

    def _on_message_py(self, stanza: Element) -> None:
        if self.core.rooms:
            evs = self.core.receive_message(stanza)
            if evs:
                self._notify(evs)

    if TYPE_CHECKING:
        def _on_message(self, stanza: Element) -> None: ...
    else:  # the compiled twin (fastxmpp._muc_c) when the extensions are in use
        _on_message = _on_message_py if _receive_message_c is None else _muc_c.on_message

    def _session_started(self, event: Any) -> None:
        if event.resumed:
            return
        for state, presence in self.core.rejoin_all():
            log.info("rejoining %s as %r after a new session", state.jid, state.nick)
            self._send_now(presence)

    def _set_up_again(self, room: Any) -> Any:
        """A rejoin re-created the room (a non-persistent room after a server restart):
        configure it again as the first join did."""
        return room.set_up()

    # -- waiting for the room's answer (join, nickname change, leave) -----------------------------
    def _expect(self, room: RoomState, kinds: Tuple[type, ...]) -> "Waiter":
        """Wait (with the driver's ``_wait``) for the first event of ``kinds`` about ``room``."""
        waiter = Waiter(room, kinds)
        self._waiters.append(waiter)
        return waiter

    def _forget(self, waiter: "Waiter") -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)

    def _settle(self, event: Event) -> None:
        """Hand ``event`` to the waiters it answers."""
        for waiter in list(self._waiters):
            if isinstance(event, waiter.kinds) and getattr(event, "room", None) is waiter.room:
                waiter.event = event
                self._waiters.remove(waiter)
                if waiter.wake is not None:
                    waiter.wake(event)

    @staticmethod
    def _outcome(event: Event) -> Any:
        """What a wait for ``event`` returns: the room; a refused join raises its error,
        and being removed from the room while waiting raises :class:`NotInRoom`."""
        if isinstance(event, JoinFailed):
            raise event.error
        if isinstance(event, RoomLeft) and event.reason is not None:
            raise NotInRoom(f"removed from {event.room.jid}: {event.reason}")
        return getattr(event, "room", None)

    def _join(self, room: JIDLike, nick: str, **kw: Any) -> Tuple["Waiter", Element]:
        """Start a join: (the waiter of its answer, the presence to send)."""
        state, presence = self.core.join(room, nick, **kw)
        return self._expect(state, (RoomJoined, JoinFailed, RoomLeft)), presence

    def _send_now(self, stanza: Element) -> None:
        """Send from inside a handler (each driver says how)."""
        raise NotImplementedError


class RoomBase(RoomState):
    """A room of ``client.muc`` (what ``client.muc.join()`` returns): its state (see
    :class:`RoomState`); the drivers' ``Room`` adds the methods that send what
    :class:`MUCCore` builds."""

    @property
    def client(self) -> Any:
        """The client this room belongs to."""
        return self.muc.client

    @property
    def core(self) -> MUCCore:
        """The sans-IO core that builds this room's stanzas."""
        return self.muc.core  # type: ignore[no-any-return]

    def _expect_nick(self) -> Waiter:
        return self.muc._expect(self, (NickChanged, JoinFailed, RoomLeft))  # type: ignore[no-any-return]

    def _expect_left(self) -> Waiter:
        return self.muc._expect(self, (RoomLeft,))  # type: ignore[no-any-return]

    def _config_submit(self, result: Element, fields: Mapping[str, Any]) -> Element:
        return MUCCore.configure_submit(self.jid, MUCCore.config_form(result), fields)
