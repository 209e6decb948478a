"""``client.blocking`` (XEP-0191) for the blocking client: the methods that send, each a
line or two over :mod:`fastxmpp.xep.blocking` (which builds, parses, applies pushes and
keeps the list)."""
from __future__ import annotations

from typing import FrozenSet

from ..jid import JID
from ..xep.blocking import BlockingBase, JIDs

__all__ = ["Blocking"]


class Blocking(BlockingBase):
    """``client.blocking``: ``fetch()``, ``block(jids)``, ``unblock(jids)``,
    ``unblock_all()``; the set of blocked JIDs and its events (see :class:`BlockingBase`)."""

    def fetch(self) -> FrozenSet[JID]:
        """Fetch the block list (and from then on receive its pushes); returns the JIDs blocked."""
        return self._received(self.client.iq(self.core.fetch_request()))

    def block(self, jids: JIDs) -> None:
        """Block one JID or several (a JID or string, or an iterable of them)."""
        request = self.core.block_request(jids)
        self._applied(request, self.client.iq(request))

    def unblock(self, jids: JIDs) -> None:
        """Unblock one JID or several (at least one: see :meth:`unblock_all`)."""
        request = self.core.unblock_request(jids)
        self._applied(request, self.client.iq(request))

    def unblock_all(self) -> None:
        """Unblock everyone."""
        request = self.core.unblock_all_request()
        self._applied(request, self.client.iq(request))
