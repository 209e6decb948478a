"""XEP-0115 Entity Capabilities, sans-IO: the verification string and its hash (section 5),
the ``<c/>`` element we add to our available presence, the ``<c/>`` others advertise, and a
cache of what each ``ver`` means, shared by every client of the process.

:func:`verification_string` and :func:`compute_ver` follow section 5.1 to the letter
(identities ``category/type/lang/name`` sorted, then features, then the extended forms of
XEP-0128 sorted by FORM_TYPE with their fields sorted by var and values sorted);
:func:`ver_of_result` recomputes it from a disco#info result and returns None when section
5.4 calls the result ill-formed (a repeated identity, feature or FORM_TYPE), so that it is
never cached.  :data:`SHARED_CACHE` maps (hash, ver) to the verified
:class:`~fastxmpp.xep.disco.DiscoInfo`.

:class:`CapsBase` is the shared base of ``client.caps`` in both clients.
"""
from __future__ import annotations

import base64
import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ..element import Element
from ..events import _opts
from ..jid import JID, InvalidJID, JIDLike
from ..stanza import XML_LANG
from . import disco, forms

if TYPE_CHECKING:
    from ..im.presence import PresenceTracker
    from ._glue import DiscoAPI

__all__ = ["NS_CAPS", "CAPS", "DEFAULT_NODE", "HASHES", "EntityCaps", "verification_string", "compute_ver",
           "ver_of_result", "caps_element", "parse_caps", "CapsCache", "SHARED_CACHE", "CapsBase"]

log = logging.getLogger("fastxmpp.xep")

NS_CAPS = "http://jabber.org/protocol/caps"
CAPS = "{%s}c" % NS_CAPS
DEFAULT_NODE = "https://github.com/fastxmpp/fastxmpp"
#: The hash functions' names (IANA Hash Function Textual Names) and their hashlib names.
HASHES = {"sha-1": "sha1", "sha-224": "sha224", "sha-256": "sha256", "sha-384": "sha384",
          "sha-512": "sha512", "md5": "md5"}
_IDENTITY = "{%s}identity" % disco.NS_DISCO_INFO
_FEATURE = "{%s}feature" % disco.NS_DISCO_INFO


@dataclass(**_opts)
class EntityCaps:
    """The ``<c/>`` of a presence: ``node`` (the software's URI), ``ver`` and ``hash`` (None:
    a legacy pre-1.5 advertisement, which cannot be verified)."""

    node: str
    ver: str
    hash: Optional[str]

    @property
    def node_ver(self) -> str:
        """The disco#info node asking what ``ver`` means: ``node#ver``."""
        return f"{self.node}#{self.ver}"


def _identity_key(identity: disco.Identity) -> Tuple[str, str, str, str]:
    return (identity.category, identity.type, identity.lang or "", identity.name or "")


def verification_string(identities: Iterable[disco.Identity], features: Iterable[str],
                        forms_: Sequence[forms.Form] = ()) -> str:
    """The string S of XEP-0115 section 5.1 (each part followed by ``<``).  Extended forms
    without a hidden FORM_TYPE are left out, as section 5.4 says."""
    parts: List[str] = []
    for identity in sorted(identities, key=_identity_key):
        parts.append("/".join(_identity_key(identity)))
    parts.extend(sorted(features))
    typed = [f for f in forms_ if _hidden_form_type(f) is not None]
    for form in sorted(typed, key=lambda f: f.form_type or ""):
        parts.append(form.form_type or "")
        for field in sorted((f for f in form.fields if f.var and f.var != forms.FORM_TYPE),
                            key=lambda f: f.var or ""):
            parts.append(field.var or "")
            parts.extend(sorted(field.values))
    return "".join(p + "<" for p in parts)


def _hidden_form_type(form: forms.Form) -> Optional[str]:
    field = form.field(forms.FORM_TYPE)
    if field is None or field.type != "hidden":
        return None
    return form.form_type


def compute_ver(identities: Iterable[disco.Identity], features: Iterable[str],
                forms_: Sequence[forms.Form] = (), hash: str = "sha-1") -> str:
    """The ``ver`` attribute: base64 of the ``hash`` (an IANA name, default sha-1) of the
    UTF-8 verification string.  An unknown hash raises ValueError."""
    algorithm = HASHES.get(hash)
    if algorithm is None:
        raise ValueError(f"unknown caps hash {hash!r} (one of {sorted(HASHES)})")
    digest = hashlib.new(algorithm, verification_string(identities, features, forms_).encode("utf-8"))
    return base64.b64encode(digest.digest()).decode("ascii")


def ver_of_result(query: Element, hash: str = "sha-1") -> Optional[str]:
    """The ``ver`` a disco#info ``<query/>`` hashes to, or None when section 5.4 calls it
    ill-formed (an identity or feature twice, two forms with one FORM_TYPE, a FORM_TYPE with
    different values, a malformed form) or the hash is unknown."""
    if hash not in HASHES:
        return None
    identities: List[disco.Identity] = []
    features: List[str] = []
    for child in query:
        if child.tag == _IDENTITY:
            identities.append(disco.Identity(child.get("category", ""), child.get("type", ""),
                                             child.get("name"), child.get(XML_LANG)))
        elif child.tag == _FEATURE:
            features.append(child.get("var", ""))
    if len(set(identities)) != len(identities) or len(set(features)) != len(features):
        return None
    try:
        found = forms.find_forms(query)
    except forms.InvalidForm:
        return None
    types = []
    for form in found:
        field = form.field(forms.FORM_TYPE)
        if field is not None and len(set(field.values)) > 1:
            return None
        if _hidden_form_type(form) is not None:
            types.append(form.form_type)
    if len(set(types)) != len(types):
        return None
    return compute_ver(identities, features, found, hash)


def caps_element(node: str, ver: str, hash: str = "sha-1") -> Element:
    """``<c xmlns='http://jabber.org/protocol/caps' hash=... node=... ver=.../>``."""
    return Element(CAPS, {"hash": hash, "node": node, "ver": ver})


def parse_caps(presence: Element) -> Optional[EntityCaps]:
    """The :class:`EntityCaps` a presence advertises, or None (none, or without node or ver)."""
    c = presence.find(CAPS)
    if c is None:
        return None
    node, ver = c.get("node"), c.get("ver")
    if not node or not ver:
        return None
    return EntityCaps(node=node, ver=ver, hash=c.get("hash"))


class CapsCache:
    """What each (hash, ver) means: its verified :class:`~fastxmpp.xep.disco.DiscoInfo`,
    at most ``size`` of them (the oldest go first)."""

    __slots__ = ("size", "_known")

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._known: "OrderedDict[Tuple[str, str], disco.DiscoInfo]" = OrderedDict()

    def get(self, hash: Optional[str], ver: str) -> Optional[disco.DiscoInfo]:
        """The verified :class:`~fastxmpp.xep.disco.DiscoInfo` kept for (``hash``, ``ver``);
        None when unknown or when ``hash`` is None (legacy caps are never cached)."""
        if hash is None:
            return None
        return self._known.get((hash, ver))

    def put(self, hash: str, ver: str, query: Element, info: disco.DiscoInfo) -> bool:
        """Keep ``info`` for (hash, ver) when the disco#info ``query`` really hashes to
        ``ver``; False (and nothing kept) when it does not."""
        if ver_of_result(query, hash) != ver:
            return False
        known = self._known
        known[(hash, ver)] = info
        while len(known) > self.size:
            known.popitem(last=False)
        return True

    def clear(self) -> None:
        """Forget every kept (hash, ver)."""
        self._known.clear()

    def __len__(self) -> int:
        return len(self._known)


#: The cache every client of this process shares.
SHARED_CACHE = CapsCache()


class CapsBase:
    """``client.caps``: from first access our available presences carry ``<c/>`` (with the
    ``ver`` of what ``client.disco`` answers, identities and features), we answer disco#info
    for ``node#ver``, and we note the caps others advertise in their presence.  The drivers
    add ``info(jid)`` (what ``jid`` can do: from the shared cache, else through disco,
    verified before it is cached) and ``announce()`` (send our presence again after the
    features changed)."""

    def __init__(self, client: Any, cache: Optional[CapsCache] = None) -> None:
        self.client = client
        self.node = DEFAULT_NODE
        self.hash = "sha-1"
        self.cache = SHARED_CACHE if cache is None else cache
        #: The caps each full JID advertised in its last available presence.
        self.advertised: Dict[JID, EntityCaps] = {}
        self.disco: DiscoAPI = client.disco
        self.disco.responder.add_feature(NS_CAPS)
        # our disco#info answers node#ver too: this route serves the disco responder's
        client.remove_iq_handler(disco.INFO_QUERY, types=("get",))
        client.add_iq_handler(disco.INFO_QUERY, self._answer_info, types=("get",))
        client.add_handler("presence", self._on_presence)
        self.presence_tracker: PresenceTracker = client.presence.core
        self.presence_tracker.extensions.append(self.element)

    @property
    def ver(self) -> str:
        """Our current ``ver`` (of the disco identities and features we answer)."""
        responder = self.disco.responder
        return compute_ver(responder.identities, responder.features, (), self.hash)

    def element(self) -> Element:
        """Our ``<c/>``, as added to each available presence we send."""
        return caps_element(self.node, self.ver, self.hash)

    def _answer_info(self, request: Element) -> Element:
        query = request.find(disco.INFO_QUERY)
        node = query.get("node") if query is not None else None
        if node is None or node != f"{self.node}#{self.ver}":
            return self.disco.responder.answer_info(request)
        plain = request.copy()
        plain_query = plain.find(disco.INFO_QUERY)
        assert plain_query is not None
        del plain_query.attrib["node"]
        reply = self.disco.responder.answer_info(plain)
        answered = reply.find(disco.INFO_QUERY)
        assert answered is not None
        answered.set("node", node)
        return reply

    def _on_presence(self, stanza: Element) -> None:
        sender = stanza.get("from")
        if sender is None:
            return
        try:
            jid = JID(sender)
        except InvalidJID:
            return
        kind = stanza.get("type")
        if kind is None:
            found = parse_caps(stanza)
            if found is not None:
                self.advertised[jid] = found
                return
        if kind is None or kind == "unavailable":
            self.advertised.pop(jid, None)

    def known(self, jid: JIDLike) -> Optional[disco.DiscoInfo]:
        """What ``jid`` can do, when its advertised caps are in the cache already; else None."""
        who = jid if isinstance(jid, JID) else JID(jid)
        found = self.advertised.get(who)
        cached = self.cache.get(found.hash, found.ver) if found is not None else None
        return cached._replace(jid=who, node=found.node_ver) if cached is not None and found is not None else None

    def _request(self, jid: JIDLike) -> Tuple[JID, Optional[EntityCaps], Element]:
        """(JID, its caps or None, the disco#info request to send: about node#ver when it
        advertised hashed caps, else about the entity itself)."""
        to = jid if isinstance(jid, JID) else JID(jid)
        found = self.advertised.get(to)
        node = found.node_ver if found is not None and found.hash is not None else None
        return to, found, disco.info_request(to, node)

    def _learned(self, to: JID, found: Optional[EntityCaps], result: Element) -> disco.DiscoInfo:
        """The :class:`DiscoInfo` of a result; cached under its ver when it hashes to it."""
        info = disco.parse_info(result, to)
        if found is not None and found.hash is not None:
            query = result.find(disco.INFO_QUERY)
            assert query is not None  # parse_info checked it
            if not self.cache.put(found.hash, found.ver, query, info):
                log.warning("caps of %s: ver %r does not match its disco#info: not cached", to, found.ver)
        return info

    def _own_presence_again(self) -> Optional[Element]:
        """Our last broadcast presence with a fresh ``<c/>``, or None when none was sent."""
        own = self.presence_tracker.own
        if own is None:
            return None
        for old in own.findall(CAPS):
            own.remove(old)
        own.append(self.element())
        return own

