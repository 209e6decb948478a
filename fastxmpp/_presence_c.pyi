"""Stub of the compiled twin of ``PresenceTracker.receive`` (fastxmpp/_presence_c.pyx)."""
from typing import Any, Callable, Dict, List, Optional, Type

__all__ = ["bind", "receive"]

def bind(fallback: Callable[[Any, Any], List[Any]], resource_presence: Type[Any], online: Type[Any],
         changed: Type[Any], offline: Type[Any], jid_class: Type[Any], parse_once: Callable[[str], Any],
         invalid_jid: Type[BaseException], resource_fast: Callable[[str], Any], shows: Dict[str, str],
         show_rank: Dict[Optional[str], int], jid_cache: int) -> None: ...
def receive(tracker: Any, stanza: Any) -> List[Any]: ...
