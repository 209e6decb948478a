"""Events of the IM layer (RFC 6121): frozen, slotted, keyword-only, past tense.

The sans-IO objects of :mod:`fastxmpp.im` return them; the clients hand each to the
listeners registered on ``client.roster``, ``client.presence``, ``client.subscriptions``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, Type, TypeVar

from ..events import Event, _opts
from ..jid import JID

if TYPE_CHECKING:  # they import this module
    from ..element import Element
    from ..stanza_errors import StanzaError
    from .presence import ResourcePresence
    from .roster import RosterItem

_T = TypeVar("_T")

__all__ = [
    "RosterReceived",
    "RosterItemAdded",
    "RosterItemChanged",
    "RosterItemRemoved",
    "ContactOnline",
    "ContactChanged",
    "ContactOffline",
    "PresenceErrorReceived",
    "SubscriptionRequested",
    "SubscriptionApproved",
    "SubscriptionRevoked",
    "ContactUnsubscribed",
]


@dataclass(**_opts)
class RosterReceived(Event):
    """A roster fetch completed: ``items`` is the whole roster now held.

    ``cached`` is True when the server answered a versioned request with "no
    change" (RFC 6121 2.6.3): the items are the stored ones, and pushes bring
    the changes, if any."""

    version: Optional[str]
    items: Tuple[RosterItem, ...]
    cached: bool


@dataclass(**_opts)
class RosterItemAdded(Event):
    """A contact was added to the roster (a roster push); ``item`` is its
    :class:`~fastxmpp.im.roster.RosterItem`."""

    item: RosterItem


@dataclass(**_opts)
class RosterItemChanged(Event):
    """A roster item changed (name, groups or subscription): ``old`` and the new ``item``."""

    old: RosterItem
    item: RosterItem


@dataclass(**_opts)
class RosterItemRemoved(Event):
    """A contact was removed from the roster; ``item`` is the item it had."""

    item: RosterItem


@dataclass(**_opts)
class ContactOnline(Event):
    """The first available resource of ``jid`` (a bare JID) appeared."""

    jid: JID
    presence: ResourcePresence


@dataclass(**_opts)
class ContactChanged(Event):
    """A resource of an online contact came, changed (show, status, priority) or left,
    and another one is still available; ``presence`` is the resource's new state
    (``available`` is False when it left), ``best`` the best resource now."""

    jid: JID
    presence: ResourcePresence
    best: ResourcePresence


@dataclass(**_opts)
class ContactOffline(Event):
    """The last available resource of ``jid`` went away (``presence`` is its unavailable),
    or a fresh session forgot every contact's presence (``presence`` is None) until the
    server sends it again."""

    jid: JID
    presence: Optional[ResourcePresence]


@dataclass(**_opts)
class PresenceErrorReceived(Event):
    """A presence of type error from ``jid``; ``error`` is its StanzaError (kept per contact)."""

    jid: JID
    error: StanzaError


@dataclass(**_opts)
class SubscriptionRequested(Event):
    """``jid`` asks to see our presence (RFC 6121 3.1.3)."""

    jid: JID
    status: Optional[str]
    stanza: Element


@dataclass(**_opts)
class SubscriptionApproved(Event):
    """``jid`` approved our subscription request: we will see its presence (3.1.5)."""

    jid: JID


@dataclass(**_opts)
class SubscriptionRevoked(Event):
    """``jid`` denied our request or cancelled our subscription (3.2, 3.1.4)."""

    jid: JID


@dataclass(**_opts)
class ContactUnsubscribed(Event):
    """``jid`` no longer wants to see our presence (3.3)."""

    jid: JID


def positional(cls: Type[_T]) -> Callable[..., _T]:
    """A constructor of the frozen dataclass ``cls`` that takes every field, positionally
    and in order, and writes the slots directly: about 3x faster than the generated
    ``__init__``, which goes through ``object.__setattr__`` per field.  For the paths run
    once per stanza or roster item; the object is the same as ``cls(...)`` builds."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]  # a dataclass, unbound _T
    env: Dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    body = []
    for i, name in enumerate(names):
        slot = cls.__dict__.get(name)
        if slot is not None and hasattr(slot, "__set__"):  # slots (Python 3.10+)
            env[f"_s{i}"] = slot.__set__
            body.append(f"    _s{i}(o, {name})\n")
        else:
            env["_set"] = object.__setattr__
            body.append(f"    _set(o, {name!r}, {name})\n")
    source = f"def make({', '.join(names)}):\n    o = _new(_cls)\n{''.join(body)}    return o\n"
    exec(source, env)  # noqa: S102 - built from the field names only
    make: Callable[..., _T] = env["make"]
    make.__qualname__ = f"positional({cls.__name__})"
    return make
