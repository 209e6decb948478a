# cython: language_level=3, embedsignature=True, freethreading_compatible=True
"""Compiled twin of the stream tokenizer: expat reached through pyexpat's C API capsule.

Same behaviour as ``_tokenizer_py``; see ``fastxmpp.tokenizer`` for the contract.
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.pycapsule cimport PyCapsule_Import
from cpython.ref cimport Py_INCREF, Py_XDECREF, PyObject
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.stdint cimport uint64_t
from libc.string cimport memchr, memcmp, memcpy, strcmp, strlen

from fastxmpp._element_c cimport Element
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

DEF CACHE_SIZE = 1024
DEF VALUE_CACHE_MAX = 32
DEF KEY_MAX = 80
DEF PARSE_MAX = 1 << 30

cdef extern from "Python.h":
    void PyObject_GC_UnTrack(void *op)
    bint PyUnicode_IS_ASCII(object o)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)

cdef extern from *:
    """
    #ifdef Py_GIL_DISABLED
    #define FX_SHARED_CACHE 0
    #else
    #define FX_SHARED_CACHE 1
    #endif
    """
    const bint FX_SHARED_CACHE


ctypedef struct CacheEntry:
    size_t hash
    PyObject *value    # an ASCII str; the key bytes are compared against its data


cdef CacheEntry *_new_cache() except NULL:
    cdef CacheEntry *table = <CacheEntry *>calloc(CACHE_SIZE, sizeof(CacheEntry))
    if table == NULL:
        raise MemoryError()
    return table


cdef void _free_cache(CacheEntry *table) noexcept:
    cdef Py_ssize_t i
    if table != NULL:
        for i in range(CACHE_SIZE):
            Py_XDECREF(table[i].value)
        free(table)


# Name and short-value caches: shared by all tokenizers where the GIL
# serialises access, per tokenizer on free-threaded builds.
cdef CacheEntry *_shared_names = _new_cache() if FX_SHARED_CACHE else NULL
cdef CacheEntry *_shared_values = _new_cache() if FX_SHARED_CACHE else NULL


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
    cdef int s_state, s_depth, s_quote, s_last, s_term, s_bang_len
    cdef char s_bang[8]
    cdef Py_ssize_t *s_ends
    cdef Py_ssize_t s_nends, s_ends_cap
    # tree building
    cdef int _depth
    cdef list _stack
    cdef char *_tbuf
    cdef Py_ssize_t _tlen, _tcap
    cdef list _events
    cdef object _error
    cdef bint _paused_now
    cdef Py_ssize_t _ends_seen
    cdef object _header_ns
    cdef object _prolog
    cdef object _held
    cdef object _failed
    cdef CacheEntry *_names
    cdef CacheEntry *_values

    def __cinit__(self):
        if FX_SHARED_CACHE:
            self._names = _shared_names
            self._values = _shared_values
        else:
            self._names = _new_cache()
            self._values = _new_cache()
        self._tcap = 256
        self._tbuf = <char *>malloc(self._tcap)
        self.s_ends_cap = 16
        self.s_ends = <Py_ssize_t *>malloc(sizeof(Py_ssize_t) * self.s_ends_cap)
        if self._tbuf == NULL or self.s_ends == NULL:
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
        if not FX_SHARED_CACHE:
            _free_cache(self._names)
            _free_cache(self._values)
        free(self._tbuf)
        free(self.s_ends)

    # -- public API -----------------------------------------------------------------
    @property
    def paused(self):
        """True after a restart trigger, until reset()."""
        return self._held is not None

    @property
    def stream_open(self):
        return self._depth >= 1

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

    def close(self):
        """The connection ended: refuse a stream cut in the middle of a stanza."""
        if self._failed is not None or self._held is not None:
            return []
        if self._depth > 1 or (self.s_state != S_TEXT and self._depth >= 1):
            self._fail(errors.NotWellFormed("connection closed in the middle of a stanza"))
        return []

    # -- internals --------------------------------------------------------------------
    cdef _new_stream(self):
        if self._parser != NULL:
            capi.ParserFree(self._parser)
        self._parser = capi.ParserCreate_MM("utf-8", NULL, "}")
        if self._parser == NULL:
            raise MemoryError()
        capi.SetUserData(self._parser, <void *>self)
        capi.SetElementHandler(self._parser, _on_start, _on_end)
        capi.SetCharacterDataHandler(self._parser, _on_chars)
        capi.SetNamespaceDeclHandler(self._parser, _on_nsdecl, NULL)
        capi.SetCommentHandler(self._parser, _on_comment)
        capi.SetProcessingInstructionHandler(self._parser, _on_pi)
        capi.SetStartDoctypeDeclHandler(self._parser, _on_doctype)
        if HAS_REPARSE:
            capi.SetReparseDeferralEnabled(self._parser, 0)
        self.s_pos = 0
        self.s_tag_start = -1
        self.s_stanza_start = -1
        self.s_state = S_TEXT
        self.s_depth = 0
        self.s_quote = 0
        self.s_last = 0
        self.s_term = 0
        self.s_bang_len = 0
        self.s_nends = 0
        self._depth = 0
        self._stack = []
        self._tlen = 0
        self._events = []
        self._error = None
        self._paused_now = False
        self._header_ns = None
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
        self.s_nends = 0
        scan_err = self._scan(<const unsigned char *>buf, n)
        cut = n
        if scan_err is not None:
            cut = (self.s_stanza_start if self.s_stanza_start >= 0 else self.s_tag_start) - base
            if cut < 0:
                cut = 0
        self._ends_seen = 0
        done = 0
        while done < cut and status and not self._paused_now and self._error is None:
            part = cut - done
            if part > PARSE_MAX:
                part = PARSE_MAX
            status = capi.Parse(self._parser, buf + done, <int>part, 0)
            done += part
        if self._paused_now:
            self._held = data[self.s_ends[self._ends_seen - 1] - base:]
            self._paused_now = False
            scan_err = None
        elif self._error is not None:
            scan_err = self._error
        elif not status:
            code = capi.GetErrorCode(self._parser)
            scan_err = expat_error(code, (<bytes>capi.ErrorString(code)).decode("utf-8", "replace"),
                                   capi.GetErrorLineNumber(self._parser),
                                   capi.GetErrorColumnNumber(self._parser))
        if scan_err is not None:
            self._fail(scan_err)
        events = self._events
        self._events = []
        return events

    cdef inline void _record_end(self, Py_ssize_t end) noexcept:
        cdef Py_ssize_t *grown
        if self.s_nends == self.s_ends_cap:
            grown = <Py_ssize_t *>realloc(self.s_ends, sizeof(Py_ssize_t) * self.s_ends_cap * 2)
            if grown == NULL:
                return  # only restart offsets need these; _feed then falls back to the error path
            self.s_ends = grown
            self.s_ends_cap *= 2
        self.s_ends[self.s_nends] = end
        self.s_nends += 1

    cdef object _end_stanza(self, Py_ssize_t end):
        cdef Py_ssize_t size = end - self.s_stanza_start
        if size > self.max_stanza_bytes:
            return errors.PolicyViolation(
                f"stanza of {size} bytes exceeds the limit of {self.max_stanza_bytes}")
        self.s_stanza_start = -1
        self._record_end(end)
        return None

    cdef object _scan(self, const unsigned char *data, Py_ssize_t n):
        """Find top-level element boundaries ahead of expat; enforce limits; refuse PIs, comments, DTDs."""
        cdef Py_ssize_t base = self.s_pos
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
                        err = errors.RestrictedXML("processing instructions are not allowed")
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
                if c != b'>':
                    self.s_quote = c
                    i = j + 1
                    continue
                prev = data[j - 1] if j > i else <unsigned char>self.s_last
                i = j + 1
                state = S_TEXT
                if depth + 1 > max_depth:
                    err = errors.PolicyViolation(f"elements nested deeper than {max_depth - 1}")
                    break
                if prev == b'/':
                    if depth == 1:
                        err = self._end_stanza(base + i)
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
                    err = self._end_stanza(base + i)
                    if err is not None:
                        break
            elif state == S_BANG:
                while i < n and self.s_bang_len < 7:
                    self.s_bang[self.s_bang_len] = data[i]
                    self.s_bang_len += 1
                    i += 1
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
                    err = errors.PolicyViolation(
                        f"stanza exceeds the limit of {self.max_stanza_bytes} bytes")
            elif state != S_TEXT and k - self.s_tag_start > self.max_stanza_bytes:
                err = errors.PolicyViolation(f"markup exceeds the limit of {self.max_stanza_bytes} bytes")
        self.s_state = state
        self.s_depth = depth
        self.s_pos = base + n
        return err

    # -- building elements ----------------------------------------------------------------
    cdef object _intern(self, CacheEntry *table, const char *s, Py_ssize_t n, bint clark):
        """The str for ``s[:n]`` (Clark notation for names), from a small direct-mapped cache.

        Entries are 16 bytes (hash, str) so the tables stay in cache; a hit is
        confirmed by comparing the bytes with the cached ASCII str's own data.
        """
        cdef uint64_t head = 0, tail = 0
        cdef size_t h
        cdef CacheEntry *e
        cdef const char *data
        cdef Py_ssize_t length
        if n > KEY_MAX or (not clark and n > VALUE_CACHE_MAX):
            value = PyUnicode_DecodeUTF8(s, n, NULL)
            return "{" + value if clark and memchr(s, b'}', n) != NULL else value
        # cheap hash of length, first and last 8 bytes; the byte comparison settles collisions
        if n >= 8:
            memcpy(&head, s, 8)
            memcpy(&tail, s + n - 8, 8)
        else:
            memcpy(&head, s, n)
        h = <size_t>((head * 0x9E3779B97F4A7C15ULL) ^ (tail * 0xC2B2AE3D27D4EB4FULL) ^ (<uint64_t>n * 0x165667B19E3779F9ULL))
        h ^= h >> 29
        e = &table[h & (CACHE_SIZE - 1)]
        if e.value != NULL and e.hash == h:
            cached = <object>e.value
            data = <const char *>PyUnicode_DATA(cached)
            length = PyUnicode_GET_LENGTH(cached)
            if clark and length == n + 1 and data[0] == b'{':
                data += 1
                length -= 1
            if length == n and memcmp(data, s, n) == 0:
                return cached
        value = PyUnicode_DecodeUTF8(s, n, NULL)
        if clark and memchr(s, b'}', n) != NULL:
            value = "{" + value
        if PyUnicode_IS_ASCII(value):
            Py_XDECREF(e.value)
            Py_INCREF(value)
            e.value = <PyObject *>value
            e.hash = h
        return value

    cdef inline object _text(self):
        text = PyUnicode_DecodeUTF8(self._tbuf, self._tlen, NULL)
        self._tlen = 0
        return text

    cdef _flush_text(self):
        cdef Element el = <Element>self._stack[-1]
        cdef Element last
        text = self._text()
        if el._children:
            last = <Element>el._children[-1]
            last.tail = text if last.tail is None else last.tail + text
        else:
            el.text = text if el.text is None else el.text + text

    cdef _start(self, const char *name, const char **atts):
        cdef int depth
        cdef Element el, parent
        cdef dict attrib = None
        cdef Py_ssize_t i = 0, n
        if self._tlen:
            self._flush_text()
        depth = self._depth = self._depth + 1
        n = strlen(name)
        tag = self._intern(self._names, name, n, True)
        if atts[0] != NULL:
            attrib = {}
            while atts[i] != NULL:
                key = self._intern(self._names, atts[i], strlen(atts[i]), True)
                attrib[key] = self._intern(self._values, atts[i + 1], strlen(atts[i + 1]), False)
                i += 2
        if depth == 1:
            if tag != _STREAM_TAG:
                raise stream_header_error(tag)
            self._events.append(StreamHeader(attrib if attrib is not None else {}, self._header_ns))
            return
        el = Element.__new__(Element)
        el.tag = tag
        el._attrib = attrib
        if depth == 2:
            if memchr(name, b'}', strlen(name)) == NULL:
                raise errors.InvalidNamespace(f"top-level element {tag!r} has no namespace")
        else:
            parent = <Element>self._stack[-1]
            if parent._children is None:
                # Elements are not GC-tracked and refuse cycles, so a list that
                # holds only elements cannot be part of a cycle either.
                children = [el]
                PyObject_GC_UnTrack(<void *>children)
                parent._children = children
            else:
                parent._children.append(el)
        self._stack.append(el)

    cdef _end(self):
        cdef int depth = self._depth
        if self._tlen:
            self._flush_text()
        self._depth = depth - 1
        if depth == 1:
            self._events.append(_STREAM_END)
            return
        el = self._stack.pop()
        if depth == 2:
            self._events.append(el)
            self._ends_seen += 1
            if (<Element>el).tag in self.restart_triggers:
                self._paused_now = True

    cdef void _chars(self, const char *s, int n) noexcept:
        cdef Py_ssize_t need = self._tlen + n
        cdef Py_ssize_t cap = self._tcap
        cdef char *grown
        if need > cap:
            while cap < need:
                cap *= 2
            grown = <char *>realloc(self._tbuf, cap)
            if grown == NULL:
                self._store(MemoryError())
                return
            self._tbuf = grown
            self._tcap = cap
        memcpy(self._tbuf + self._tlen, s, n)
        self._tlen = need

    cdef _nsdecl(self, const char *prefix, const char *uri):
        if prefix == NULL and self._depth != 0:
            return
        u = PyUnicode_DecodeUTF8(uri, strlen(uri), NULL) if uri != NULL else ""
        if prefix != NULL and u == self.content_ns:
            raise errors.BadNamespacePrefix(
                f"content namespace {u!r} bound to prefix {prefix.decode('utf-8')!r}")
        if self._depth == 0 and prefix == NULL:
            if u != self.content_ns:
                raise errors.InvalidNamespace(f"content namespace must be {self.content_ns!r}, got {u!r}")
            self._header_ns = u

    cdef void _store(self, err) noexcept:
        if self._error is None:
            self._error = err


cdef inline bint _skip(Tokenizer t) noexcept:
    return t._error is not None or t._paused_now


cdef void _on_start(void *ud, const char *name, const char **atts) noexcept:
    cdef Tokenizer t = <Tokenizer>ud
    if _skip(t):
        return
    try:
        t._start(name, atts)
    except BaseException as err:
        t._store(err)


cdef void _on_end(void *ud, const char *name) noexcept:
    cdef Tokenizer t = <Tokenizer>ud
    if _skip(t):
        return
    try:
        t._end()
    except BaseException as err:
        t._store(err)


cdef void _on_chars(void *ud, const char *s, int n) noexcept:
    cdef Tokenizer t = <Tokenizer>ud
    if _skip(t) or t._depth < 2:
        return
    t._chars(s, n)


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
