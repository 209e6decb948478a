"""XEP-0059 Result Set Management, sans-IO: the ``<set/>`` a request carries (page size,
``after``/``before`` an item id, ``index``) and the ``<set/>`` a result carries (its
``first`` and ``last`` item ids, the index of the first, the ``count`` of the whole set).

An empty ``before`` asks for the last page.  A malformed result set raises
:class:`InvalidResultSet` (a :class:`~fastxmpp.xep._iq.RemoteInvalidResult`); a request the
caller cannot make (``after`` and ``before`` together, a negative ``max``) raises
:class:`ValueError`.  Used by :mod:`fastxmpp.xep.mam`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..element import Element
from ..events import _opts
from ._iq import RemoteInvalidResult

__all__ = ["NS_RSM", "SET", "InvalidResultSet", "ResultSet", "build_set", "parse_set"]

NS_RSM = "http://jabber.org/protocol/rsm"
SET = "{%s}set" % NS_RSM
_MAX = "{%s}max" % NS_RSM
_AFTER = "{%s}after" % NS_RSM
_BEFORE = "{%s}before" % NS_RSM
_INDEX = "{%s}index" % NS_RSM
_FIRST = "{%s}first" % NS_RSM
_LAST = "{%s}last" % NS_RSM
_COUNT = "{%s}count" % NS_RSM


class InvalidResultSet(RemoteInvalidResult):
    """A result ``<set/>`` XEP-0059 does not allow: a count or index that is not a
    non-negative integer, an empty ``first`` or ``last``."""


@dataclass(**_opts)
class ResultSet:
    """What a result ``<set/>`` says: ``first`` and ``last`` (item ids of the page, None
    for an empty page), ``first_index`` (the position of ``first`` in the whole set) and
    ``count`` (the size of the whole set), each None when the responder did not say."""

    first: Optional[str] = None
    last: Optional[str] = None
    first_index: Optional[int] = None
    count: Optional[int] = None


def _check_count(name: str, value: Optional[int]) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"RSM {name} must be a non-negative int, not {value!r}")


def build_set(max: Optional[int] = None, *, after: Optional[str] = None, before: Optional[str] = None,
              index: Optional[int] = None) -> Element:
    """The request ``<set/>``: at most ``max`` items, the page ``after`` or ``before`` an item
    id (``before=""``: the last page), or from position ``index``."""
    _check_count("max", max)
    _check_count("index", index)
    if after is not None and before is not None:
        raise ValueError("RSM: give 'after' or 'before', not both")
    if index is not None and (after is not None or before is not None):
        raise ValueError("RSM: 'index' goes without 'after' and 'before'")
    el = Element(SET)
    if max is not None:
        el.subelement(_MAX, text=str(max))
    if after is not None:
        el.subelement(_AFTER, text=after)
    if before is not None:
        el.subelement(_BEFORE, text=before or None)
    if index is not None:
        el.subelement(_INDEX, text=str(index))
    return el


def _int(text: Optional[str], what: str, where: Element) -> Optional[int]:
    if text is None:
        return None
    text = text.strip()
    if not text.isdigit() or not text.isascii():
        raise InvalidResultSet(f"RSM {what} {text!r} is not a non-negative integer", where)
    return int(text)


def parse_set(el: Optional[Element]) -> ResultSet:
    """The :class:`ResultSet` of a result ``<set/>`` (an empty one for None)."""
    if el is None:
        return ResultSet()
    first_el = el.find(_FIRST)
    first = last = None
    first_index = None
    if first_el is not None:
        first = first_el.text
        if not first:
            raise InvalidResultSet("RSM <first/> without an item id", el)
        first_index = _int(first_el.get("index"), "first index", el)
    last_el = el.find(_LAST)
    if last_el is not None:
        last = last_el.text
        if not last:
            raise InvalidResultSet("RSM <last/> without an item id", el)
    return ResultSet(first=first, last=last, first_index=first_index, count=_int(el.findtext(_COUNT), "count", el))
