"""XEP-0203 Delayed Delivery and XEP-0082 date-times, sans-IO.

:func:`parse_stamp` reads an XEP-0082 date-time (``2002-09-10T23:08:25Z``, with or without
fractions of a second, ``Z`` or a ``+hh:mm`` / ``-hh:mm`` offset) into an aware UTC
:class:`~datetime.datetime`, and returns None for anything else (a bad value from the
network is no exception).  :func:`parse_delay` reads the ``<delay/>`` of a stanza (and
the legacy XEP-0091 ``jabber:x:delay`` form), :func:`format_stamp` writes a date-time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Tuple

from ..element import Element
from ..events import _opts
from ..jid import JID
from ._messaging import sender_of

__all__ = ["NS_DELAY", "NS_LEGACY_DELAY", "DELAY", "LEGACY_DELAY", "Delay", "parse_stamp",
           "format_stamp", "parse_delays", "parse_delay", "add_delay"]

NS_DELAY = "urn:xmpp:delay"
NS_LEGACY_DELAY = "jabber:x:delay"
DELAY = "{%s}delay" % NS_DELAY
LEGACY_DELAY = "{%s}x" % NS_LEGACY_DELAY

# ASCII digits only ([0-9], not \d, which takes any script's digits)
_STAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                    r"(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})\Z")
_LEGACY_STAMP = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\Z")


@dataclass(**_opts)
class Delay:
    """A stanza's delay: ``stamp`` (when it was first sent or stored, aware UTC), ``sender``
    (who delayed it: the ``from`` of the delay element, or None), ``reason`` (its text, or
    None), ``legacy`` (True for the XEP-0091 form)."""

    stamp: datetime
    sender: Optional[JID]
    reason: Optional[str]
    legacy: bool = False


def _utc(parts: Tuple[str, ...], fraction: Optional[str], zone: str) -> Optional[datetime]:
    try:
        year, month, day, hour, minute, second = (int(p) for p in parts)
        micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
        stamp = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)
        if zone != "Z":
            offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            if offset >= timedelta(hours=24) or int(zone[4:6]) > 59:
                return None
            stamp = stamp - offset if zone[0] == "+" else stamp + offset
    except (ValueError, OverflowError):  # 2001-02-30, hour 24, second 60, out of range
        return None
    return stamp


def parse_stamp(text: Optional[str]) -> Optional[datetime]:
    """An XEP-0082 DateTime as an aware UTC datetime (fractions beyond microseconds are
    cut), or None when ``text`` is not one."""
    if not text:
        return None
    m = _STAMP.match(text.strip())
    if m is None:
        return None
    return _utc(m.groups()[:6], m.group(7), m.group(8))


def format_stamp(value: datetime) -> str:
    """``value`` as an XEP-0082 UTC DateTime (a naive datetime is taken as UTC);
    microseconds are written when not zero."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += ".%06d" % value.microsecond
    return text + "Z"


def _delay(el: Element, legacy: bool) -> Optional[Delay]:
    text = el.get("stamp")
    if legacy:
        m = _LEGACY_STAMP.match((text or "").strip())
        stamp = _utc(m.groups(), None, "Z") if m else None
    else:
        stamp = parse_stamp(text)
    if stamp is None:
        return None
    return Delay(stamp=stamp, sender=sender_of(el), reason=el.text or None, legacy=legacy)


def parse_delays(stanza: Element) -> Tuple[Delay, ...]:
    """Every readable delay of ``stanza`` (XEP-0203 ones first, then legacy ones); those
    with a missing or bad stamp are skipped."""
    found: List[Delay] = []
    for tag, legacy in ((DELAY, False), (LEGACY_DELAY, True)):
        for el in stanza.findall(tag):
            delay = _delay(el, legacy)
            if delay is not None:
                found.append(delay)
    return tuple(found)


def parse_delay(stanza: Element) -> Optional[Delay]:
    """The delay of ``stanza`` with the earliest stamp (when the message was first sent),
    or None when it was not delayed (or no stamp can be read)."""
    if stanza.find(DELAY) is None and stanza.find(LEGACY_DELAY) is None:
        return None
    delays = parse_delays(stanza)
    return min(delays, key=lambda d: d.stamp) if delays else None


def add_delay(stanza: Element, stamp: datetime, *, sender: Optional[str] = None,
              reason: Optional[str] = None) -> Element:
    """Add a ``<delay/>`` to ``stanza`` (for a message sent later than it was written); returns it."""
    el = stanza.subelement(DELAY, {"stamp": format_stamp(stamp)}, text=reason)
    if sender is not None:
        el.set("from", str(sender))
    return stanza
