"""Pieces both tokenizer twins share: limits, prolog check, expat error mapping."""
from __future__ import annotations

import re
from typing import FrozenSet, Optional, Sequence, Tuple, Type

from . import errors
from .tokens import NS_STREAM

DEFAULT_MAX_STANZA_BYTES = 1 << 20
DEFAULT_MAX_DEPTH = 256
CONTENT_NS = "jabber:client"
STREAM_TAG = "{%s}stream" % NS_STREAM
RESTART_TRIGGERS: FrozenSet[str] = frozenset(
    {
        "{urn:ietf:params:xml:ns:xmpp-tls}proceed",
        "{urn:ietf:params:xml:ns:xmpp-sasl}success",
    }
)

# expat error codes (expat.h, enum XML_Error) with a condition other than not-well-formed
_XML_ERROR_UNDEFINED_ENTITY = 11
_XML_ERROR_UNKNOWN_ENCODING = 18
_XML_ERROR_INCORRECT_ENCODING = 19
_XML_ERROR_EXTERNAL_ENTITY_HANDLING = 21
_XML_ERROR_ENTITY_DECLARED_IN_PE = 24

_BOM = b"\xef\xbb\xbf"
_ENCODING_RE = re.compile(rb"""encoding\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def expat_error(code: int, message: str, line: int, column: int) -> errors.StreamError:
    """The stream error for an expat error code."""
    cls: Type[errors.StreamError]
    if code in (_XML_ERROR_UNDEFINED_ENTITY, _XML_ERROR_EXTERNAL_ENTITY_HANDLING, _XML_ERROR_ENTITY_DECLARED_IN_PE):
        cls = errors.RestrictedXML
    elif code in (_XML_ERROR_UNKNOWN_ENCODING, _XML_ERROR_INCORRECT_ENCODING):
        cls = errors.UnsupportedEncoding
    else:
        cls = errors.NotWellFormed
    return cls(f"{message} (line {line}, column {column})")


def check_prolog(head: bytes) -> Optional[bool]:
    """Refuse anything but UTF-8, and text before the stream header, at the start of a stream.

    ``head`` is the stream's first bytes.  Returns True once they are settled (the XML
    declaration, if any, and whitespace, then a '<'), None while more bytes are needed;
    raises UnsupportedEncoding or NotWellFormed otherwise.  Both twins call it, so text
    before the header is one error with one message, however expat would have tokenized
    it (a quote there opens a literal that expat waits to see end).
    """
    if len(head) < 2:
        return None
    if head[:2] in (b"\xfe\xff", b"\xff\xfe") or head[0] == 0 or head[1] == 0:
        raise errors.UnsupportedEncoding("only UTF-8 is allowed (UTF-16 detected)")
    if head.startswith(_BOM[:len(head)]):
        if len(head) < len(_BOM):
            return None
        # RFC 6120 section 11.6: a stream carries no byte order mark, and U+FEFF anywhere in
        # it, first character included, is a zero width no-break space, not a BOM.  Expat
        # would skip it; read as a character it is text before the stream header.
        raise errors.NotWellFormed(
            "U+FEFF at the start of the stream: a zero width no-break space (RFC 6120 section 11.6,"
            " no byte order mark in XMPP), text before the stream header (line 1, column 0)")
    start = 0
    if head.startswith(b"<?"):
        end = head.find(b"?>")
        if end < 0:
            return None if len(head) < 4096 else True
        match = _ENCODING_RE.search(head, 0, end)
        if match:
            enc = (match.group(1) or match.group(2) or b"").decode("ascii", "replace")
            if enc.lower().replace("_", "-") not in ("utf-8", "utf8"):
                raise errors.UnsupportedEncoding(f"only UTF-8 is allowed, not {enc!r}")
        start = end + 2
    text = head[start:].lstrip(b" \t\r\n")
    if not text:
        return None if len(head) < 4096 else True
    if text[0] != 0x3C:   # '<'
        at = len(head) - len(text)
        line, column = _position(head[:at])
        raise errors.NotWellFormed(f"text before the stream header (line {line}, column {column})")
    return True


def _position(data: bytes) -> Tuple[int, int]:
    """Expat's line and column just past ``data`` (CR LF, CR and LF end a line; a column
    counts characters)."""
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    last = lines[lines.rfind(b"\n") + 1:]
    return lines.count(b"\n") + 1, sum(1 for b in last if b & 0xC0 != 0x80)


def _attr_value(value: bytes) -> bytes:
    """``value`` quoted for an attribute, so that expat reads back exactly these bytes."""
    for raw, ref in ((b"&", b"&amp;"), (b"<", b"&lt;"), (b"'", b"&apos;"),
                     (b"\t", b"&#9;"), (b"\n", b"&#10;"), (b"\r", b"&#13;")):
        value = value.replace(raw, ref)
    return b"'" + value + b"'"


def replay_header(header_ns: Optional[str], decls: Sequence[Tuple[bytes, bytes]]) -> Optional[bytes]:
    """A start tag that puts a new expat parser in the stream header's namespace scope.

    Used after ``Tokenizer.compact()``: the parser is fed this with no handlers
    set, so only the name (the closing ``</stream:stream>`` must match it) and
    the bindings matter.  ``decls`` are the header's (prefix, uri) declarations
    as UTF-8 bytes.  None if the header's name cannot be told from them (no
    prefix, or several, bound to the streams namespace).
    """
    stream_ns = NS_STREAM.encode()
    prefixes = [prefix for prefix, uri in decls if uri == stream_ns]
    if len(prefixes) != 1 or header_ns == NS_STREAM:
        return None
    parts = [b"<" + prefixes[0] + b":stream"]
    if header_ns is not None:
        parts.append(b" xmlns=" + _attr_value(header_ns.encode("utf-8")))
    for prefix, uri in decls:
        parts.append(b" xmlns:" + prefix + b"=" + _attr_value(uri))
    parts.append(b">")
    return b"".join(parts)


def shift_position(origin: Optional[Tuple[int, ...]], line: int, column: int) -> Tuple[int, int]:
    """Map a line and column of a compacted tokenizer's parser to the stream's own.

    ``origin`` is None (never compacted), or the stream's (line, column) where
    the current parser's input took over, followed by the parser's own (line,
    column) just after the replayed start tag.
    """
    if origin is None:
        return line, column
    line0, column0, head_line, head_column = origin
    if line == head_line:
        return line0, column0 + column - head_column
    return line0 + line - head_line, column


def stream_header_error(tag: str) -> errors.StreamError:
    if tag.endswith("}stream") or tag == "stream":
        return errors.InvalidNamespace(f"stream element must be qualified by {NS_STREAM!r}, got {tag!r}")
    return errors.BadFormat(f"a stream must start with <stream:stream>, got {tag!r}")
