"""Pure-Python twin of the stream tokenizer, over ``xml.parsers.expat``.

Same behaviour as ``_tokenizer_c``; see ``fastxmpp.tokenizer`` for the contract.
"""
from __future__ import annotations

from typing import Dict, FrozenSet, List, Optional, Tuple, Union
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
    replay_header,
    shift_position,
    stream_header_error,
)
from .tokens import StreamEnd, StreamHeader

__all__ = ["Tokenizer"]

Token = Union[StreamHeader, Element, StreamEnd]

# Expat is given at most this many bytes at a time, so the limits are checked
# before its buffer can grow much past them.
_PIECE = 1 << 16
# pyexpat's text buffer, allocated per parser: it joins the pieces of a run of text
# (expat reports text around references and line ends piecewise) into one call
_TEXT_BUFFER = 1 << 13
_STREAM_END = StreamEnd()
# expat errors reported at the start of a whole token, which is markup when it begins with
# '<': '<?xml' after the start, anything after the root element, a token out of place
# ('<![x' in the prolog)
_AT_MARKUP = frozenset(expat.errors.codes[m] for m in (expat.errors.XML_ERROR_MISPLACED_XML_PI,
                                                        expat.errors.XML_ERROR_JUNK_AFTER_DOC_ELEMENT,
                                                        expat.errors.XML_ERROR_SYNTAX))
_new_element = Element.__new__


def _unwrap(index: int, near: int) -> int:
    """The stream offset that expat's byte ``index`` stands for, given one ``near`` it.

    pyexpat hands out byte indexes as a C ``long``, which wraps past 2 GiB where
    that is 32 bits (Windows); every index used here lies within a stanza limit
    of the current feed, so the nearest value congruent modulo 2**32 is the one.
    """
    return index + ((near - index + (1 << 31)) >> 32 << 32)


def _refuse_comment(*args: object) -> None:
    raise errors.RestrictedXML("comments are not allowed")


def _refuse_pi(*args: object) -> None:
    raise errors.RestrictedXML("processing instructions are not allowed")


def _refuse_dtd(*args: object) -> None:
    raise errors.RestrictedXML("DTDs are not allowed")


def _refusal(text: bytes, j: int, offset: int) -> Optional[errors.StreamError]:
    """The error for markup at ``text[j]`` (stream offset ``offset``) that opens a
    comment, a PI (other than the XML declaration) or a DTD, or is '<!' followed by
    anything but the start of a CDATA section; None for anything else."""
    head = text[j:j + 9]
    if head[:2] == b"<?":
        return errors.RestrictedXML("processing instructions are not allowed") if offset > 3 else None
    if head[:2] != b"<!" or len(head) == 2:
        return None
    if head[2] == 0x2D:  # '-'
        return errors.RestrictedXML("comments are not allowed")
    if head[2] == 0x44:  # 'D'
        return errors.RestrictedXML("DTDs are not allowed")
    if not b"<![CDATA[".startswith(head):
        return errors.NotWellFormed("unexpected markup after '<!'")
    return None


def _first_refusal(text: bytes, stop: int, origin: int, closer: Optional[bytes]) -> Optional[errors.StreamError]:
    """The first comment, PI or DTD opened in ``text[:stop]`` outside CDATA sections and
    the XML declaration (``text[0]`` is at stream offset ``origin``; ``closer``: it
    starts inside one of those, which this ends).

    Used after expat has reported an error at ``stop``: expat accepted every ``<``
    before it as the start of markup in content, so the first such opener is the
    stream's first error (what the compiled twin's scanner finds)."""
    i = 0
    while i < stop:
        if closer is not None:
            j = text.find(closer, i)
            if j < 0 or j >= stop:
                return None
            i, closer = j + len(closer), None
            continue
        j = text.find(b"<", i, stop)
        if j < 0:
            return None
        if text.startswith(b"<![CDATA[", j):
            i, closer = j + 9, b"]]>"
            continue
        if text.startswith(b"<?", j) and origin + j <= 3:   # the XML declaration
            i, closer = j + 2, b"?>"
            continue
        refusal = _refusal(text, j, origin + j)
        if refusal is not None:
            return refusal
        i = j + 1
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

    When the bytes hold several faults, the error raised is the first one in
    the stream.  A comment, processing instruction or DTD is refused as soon
    as its opening bytes arrive.  The stanza size limit is checked at the end
    of each stanza and after every 64 KiB of a feed.

    After a stream-restart trigger (``<proceed/>`` for STARTTLS, ``<success/>``
    for SASL by default) the tokenizer holds back what follows until
    :meth:`reset` starts the new stream; ``reset()`` returns the tokens parsed
    from the bytes held back.
    """

    # Per stream, set by _new_stream() (see the comments there).  _parser is None after
    # compact() until the next feed; the handlers that use it run only inside its
    # Parse(), so it is declared without None.
    _parser: expat.XMLParserType
    _decls: List[Tuple[bytes, bytes]]
    _replay: Optional[bytes]
    _origin: Optional[Tuple[int, ...]]
    _shift: int
    _names: Dict[str, str]
    _depth: int
    _max_level: int
    _stack: List[Element]
    _cur: Element            # the element being built (None between stanzas)
    _events: List[Token]
    _header_ns: Optional[str]
    _prolog: Optional[bytes]
    _held: Optional[bytes]
    _pos: int
    _data: bytes
    _prev: bytes
    _tail: bytes
    _tail_start: int
    _in_cdata: bool
    _in_decl: bool
    _closer_before: Optional[bytes]
    _stanza_start: int
    _mark: int
    _pending: int
    _pending_next: bytes

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
        """True once the stream header was read, until the stream ends."""
        return self._depth >= 1

    @property
    def in_stanza(self) -> bool:
        """True while a top-level element after the stream header is open or its start
        tag partly received (a '<' at the end of the bytes fed counts); False between
        stanzas, before the header, after a restart trigger and after an error."""
        if self._depth != 1 or self._held is not None or self._failed is not None:
            return self._depth >= 2 and self._held is None and self._failed is None
        return self._pending >= 0 and self._pending_next not in (b"/", b"?", b"!")

    def feed(self, data: bytes) -> List[Token]:
        """Parse ``data`` (bytes); return the tokens it completed.  After a restart trigger
        the bytes are held back for :meth:`reset`; after an error, the same error is raised
        again."""
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

    def compact(self) -> bool:
        """Between stanzas, free the grown expat parser; True if done.

        Expat's string pools, name tables and input buffer grow while a stream
        is parsed and never shrink.  Between two stanzas the only parser state
        that matters is the stream header's namespace scope, so the parser is
        dropped here and the next :meth:`feed` starts a new one, first fed a
        start tag with the header's name and namespace declarations (no new
        StreamHeader token).  Tokens, limits, byte offsets, restart triggers and
        errors (line and column included) stay as they would have been, and
        stanzas already returned are not affected.

        Anywhere else (inside a stanza or a tag, before the header, after a
        restart trigger or an error), or when already compact, it does nothing
        and returns False.
        """
        parser = self._parser
        if (parser is None or self._failed is not None or self._held is not None
                or self._prolog is not None or self._depth != 1 or self._pending >= 0
                or self._stanza_start >= 0 or self._prev[-1:] not in (b">", b" ", b"\n", b"\t")):
            return False
        replay = replay_header(self._header_ns, self._decls)
        if replay is None:
            return False
        self._replay = replay
        self._origin = shift_position(self._origin, parser.CurrentLineNumber, parser.CurrentColumnNumber)
        self._parser = None  # type: ignore[assignment]
        self._names = {}
        return True

    def close(self) -> List[Token]:
        """The connection ended: refuse a stream cut in the middle of a stanza."""
        if self._failed is not None or self._held is not None:
            return []
        if self._depth > 1 or self._depth == 1 and self._pending >= 0:
            self._fail(errors.NotWellFormed("connection closed in the middle of a stanza"))
        return []

    # -- internals --------------------------------------------------------------------
    def _create_parser(self, replay: Optional[bytes] = None) -> "expat.XMLParserType":
        """A new expat parser, first fed ``replay`` (if any) with no handlers set."""
        parser = expat.ParserCreate("utf-8", "}")
        if hasattr(parser, "SetReparseDeferralEnabled"):
            parser.SetReparseDeferralEnabled(False)
        if replay:
            parser.Parse(replay, False)
        parser.buffer_text = True
        parser.buffer_size = _TEXT_BUFFER
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._chars
        parser.StartNamespaceDeclHandler = self._nsdecl
        parser.XmlDeclHandler = self._xmldecl
        parser.CommentHandler = _refuse_comment
        parser.ProcessingInstructionHandler = _refuse_pi
        parser.StartDoctypeDeclHandler = _refuse_dtd
        parser.EntityDeclHandler = _refuse_dtd
        parser.StartCdataSectionHandler = self._cdata_start
        parser.EndCdataSectionHandler = self._cdata_end
        return parser

    def _cdata_start(self) -> None:
        self._in_cdata = True

    def _cdata_end(self) -> None:
        self._in_cdata = False
        if self._depth == 1:   # between stanzas: the section was top-level markup, now whole
            self._mark = _unwrap(self._parser.CurrentByteIndex + self._shift, self._pos) + 3
            self._pending = -1

    def _new_stream(self) -> None:
        self._parser = self._create_parser()
        # after compact(): the header replayed to the next parser, the stream's
        # line and column where it takes over (then its own, after the replay),
        # and stream offset minus expat's byte index
        self._decls = []
        self._replay = None
        self._origin = None
        self._shift = 0
        self._names = {}
        self._depth = 0
        self._max_level = self.max_depth + 1  # the stream root is level 1
        self._stack = []
        self._cur = None  # type: ignore[assignment]
        self._events = []
        self._header_ns = None
        self._prolog = b""
        self._held = None
        # stream offsets: bytes given to expat before the current feed, the first
        # byte of the stanza being parsed, the byte past the last top-level markup
        # seen whole, and the '<' of top-level markup not yet complete (-1: none)
        self._pos = 0
        self._data = b""
        self._prev = b"    "  # the last four bytes of the previous feed
        # the token expat has not finished at the end of the last feed, when it is short
        # (a '<', '<!', '</x'...): its bytes and stream offset; and whether expat is in CDATA
        self._tail = b""
        self._tail_start = 0
        self._in_cdata = False
        self._in_decl = False    # the XML declaration has begun and not ended
        self._closer_before = None
        self._stanza_start = -1
        self._mark = 0
        self._pending = -1
        self._pending_next = b""   # the byte after it, kept for when it was in an earlier feed

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
            except errors.StreamError as exc:
                self._fail(exc)
            if ok:
                self._prolog = None
        base = self._pos
        n = len(data)
        if self._parser is None and not n:   # compacted, and nothing to parse: stays compact
            return []
        self._data = data
        if self._parser is None:  # compacted: a new parser, in the header's scope
            parser = self._parser = self._create_parser(self._replay)
            self._origin = (self._origin or ()) + (parser.CurrentLineNumber, parser.CurrentColumnNumber)
            self._shift = base - len(self._replay or b"")
        parse = self._parser.Parse
        err: Optional[errors.StreamError] = None
        self._closer_before = b"]]>" if self._in_cdata else b"?>" if self._in_decl else None
        try:
            if n <= _PIECE:
                parse(data, False)
                err = self._check_pending(base + n) or self._check_limits(base + n)
            else:
                view = memoryview(data)
                for i in range(0, n, _PIECE):
                    parse(view[i:i + _PIECE], False)
                    end = base + min(n, i + _PIECE)
                    err = self._check_pending(end) or self._check_limits(end)
                    if err is not None:
                        break
        except _Paused:
            self._held = data[self._mark - base:]
        except errors.StreamError as e:
            err = e
        except expat.ExpatError as e:
            err = self._expat_error(e)
        self._prev = (self._prev + data[-4:])[-4:]
        self._data = b""
        self._pos = base + n
        if err is not None:
            self._fail(err)
        events = self._events
        self._events = []
        return events

    def _check_limits(self, pos: int) -> Optional[errors.StreamError]:
        """After expat has seen the stream up to ``pos``: is unfinished markup too big?"""
        limit = self.max_stanza_bytes
        if self._depth >= 2:
            if pos - self._stanza_start > limit:
                return errors.PolicyViolation(f"stanza exceeds the limit of {limit} bytes")
            return None
        base = self._pos
        if self._pending < 0:   # the first '<' after the last whole top-level markup
            j = self._data.find(b"<", max(0, self._mark - base), pos - base)
            if j >= 0:
                self._pending = base + j
                self._pending_next = self._data[j + 1:j + 2]
        if self._pending >= 0 and not self._pending_next:   # the '<' ended an earlier feed
            i = self._pending + 1 - base
            if 0 <= i < pos - base:
                self._pending_next = self._data[i:i + 1]
        if self._pending >= 0 and pos - self._pending > limit:
            # between stanzas a start tag is the next stanza's, as the compiled twin says
            what = "stanza" if self._depth == 1 and self._pending_next not in b"/?!" else "markup"
            return errors.PolicyViolation(f"{what} exceeds the limit of {limit} bytes")
        return None

    def _check_pending(self, end: int) -> Optional[errors.StreamError]:
        """After expat has seen the stream up to ``end``: remember the token it has not
        finished; refuse it at once if it opens a comment, PI or DTD (expat would wait
        for its end, possibly for ever)."""
        if self._in_cdata:
            self._tail, self._tail_start = b"", end
            return None
        base = self._pos
        at = _unwrap(self._parser.CurrentByteIndex + self._shift, end)
        if at < self._tail_start:   # a long token begun in an earlier feed: not an opener
            self._tail, self._tail_start = b"", end
            return None
        if at < base:
            text, origin = self._tail + self._data[:end - base], self._tail_start
        else:
            text, origin = self._data, base
        refusal = None
        if self._depth == 0:
            # outside the root expat takes in a DTD's opening token before it calls back,
            # and waits at a quote (a literal) where the compiled twin's scanner reads text:
            # the last markup opened before where expat stands, if no '>' closed it, or the
            # first after such a quote, is judged as that scanner does (only the prolog and
            # the epilog pay for this)
            if self._tail and self._tail_start < base:
                text0, origin0 = self._tail + self._data[:end - base], self._tail_start
            else:
                text0, origin0 = self._data[:end - base], base
            i = at - origin0
            j = text0.rfind(b"<", 0, i)
            if j >= 0 and text0.find(b">", j, i) < 0:
                refusal = _refusal(text0, j, origin0 + j)
            elif text0[i:i + 1] in (b"'", b'"'):
                j = text0.find(b"<", i + 1)
                if j >= 0:
                    refusal = _refusal(text0, j, origin0 + j)
        if refusal is None:
            refusal = _refusal(text, at - origin, at)
        if at <= 3 and text.startswith(b"<?", at - origin):
            self._in_decl = True
        if end - at > 16:
            self._tail, self._tail_start = b"", end
        else:
            self._tail, self._tail_start = text[at - origin:end - origin], at
        return refusal

    def _expat_error(self, e: expat.ExpatError) -> errors.StreamError:
        # The first error in the stream wins: a comment, PI or DTD opened before the
        # place where expat failed (expat fails inside or after it), else expat's error.
        at = _unwrap(self._parser.ErrorByteIndex + self._shift, self._pos)
        closer = self._closer_before
        if closer is not None:   # the last bytes before may hold the start of the closer
            text, origin = self._prev + self._data, self._pos - 4
        elif self._tail and self._tail_start < self._pos:   # a token begun in the last feed
            text, origin = self._tail + self._data, self._tail_start
        else:
            text, origin = self._data, self._pos
        refusal = _first_refusal(text, at - origin, origin, closer)
        if refusal is None and e.code in _AT_MARKUP and 0 <= at - origin < len(text):
            # markup the compiled twin's scanner judges as soon as it opens: a comment, PI
            # or DTD, or '<!' with no CDATA section
            refusal = _refusal(text, at - origin, at)
        if refusal is not None:
            return refusal
        return expat_error(e.code, expat.ErrorString(e.code), *shift_position(self._origin, e.lineno, e.offset))

    def _stanza_end(self, el: Element) -> int:
        """The stream offset just past the stanza ``el`` that expat has just ended.

        Expat reports the end of ``<x .../>`` past its '/>', and the end of
        ``</x>`` at its '<'.
        """
        at = _unwrap(self._parser.CurrentByteIndex + self._shift, self._pos)
        i = at - self._pos
        if i > 0 and el._children is None and el.text is None:  # '<x/>' ends in this feed
            if (self._data[i - 2] if i > 1 else self._prev[-1]) == 0x2F:
                return at
        if i >= 0:
            return at + self._data.find(b">", i) + 1 - i
        context = self._parser.GetInputContext()  # '</x' began in an earlier feed
        assert context is not None   # expat is inside a handler: it has a buffer
        return at + context.find(b">") + 1

    def _name(self, raw: str) -> str:
        name = self._names.get(raw)
        if name is None:
            name = "{" + raw if "}" in raw else raw
            self._names[raw] = name
        return name

    def _start(self, raw: str, attrs: Dict[str, str]) -> None:
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
            self._mark = _unwrap(self._parser.CurrentByteIndex + self._shift, self._pos) + 1
            self._pending = -1
            return
        el = _new_element(Element)
        el.tag = tag
        el.text = el.tail = el._children = None
        el._attrib = attrib
        if depth == 2:
            if "}" not in raw:
                raise errors.InvalidNamespace(f"top-level element {tag!r} has no namespace")
            self._stanza_start = _unwrap(self._parser.CurrentByteIndex + self._shift, self._pos)
            self._pending = -1
        else:
            if depth > self._max_level:
                raise errors.PolicyViolation(f"elements nested deeper than {self.max_depth}")
            parent = self._cur
            if parent._children is None:
                parent._children = [el]
            else:
                parent._children.append(el)
            self._stack.append(parent)
        self._cur = el

    def _end(self, raw: str) -> None:
        depth = self._depth
        self._depth = depth - 1
        if depth == 2:
            el = self._cur
            self._cur = None  # type: ignore[assignment]  # drop the reference between stanzas
            end = self._stanza_end(el)
            size = end - self._stanza_start
            if size > self.max_stanza_bytes:
                raise errors.PolicyViolation(
                    f"stanza of {size} bytes exceeds the limit of {self.max_stanza_bytes}")
            self._stanza_start = -1
            self._mark = end
            self._events.append(el)
            if el.tag in self.restart_triggers:
                raise _Paused()
        elif depth == 1:
            # the stream's end tag is whole: no longer markup pending against the limit
            self._mark = _unwrap(self._parser.CurrentByteIndex + self._shift, self._pos) + 1
            self._pending = -1
            self._events.append(_STREAM_END)
        else:
            self._cur = self._stack.pop()

    def _chars(self, text: str) -> None:
        # expat's text buffer hands over each run of text whole (a feed may split it)
        if self._depth >= 2:
            el = self._cur
            children = el._children
            if children:
                last = children[-1]
                last.tail = last.tail + text if last.tail else text
            else:
                el.text = el.text + text if el.text else text

    def _xmldecl(self, version: Optional[str], encoding: Optional[str], standalone: int) -> None:
        self._in_decl = False
        self._mark = _unwrap(self._parser.CurrentByteIndex + self._shift, self._pos) + 1
        self._pending = -1

    def _nsdecl(self, prefix: Optional[str], uri: str) -> None:
        if prefix is not None and uri == self.content_ns:
            raise errors.BadNamespacePrefix(f"content namespace {uri!r} bound to prefix {prefix!r}")
        if self._depth == 0 and prefix is None:
            if uri != self.content_ns:
                # pyexpat passes None for xmlns='': the value is the empty string
                raise errors.InvalidNamespace(f"content namespace must be {self.content_ns!r}, got {uri or ''!r}")
            self._header_ns = uri
        elif self._depth == 0 and prefix is not None:
            self._decls.append((prefix.encode("utf-8"), uri.encode("utf-8")))
