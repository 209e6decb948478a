"""``client.mam`` for the asyncio client: XEP-0313 archive queries, each a line or two over
:mod:`fastxmpp.xep.mam` (which builds the query, collects the results and reads the page)."""
from __future__ import annotations

from typing import Any, Dict, AsyncIterator, Optional
from ..jid import JIDLike

from ..xep import mam

__all__ = ["MAM"]


class MAM(mam.MAMBase):
    """``client.mam`` (asyncio): :meth:`query` one page, :meth:`pages` all of them."""

    async def query(self, with_: Optional[JIDLike] = None, *, start: mam.Stamp = None, end: mam.Stamp = None,
                    max: Optional[int] = 50, after: Optional[str] = None, before: Optional[str] = None,
                    archive: Optional[JIDLike] = None, timeout: Optional[float] = None) -> mam.Page:
        """One :class:`~fastxmpp.xep.mam.Page` of our archive (or ``archive``'s, a room):
        messages exchanged ``with_`` a JID, between ``start`` and ``end``, at most ``max``,
        the page ``after`` or ``before`` an archive id (``before=""``: the last page)."""
        query = self._start(with_=with_, start=start, end=end, max=max, after=after, before=before,
                            archive=archive)
        try:
            return query.finish(await self.client.iq(query.request(), timeout=timeout))
        finally:
            self._done(query)

    async def pages(self, with_: Optional[JIDLike] = None, *, reverse: bool = False,
                    **kw: Any) -> AsyncIterator[mam.Page]:
        """Every page of the query (keywords as for :meth:`query`), oldest first, or with
        ``reverse`` newest first (each page's messages still oldest first)."""
        args: Optional[Dict[str, Any]] = self._first_page_args(reverse, dict(kw, with_=with_))
        while args is not None:
            page = await self.query(**args)
            yield page
            args = self._next_page_args(page, args)
