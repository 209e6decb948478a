# cython: language_level=3, embedsignature=True, freethreading_compatible=True
"""Compiled twin of the stream tokenizer: expat reached through pyexpat's C API capsule.

Same behaviour as ``_tokenizer_py``; see ``fastxmpp.tokenizer`` for the contract.

How it differs inside: a byte scanner runs ahead of expat and finds where each
stanza starts and ends (it also enforces the size and depth limits and cuts
restricted XML).  Expat then checks every byte (well-formedness, namespaces)
but calls back only for the stream header and at stanza boundaries.  A stanza
is delivered as an Element that holds its checked bytes and builds its
attributes, text and children on first use (``_element_c._materialize``);
its ``tag`` is set at once.  On free-threaded builds it is built at once.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.pycapsule cimport PyCapsule_Import
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy, memset, strcmp, strlen

from fastxmpp._element_c cimport FX_GIL_BUILD, Element, ensure, intern_str
from fastxmpp._expat cimport *

import pyexpat  # noqa: F401  (makes the capsule importable)

from fastxmpp import errors
from fastxmpp._tokenizer_base import (
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
from fastxmpp.tokens import StreamEnd, StreamHeader

__all__ = ["Tokenizer"]

cdef FX_PyExpat_CAPI *capi = <FX_PyExpat_CAPI *>PyCapsule_Import("pyexpat.expat_CAPI", 0)
if capi == NULL or strcmp(capi.magic, FX_CAPI_MAGIC) != 0 or capi.size < FX_CAPI_MIN_SIZE:
    raise ImportError("pyexpat's C API capsule has an unexpected layout")
cdef bint HAS_REPARSE = FX_CAPI_HAS_REPARSE(capi)

cdef object _STREAM_END = StreamEnd()
cdef str _STREAM_TAG = STREAM_TAG

# scanner states
DEF S_TEXT = 0
DEF S_LT = 1
DEF S_STAG = 2
DEF S_ETAG = 3
DEF S_BANG = 4
DEF S_CDATA = 5
DEF S_PI = 6

# Expat copies what it is given into a buffer that grows to the largest piece
# ever passed and never shrinks: feeding it in slices keeps that buffer at a
# few KiB per connection, however large the reads (16 KiB TLS records, 64 KiB
# socket reads).
DEF PARSE_SLICE = 2048
DEF LIMIT_PIECE = 65536  # the Python twin checks the limits after each piece this long
DEF CARRY_KEEP = 4096
DEF SPANS_KEEP = 64


cdef class Tokenizer:
    """Incremental tokenizer of the XML stream a server sends to a client.

    ``feed(data)`` returns the tokens completed by ``data``: a StreamHeader,
    then one Element per top-level element, and a StreamEnd.  A bad byte
    raises a StreamError subclass named after the RFC 6120 condition; the
    tokens completed before the bad byte are in its ``events`` attribute.
    After a restart trigger the rest is held back until ``reset()``.
    """

    cdef FX_XML_Parser _parser
    cdef readonly Py_ssize_t max_stanza_bytes
    cdef readonly int max_depth
    cdef readonly str content_ns
    cdef public frozenset restart_triggers
    # scanner
    cdef Py_ssize_t s_pos, s_tag_start, s_stanza_start
    cdef Py_ssize_t s_stop          # where expat stops when the scanner found an error
    cdef object s_deferred          # that error, while expat waits for bytes before s_stop
    cdef Py_ssize_t s_end           # the stream offset past the feed being scanned
    cdef int s_state, s_depth, s_quote, s_last, s_term, s_bang_len
    cdef char s_bang[8]
    cdef Py_ssize_t *s_spans        # (start, end) stream offsets of the stanzas completed by this feed
    cdef Py_ssize_t s_nspans, s_spans_cap
    # the bytes of a stanza that began in an earlier feed (from stream offset _carry_start)
    cdef char *_carry
    cdef const char *_buf           # the data of the feed being parsed, from stream offset _base
    cdef Py_ssize_t _base
    cdef Py_ssize_t _carry_len, _carry_cap, _carry_start
    cdef int _depth
    cdef list _events
    cdef object _error
    cdef bint _paused_now
    cdef Py_ssize_t _ends_seen
    cdef bint _lag                  # expat has not ended a stanza the scanner passed (it waits
                                    # for the rest of a UTF-8 sequence in '<\xf0/>')
    cdef object _header_ns
    cdef list _decls
    cdef tuple _ctx
    cdef object _prolog
    cdef object _held
    cdef object _failed
    cdef unsigned char _last        # the last byte expat was given
    cdef unsigned char _tail[3]     # the three bytes before it (stream order)
    cdef object _origin             # after compact(): see shift_position()
    cdef bytes _replay              # after compact(): the start tag a new parser is fed first

    def __cinit__(self):
        self.s_spans_cap = 16
        self.s_spans = <Py_ssize_t *>malloc(sizeof(Py_ssize_t) * 2 * self.s_spans_cap)
        if self.s_spans == NULL:
            raise MemoryError()
        self._parser = NULL

    def __init__(self, *, Py_ssize_t max_stanza_bytes=DEFAULT_MAX_STANZA_BYTES,
                 int max_depth=DEFAULT_MAX_DEPTH, str content_ns=CONTENT_NS,
                 restart_triggers=RESTART_TRIGGERS):
        if max_stanza_bytes < 1 or max_depth < 1:
            raise ValueError("limits must be positive")
        self.max_stanza_bytes = max_stanza_bytes
        self.max_depth = max_depth
        self.content_ns = content_ns
        self.restart_triggers = frozenset(restart_triggers)
        self._failed = None
        self._new_stream()

    def __dealloc__(self):
        if self._parser != NULL:
            capi.ParserFree(self._parser)
        free(self._carry)
        free(self.s_spans)

    # -- public API -----------------------------------------------------------------
    @property
    def paused(self):
        """True after a restart trigger, until reset()."""
        return self._held is not None

    @property
    def stream_open(self):
        return self._depth >= 1

    @property
    def in_stanza(self):
        """True while a top-level element after the stream header is open or its start
        tag partly received (a '<' at the end of the bytes fed counts); False between
        stanzas, before the header, after a restart trigger and after an error."""
        if self._held is not None or self._failed is not None or self._depth < 1:
            return False
        return (self._depth >= 2 or self.s_stanza_start >= 0 or self._lag
                or (self.s_state == S_LT and self.s_depth == 1))

    def feed(self, data):
        """Parse ``data`` (bytes); return the tokens it completed."""
        if self._failed is not None:
            raise type(self._failed)(self._failed.text)
        if self._held is not None:
            self._held += data
            return []
        return self._feed(bytes(data))

    def reset(self):
        """Start a new stream on the same connection; returns tokens from held-back bytes."""
        if self._failed is not None:
            raise type(self._failed)(self._failed.text)
        held = self._held
        self._new_stream()
        return self._feed(held) if held else []

    def compact(self):
        """Between stanzas, free the grown expat parser and other buffers; True if done.

        Expat's string pools, name tables and input buffer grow while a stream
        is parsed and never shrink.  Between two stanzas the only parser state
        that matters is the stream header's namespace scope, so the parser is
        freed here and the next ``feed()`` starts a new one, first fed a start
        tag with the header's name and namespace declarations (no new
        StreamHeader token).  Tokens, limits, byte offsets, restart triggers and
        errors (line and column included) stay as they would have been, and
        stanzas already returned are not affected.

        Anywhere else (inside a stanza or a tag, before the header, after a
        restart trigger or an error), or when already compact, it does nothing
        and returns False.
        """
        cdef bytes replay
        if (self._parser == NULL or self._failed is not None or self._held is not None
                or self._prolog is not None or self._depth != 1 or self.s_depth != 1
                or self.s_state != S_TEXT or self.s_stanza_start >= 0 or self._carry_len != 0 or self._lag
                or not (self._last == b'>' or self._last == b' ' or self._last == b'\n'
                        or self._last == b'\t')):
            return False
        replay = replay_header(self._header_ns, self._decls)
        if replay is None:
            return False
        self._replay = replay
        self._origin = shift_position(self._origin, capi.GetErrorLineNumber(self._parser),
                                      capi.GetErrorColumnNumber(self._parser))
        capi.ParserFree(self._parser)
        self._parser = NULL
        free(self._carry)
        self._carry = NULL
        self._carry_cap = 0
        self._carry_start = -1
        free(self.s_spans)
        self.s_spans = NULL
        self.s_spans_cap = 0
        return True

    def close(self):
        """The connection ended: refuse a stream cut in the middle of a stanza."""
        if self._failed is not None or self._held is not None:
            return []
        # the scanner may have passed a tag that expat has not finished (it waits for the
        # rest of a UTF-8 sequence): markup begun all the same
        if self._depth > 1 or (self._depth == 1 and (self.s_state != S_TEXT or self.s_stanza_start >= 0
                                                     or self.s_depth != 1 or self._lag)):
            self._fail(errors.NotWellFormed("connection closed in the middle of a stanza"))
        return []

    # -- internals --------------------------------------------------------------------
    cdef FX_XML_Parser _create_parser(self, bytes replay) except NULL:
        """A new expat parser, first fed ``replay`` (if any) with no handlers set."""
        cdef FX_XML_Parser parser = capi.ParserCreate_MM("utf-8", NULL, "}")
        if parser == NULL:
            raise MemoryError()
        if HAS_REPARSE:
            capi.SetReparseDeferralEnabled(parser, 0)
        if replay is not None and not capi.Parse(parser, PyBytes_AS_STRING(replay),
                                                 <int>PyBytes_GET_SIZE(replay), 0):
            capi.ParserFree(parser)
            raise RuntimeError("tokenizer: expat refused the replayed stream header")
        capi.SetUserData(parser, <void *>self)
        capi.SetElementHandler(parser, _on_start, _on_end)
        capi.SetNamespaceDeclHandler(parser, _on_nsdecl, NULL)
        capi.SetCommentHandler(parser, _on_comment)
        capi.SetProcessingInstructionHandler(parser, _on_pi)
        capi.SetStartDoctypeDeclHandler(parser, _on_doctype)
        return parser

    cdef _new_stream(self):
        cdef FX_XML_Parser parser = self._create_parser(None)
        if self._parser != NULL:
            capi.ParserFree(self._parser)
        self._parser = parser
        self._last = 0
        memset(self._tail, 0, 3)
        self._origin = None
        self._replay = None
        self.s_pos = 0
        self.s_tag_start = -1
        self.s_deferred = None
        self.s_stanza_start = -1
        self.s_state = S_TEXT
        self.s_depth = 0
        self.s_quote = 0
        self.s_last = 0
        self.s_term = 0
        self.s_bang_len = 0
        self.s_nspans = 0
        self._depth = 0
        self._carry_len = 0
        self._carry_start = -1
        self._events = []
        self._error = None
        self._paused_now = False
        self._lag = False
        self._header_ns = None
        self._decls = []
        self._ctx = None
        self._prolog = b""
        self._held = None

    cdef _fail(self, err):
        err.events = self._events
        self._events = []
        self._failed = err
        raise err

    cdef _feed(self, bytes data):
        cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
        cdef const char *buf = PyBytes_AS_STRING(data)
        cdef Py_ssize_t base, cut, done, part
        cdef int status = 1
        if self._prolog is not None:
            self._prolog += data[:4096]
            try:
                ok = check_prolog(self._prolog)
            except errors.StreamError as err:
                self._fail(err)
            if ok:
                self._prolog = None
        base = self.s_pos
        self.s_nspans = 0
        if self.s_deferred is None:
            scan_err = self._scan(<const unsigned char *>buf, n)
        else:
            scan_err = self.s_deferred
            self.s_pos = base + n
        cut = n
        if scan_err is not None:
            # expat judges the bytes up to where the scanner's error is found (a refused
            # construct's '<', the end of a start tag nested too deep, the end of a stanza
            # over the limit or of this feed), so that the error reported is the first the
            # Python twin finds too
            cut = self.s_stop - base
            if cut < 0:
                cut = 0
            elif cut > n:
                cut = n
        self._ends_seen = 0
        self._buf = buf
        self._base = base
        if self._parser == NULL and cut > 0:    # compacted: resume in the header's scope
            self._parser = self._create_parser(self._replay)
            self._origin = self._origin + (capi.GetErrorLineNumber(self._parser),
                                           capi.GetErrorColumnNumber(self._parser))
        done = 0
        while done < cut and status and not self._paused_now and self._error is None:
            part = cut - done
            if part > PARSE_SLICE:
                part = PARSE_SLICE
            status = capi.Parse(self._parser, buf + done, <int>part, 0)
            done += part
        if done:
            self._keep_last(buf, done)
        if self._paused_now:
            self._held = data[self.s_spans[2 * self._ends_seen - 1] - base:]
            self._paused_now = False
            scan_err = None
        elif self._error is not None:
            scan_err = self._error
        elif not status:
            code = capi.GetErrorCode(self._parser)
            line, column = shift_position(self._origin, capi.GetErrorLineNumber(self._parser),
                                          capi.GetErrorColumnNumber(self._parser))
            scan_err = expat_error(code, (<bytes>capi.ErrorString(code)).decode("utf-8", "replace"),
                                   line, column)
        elif scan_err is not None and self.s_stop > base + n:
            # a UTF-8 sequence cut short before the error: expat can tell only with more
            # bytes, unless the stanza is over the limit by the end of this feed (which the
            # Python twin checks then)
            if self.s_stanza_start >= 0 and base + n - self.s_stanza_start > self.max_stanza_bytes:
                scan_err = self._over_limit()
            else:
                self.s_deferred, scan_err = scan_err, None
        elif (self._depth == 1 and self.s_depth == 0 and self._held is None
                and base + n - self.s_tag_start > self.max_stanza_bytes):
            # the scanner passed the stream's end tag, expat waits for the rest of a UTF-8
            # sequence in it: still markup pending, over the limit (as the Python twin finds)
            scan_err = errors.PolicyViolation(f"markup exceeds the limit of {self.max_stanza_bytes} bytes")
        elif (self._depth <= 1 and self._held is None and self.s_state == S_TEXT and self.s_stanza_start < 0
                and base + n - self.s_tag_start > self.max_stanza_bytes and _cut_markup(<const unsigned char *>buf, n)):
            # the same for the last markup outside stanzas (an XML declaration, the header...)
            scan_err = errors.PolicyViolation(f"markup exceeds the limit of {self.max_stanza_bytes} bytes")
        if scan_err is not None:
            self._fail(scan_err)
        if n:
            self._lag = self._ends_seen < self.s_nspans
        if self._held is None:
            self._keep_partial(buf, n)
        if self.s_spans_cap > SPANS_KEEP:
            self._shrink_spans()
        events = self._events
        self._events = []
        return events

    cdef inline int _record(self, Py_ssize_t start, Py_ssize_t end) except -1:
        cdef Py_ssize_t *grown
        cdef Py_ssize_t cap
        if self.s_nspans == self.s_spans_cap:
            cap = 2 * self.s_spans_cap if self.s_spans_cap else 16
            grown = <Py_ssize_t *>realloc(self.s_spans, sizeof(Py_ssize_t) * 2 * cap)
            if grown == NULL:
                raise MemoryError()
            self.s_spans = grown
            self.s_spans_cap = cap
        self.s_spans[2 * self.s_nspans] = start
        self.s_spans[2 * self.s_nspans + 1] = end
        self.s_nspans += 1
        return 0

    cdef void _shrink_spans(self) noexcept:
        cdef Py_ssize_t *smaller = <Py_ssize_t *>realloc(self.s_spans, sizeof(Py_ssize_t) * 2 * 16)
        if smaller != NULL:
            self.s_spans = smaller
            self.s_spans_cap = 16

    cdef object _end_stanza(self, const unsigned char *data, Py_ssize_t base, Py_ssize_t end):
        cdef Py_ssize_t size = end - self.s_stanza_start
        if size > self.max_stanza_bytes:
            # expat judges the stanza first, as far as the Python twin lets it: to the end
            # of the 64 KiB piece where that twin finds it over the limit, or to its end,
            # where _end() refuses the stanza
            if self._limit_stop(self.s_stanza_start) < end:
                return self._over_limit()
            self.s_stop = self._stop_at(data, base, end)
            self._record(self.s_stanza_start, -end)
            return errors.PolicyViolation(
                f"stanza of {size} bytes exceeds the limit of {self.max_stanza_bytes}")
        self._record(self.s_stanza_start, end)
        self.s_stanza_start = -1
        return None

    cdef inline Py_ssize_t _limit_stop(self, Py_ssize_t start) noexcept:
        """How far expat may parse this feed once markup begun at ``start`` is over the limit:
        to the end of the piece of LIMIT_PIECE bytes in which it went over (at most the feed)."""
        cdef Py_ssize_t base = self.s_pos, over = start + self.max_stanza_bytes + 1 - base
        if over <= 0:
            return base
        over = base + ((over + LIMIT_PIECE - 1) // LIMIT_PIECE) * LIMIT_PIECE
        return over if over < self.s_end else self.s_end

    cdef void _keep_last(self, const char *buf, Py_ssize_t done) noexcept:
        """Remember the last four bytes given to expat (``_tail`` then ``_last``)."""
        cdef int k
        if done >= 4:
            memcpy(self._tail, buf + done - 4, 3)
            self._last = <unsigned char>buf[done - 1]
            return
        for k in range(<int>done):     # shift in what this feed adds
            self._tail[0] = self._tail[1]
            self._tail[1] = self._tail[2]
            self._tail[2] = self._last
            self._last = <unsigned char>buf[k]

    cdef Py_ssize_t _stop_at(self, const unsigned char *buf, Py_ssize_t base, Py_ssize_t stop) noexcept:
        """``stop``, or past it when a UTF-8 lead byte among the three bytes before its last
        begins a sequence that ends after it: expat judges a sequence only once it has all
        its bytes (``buf`` holds the feed from stream offset ``base``; the bytes before it
        are in ``_last`` and ``_tail``)."""
        cdef Py_ssize_t k, at, need = stop, lt = stop - 1
        cdef unsigned char c
        cdef int length
        for k in range(1, 4):
            at = lt - k
            if at >= base:
                c = buf[at - base]
            elif base - at == 1:
                c = self._last
            elif base - at <= 4:
                c = self._tail[4 - (base - at)]
            else:
                break
            # lead bytes as expat types them (0xC0, 0xC1 and 0xF5-0xFF are invalid at once)
            length = 2 if 0xC2 <= c <= 0xDF else 3 if 0xE0 <= c <= 0xEF else 4 if 0xF0 <= c <= 0xF4 else 0
            if at + length > need:
                need = at + length
        return need

    cdef inline bint _over_before(self, Py_ssize_t d) noexcept:
        """Whether the Python twin finds the open stanza over the limit before it reads
        byte ``d`` (it checks after each piece of LIMIT_PIECE bytes)."""
        if self.s_stanza_start < 0 or d - self.s_stanza_start <= self.max_stanza_bytes:
            return False
        return self._limit_stop(self.s_stanza_start) <= d

    cdef object _over_limit(self):
        self.s_stop = self._limit_stop(self.s_stanza_start)
        return errors.PolicyViolation(f"stanza exceeds the limit of {self.max_stanza_bytes} bytes")

    cdef object _scan(self, const unsigned char *data, Py_ssize_t n):
        """Find top-level element boundaries ahead of expat; enforce limits; refuse PIs, comments, DTDs."""
        cdef Py_ssize_t base = self.s_pos
        self.s_end = base + n
        cdef Py_ssize_t i = 0, j, k
        cdef int state = self.s_state
        cdef int depth = self.s_depth
        cdef int max_depth = self.max_depth + 1
        cdef unsigned char c, prev
        cdef const unsigned char *p
        cdef const char *want
        cdef int wlen
        err = None
        while i < n:
            if state == S_TEXT:
                p = <const unsigned char *>memchr(data + i, b'<', n - i)
                if p == NULL:
                    break
                j = p - data
                self.s_tag_start = base + j
                i = j + 1
                state = S_LT
            elif state == S_LT:
                c = data[i]
                if c == b'/':
                    state = S_ETAG
                    i += 1
                elif c == b'?':
                    if depth or self.s_tag_start > 3:
                        if self._over_before(self.s_tag_start + 1):
                            err = self._over_limit()
                            break
                        err = errors.RestrictedXML("processing instructions are not allowed")
                        self.s_stop = self._stop_at(data, base, self.s_tag_start + 1)
                        break
                    state = S_PI
                    self.s_term = 0
                    i += 1
                elif c == b'!':
                    state = S_BANG
                    self.s_bang_len = 0
                    i += 1
                else:
                    if depth == 1:
                        self.s_stanza_start = self.s_tag_start
                    state = S_STAG
                    self.s_quote = 0
                    self.s_last = 0
            elif state == S_STAG:
                if self.s_quote:
                    p = <const unsigned char *>memchr(data + i, self.s_quote, n - i)
                    if p == NULL:
                        break
                    self.s_quote = 0
                    self.s_last = 0
                    i = (p - data) + 1
                    continue
                j = i
                while j < n:
                    c = data[j]
                    if c == b'>' or c == b'"' or c == b"'":
                        break
                    j += 1
                if j == n:
                    self.s_last = data[n - 1]
                    i = n
                    break
                c = data[j]     # what stopped the loop (said again: the compiler cannot tell it ran)
                if c != b'>':
                    self.s_quote = c
                    i = j + 1
                    continue
                prev = data[j - 1] if j > i else <unsigned char>self.s_last
                i = j + 1
                state = S_TEXT
                if depth + 1 > max_depth:
                    if self._over_before(base + j):
                        err = self._over_limit()
                        break
                    err = errors.PolicyViolation(f"elements nested deeper than {max_depth - 1}")
                    self.s_stop = self._stop_at(data, base, base + i)
                    break
                if prev == b'/':
                    if depth == 1:
                        err = self._end_stanza(data, base, base + i)
                        if err is not None:
                            break
                else:
                    depth += 1
            elif state == S_ETAG:
                p = <const unsigned char *>memchr(data + i, b'>', n - i)
                if p == NULL:
                    break
                i = (p - data) + 1
                state = S_TEXT
                depth -= 1
                if depth == 1:
                    err = self._end_stanza(data, base, base + i)
                    if err is not None:
                        break
            elif state == S_BANG:
                while i < n and self.s_bang_len < 7:
                    self.s_bang[self.s_bang_len] = data[i]
                    self.s_bang_len += 1
                    i += 1
                self.s_stop = self._stop_at(data, base, self.s_tag_start + 1)
                if self._over_before(self.s_tag_start + 2):
                    err = self._over_limit()
                    break
                if self.s_bang[0] == b'-':
                    err = errors.RestrictedXML("comments are not allowed")
                    break
                if self.s_bang[0] == b'D':
                    err = errors.RestrictedXML("DTDs are not allowed")
                    break
                if memcmp(self.s_bang, b"[CDATA[", self.s_bang_len) != 0:
                    err = errors.NotWellFormed("unexpected markup after '<!'")
                    break
                if self.s_bang_len == 7:
                    state = S_CDATA
                    self.s_term = 0
            else:
                if state == S_CDATA:
                    want = b"]]>"
                    wlen = 3
                else:
                    want = b"?>"
                    wlen = 2
                while i < n:
                    c = data[i]
                    i += 1
                    if c == <unsigned char>want[self.s_term]:
                        self.s_term += 1
                        if self.s_term == wlen:
                            break
                    elif state == S_CDATA and c == b']':
                        self.s_term = 2 if self.s_term == 2 else 1
                    else:
                        self.s_term = 1 if c == <unsigned char>want[0] else 0
                if self.s_term == wlen:
                    self.s_term = 0
                    state = S_TEXT
        if err is None:
            k = base + n
            if self.s_stanza_start >= 0:
                if k - self.s_stanza_start > self.max_stanza_bytes:
                    err = self._over_limit()
            elif state != S_TEXT and k - self.s_tag_start > self.max_stanza_bytes:
                err = errors.PolicyViolation(f"markup exceeds the limit of {self.max_stanza_bytes} bytes")
                self.s_stop = self._limit_stop(self.s_tag_start)
        self.s_state = state
        self.s_depth = depth
        self.s_pos = base + n
        return err

    # -- delivering stanzas -----------------------------------------------------------
    cdef _start(self, const char *name, const char **atts):
        cdef int depth = self._depth + 1
        cdef Py_ssize_t i = 0
        cdef dict attrib
        self._depth = depth
        if depth == 2:
            if memchr(name, b'}', strlen(name)) == NULL:
                raise errors.InvalidNamespace(
                    f"top-level element {intern_str(name, strlen(name), True)!r} has no namespace")
        elif depth == 1:
            tag = intern_str(name, strlen(name), True)
            if tag != _STREAM_TAG:
                raise stream_header_error(tag)
            attrib = {}
            while atts[i] != NULL:
                attrib[intern_str(atts[i], strlen(atts[i]), True)] = \
                    intern_str(atts[i + 1], strlen(atts[i + 1]), False)
                i += 2
            self._ctx = ((self._header_ns or "").encode("utf-8"), tuple(self._decls))
            self._events.append(StreamHeader(attrib, self._header_ns))

    cdef _end(self, const char *name):
        cdef int depth = self._depth
        cdef Py_ssize_t k, start, end, head
        cdef Element el
        cdef bytes raw
        cdef char *out
        self._depth = depth - 1
        if depth == 1:
            self._events.append(_STREAM_END)
        elif depth == 2:
            k = self._ends_seen
            if k >= self.s_nspans:
                raise RuntimeError("tokenizer: expat and the scanner disagree on stanza ends")
            start = self.s_spans[2 * k]
            end = self.s_spans[2 * k + 1]
            if end < 0:     # recorded by _end_stanza() as over the limit
                raise errors.PolicyViolation(
                    f"stanza of {-end - start} bytes exceeds the limit of {self.max_stanza_bytes}")
            if start >= self._base:
                raw = PyBytes_FromStringAndSize(self._buf + (start - self._base), end - start)
            else:   # began in an earlier feed
                head = self._carry_len
                if start != self._carry_start or head != self._base - start:
                    raise RuntimeError("tokenizer: lost the start of a stanza")
                raw = PyBytes_FromStringAndSize(NULL, end - start)
                out = PyBytes_AS_STRING(raw)
                memcpy(out, self._carry, head)
                memcpy(out + head, self._buf, end - start - head)
            el = Element.__new__(Element)
            el.tag = intern_str(name, strlen(name), True)
            el._raw = raw
            el._ctx = self._ctx
            if not FX_GIL_BUILD:   # free-threaded: no lazy state shared between threads
                ensure(el)
            self._events.append(el)
            self._ends_seen = k + 1
            if el.tag in self.restart_triggers:
                self._paused_now = True

    cdef int _keep_partial(self, const char *buf, Py_ssize_t n) except -1:
        """Copy the start of a stanza not complete at the end of this feed into the carry buffer."""
        cdef Py_ssize_t start = self.s_stanza_start, offset, need
        cdef char *grown
        if start < 0 and self.s_state == S_LT and self.s_depth == 1:
            start = self.s_tag_start    # a '<' at the very end: maybe a stanza's first byte
        if start < 0:
            self._carry_len = 0
            if self._carry_cap > CARRY_KEEP:     # an idle connection keeps no large buffer
                free(self._carry)
                self._carry = NULL
                self._carry_cap = 0
            return 0
        if start != self._carry_start:
            self._carry_len = 0
            self._carry_start = start
        offset = start - self._base if start > self._base else 0
        need = self._carry_len + n - offset
        if need > self._carry_cap:
            grown = <char *>realloc(self._carry, need * 2)
            if grown == NULL:
                raise MemoryError()
            self._carry = grown
            self._carry_cap = need * 2
        memcpy(self._carry + self._carry_len, buf + offset, n - offset)
        self._carry_len = need
        return 0

    cdef _nsdecl(self, const char *prefix, const char *uri):
        if prefix == NULL and self._depth != 0:
            return
        u = PyUnicode_DecodeUTF8(uri, strlen(uri), NULL) if uri != NULL else ""
        if prefix != NULL and u == self.content_ns:
            raise errors.BadNamespacePrefix(
                f"content namespace {u!r} bound to prefix {prefix.decode('utf-8')!r}")
        if self._depth == 0 and prefix != NULL:
            self._decls.append((<bytes>prefix, <bytes>uri))
        if self._depth == 0 and prefix == NULL:
            if u != self.content_ns:
                raise errors.InvalidNamespace(f"content namespace must be {self.content_ns!r}, got {u!r}")
            self._header_ns = u

    cdef void _store(self, err) noexcept:
        if self._error is None:
            self._error = err


cdef bint _cut_markup(const unsigned char *buf, Py_ssize_t n) noexcept:
    """Whether the feed ``buf`` ends with markup closed after a UTF-8 sequence that the end
    of the feed cuts short: the scanner has passed that markup, expat waits inside it."""
    cdef Py_ssize_t k
    cdef unsigned char c
    cdef int length
    if n < 3:
        return False
    for k in range(n - 3, n):
        c = buf[k]
        length = 2 if 0xC2 <= c <= 0xDF else 3 if 0xE0 <= c <= 0xEF else 4 if 0xF0 <= c <= 0xF4 else 0
        if k + length > n:
            return memchr(buf + k, b'>', n - k) != NULL
    return False


cdef inline bint _skip(Tokenizer t) noexcept:
    return t._error is not None or t._paused_now


cdef void _on_start(void *ud, const char *name, const char **atts) noexcept:
    cdef Tokenizer t = <Tokenizer>ud
    if _skip(t):
        return
    if t._depth >= 2:
        t._depth += 1
        return
    try:
        t._start(name, atts)
    except BaseException as err:
        t._store(err)


cdef void _on_end(void *ud, const char *name) noexcept:
    cdef Tokenizer t = <Tokenizer>ud
    if _skip(t):
        return
    if t._depth > 2:    # inside a stanza: expat checks it, the element is built later
        t._depth -= 1
        return
    try:
        t._end(name)
    except BaseException as err:
        t._store(err)


cdef void _on_nsdecl(void *ud, const char *prefix, const char *uri) noexcept:
    cdef Tokenizer t = <Tokenizer>ud
    if _skip(t):
        return
    try:
        t._nsdecl(prefix, uri)
    except BaseException as err:
        t._store(err)


cdef void _on_comment(void *ud, const char *data) noexcept:
    cdef Tokenizer t = <Tokenizer>ud
    if not _skip(t):
        t._store(errors.RestrictedXML("comments are not allowed"))


cdef void _on_pi(void *ud, const char *target, const char *data) noexcept:
    cdef Tokenizer t = <Tokenizer>ud
    if not _skip(t):
        t._store(errors.RestrictedXML("processing instructions are not allowed"))


cdef void _on_doctype(void *ud, const char *name, const char *sysid, const char *pubid,
                      int has_internal_subset) noexcept:
    cdef Tokenizer t = <Tokenizer>ud
    if not _skip(t):
        t._store(errors.RestrictedXML("DTDs are not allowed"))
