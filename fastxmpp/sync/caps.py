"""``client.caps`` for the blocking client: XEP-0115 entity capabilities, each method a line
or two over :mod:`fastxmpp.xep.caps` (which hashes, advertises, answers and caches)."""
from __future__ import annotations

from ..jid import JIDLike

from ..xep import caps, disco

__all__ = ["Caps"]


class Caps(caps.CapsBase):
    """``client.caps`` (blocking): :meth:`info` of another entity, :meth:`announce` ours again."""

    def info(self, jid: JIDLike) -> disco.DiscoInfo:
        """What ``jid`` (a full JID) can do: from the process-wide cache when its advertised
        ``ver`` is known, else asked through disco#info (and cached once verified)."""
        known = self.known(jid)
        if known is not None:
            return known
        to, advertised, request = self._request(jid)
        return self._learned(to, advertised, self.client.iq(request))

    def announce(self) -> None:
        """Send our broadcast presence again with the current ``ver`` (after features
        changed); nothing when no broadcast presence was sent yet."""
        presence = self._own_presence_again()
        if presence is not None:
            self.client.send(presence)
