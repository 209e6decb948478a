"""What a tokenizer gives back besides elements: the stream header and the stream end."""
from __future__ import annotations

from typing import Dict, Optional

__all__ = ["StreamHeader", "StreamEnd", "NS_STREAM", "NS_XML"]

NS_STREAM = "http://etherx.jabber.org/streams"
NS_XML = "http://www.w3.org/XML/1998/namespace"
_LANG = "{%s}lang" % NS_XML


class StreamHeader:
    """The opening ``<stream:stream>`` tag of a stream the peer started.

    ``attrib`` holds every attribute (names in Clark notation); ``content_ns`` is
    the default namespace the header declared (None when it declared none).
    """

    __slots__ = ("attrib", "content_ns")

    def __init__(self, attrib: Dict[str, str], content_ns: Optional[str] = None) -> None:
        self.attrib = attrib
        self.content_ns = content_ns

    @property
    def from_(self) -> Optional[str]:
        """The ``from`` attribute (the server's domain), or None."""
        return self.attrib.get("from")

    @property
    def to(self) -> Optional[str]:
        """The ``to`` attribute, or None."""
        return self.attrib.get("to")

    @property
    def id(self) -> Optional[str]:
        """The ``id`` attribute (the stream id), or None."""
        return self.attrib.get("id")

    @property
    def version(self) -> Optional[str]:
        """The ``version`` attribute (``"1.0"`` for RFC 6120 streams), or None."""
        return self.attrib.get("version")

    @property
    def lang(self) -> Optional[str]:
        """The ``xml:lang`` attribute, or None."""
        return self.attrib.get(_LANG)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StreamHeader):
            return NotImplemented
        return self.attrib == other.attrib and self.content_ns == other.content_ns

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StreamHeader({self.attrib!r}, content_ns={self.content_ns!r})"


class StreamEnd:
    """The peer closed its stream with ``</stream:stream>``."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StreamEnd)

    def __hash__(self) -> int:
        return hash(StreamEnd)

    def __repr__(self) -> str:
        return "StreamEnd()"
