from typing import Optional

from ._element_c import Element

__all__ = ["serialize", "stream_header", "stream_footer"]

def serialize(element: Element, default_ns: str = "jabber:client") -> bytes: ...
def stream_header(
    *,
    to: object,
    from_: object = None,
    id: Optional[str] = None,
    version: Optional[str] = "1.0",
    lang: Optional[str] = "en",
    default_ns: str = "jabber:client",
) -> bytes: ...
def stream_footer() -> bytes: ...
