# cython: language_level=3
"""Byte scanners shared by the compiled readers of lazy stanzas (:mod:`fastxmpp._presence_c`,
:mod:`fastxmpp._muc_c`): they walk a stanza's well-formed bytes (expat checked them) without
building its elements.  All are ``cdef inline``, so each module that cimports them compiles its
own copy; there is no ``_bytescan`` extension module.
"""
from libc.stdint cimport uint64_t
from libc.string cimport memchr, memcmp, memcpy


cdef struct Span:
    Py_ssize_t start   # -1: absent
    Py_ssize_t len


cdef struct Attr:
    Py_ssize_t name
    Py_ssize_t nlen
    Py_ssize_t value
    Py_ssize_t vlen


cdef inline void _keep(Span *span, Attr *a) noexcept:
    """Set ``span`` to the value of the attribute ``a``."""
    span.start = a.value
    span.len = a.vlen


cdef inline bint _space(char c) noexcept:
    return c == b' ' or c == b'\t' or c == b'\n' or c == b'\r'


cdef inline bint _is(const char *s, Py_ssize_t at, Py_ssize_t n, const char *name, Py_ssize_t k) noexcept:
    return n == k and memcmp(s + at, name, k) == 0


cdef inline bint _plain(const char *s, Py_ssize_t at, Py_ssize_t n, bint attr) noexcept:
    """Whether ``n`` bytes at ``at`` read as themselves: no reference, no CR (and in an
    attribute value, ``attr``, no tab or LF, which expat turns into a space)."""
    cdef Py_ssize_t i = at, end = at + n
    cdef unsigned char c
    cdef uint64_t w
    # every byte looked for is at most '&' (0x26): eight bytes at a time while none is
    # (nonzero exactly when a byte is below 0x27), then byte by byte from that word on
    while i + 8 <= end:
        memcpy(&w, s + i, 8)
        if (w - 0x2727272727272727ULL) & ~w & 0x8080808080808080ULL:
            break
        i += 8
    while i < end:
        c = <unsigned char>s[i]
        if c <= b'&' and (c == b'&' or c == b'\r' or (attr and (c == b'\t' or c == b'\n'))):
            return False
        i += 1
    return True


cdef inline Py_ssize_t _name_end(const char *s, Py_ssize_t n, Py_ssize_t j) noexcept:
    cdef unsigned char c
    while j < n:
        c = <unsigned char>s[j]
        # the bytes that end a name are at most '>' (0x3e): letters go on at once
        if c <= b'>' and (_space(c) or c == b'>' or c == b'/'):
            break
        j += 1
    return j


cdef inline Py_ssize_t _attr(const char *s, Py_ssize_t n, Py_ssize_t j, Attr *a, bint plain) noexcept:
    """The attribute at ``j``: its end, or 0 at the end of the tag (``a.name`` is then
    where the content starts and ``a.nlen`` 1 for an empty element), or -1 for anything
    the caller leaves to the Python twin.  With ``plain`` a value that is not plain (see
    :func:`_plain`: it would need decoding) is one of those; without, the caller decodes."""
    cdef const char *q
    cdef unsigned char c
    while j < n and _space(s[j]):
        j += 1
    if j >= n:
        return -1
    if s[j] == b'>':
        a.name = j + 1
        a.nlen = 0
        return 0
    if s[j] == b'/':
        if j + 1 < n and s[j + 1] == b'>':
            a.name = j + 2
            a.nlen = 1
            return 0
        return -1
    a.name = j
    while j < n:
        c = <unsigned char>s[j]
        if c <= b'=' and (c == b'=' or _space(c)):    # '=' is 0x3d: letters go on at once
            break
        j += 1
    a.nlen = j - a.name
    while j < n and _space(s[j]):
        j += 1
    if j >= n or s[j] != b'=':
        return -1
    j += 1
    while j < n and _space(s[j]):
        j += 1
    if j >= n or (s[j] != b'"' and s[j] != b"'"):
        return -1
    q = <const char *>memchr(s + j + 1, s[j], n - j - 1)
    if q == NULL:
        return -1
    a.value = j + 1
    a.vlen = (q - s) - a.value
    if plain and not _plain(s, a.value, a.vlen, True):
        return -1
    return (q - s) + 1


cdef inline Py_ssize_t _end_tag(const char *s, Py_ssize_t n, Py_ssize_t j) noexcept:
    """After the end tag that starts at ``j`` ('</'), or -1."""
    cdef const char *q = <const char *>memchr(s + j, b'>', n - j)
    return -1 if q == NULL else (q - s) + 1


cdef inline Py_ssize_t _skip(const char *s, Py_ssize_t n, Py_ssize_t j, bint plain) noexcept:
    """After the end of the element whose content starts at ``j``, or -1 (also for an
    attribute :func:`_attr` refuses, with the same ``plain``)."""
    cdef int depth = 1
    cdef const char *q
    cdef Py_ssize_t r
    cdef Attr a
    while True:
        q = <const char *>memchr(s + j, b'<', n - j)
        if q == NULL or q + 1 >= s + n:
            return -1
        j = q - s
        if q[1] == b'/':
            j = _end_tag(s, n, j)
            if j < 0:
                return -1
            depth -= 1
            if depth == 0:
                return j
            continue
        if q[1] == b'!' or q[1] == b'?':
            return -1
        j = _name_end(s, n, j + 1)
        while True:
            r = _attr(s, n, j, &a, plain)
            if r < 0:
                return -1
            if r == 0:
                j = a.name
                if not a.nlen:
                    depth += 1
                break
            j = r


cdef inline bint _opens(const char *s, Py_ssize_t n, const char *tag, Py_ssize_t k) noexcept:
    """Whether the ``n`` bytes open with the unprefixed start tag ``tag`` (``k`` bytes,
    ``b"<name"``): then the root's attributes start at ``k``."""
    return n >= k + 2 and memcmp(s, tag, k) == 0 and (_space(s[k]) or s[k] == b'>' or s[k] == b'/')


cdef inline Py_ssize_t _child(const char *s, Py_ssize_t n, Py_ssize_t j, Py_ssize_t *k) noexcept:
    """The next tag in the content from ``j``: for a child's start tag the end of its name
    (which starts at ``k[0]``), 0 for the parent's end tag, or -1 for anything the caller
    leaves to the Python twin (no tag, a comment, CDATA, a processing instruction, a
    prefixed name)."""
    cdef const char *q = <const char *>memchr(s + j, b'<', n - j)
    cdef Py_ssize_t e
    if q == NULL or q + 1 >= s + n:
        return -1
    if q[1] == b'/':
        return 0
    if q[1] == b'!' or q[1] == b'?':
        return -1
    k[0] = (q - s) + 1
    e = _name_end(s, n, k[0])
    if memchr(s + k[0], b':', e - k[0]) != NULL:
        return -1
    return e


cdef inline Py_ssize_t _root(const char *s, Py_ssize_t n, const char *tag, Py_ssize_t k, bint plain,
                             Span *type_, Span *from_, const char *name, Py_ssize_t nlen,
                             Span *other) noexcept:
    """Open the unprefixed root ``tag`` (see :func:`_opens`) and read its attributes (with
    ``plain`` as :func:`_attr`): ``type``, ``from`` and ``name`` (``nlen`` bytes) into
    their spans, which stay as they are for one absent.  Where the root's content starts,
    0 for an empty root, or -1 for anything the caller leaves to the Python twin (a
    prefixed root included: its children's default namespace is not known here)."""
    cdef Attr a
    cdef Py_ssize_t r
    cdef Py_ssize_t j = k
    if not _opens(s, n, tag, k):
        return -1
    while True:
        r = _attr(s, n, j, &a, plain)
        if r < 0:
            return -1
        if r == 0:
            return 0 if a.nlen else a.name
        if _is(s, a.name, a.nlen, b"type", 4):
            _keep(type_, &a)
        elif _is(s, a.name, a.nlen, b"from", 4):
            _keep(from_, &a)
        elif _is(s, a.name, a.nlen, name, nlen):
            _keep(other, &a)
        j = r
