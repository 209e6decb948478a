"""The glue between the sans-IO XEP modules and a client, shared by both clients (no I/O here).

A client reaches them through ``client.disco``, ``client.pinger`` and
``client.software_version`` (:class:`fastxmpp._client_base.ClientBase`).  Each is made on
first access (:meth:`XEP.of`), and only then registers its IQ handlers, so a session that
never uses them pays nothing.  The first access to any of them makes the client answer
disco#info and disco#items; ``client.pinger`` makes it answer pings and
``client.software_version`` version requests, each advertising its feature in disco#info.
:mod:`fastxmpp.aio.xep` and :mod:`fastxmpp.sync.xep` add the methods that send.
"""
from __future__ import annotations

import importlib.metadata
from functools import cached_property
from typing import Any, ClassVar, NamedTuple, Optional, Tuple, Type

from ..element import Element
from ..jid import JID, JIDLike
from . import disco, ping, version

__all__ = ["XEP", "DiscoAPI", "PingAPI", "VersionAPI", "Features", "library_version"]


def library_version() -> str:
    """fastxmpp's version: ``fastxmpp.__version__``, else the installed distribution's."""
    import fastxmpp

    found = getattr(fastxmpp, "__version__", None)
    if found:
        return str(found)
    try:
        return importlib.metadata.version("fastxmpp")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class XEPFeature:
    """One XEP feature of a client, reached through :class:`XEP`."""

    def __init__(self, xep: "XEP") -> None:
        self.xep = xep
        self.client = xep.client

    def _to(self, jid: Optional[JIDLike]) -> JID:
        """The JID asked: ``jid``, or our server when None."""
        if jid is None:
            return JID(self.client.jid.domain)
        return jid if isinstance(jid, JID) else JID(jid)


class DiscoAPI(XEPFeature):
    """``client.disco``: ``info(jid=None, node=None)`` and ``items(jid=None, node=None)``
    (our server when ``jid`` is None), cached for the session; ``identity`` is what we
    answer (default ``("client", "bot", "fastxmpp")``), ``responder.features`` what we
    advertise."""

    def __init__(self, xep: "XEP") -> None:
        super().__init__(xep)
        self.responder = disco.DiscoResponder([disco.Identity("client", "bot", "fastxmpp")])
        self.cache = disco.DiscoCache()
        add = self.client.add_iq_handler
        add(disco.INFO_QUERY, self.responder.answer_info, types=("get",))
        add(disco.ITEMS_QUERY, self.responder.answer_items, types=("get",))

    @property
    def identity(self) -> disco.Identity:
        """The identity our disco#info answers give first (default ``("client", "bot",
        "fastxmpp")``).  Set it to ``("client", "pc")``, ``("client", "bot", "My bot")`` or
        an :class:`~fastxmpp.xep.disco.Identity`; it replaces every identity we answer."""
        return self.responder.identities[0]

    @identity.setter
    def identity(self, value: Any) -> None:
        self.responder.identities[:] = [disco.Identity(*value)]

    def cached_info(self, jid: Optional[JIDLike] = None,
                    node: Optional[str] = None) -> Tuple[JID, Optional[disco.DiscoInfo]]:
        """(JID asked, its cached :class:`DiscoInfo` or None)."""
        to = self._to(jid)
        return to, self.cache.get("info", to, node)

    def cached_items(self, jid: Optional[JIDLike] = None,
                     node: Optional[str] = None) -> Tuple[JID, Optional[disco.DiscoItems]]:
        """(JID asked, its cached :class:`~fastxmpp.xep.disco.DiscoItems` or None); ``jid``
        None asks about our server."""
        to = self._to(jid)
        return to, self.cache.get("items", to, node)

    def _info(self, to: JID, node: Optional[str], result: Element) -> disco.DiscoInfo:
        return self.cache.put("info", to, node, disco.parse_info(result, to))

    def _items(self, to: JID, node: Optional[str], result: Element) -> disco.DiscoItems:
        return self.cache.put("items", to, node, disco.parse_items(result, to))


class PingAPI(XEPFeature):
    """``client.pinger``: answers pings (and advertises ``urn:xmpp:ping``) from first
    access; ``send(jid=None)`` pings (our server by default) and returns the round trip."""

    def __init__(self, xep: "XEP") -> None:
        super().__init__(xep)
        self.client.add_iq_handler(ping.PING, ping.answer_ping, types=("get",))
        xep.disco.responder.add_feature(ping.NS_PING)


class VersionAPI(XEPFeature):
    """``client.software_version``: answers version requests with ``name``
    ("fastxmpp"), ``version`` (the library's) and ``os`` (None: not told, the default)
    from first access; ``query(jid=None)`` asks another entity's
    (:class:`~fastxmpp.xep.version.SoftwareVersion`)."""

    def __init__(self, xep: "XEP") -> None:
        super().__init__(xep)
        self.name = "fastxmpp"
        self.version = library_version()
        self.os: Optional[str] = None
        self.client.add_iq_handler(version.QUERY, self._answer, types=("get",))
        xep.disco.responder.add_feature(version.NS_VERSION)

    def _answer(self, request: Element) -> Element:
        return version.answer_version(request, self.name, self.version, self.os)


class Features(NamedTuple):
    """The feature classes of one client kind (with its methods that send)."""

    disco: Type[DiscoAPI]
    pinger: Type[PingAPI]
    software_version: Type[VersionAPI]


class XEP:
    """The XEP features of one client, each made on first access (and kept in this
    object's ``__dict__`` by :func:`functools.cached_property`)."""

    features: ClassVar[Features] = Features(DiscoAPI, PingAPI, VersionAPI)

    def __init__(self, client: Any) -> None:
        self.client = client
        client.add_session_listener(self._session_started)

    @classmethod
    def of(cls, client: Any) -> "XEP":
        """The XEP layer of ``client`` (made, with its session listener, on first use)."""
        made: Optional[XEP] = client.__dict__.get("_xep")
        if made is None:
            made = client.__dict__.setdefault("_xep", cls(client))
        return made

    @cached_property
    def disco(self) -> Any:
        """``client.disco``: the driver's :class:`DiscoAPI` subclass (XEP-0030)."""
        return self.features.disco(self)

    @cached_property
    def pinger(self) -> Any:
        """``client.pinger``: the driver's :class:`PingAPI` subclass (XEP-0199)."""
        return self.features.pinger(self)

    @cached_property
    def software_version(self) -> Any:
        """``client.software_version``: the driver's :class:`VersionAPI` subclass (XEP-0092)."""
        return self.features.software_version(self)

    def _session_started(self, event: Any) -> None:
        """A fresh session (not a resumed one): what others told us may be stale."""
        made = self.__dict__.get("disco")
        if made is not None and not event.resumed:
            made.cache.clear()
