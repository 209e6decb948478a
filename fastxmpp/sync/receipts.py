"""``client.receipts`` for the blocking client: the methods that send and wait, over
:mod:`fastxmpp.xep.receipts` (which requests, answers and correlates)."""
from __future__ import annotations

import time
from typing import Any, Optional

from ..element import Element
from ..im._types import Text
from ..im.messages import build_message
from ..jid import JIDLike
from ..xep import receipts
from ..xep.receipts import ReceiptReceived

__all__ = ["Receipts"]


class Receipts(receipts.ReceiptsAPI):
    """XEP-0184 delivery receipts (blocking): ``send(to, body)``, ``wait(id, timeout=...)``."""

    def send(self, to: JIDLike, body: Text = None, **kw: Any) -> str:
        """Send a message (keywords of :func:`~fastxmpp.im.messages.build_message`) asking
        for a receipt; returns its id for :meth:`wait`."""
        stanza = build_message(to=to, body=body, **kw)
        msg_id = self.request(stanza)
        self.client.send(stanza)
        return msg_id

    def wait(self, msg_id: str, *, timeout: Optional[float] = None) -> ReceiptReceived:
        """The receipt of ``msg_id``, reading (and dispatching) stanzas until it comes:
        TimeoutError after ``timeout`` seconds (None: the client's ``iq_timeout``); the
        StanzaError of a bounce; ReceiptNotPending when it is not (or no longer) waited for."""
        wait = timeout or self.client.iq_timeout
        deadline = time.monotonic() + wait
        while True:
            done = self._check_waitable(msg_id)
            if done is not None:
                return done
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no receipt for {msg_id!r} within {wait:g}s")
            self.client.process(timeout=left)

    def _send_now(self, stanza: Element) -> None:
        self.client.send(stanza)
