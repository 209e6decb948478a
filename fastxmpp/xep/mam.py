"""XEP-0313 Message Archive Management (``urn:xmpp:mam:2``), sans-IO: the archive query (a
data form filtering by ``with``, ``start`` and ``end``, and an XEP-0059 page), the results
that come back as messages before the IQ result, and the ``<fin/>`` closing a page.

One :class:`ArchiveQuery` is one page request: :meth:`~ArchiveQuery.request` builds the IQ,
:meth:`~ArchiveQuery.feed` takes each received message (claiming only the results of its
own query id sent by the archive itself: our own bare JID, or the room queried; anything
else is left alone, and a malformed result is logged and dropped), and
:meth:`~ArchiveQuery.finish` turns the IQ result into a :class:`Page` of
:class:`ArchivedMessage` in the order received (oldest first).  :meth:`Page.next_after` and
:meth:`Page.next_before` say how to ask for the following page, forward or backward.

:class:`MAMBase` is the shared base of ``client.mam`` in both clients; it routes received
messages to the queries in flight, and registers its message handler only while one is.
"""
from __future__ import annotations

import itertools
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple, Union

from ..element import Element
from ..events import _opts
from ..jid import JID, InvalidJID, JIDLike
from . import delay, forms, rsm
from ._iq import RemoteInvalidResult, result_payload

__all__ = ["NS_MAM", "NS_FORWARD", "NS_DELAY", "QUERY", "RESULT", "FIN", "InvalidArchiveResult",
           "ArchivedMessage", "Page", "ArchiveQuery", "MAMBase"]

log = logging.getLogger("fastxmpp.xep")

NS_MAM = "urn:xmpp:mam:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_DELAY = delay.NS_DELAY
QUERY = "{%s}query" % NS_MAM
RESULT = "{%s}result" % NS_MAM
FIN = "{%s}fin" % NS_MAM
_FORWARDED = "{%s}forwarded" % NS_FORWARD
_MESSAGE = "{jabber:client}message"
_BODY = "{jabber:client}body"
_DELAY = delay.DELAY

Stamp = Union[None, str, datetime]


class InvalidArchiveResult(RemoteInvalidResult):
    """An archive answer XEP-0313 does not allow: a result without its forwarded message or
    its timestamp, an IQ result without ``<fin/>``, a malformed result set."""


def _stamp_arg(value: Union[str, datetime]) -> str:
    """A ``start``/``end`` argument as an XEP-0082 UTC date-time: a datetime (naive ones are
    taken as UTC) or a string, checked (ValueError when it is not one)."""
    if isinstance(value, str):
        if delay.parse_stamp(value) is None:
            raise ValueError(f"not an XEP-0082 date-time: {value!r}")
        return value
    if not isinstance(value, datetime):
        raise TypeError(f"a datetime or an XEP-0082 string, not {type(value).__name__}")
    return delay.format_stamp(value)


class ArchivedMessage(NamedTuple):
    """One archived message: ``id`` (its archive id, for paging), ``stamp`` (when it was
    archived, aware UTC), ``message`` (the forwarded ``<message/>``) and ``archive`` (whose
    archive: our bare JID or the room's)."""

    id: str
    stamp: datetime
    message: Element
    archive: JID

    @property
    def body(self) -> Optional[str]:
        """The message's (first) body (``""`` when empty), or None."""
        for el in self.message:
            if el.tag == _BODY:
                text: Optional[str] = el.text
                return text or ""
        return None

    @property
    def sender(self) -> Optional[str]:
        """The forwarded message's ``from`` (in a room archive, ``room@service/nick``)."""
        sender: Optional[str] = self.message.get("from")
        return sender


@dataclass(**_opts)
class Page:
    """One page of archive results: ``messages`` (oldest first), ``first`` and ``last``
    (archive ids bounding the page, None when empty), ``complete`` (the server's
    ``complete='true'``: no page beyond this one in the direction asked), ``count`` (the
    whole result set's size, when told), ``reverse`` (this page was asked backward)."""

    messages: List[ArchivedMessage]
    first: Optional[str]
    last: Optional[str]
    complete: bool
    count: Optional[int]
    reverse: bool = False

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Iterator[ArchivedMessage]:
        return iter(self.messages)

    @property
    def next_after(self) -> Optional[str]:
        """The ``after`` asking for the page following this one, or None at the end."""
        return None if self.complete or self.last is None else self.last

    @property
    def next_before(self) -> Optional[str]:
        """The ``before`` asking for the page preceding this one, or None at the start."""
        return None if self.complete or self.first is None else self.first

    @property
    def following(self) -> Optional[Dict[str, str]]:
        """The paging keywords (``after=`` or ``before=``) for the next page in this page's
        direction, or None when this was the last one."""
        if self.reverse:
            return {"before": self.next_before} if self.next_before is not None else None
        return {"after": self.next_after} if self.next_after is not None else None


def _jid(value: Any) -> Optional[JID]:
    if value is None:
        return None
    return value if isinstance(value, JID) else JID(value)


class ArchiveQuery:
    """One archive page request and the results it collects (see the module docstring).
    ``me`` is our own JID (results from anyone but the archive are forged); ``archive`` the
    JID queried (None: our own archive).  Filters: ``with_`` (a JID), ``start`` and ``end``
    (datetimes or XEP-0082 strings); page: ``max``, ``after`` / ``before`` (``""``: the
    last page)."""

    __slots__ = ("queryid", "me", "archive", "with_", "start", "end", "max", "after", "before",
                 "results", "dropped", "_owner", "_owner_str", "_last_stamp")

    def __init__(self, me: JIDLike, *, queryid: str, archive: Optional[JIDLike] = None,
                 with_: Optional[JIDLike] = None, start: Stamp = None, end: Stamp = None, max: Optional[int] = 50, after: Optional[str] = None,
                 before: Optional[str] = None) -> None:
        rsm.build_set(max, after=after, before=before)  # checks the paging arguments
        self.queryid = queryid
        self.me = _jid(me)
        self.archive = _jid(archive)
        self.with_ = _jid(with_)
        self.start = _stamp_arg(start) if start is not None else None
        self.end = _stamp_arg(end) if end is not None else None
        self.max, self.after, self.before = max, after, before
        self.results: List[ArchivedMessage] = []
        self.dropped = 0
        owner = self.archive if self.archive is not None else self.me
        self._owner: Optional[JID] = owner.bare if owner is not None else None
        self._owner_str = str(self._owner) if owner is not None else None
        # (text, datetime) of the last stamp read: the results of a page often share one
        self._last_stamp: Tuple[str, Optional[datetime]] = ("", None)

    @property
    def owner(self) -> JID:
        """The archive's JID: the one queried, else our own bare JID."""
        assert self._owner is not None, "an archive query without our own JID reads only the archive's"
        return self._owner

    def request(self) -> Element:
        """The IQ set asking for this page."""
        iq = Element("{jabber:client}iq", {"type": "set"})
        if self.archive is not None:
            iq.set("to", str(self.archive))
        query = iq.subelement(QUERY, {"queryid": self.queryid})
        fields = []
        if self.with_ is not None:
            fields.append(forms.Field("with", "jid-single", values=[str(self.with_)]))
        if self.start is not None:
            fields.append(forms.Field("start", "text-single", values=[self.start]))
        if self.end is not None:
            fields.append(forms.Field("end", "text-single", values=[self.end]))
        if fields:
            form = forms.Form("submit", fields, form_type=NS_MAM)
            query.append(form.to_element())
        query.append(rsm.build_set(self.max, after=self.after, before=self.before))
        return iq

    def _from_archive(self, stanza: Element) -> bool:
        sender = stanza.get("from")
        if sender is None:
            return self.archive is None  # from our own account's server, on its behalf
        if sender == self._owner_str:
            return True
        try:
            return JID(sender) == self.owner
        except InvalidJID:
            return False

    def feed(self, stanza: Element) -> bool:
        """Take a received message: True when it is a result of this query (kept, or
        malformed and dropped), False when it is not ours (another query id, no result, or
        sent by anyone but the archive: forged)."""
        return self._take(stanza, stanza.find(RESULT))

    def _take(self, stanza: Element, result: Optional[Element]) -> bool:
        """:meth:`feed` with the stanza's ``<result/>`` already found."""
        if result is None or result.get("queryid") != self.queryid:
            return False
        if not self._from_archive(stanza):
            log.warning("archive result for query %s from %r, not from the archive %s: ignored (forged?)",
                        self.queryid, stanza.get("from"), self.owner)
            return False
        try:
            self.results.append(self._parse(result))
        except InvalidArchiveResult as exc:
            self.dropped += 1
            log.warning("malformed archive result dropped: %s", exc.reason)
        return True

    def _parse(self, result: Element) -> ArchivedMessage:
        archive_id = result.get("id")
        if not archive_id:
            raise InvalidArchiveResult("archive result without 'id'", result)
        # one pass over each level (this runs once per archived message)
        forwarded = message = delayed = None
        for el in result:
            if el.tag == _FORWARDED:
                forwarded = el
                break
        if forwarded is None:
            raise InvalidArchiveResult("archive result without <forwarded/>", result)
        for el in forwarded:
            tag = el.tag
            if tag == _MESSAGE:
                if message is None:
                    message = el
            elif tag == _DELAY:
                if delayed is None:
                    delayed = el
        if message is None:
            raise InvalidArchiveResult("archive result without its message", result)
        if delayed is None:
            raise InvalidArchiveResult("archive result without its <delay stamp=.../>", result)
        text = delayed.get("stamp", "")
        last_text, stamp = self._last_stamp
        if text != last_text or stamp is None:
            stamp = delay.parse_stamp(text)
            if stamp is None:
                raise InvalidArchiveResult(f"archive result with a bad stamp {text!r}", result)
            self._last_stamp = (text, stamp)
        return ArchivedMessage(archive_id, stamp, message, self.owner)

    def finish(self, iq: Element) -> Page:
        """The :class:`Page` the IQ result ``iq`` closes (an IQ error raises its
        :class:`~fastxmpp.stanza_errors.StanzaError`, a malformed one
        :class:`InvalidArchiveResult`)."""
        fin = result_payload(iq, FIN, InvalidArchiveResult)
        try:
            page = rsm.parse_set(fin.find(rsm.SET))
        except rsm.InvalidResultSet as exc:
            raise InvalidArchiveResult(exc.reason, iq) from exc
        complete = fin.get("complete") in ("true", "1")
        results = self.results
        first = page.first if page.first is not None else (results[0].id if results else None)
        last = page.last if page.last is not None else (results[-1].id if results else None)
        return Page(messages=list(results), first=first, last=last, complete=complete, count=page.count,
                    reverse=self.before is not None)


class MAMBase:
    """``client.mam``: archive queries (our own archive, or a room's with ``archive=``).
    The drivers add ``query(...)`` (one :class:`Page`) and ``pages(...)`` (every page,
    forward, or backward from the last with ``reverse=True``)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._queries: Dict[str, ArchiveQuery] = {}
        self._prefix = "mam-" + secrets.token_hex(4) + "-"
        self._ids = itertools.count(1)

    def _start(self, *, with_: Optional[JIDLike] = None, start: Stamp = None, end: Stamp = None,
               max: Optional[int] = 50, after: Optional[str] = None, before: Optional[str] = None,
               archive: Optional[JIDLike] = None) -> ArchiveQuery:
        """A new query, routed received messages until :meth:`_done`; its IQ is ``.request()``."""
        query = ArchiveQuery(self.client.jid, queryid=f"{self._prefix}{next(self._ids)}", archive=archive,
                             with_=with_, start=start, end=end, max=max, after=after, before=before)
        if not self._queries:
            self.client.add_handler("message", self._on_message)
        self._queries[query.queryid] = query
        return query

    def _done(self, query: ArchiveQuery) -> None:
        """Stop routing to ``query``; the message handler goes with the last query."""
        if self._queries.pop(query.queryid, None) is not None and not self._queries:
            self.client.remove_handler("message", self._on_message)

    def _on_message(self, stanza: Element) -> None:
        result = stanza.find(RESULT)
        if result is not None:
            query = self._queries.get(result.get("queryid", ""))
            if query is not None:
                query._take(stanza, result)

    @staticmethod
    def _first_page_args(reverse: bool, kw: Dict[str, Any]) -> Dict[str, Any]:
        """The keywords of the first page of :meth:`pages`: backward starts at the last page."""
        if reverse and kw.get("before") is None and kw.get("after") is None:
            kw["before"] = ""
        return kw

    @staticmethod
    def _next_page_args(page: Page, kw: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """The keywords asking for the page after ``page`` (None: it was the last)."""
        following = page.following
        if following is None or not page.messages:
            return None
        kw = dict(kw, after=None, before=None)
        kw.update(following)
        return kw
