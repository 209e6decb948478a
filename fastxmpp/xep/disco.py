"""XEP-0030 Service Discovery, sans-IO: info and items requests, their results, the answers
to others' requests (:class:`DiscoResponder`) and a per-session result cache (:class:`DiscoCache`).

Entity capabilities (XEP-0115) are not here yet.
"""
from __future__ import annotations

from typing import Dict, FrozenSet, Iterable, List, Literal, NamedTuple, Optional, Tuple, TypeVar, Union, overload

from ..element import Element
from ..jid import JID, InvalidJID, JIDLike
from ..stanza import XML_LANG
from ..stanza_errors import ItemNotFound
from ._iq import RemoteInvalidResult, empty_result, get_request, result_payload

__all__ = ["NS_DISCO_INFO", "NS_DISCO_ITEMS", "INFO_QUERY", "ITEMS_QUERY", "Identity", "DiscoInfo",
           "DiscoItem", "DiscoItems", "InvalidDiscoResult", "info_request", "items_request",
           "parse_info", "parse_items", "DiscoResponder", "DiscoCache"]

NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
INFO_QUERY = "{%s}query" % NS_DISCO_INFO
ITEMS_QUERY = "{%s}query" % NS_DISCO_ITEMS
_IDENTITY = "{%s}identity" % NS_DISCO_INFO
_FEATURE = "{%s}feature" % NS_DISCO_INFO
_ITEM = "{%s}item" % NS_DISCO_ITEMS


class InvalidDiscoResult(RemoteInvalidResult):
    """A disco result XEP-0030 does not allow: an identity without ``category`` or
    ``type``, a feature without ``var``, an item without a (valid) ``jid``."""


class Identity(NamedTuple):
    """One ``<identity/>``: ``category`` and ``type`` (required), ``name`` and ``lang`` (xml:lang)."""

    category: str
    type: str
    name: Optional[str] = None
    lang: Optional[str] = None


class DiscoInfo(NamedTuple):
    """A disco#info result: who (``jid``, ``node``), its ``identities`` and ``features``."""

    jid: JID
    node: Optional[str]
    identities: Tuple[Identity, ...]
    features: FrozenSet[str]

    def has_feature(self, var: str) -> bool:
        """Whether the entity announced the feature ``var`` (a namespace)."""
        return var in self.features

    def has_identity(self, category: str, type: Optional[str] = None) -> bool:
        """Whether the entity has an identity of ``category`` (and of ``type``, if given)."""
        return any(i.category == category and (type is None or i.type == type) for i in self.identities)


class DiscoItems(NamedTuple):
    """A disco#items result: who (``jid``, ``node``) and its ``items``."""

    jid: JID
    node: Optional[str]
    items: Tuple[DiscoItem, ...]


class DiscoItem(NamedTuple):
    """One ``<item/>`` of a disco#items result: ``jid`` (required), ``node``, ``name``."""

    jid: JID
    node: Optional[str] = None
    name: Optional[str] = None


def _query_attrs(node: Optional[str]) -> Optional[Dict[str, str]]:
    return {"node": node} if node is not None else None


def info_request(to: JIDLike, node: Optional[str] = None) -> Element:
    """The disco#info get to ``to`` (about ``node``, if given)."""
    return get_request(to, INFO_QUERY, _query_attrs(node))


def items_request(to: JIDLike, node: Optional[str] = None) -> Element:
    """The disco#items get to ``to`` (about ``node``, if given)."""
    return get_request(to, ITEMS_QUERY, _query_attrs(node))


def _sender(iq: Element, to: Optional[JIDLike]) -> JID:
    """Whom a result is about: the ``to`` asked, else the result's ``from``."""
    who = to if to is not None else iq.get("from")
    if who is None:
        raise InvalidDiscoResult("disco result without 'from', and no JID asked", iq)
    return who if isinstance(who, JID) else JID(who)


def parse_info(iq: Element, to: Optional[JIDLike] = None) -> DiscoInfo:
    """The :class:`DiscoInfo` in a disco#info result (``to``: the JID asked, default the
    result's ``from``).  An IQ error raises its :class:`~fastxmpp.stanza_errors.StanzaError`,
    a malformed result :class:`InvalidDiscoResult`."""
    query = result_payload(iq, INFO_QUERY, InvalidDiscoResult)
    identities: List[Identity] = []
    features = set()
    for child in query:
        if child.tag == _IDENTITY:
            category, kind = child.get("category"), child.get("type")
            if not category:
                raise InvalidDiscoResult("disco#info identity without 'category'", iq)
            if not kind:
                raise InvalidDiscoResult("disco#info identity without 'type'", iq)
            identities.append(Identity(category, kind, child.get("name"), child.get(XML_LANG)))
        elif child.tag == _FEATURE:
            var = child.get("var")
            if not var:
                raise InvalidDiscoResult("disco#info feature without 'var'", iq)
            features.add(var)
    return DiscoInfo(_sender(iq, to), query.get("node"), tuple(identities), frozenset(features))


def parse_items(iq: Element, to: Optional[JIDLike] = None) -> DiscoItems:
    """The :class:`DiscoItems` in a disco#items result (``to`` as for :func:`parse_info`);
    an item without a valid ``jid`` raises :class:`InvalidDiscoResult`."""
    query = result_payload(iq, ITEMS_QUERY, InvalidDiscoResult)
    items: List[DiscoItem] = []
    for child in query:
        if child.tag != _ITEM:
            continue
        jid = child.get("jid")
        if not jid:
            raise InvalidDiscoResult("disco#items item without 'jid'", iq)
        try:
            parsed = JID(jid)
        except InvalidJID as exc:
            raise InvalidDiscoResult(f"disco#items item with an invalid jid {jid!r}: {exc}", iq) from exc
        items.append(DiscoItem(parsed, child.get("node"), child.get("name")))
    return DiscoItems(_sender(iq, to), query.get("node"), tuple(items))


class DiscoResponder:
    """What we answer to others' disco#info and disco#items requests: our ``identities``
    and the ``features`` of the modules in use (:meth:`add_feature`); no nodes and no
    items, so a request about a node is answered ``item-not-found``."""

    __slots__ = ("identities", "features")

    def __init__(self, identities: Iterable[Identity] = (), features: Iterable[str] = ()) -> None:
        self.identities: List[Identity] = list(identities)
        self.features = {NS_DISCO_INFO, NS_DISCO_ITEMS}
        self.features.update(features)

    def add_feature(self, var: str) -> None:
        """Announce the feature ``var`` in our disco#info answers (once, however often added)."""
        self.features.add(var)

    def remove_feature(self, var: str) -> None:
        """Stop announcing the feature ``var`` (nothing happens when it is not announced)."""
        self.features.discard(var)

    @staticmethod
    def _no_node(request: Element, tag: str) -> None:
        query = request.find(tag)
        if query is not None and query.get("node") is not None:
            raise ItemNotFound(f"no node {query.get('node')!r} here")

    def answer_info(self, request: Element) -> Element:
        """The result answering a disco#info get (identities, then features, sorted)."""
        self._no_node(request, INFO_QUERY)
        reply = empty_result(request)
        query = reply.subelement(INFO_QUERY)
        for identity in self.identities:
            attrs = {"category": identity.category, "type": identity.type}
            if identity.name is not None:
                attrs["name"] = identity.name
            if identity.lang is not None:
                attrs[XML_LANG] = identity.lang
            query.subelement(_IDENTITY, attrs)
        for var in sorted(self.features):
            query.subelement(_FEATURE, {"var": var})
        return reply

    def answer_items(self, request: Element) -> Element:
        """The (empty) result answering a disco#items get."""
        self._no_node(request, ITEMS_QUERY)
        reply = empty_result(request)
        reply.subelement(ITEMS_QUERY)
        return reply


Result = Union[DiscoInfo, DiscoItems]
_R = TypeVar("_R", DiscoInfo, DiscoItems)


class DiscoCache:
    """Results by (kind, JID, node), kept for one session (:meth:`clear` on a new one)."""

    __slots__ = ("_results",)

    def __init__(self) -> None:
        self._results: Dict[Tuple[str, str, Optional[str]], Result] = {}

    @overload
    def get(self, kind: Literal["info"], jid: JID, node: Optional[str]) -> Optional[DiscoInfo]: ...

    @overload
    def get(self, kind: Literal["items"], jid: JID, node: Optional[str]) -> Optional[DiscoItems]: ...

    @overload
    def get(self, kind: str, jid: JID, node: Optional[str]) -> Optional[Result]: ...

    def get(self, kind: str, jid: JID, node: Optional[str]) -> Optional[Result]:
        """The kept result of ``kind`` (``"info"`` or ``"items"``) for ``jid`` and ``node``;
        None when there is none."""
        return self._results.get((kind, str(jid), node))

    def put(self, kind: str, jid: JID, node: Optional[str], result: _R) -> _R:
        """Keep ``result`` of ``kind`` for ``jid`` and ``node`` (replacing one); returns it."""
        self._results[(kind, str(jid), node)] = result
        return result

    def forget(self, jid: JIDLike) -> None:
        """Drop what is known about ``jid`` (every node)."""
        key = str(jid if isinstance(jid, JID) else JID(jid))
        for k in [k for k in self._results if k[1] == key]:
            del self._results[k]

    def clear(self) -> None:
        """Forget every result."""
        self._results.clear()

    def __len__(self) -> int:
        return len(self._results)
