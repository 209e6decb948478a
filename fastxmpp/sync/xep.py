"""``client.disco``, ``client.pinger`` and ``client.software_version`` for the blocking
client: the sending methods, each a line or two over :mod:`fastxmpp.xep` (which builds,
parses, answers and caches)."""
from __future__ import annotations

import time
from typing import Optional
from ..jid import JIDLike

from ..xep import _glue, disco, ping, version

__all__ = ["XEP", "Disco", "Pinger", "SoftwareVersion"]


class Disco(_glue.DiscoAPI):
    """``client.disco``: service discovery (XEP-0030) queries, cached per session, and the
    disco#info answers; blocking methods for :class:`fastxmpp.sync.Client`.
    """

    def info(self, jid: Optional[JIDLike] = None, node: Optional[str] = None) -> disco.DiscoInfo:
        """disco#info of ``jid`` (our server when None), from the session's cache when asked before."""
        to, known = self.cached_info(jid, node)
        return known or self._info(to, node, self.client.iq(disco.info_request(to, node)))

    def items(self, jid: Optional[JIDLike] = None, node: Optional[str] = None) -> disco.DiscoItems:
        """disco#items of ``jid`` (our server when None), cached like :meth:`info`."""
        to, known = self.cached_items(jid, node)
        return known or self._items(to, node, self.client.iq(disco.items_request(to, node)))


class Pinger(_glue.PingAPI):
    """``client.pinger``: XEP-0199 pings (sent, and answered once made); blocking methods for
    :class:`fastxmpp.sync.Client`.
    """

    def send(self, jid: Optional[JIDLike] = None, *, timeout: Optional[float] = None) -> float:
        """Ping ``jid`` (our server when None); returns the round trip in seconds."""
        start = time.monotonic()
        ping.check_pong(self.client.iq(ping.ping_request(self._to(jid)), timeout=timeout))
        return time.monotonic() - start


class SoftwareVersion(_glue.VersionAPI):
    """``client.software_version``: XEP-0092 software version queries and answers; blocking methods
    for :class:`fastxmpp.sync.Client`.
    """

    def query(self, jid: Optional[JIDLike] = None) -> version.SoftwareVersion:
        """(name, version, os) of ``jid``'s software (our server when None)."""
        return version.parse_version(self.client.iq(version.version_request(self._to(jid))))


class XEP(_glue.XEP):
    """The XEP features of one blocking client (disco, ping, version), each made on first use."""

    features = _glue.Features(Disco, Pinger, SoftwareVersion)
