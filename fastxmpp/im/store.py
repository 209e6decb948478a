"""Where the roster and its version live between sessions (RFC 6121 2.6, roster versioning).

A store is any object with these three methods (see :class:`RosterStore`):

- ``load() -> (version, items)``: what was saved (``(None, [])`` when nothing was);
- ``replace(version, items)``: the whole roster, after a full roster result;
- ``update(version, jid, item)``: one roster push: ``item`` is the new
  :class:`~fastxmpp.im.roster.RosterItem`, or None when ``jid`` was removed.

The roster calls ``load()`` once, when the store is set, and then one of the two others
for every change it applies, so a store is always the server's roster at ``version``.
Without a store the roster object itself is the in-memory store (a client that reconnects
sends its version, and the server may answer "no change").  :class:`MemoryRosterStore`
keeps a copy that can be handed to another client; :class:`JSONRosterStore` keeps it in a
file, so a new process starts from there too.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from typing import Any, Dict, Iterable, List, Optional, Protocol, Tuple

from ..jid import JID
from .roster import RosterItem, item_from_dict, item_to_dict

__all__ = ["RosterStore", "MemoryRosterStore", "JSONRosterStore"]

log = logging.getLogger("fastxmpp.im")


class RosterStore(Protocol):
    """The interface of a roster store (any object with these methods will do)."""

    def load(self) -> Tuple[Optional[str], Iterable[RosterItem]]:
        """The stored (roster version or None, items), read when the store is set on a roster."""
        ...

    def replace(self, version: Optional[str], items: Iterable[RosterItem]) -> None:
        """Keep ``items`` as the whole roster, at ``version`` (after a full fetch)."""
        ...

    def update(self, version: Optional[str], jid: JID, item: Optional[RosterItem]) -> None:
        """Keep one change at ``version`` (a push): ``item`` for ``jid``, or its removal when
        ``item`` is None."""
        ...


class MemoryRosterStore:
    """Keeps the roster and its version in memory (for the life of the object)."""

    def __init__(self) -> None:
        self.version: Optional[str] = None
        self.items: Dict[JID, RosterItem] = {}

    def load(self) -> Tuple[Optional[str], List[RosterItem]]:
        """The held (roster version or None, list of items)."""
        return self.version, list(self.items.values())

    def replace(self, version: Optional[str], items: Iterable[RosterItem]) -> None:
        """Hold ``items`` as the whole roster, at ``version`` (and save, in a subclass)."""
        self.version = version
        self.items = {item.jid: item for item in items}
        self._saved()

    def update(self, version: Optional[str], jid: JID, item: Optional[RosterItem]) -> None:
        """Set ``jid``'s item (remove it when ``item`` is None) at ``version`` (and save, in a
        subclass)."""
        self.version = version
        if item is None:
            self.items.pop(jid, None)
        else:
            self.items[jid] = item
        self._saved()

    def _saved(self) -> None:
        """Called after every change (subclasses persist here)."""


class JSONRosterStore(MemoryRosterStore):
    """Keeps the roster in a JSON file: ``{"version": ..., "items": [{"jid": ...}, ...]}``.

    The file is rewritten whole (to a temporary file, then renamed over the old one)
    after each change.  A missing file is an empty roster; an unreadable or malformed
    one is logged and treated as empty (the server then sends the whole roster).
    """

    def __init__(self, path: "os.PathLike[str] | str") -> None:
        super().__init__()
        self.path = os.fspath(path)
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            version = data.get("version")
            items = [item_from_dict(entry) for entry in data.get("items", [])]
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            log.warning("roster store %s unreadable (%s): starting without a roster version", self.path, exc)
            return
        self.version = version if isinstance(version, str) else None
        self.items = {item.jid: item for item in items}

    def _saved(self) -> None:
        data: Dict[str, Any] = {"version": self.version,
                                "items": [item_to_dict(item) for item in self.items.values()]}
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix=".roster-", suffix=".json", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
