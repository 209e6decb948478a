"""Stub of the compiled twin of ``MUCCore.receive_message`` (fastxmpp/_muc_c.pyx)."""
from typing import Any, Callable, List, Type

from .xep.muc import RoomMessage

__all__ = ["bind", "on_message", "receive_message"]

def bind(fallback: Callable[[Any, Any], List[Any]], room_message: Type[RoomMessage[Any]], recent: int) -> None: ...
def receive_message(core: Any, stanza: Any) -> List[Any]: ...
def on_message(muc: Any, stanza: Any) -> None: ...
