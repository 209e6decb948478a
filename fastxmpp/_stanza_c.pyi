from typing import Any, Optional

from ._element_c import Element

__all__ = ["message"]

def message(
    *,
    to: Any = None,
    type: Optional[str] = "chat",
    body: Optional[str] = None,
    id: Optional[str] = None,
    from_: Any = None,
    lang: Optional[str] = None,
    thread: Optional[str] = None,
    subject: Optional[str] = None,
) -> Element: ...
