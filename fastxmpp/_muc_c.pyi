"""Stub of the compiled twin of ``MUCCore.receive_message`` (fastxmpp/_muc_c.pyx)."""
from typing import Any, Callable, List, Type

__all__ = ["bind", "receive_message"]

def bind(fallback: Callable[[Any, Any], List[Any]], room_message: Type[Any], recent: int) -> None: ...
def receive_message(core: Any, stanza: Any) -> List[Any]: ...
