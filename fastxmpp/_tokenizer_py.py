"""Pure-Python twin of the stream tokenizer, over ``xml.parsers.expat``.

Same behaviour as ``_tokenizer_c``; see ``fastxmpp.tokenizer`` for the contract.
"""
from __future__ import annotations

import re
from typing import FrozenSet, List, Optional, Tuple, Union
from xml.parsers import expat

from . import errors
from ._element_py import Element
from ._tokenizer_base import (
    CONTENT_NS,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_STANZA_BYTES,
    RESTART_TRIGGERS,
    STREAM_TAG,
    check_prolog,
    expat_error,
    stream_header_error,
)
from .tokens import StreamEnd, StreamHeader

__all__ = ["Tokenizer"]

Token = Union[StreamHeader, Element, StreamEnd]

# scanner states
_TEXT, _LT, _STAG, _ETAG, _BANG, _CDATA, _PI = range(7)
_STAG_STOP = re.compile(rb"[>\"']")
# the next '<' with, when complete, an end tag (group 1) or a start tag (group 2)
_NEXT_TAG = re.compile(rb"<(?:(/[^>]*>)|([^!?/>\"'](?:[^>\"']|\"[^\"]*\"|'[^']*')*>)|)")
_STREAM_END = StreamEnd()
_new_element = Element.__new__


class _Scanner:
    """Finds top-level element boundaries in raw bytes, ahead of expat.

    It enforces the size and depth limits before expat sees a byte, refuses
    comments, processing instructions and DTDs, and records the absolute byte
    offset just past each top-level element so a stream restart can resume at
    the right byte.
    """

    __slots__ = ("max_bytes", "max_depth", "pos", "state", "depth", "tag_start", "stanza_start",
                 "quote", "last", "bang", "term", "ends")

    def __init__(self, max_bytes: int, max_depth: int) -> None:
        self.max_bytes = max_bytes
        self.max_depth = max_depth + 1  # the stream root is depth 1
        self.pos = 0
        self.state = _TEXT
        self.depth = 0
        self.tag_start = -1
        self.stanza_start = -1
        self.quote = 0
        self.last = 0
        self.bang = b""
        self.term = 0
        self.ends: List[int] = []

    def scan(self, data: bytes) -> Tuple[int, Optional[errors.StreamError]]:
        """Scan ``data``; return how many of its bytes expat may see, and the error past them."""
        base = self.pos
        n = len(data)
        i = 0
        state = self.state
        depth = self.depth
        err: Optional[errors.StreamError] = None
        while i < n:
            if state == _TEXT:
                # fast path: walk complete tags with one regex iterator
                kind = None
                for m in _NEXT_TAG.finditer(data, i):
                    kind = m.lastindex
                    if kind is None:  # incomplete, or '<!' / '<?': go byte by byte
                        self.tag_start = base + m.start()
                        i = m.end()
                        state = _LT
                        break
                    i = m.end()
                    if kind == 1:
                        depth -= 1
                        if depth == 1:
                            self.tag_start = base + m.start()
                            err = self._end_stanza(base + i)
                            if err is not None:
                                break
                    else:
                        if depth == 1:
                            self.tag_start = self.stanza_start = base + m.start()
                        if depth >= self.max_depth:
                            self.tag_start = base + m.start()
                            err = errors.PolicyViolation(f"elements nested deeper than {self.max_depth - 1}")
                            break
                        if data[i - 2] == 0x2F:  # '/>'
                            if depth == 1:
                                err = self._end_stanza(base + i)
                                if err is not None:
                                    break
                        else:
                            depth += 1
                if err is not None:
                    break
                if kind is None and state == _TEXT:
                    break  # no more tags in this chunk
                if state == _TEXT:
                    # the iterator ran out: the rest has no '<'
                    j = data.find(b"<", i)
                    if j < 0:
                        break
                    i = j
            elif state == _LT:
                c = data[i]
                if c == 0x2F:  # '/'
                    state = _ETAG
                    i += 1
                elif c == 0x3F:  # '?': only the XML declaration, first thing in the stream
                    if depth or self.tag_start > 3:
                        err = errors.RestrictedXML("processing instructions are not allowed")
                        break
                    state = _PI
                    self.term = 0
                    i += 1
                elif c == 0x21:  # '!'
                    state = _BANG
                    self.bang = b""
                    i += 1
                else:
                    if depth == 1:
                        self.stanza_start = self.tag_start
                    state = _STAG
                    self.quote = 0
                    self.last = 0
            elif state == _STAG:
                if self.quote:
                    j = data.find(b'"' if self.quote == 0x22 else b"'", i)
                    if j < 0:
                        break
                    self.quote = 0
                    self.last = 0
                    i = j + 1
                    continue
                m = _STAG_STOP.search(data, i)
                if m is None:
                    self.last = data[n - 1]
                    break
                j = m.start()
                c = data[j]
                if c != 0x3E:  # a quote opens
                    self.quote = c
                    i = j + 1
                    continue
                prev = data[j - 1] if j > i else self.last
                i = j + 1
                state = _TEXT
                if depth + 1 > self.max_depth:
                    err = errors.PolicyViolation(f"elements nested deeper than {self.max_depth - 1}")
                    break
                if prev == 0x2F:  # '/>': opened and closed at once
                    if depth == 1:
                        err = self._end_stanza(base + i)
                        if err is not None:
                            break
                else:
                    depth += 1
            elif state == _ETAG:
                j = data.find(b">", i)
                if j < 0:
                    break
                i = j + 1
                state = _TEXT
                depth -= 1
                if depth == 1:
                    err = self._end_stanza(base + i)
                    if err is not None:
                        break
            elif state == _BANG:
                b = self.bang + data[i:i + 7 - len(self.bang)]
                i += len(b) - len(self.bang)
                self.bang = b
                if b[:1] == b"-":
                    err = errors.RestrictedXML("comments are not allowed")
                    break
                if b[:1] == b"D":
                    err = errors.RestrictedXML("DTDs are not allowed")
                    break
                if not b"[CDATA[".startswith(b):
                    err = errors.NotWellFormed("unexpected markup after '<!'")
                    break
                if len(b) == 7:
                    state = _CDATA
                    self.term = 0
            else:  # _CDATA or _PI: look for the terminator, also across chunks
                want = b"]]>" if state == _CDATA else b"?>"
                w = len(want)
                if self.term:
                    head = want[: self.term] + data[i:i + w]
                    j = head.find(want)
                    if j >= 0:
                        i += j + w - self.term
                        self.term = 0
                        state = _TEXT
                        continue
                j = data.find(want, i)
                if j >= 0:
                    i = j + w
                    self.term = 0
                    state = _TEXT
                    continue
                window = (want[: self.term] + data[i:]) if n - i < w else data[n - w + 1:]
                self.term = next((k for k in range(w - 1, 0, -1) if window.endswith(want[:k])), 0)
                break
        if err is None:
            pos = base + n
            if self.stanza_start >= 0:
                if pos - self.stanza_start > self.max_bytes:
                    err = errors.PolicyViolation(f"stanza exceeds the limit of {self.max_bytes} bytes")
            elif state != _TEXT and pos - self.tag_start > self.max_bytes:
                err = errors.PolicyViolation(f"markup exceeds the limit of {self.max_bytes} bytes")
        self.state = state
        self.depth = depth
        self.pos = base + n
        if err is None:
            return n, None
        start = self.stanza_start if self.stanza_start >= 0 else self.tag_start
        return max(0, start - base), err

    def _end_stanza(self, end: int) -> Optional[errors.StreamError]:
        size = end - self.stanza_start
        if size > self.max_bytes:
            return errors.PolicyViolation(f"stanza of {size} bytes exceeds the limit of {self.max_bytes}")
        self.stanza_start = -1
        self.ends.append(end)
        return None


class _Paused(Exception):
    """Raised inside a handler to stop expat at a stream-restart trigger."""


class Tokenizer:
    """Incremental tokenizer of the XML stream a server sends to a client.

    ``feed(data)`` returns the tokens completed by ``data``: a
    :class:`~fastxmpp.tokens.StreamHeader`, then one :class:`Element` per
    top-level element (stanza, features, stream error, SASL/TLS element...),
    and a :class:`~fastxmpp.tokens.StreamEnd`.  A bad byte raises a
    :class:`~fastxmpp.errors.StreamError` subclass named after the RFC 6120
    condition; the tokens completed before the bad byte are in its ``events``
    attribute, so nothing is lost.  The tokenizer is unusable afterwards.

    After a stream-restart trigger (``<proceed/>`` for STARTTLS, ``<success/>``
    for SASL by default) the tokenizer holds back what follows until
    :meth:`reset` starts the new stream; ``reset()`` returns the tokens parsed
    from the bytes held back.
    """

    def __init__(
        self,
        *,
        max_stanza_bytes: int = DEFAULT_MAX_STANZA_BYTES,
        max_depth: int = DEFAULT_MAX_DEPTH,
        content_ns: str = CONTENT_NS,
        restart_triggers: FrozenSet[str] = RESTART_TRIGGERS,
    ) -> None:
        if max_stanza_bytes < 1 or max_depth < 1:
            raise ValueError("limits must be positive")
        self.max_stanza_bytes = max_stanza_bytes
        self.max_depth = max_depth
        self.content_ns = content_ns
        self.restart_triggers = frozenset(restart_triggers)
        self._failed: Optional[errors.StreamError] = None
        self._new_stream()

    # -- public API -----------------------------------------------------------------
    @property
    def paused(self) -> bool:
        """True after a restart trigger, until :meth:`reset`."""
        return self._held is not None

    @property
    def stream_open(self) -> bool:
        return self._depth >= 1

    def feed(self, data: bytes) -> List[Token]:
        if self._failed is not None:
            raise type(self._failed)(self._failed.text)
        if self._held is not None:
            self._held += data
            return []
        return self._feed(bytes(data))

    def reset(self) -> List[Token]:
        """Start a new stream on the same connection; returns tokens from held-back bytes."""
        if self._failed is not None:
            raise type(self._failed)(self._failed.text)
        held = self._held or b""
        self._new_stream()
        return self._feed(held) if held else []

    def close(self) -> List[Token]:
        """The connection ended: refuse a stream cut in the middle of a stanza."""
        if self._failed is not None or self._held is not None:
            return []
        if self._depth > 1 or self._scanner.state != _TEXT and self._depth >= 1:
            self._fail(errors.NotWellFormed("connection closed in the middle of a stanza"))
        return []

    # -- internals --------------------------------------------------------------------
    def _new_stream(self) -> None:
        self._scanner = _Scanner(self.max_stanza_bytes, self.max_depth)
        parser = expat.ParserCreate("utf-8", "}")
        parser.buffer_text = True
        parser.buffer_size = 65536
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._chars
        parser.StartNamespaceDeclHandler = self._nsdecl
        parser.CommentHandler = self._restricted
        parser.ProcessingInstructionHandler = self._restricted
        parser.StartDoctypeDeclHandler = self._restricted
        parser.EntityDeclHandler = self._restricted
        if hasattr(parser, "SetReparseDeferralEnabled"):
            parser.SetReparseDeferralEnabled(False)
        self._parser = parser
        self._names: dict = {}
        self._depth = 0
        self._stack: List[Element] = []
        self._text = ""
        self._events: List[Token] = []
        self._header_ns: Optional[str] = None
        self._prolog: Optional[bytes] = b""
        self._ends_seen = 0
        self._held: Optional[bytes] = None
        self._trigger = False

    def _fail(self, err: errors.StreamError) -> None:
        err.events = self._events
        self._events = []
        self._failed = err
        raise err

    def _feed(self, data: bytes) -> List[Token]:
        if self._prolog is not None:
            self._prolog += data[:4096]
            try:
                ok = check_prolog(self._prolog)
            except errors.StreamError as err:
                self._fail(err)
            if ok:
                self._prolog = None
        scanner = self._scanner
        base = scanner.pos
        scanner.ends = []
        cut, err = scanner.scan(data)
        self._ends_seen = 0
        try:
            self._parser.Parse(memoryview(data)[:cut] if cut < len(data) else data, False)
        except _Paused:
            end = scanner.ends[self._ends_seen - 1]
            self._held = data[end - base:]
            err = None
        except errors.StreamError as e:
            err = e
        except expat.ExpatError as e:
            err = expat_error(e.code, expat.ErrorString(e.code), e.lineno, e.offset)
        if err is not None:
            self._fail(err)
        events = self._events
        self._events = []
        return events

    def _name(self, raw: str) -> str:
        name = self._names.get(raw)
        if name is None:
            name = "{" + raw if "}" in raw else raw
            self._names[raw] = name
        return name

    def _flush_text(self) -> None:
        text = self._text
        self._text = ""
        el = self._stack[-1]
        children = el._children
        if children:
            last = children[-1]
            last.tail = last.tail + text if last.tail else text
        else:
            el.text = el.text + text if el.text else text

    def _start(self, raw: str, attrs: dict) -> None:
        if self._text:
            self._flush_text()
        depth = self._depth = self._depth + 1
        names = self._names
        tag = names.get(raw) or self._name(raw)
        attrib = None
        if attrs:
            attrib = attrs
            for key in attrs:
                if "}" in key:
                    attrib = {names.get(k) or self._name(k): v for k, v in attrs.items()}
                    break
        if depth == 1:
            if tag != STREAM_TAG:
                raise stream_header_error(tag)
            self._events.append(StreamHeader(attrib or {}, self._header_ns))
            return
        el = _new_element(Element)
        el.tag = tag
        el.text = el.tail = el._children = None
        el._attrib = attrib
        stack = self._stack
        if depth == 2:
            if "}" not in raw:
                raise errors.InvalidNamespace(f"top-level element {tag!r} has no namespace")
        else:
            parent = stack[-1]
            if parent._children is None:
                parent._children = [el]
            else:
                parent._children.append(el)
        stack.append(el)

    def _end(self, raw: str) -> None:
        if self._text:
            self._flush_text()
        depth = self._depth
        self._depth = depth - 1
        if depth == 2:
            el = self._stack.pop()
            self._events.append(el)
            self._ends_seen += 1
            if el.tag in self.restart_triggers:
                raise _Paused()
        elif depth == 1:
            self._events.append(_STREAM_END)
        else:
            self._stack.pop()

    def _chars(self, text: str) -> None:
        if self._depth >= 2:
            self._text = self._text + text if self._text else text

    def _nsdecl(self, prefix: Optional[str], uri: str) -> None:
        if prefix is not None and uri == self.content_ns:
            raise errors.BadNamespacePrefix(f"content namespace {uri!r} bound to prefix {prefix!r}")
        if self._depth == 0 and prefix is None:
            if uri != self.content_ns:
                raise errors.InvalidNamespace(f"content namespace must be {self.content_ns!r}, got {uri!r}")
            self._header_ns = uri

    def _restricted(self, *args: object) -> None:
        raise errors.RestrictedXML("comments, processing instructions and DTDs are not allowed")
