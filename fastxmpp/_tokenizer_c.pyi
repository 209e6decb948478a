from typing import FrozenSet, List, Union

from ._element_c import Element
from .tokens import StreamEnd, StreamHeader

__all__ = ["Tokenizer"]

_Token = Union[StreamHeader, Element, StreamEnd]

class Tokenizer:
    max_stanza_bytes: int
    max_depth: int
    content_ns: str
    restart_triggers: FrozenSet[str]
    def __init__(
        self,
        *,
        max_stanza_bytes: int = ...,
        max_depth: int = ...,
        content_ns: str = ...,
        restart_triggers: FrozenSet[str] = ...,
    ) -> None: ...
    @property
    def paused(self) -> bool: ...
    @property
    def stream_open(self) -> bool: ...
    @property
    def in_stanza(self) -> bool: ...
    def feed(self, data: bytes) -> List[_Token]: ...
    def reset(self) -> List[_Token]: ...
    def compact(self) -> bool: ...
    def close(self) -> List[_Token]: ...
