"""``client.receipts`` for the asyncio client: the methods that send and wait, over
:mod:`fastxmpp.xep.receipts` (which requests, answers and correlates)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional

from ..element import Element
from ..im._types import Text
from ..im.messages import build_message
from ..jid import JIDLike
from ..xep import receipts
from ..xep.receipts import ReceiptNotPending, ReceiptReceived

__all__ = ["Receipts"]


class Receipts(receipts.ReceiptsAPI):
    """XEP-0184 delivery receipts (asyncio): ``await send(to, body)``, ``await wait(id)``."""

    def __init__(self, client: Any, **kw: Any) -> None:
        super().__init__(client, **kw)
        self._waiters: Dict[str, List["asyncio.Future[ReceiptReceived]"]] = {}

    async def send(self, to: JIDLike, body: Text = None, **kw: Any) -> str:
        """Send a message (keywords of :func:`~fastxmpp.im.messages.build_message`) asking
        for a receipt; returns its id for :meth:`wait`."""
        stanza = build_message(to=to, body=body, **kw)
        msg_id = self.request(stanza)
        await self.client.send(stanza)
        return msg_id

    async def wait(self, msg_id: str, *, timeout: Optional[float] = None) -> ReceiptReceived:
        """The receipt of ``msg_id`` (at once if it came already); ``timeout`` None waits
        as long as it takes; the StanzaError of a bounce; ReceiptNotPending when it is not
        (or no longer) waited for."""
        done = self._check_waitable(msg_id)
        if done is not None:
            return done
        future: "asyncio.Future[ReceiptReceived]" = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(msg_id, [])
        waiters.append(future)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiters.pop(msg_id, None)

    def _settle(self, msg_id: str, outcome: Any) -> None:
        for future in self._waiters.pop(msg_id, ()):
            if not future.done():
                if isinstance(outcome, ReceiptReceived):
                    future.set_result(outcome)
                else:
                    future.set_exception(outcome or ReceiptNotPending(msg_id))

    def _send_now(self, stanza: Element) -> None:
        self.client.send_nowait(stanza)
