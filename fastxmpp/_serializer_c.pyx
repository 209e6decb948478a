# cython: language_level=3, embedsignature=True, freethreading_compatible=True
"""Compiled twin of :mod:`fastxmpp._serializer_py` (same output, same errors).

Strings are scanned once through their PEP 393 storage: escaping, the check
for characters XML 1.0 forbids and UTF-8 encoding happen in the same pass,
into one C buffer (on the stack for stanzas up to 1 KiB) that becomes the
result ``bytes``.  Start and end tags are rendered once per tag and kept in a
small cache; name validation is shared with the Python twin.
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from libc.string cimport memcpy

from fastxmpp._buffer cimport Buffer as _Buf, buf_grow as _grow, buf_put as _put, buf_reserve as _reserve
from fastxmpp._element_c cimport Element, ensure

from fastxmpp._serializer_py import (
    NS_XML,
    _attr_parts,
    _tag_parts,
    stream_footer,
    stream_header,
)

__all__ = ["serialize", "stream_header", "stream_footer"]


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    unsigned int PyUnicode_KIND(object o)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    unsigned int PyUnicode_READ(unsigned int kind, void *data, Py_ssize_t index)


# Character classes of ASCII code points: 0 plain, 1 forbidden, else an escape.
cdef enum:
    _PLAIN = 0
    _FORBIDDEN = 1
    _AMP = 2
    _LT = 3
    _GT = 4
    _QUOT = 5
    _TAB = 6
    _LF = 7
    _CR = 8

cdef unsigned char _TEXT_CLASS[128]
cdef unsigned char _ATTR_CLASS[128]
cdef const char *_ESC[9]
cdef Py_ssize_t _ESC_LEN[9]


cdef void _init_tables() noexcept:
    cdef int i
    for i in range(128):
        _TEXT_CLASS[i] = _PLAIN
        _ATTR_CLASS[i] = _PLAIN
    for i in range(32):
        if i != 9 and i != 10 and i != 13:
            _TEXT_CLASS[i] = _FORBIDDEN
            _ATTR_CLASS[i] = _FORBIDDEN
    _TEXT_CLASS[ord("&")] = _AMP
    _TEXT_CLASS[ord("<")] = _LT
    _TEXT_CLASS[ord(">")] = _GT
    _TEXT_CLASS[13] = _CR
    _ATTR_CLASS[ord("&")] = _AMP
    _ATTR_CLASS[ord("<")] = _LT
    _ATTR_CLASS[ord(">")] = _GT
    _ATTR_CLASS[ord('"')] = _QUOT
    _ATTR_CLASS[9] = _TAB
    _ATTR_CLASS[10] = _LF
    _ATTR_CLASS[13] = _CR
    _ESC[0] = b""
    _ESC[1] = b""
    _ESC[_AMP] = b"&amp;"
    _ESC[_LT] = b"&lt;"
    _ESC[_GT] = b"&gt;"
    _ESC[_QUOT] = b"&quot;"
    _ESC[_TAB] = b"&#9;"
    _ESC[_LF] = b"&#10;"
    _ESC[_CR] = b"&#13;"
    for i in range(9):
        _ESC_LEN[i] = len(<bytes>_ESC[i])


_init_tables()


# -- output buffer ----------------------------------------------------------

cdef enum:
    _SMALL = 1024


cdef inline int _put_bytes(_Buf *b, bytes s) except -1:
    return _put(b, PyBytes_AS_STRING(s), PyBytes_GET_SIZE(s))


cdef object _forbidden(unsigned int ch, int attr):
    where = "attribute value" if attr else "text"
    return ValueError(f"character U+{<unsigned long>ch:04X} is not allowed in XML ({where})")


cdef int _put_text(_Buf *b, str s, bint attr) except -1:
    """Escape, check and UTF-8 encode ``s`` into the buffer."""
    cdef const unsigned char *table
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(s)
    cdef Py_ssize_t i, start
    cdef unsigned int kind
    cdef void *data
    cdef const unsigned char *p
    cdef unsigned char c
    cdef unsigned int ch
    cdef char *out
    if n == 0:
        return 0
    if attr:
        table = _ATTR_CLASS
    else:
        table = _TEXT_CLASS
    data = PyUnicode_DATA(s)
    if PyUnicode_IS_ASCII(s):
        p = <const unsigned char *>data
        _reserve(b, n)
        start = 0
        for i in range(n):
            c = table[p[i]]
            if c != _PLAIN:
                if c == _FORBIDDEN:
                    raise _forbidden(p[i], attr)
                _put(b, <const char *>p + start, i - start)
                _put(b, _ESC[c], _ESC_LEN[c])
                start = i + 1
        _put(b, <const char *>p + start, n - start)
        return 0
    kind = PyUnicode_KIND(s)
    _reserve(b, n * 2)
    for i in range(n):
        ch = PyUnicode_READ(kind, data, i)
        if b.len + 8 > b.cap:
            _grow(b, 8)
        out = b.data + b.len
        if ch < 0x80:
            c = table[ch]
            if c == _PLAIN:
                out[0] = <char>ch
                b.len += 1
            elif c == _FORBIDDEN:
                raise _forbidden(ch, attr)
            else:
                memcpy(out, _ESC[c], _ESC_LEN[c])
                b.len += _ESC_LEN[c]
        elif ch < 0x800:
            out[0] = <char>(0xC0 | (ch >> 6))
            out[1] = <char>(0x80 | (ch & 0x3F))
            b.len += 2
        elif ch < 0x10000:
            if 0xD800 <= ch <= 0xDFFF or ch >= 0xFFFE:
                raise _forbidden(ch, attr)
            out[0] = <char>(0xE0 | (ch >> 12))
            out[1] = <char>(0x80 | ((ch >> 6) & 0x3F))
            out[2] = <char>(0x80 | (ch & 0x3F))
            b.len += 3
        else:
            out[0] = <char>(0xF0 | (ch >> 18))
            out[1] = <char>(0x80 | ((ch >> 12) & 0x3F))
            out[2] = <char>(0x80 | ((ch >> 6) & 0x3F))
            out[3] = <char>(0x80 | (ch & 0x3F))
            b.len += 4
    return 0


# -- rendered names -----------------------------------------------------------

cdef enum:
    _CACHE_MAX = 2048


@cython.final
cdef class _TagInfo:
    cdef str ns
    cdef bytes open_plain   # b"<local"
    cdef bytes open_decl    # b'<local xmlns="ns"'
    cdef bytes close        # b"</local>"


@cython.final
cdef class _AttrInfo:
    cdef str ns             # "" when the name needs no generated prefix
    cdef bytes head         # b' name="' or, with a prefix, b':local="'


cdef dict _tag_cache = {}
cdef dict _attr_cache = {}
# serialize()'s default scope; a tag in it keeps this very object as its namespace, so
# that _start_tag's scope check is an identity test for stanzas and their children
cdef str _NS_CLIENT = "jabber:client"


cdef _TagInfo _tag_info(str tag):
    cdef _TagInfo info = _tag_cache.get(tag)
    if info is not None:
        return info
    ns, local, ns_esc = _tag_parts(tag)
    info = _TagInfo.__new__(_TagInfo)
    info.ns = _NS_CLIENT if ns == _NS_CLIENT else ns
    info.open_plain = ("<" + local).encode("utf-8")
    info.open_decl = f'<{local} xmlns="{ns_esc}"'.encode("utf-8")
    info.close = f"</{local}>".encode("utf-8")
    if len(_tag_cache) >= _CACHE_MAX:
        _tag_cache.clear()
    _tag_cache[tag] = info
    return info


cdef _AttrInfo _attr_info(name):
    cdef _AttrInfo info = _attr_cache.get(name) if type(name) is str else None
    if info is not None:
        return info
    ns, written = _attr_parts(name)
    info = _AttrInfo.__new__(_AttrInfo)
    if ns and ns != NS_XML:
        info.ns = ns
        info.head = f':{written}="'.encode("utf-8")
    else:
        info.ns = ""
        info.head = f' {written}="'.encode("utf-8")
    if len(_attr_cache) >= _CACHE_MAX:
        _attr_cache.clear()
    _attr_cache[name] = info
    return info


cdef int _put_ns_decl(_Buf *b, str ns, Py_ssize_t number) except -1:
    cdef bytes head = f' xmlns:ns{number}="'.encode("ascii")
    _put_bytes(b, head)
    _put_text(b, ns, True)
    _put(b, b'"', 1)
    return 0


cdef _TagInfo _start_tag(_Buf *b, Element el, str scope):
    """Write ``<local [xmlns] [attributes]`` (no closing ``>``)."""
    cdef _TagInfo info = _tag_info(el.tag) if el.tag is not None else None
    cdef _AttrInfo ainfo
    cdef dict prefixes = None
    cdef dict attrib
    cdef bytes prefix
    if info is None:
        _tag_parts(el.tag)  # raises TypeError
    if info.ns is scope or info.ns == scope:
        _put_bytes(b, info.open_plain)
    else:
        _put_bytes(b, info.open_decl)
    attrib = el._attrib
    if attrib:
        for name, value in attrib.items():
            ainfo = _attr_info(name)
            if ainfo.ns:
                if prefixes is None:
                    prefixes = {}
                prefix = prefixes.get(ainfo.ns)
                if prefix is None:
                    prefix = f" ns{len(prefixes)}".encode("ascii")
                    _put_ns_decl(b, ainfo.ns, len(prefixes))
                    prefixes[ainfo.ns] = prefix
                _put_bytes(b, prefix)
            _put_bytes(b, ainfo.head)
            if type(value) is not str and not isinstance(value, str):
                raise TypeError(f"attribute {name!r} value must be str, not {type(value).__name__}")
            _put_text(b, <str>value, True)
            _put(b, b'"', 1)
    return info


cdef struct _Frame:
    PyObject *el        # strong references, released by _write_tree
    PyObject *info
    Py_ssize_t index    # next child to write


cdef int _write_tree(_Buf *b, Element root, str scope) except -1:
    """Write ``root`` and its subtree with an explicit stack (no C recursion)."""
    cdef _TagInfo info = _start_tag(b, root, scope)
    cdef _TagInfo pinfo, cinfo
    cdef Element parent, child
    cdef list children
    cdef _Frame small[16]
    cdef _Frame *frames = small
    cdef _Frame *new_frames
    cdef _Frame *top
    cdef Py_ssize_t depth = 0, cap = 16, i
    if not root._children:
        if not root._text:
            _put(b, b"/>", 2)
            return 0
        _put(b, b">", 1)
        _put_text(b, root._text, False)
        _put_bytes(b, info.close)
        return 0
    _put(b, b">", 1)
    if root._text:
        _put_text(b, root._text, False)
    Py_INCREF(root)
    Py_INCREF(info)
    frames[0].el = <PyObject *>root
    frames[0].info = <PyObject *>info
    frames[0].index = 0
    depth = 1
    try:
        while depth > 0:
            top = &frames[depth - 1]
            parent = <Element>top.el
            children = parent._children
            i = top.index
            if children is not None and i < len(children):
                top.index = i + 1
                child = children[i]
                pinfo = <_TagInfo>top.info
                cinfo = _start_tag(b, child, pinfo.ns)
                if child._children:
                    _put(b, b">", 1)
                    if child._text:
                        _put_text(b, child._text, False)
                    if depth == cap:
                        if frames == small:
                            new_frames = <_Frame *>PyMem_Malloc(2 * cap * sizeof(_Frame))
                            if new_frames != NULL:
                                memcpy(new_frames, frames, cap * sizeof(_Frame))
                        else:
                            new_frames = <_Frame *>PyMem_Realloc(frames, 2 * cap * sizeof(_Frame))
                        if new_frames == NULL:
                            raise MemoryError()
                        frames = new_frames
                        cap *= 2
                    Py_INCREF(child)
                    Py_INCREF(cinfo)
                    frames[depth].el = <PyObject *>child
                    frames[depth].info = <PyObject *>cinfo
                    frames[depth].index = 0
                    depth += 1
                    continue
                if child._text:
                    _put(b, b">", 1)
                    _put_text(b, child._text, False)
                    _put_bytes(b, cinfo.close)
                else:
                    _put(b, b"/>", 2)
                if child.tail:
                    _put_text(b, child.tail, False)
                continue
            pinfo = <_TagInfo>top.info
            _put_bytes(b, pinfo.close)
            if depth > 1 and parent.tail:
                _put_text(b, parent.tail, False)
            depth -= 1
            Py_DECREF(<object>top.el)
            Py_DECREF(<object>top.info)
    finally:
        while depth > 0:
            depth -= 1
            Py_DECREF(<object>frames[depth].el)
            Py_DECREF(<object>frames[depth].info)
        if frames != small:
            PyMem_Free(frames)
    return 0


def serialize(Element element not None, str default_ns not None="jabber:client"):
    """UTF-8 bytes of ``element`` and its subtree (without its own tail).

    ``default_ns`` is the default namespace in scope where the element is
    written: ``jabber:client`` inside a client-to-server stream.
    """
    cdef char small[_SMALL]
    cdef _Buf b
    ensure(element)
    b.data = small
    b.len = 0
    b.cap = _SMALL
    b.heap = False
    try:
        _write_tree(&b, element, default_ns)
        return PyBytes_FromStringAndSize(b.data, b.len)
    finally:
        if b.heap:
            PyMem_Free(b.data)
