"""``client.carbons`` for the asyncio client: enable and disable, over
:mod:`fastxmpp.xep.carbons` (which builds the requests and unwraps and checks the copies)."""
from __future__ import annotations

from ..xep import carbons

__all__ = ["Carbons"]


class Carbons(carbons.CarbonsAPI):
    """XEP-0280 message carbons (asyncio): ``await enable()``, ``await disable()``."""

    async def enable(self) -> None:
        """Ask our server to send us carbon copies (a StanzaError when it refuses)."""
        await self.client.iq(carbons.enable_request())
        self.enabled = True

    async def disable(self) -> None:
        """Ask our server to stop sending us carbon copies."""
        await self.client.iq(carbons.disable_request())
        self.enabled = False
