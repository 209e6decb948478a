# cython: language_level=3, embedsignature=True, freethreading_compatible=True
"""Compiled twin of :mod:`fastxmpp._element_py` (same behaviour, typed fields).

The fields are declared in ``_element_c.pxd`` so the compiled tokenizer and
serializer read and write them directly.  Elements made with
``Element.__new__(Element)`` have every field None; all methods cope with that.

A stanza from the compiled tokenizer is lazy: it holds its bytes, already
checked by expat, and builds everything but its tag on first use.  Every method
calls ``ensure(self)`` first, and attaching an element as a child builds it, so
only roots are ever lazy.  The builder and the name caches live here too.
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItemWithError
from cpython.ref cimport Py_INCREF, Py_XDECREF, PyObject
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy, strlen

from fastxmpp._buffer cimport Buffer, buf_free, buf_init, buf_put

import xml.etree.ElementTree as _ET

from fastxmpp._element_py import _compile_path, _path_cache as _path_cache_py

__all__ = ["Element"]

cdef enum:
    # Path step codes, the same values as in _element_py.
    _STEP_SELF = 0
    _STEP_ANY = 1
    _STEP_TAG = 2
    _STEP_NS = 3
    _STEP_NO_NS = 4
    _STEP_LOCAL = 5

cdef object _ET_Element = _ET.Element
cdef object _ET_QName = _ET.QName
cdef dict _path_cache = _path_cache_py


cdef inline bint _matches(int code, str value, str tag):
    if code == _STEP_ANY:
        return True
    if code == _STEP_TAG:
        return tag is value or tag == value
    if code == _STEP_NS:
        return tag.startswith(value)
    if code == _STEP_LOCAL:
        return tag.endswith(value) or tag == value[1:]
    return not tag.startswith("{")


cdef inline Element _clone(Element el):
    cdef Element new = Element.__new__(Element)
    new.tag = el.tag
    new._text = el._text
    new.tail = el.tail
    if el._attrib:
        new._attrib = dict(el._attrib)
    return new


cdef inline _check_child(child):
    if not isinstance(child, Element):
        raise TypeError(f"expected an Element, not {type(child).__name__}")


cdef object _to_et(Element el):
    new = _ET_Element(el.tag, dict(el._attrib) if el._attrib else {})
    new.text = el._text
    new.tail = el.tail
    return new


cdef Element _from_et(e):
    tag = e.tag
    if isinstance(tag, _ET_QName):
        tag = tag.text
    if not isinstance(tag, str):
        return None
    cdef Element new = Element.__new__(Element)
    new.tag = tag
    new._text = e.text
    new.tail = e.tail
    attrib = e.attrib
    if attrib:
        new._attrib = dict(attrib)
    return new


cdef inline tuple _steps_of(path):
    """``_compile_path(path)``, read from its cache without a Python call when it is there."""
    cdef PyObject *hit
    if type(path) is str:
        hit = PyDict_GetItemWithError(_path_cache, path)
        if hit != NULL:
            return <tuple>hit
    return _compile_path(path)


cdef Element _first(Element self, path):
    """``find(path)``: the first match or None, with no list made for the common
    one-step path (a child's tag)."""
    cdef tuple compiled, steps, step
    cdef list c, found
    cdef Element el
    cdef int code
    cdef str value
    ensure(self)
    compiled = _steps_of(path)
    steps = <tuple>compiled[1]
    if compiled[0] is False and len(steps) == 1:
        step = <tuple>steps[0]
        code = step[0]
        if code != _STEP_SELF:
            value = <str>step[1]
            c = self._children
            if c is not None:
                for el in c:
                    if _matches(code, value, el.tag):
                        return el
            return None
    found = _select(self, path, True)
    return found[0] if found else None


cdef list _select(Element self, path, bint first):
    cdef bint descend
    cdef tuple steps
    cdef list context = [self]
    cdef list out
    cdef list c
    cdef Element el, parent
    cdef Py_ssize_t n, last
    cdef int code
    cdef str value
    ensure(self)
    descend, steps = _steps_of(path)
    last = len(steps) - 1
    for n in range(len(steps)):
        code, value = steps[n]
        if n == 0 and descend:
            out = []
            for el in _walk(self, None):
                if el is not self and _matches(code, value, el.tag):
                    out.append(el)
                    if first and n == last:
                        return out
        elif code == _STEP_SELF:
            out = context
        else:
            out = []
            for parent in context:
                c = parent._children
                if c is None:
                    continue
                for el in c:
                    if _matches(code, value, el.tag):
                        out.append(el)
                        if first and n == last:
                            return out
        context = out
        if not context:
            break
    return context


cdef list _walk(Element self, str tag):
    cdef list out = []
    cdef list stack = [self]
    cdef list c
    cdef Element el
    cdef Py_ssize_t i
    ensure(self)
    while stack:
        el = stack.pop()
        if tag is None or el.tag == tag:
            out.append(el)
        c = el._children
        if c:
            for i in range(len(c) - 1, -1, -1):
                stack.append(c[i])
    return out


cdef extern from "Python.h":
    void PyObject_GC_UnTrack(void *op)


cdef inline list _untracked(list children):
    """Child lists hold only elements, which refuse cycles and are not GC-tracked
    themselves, so the collector need not track the lists either."""
    if children is not None:
        PyObject_GC_UnTrack(<void *>children)
    return children


cdef Element new_child(Element parent, str tag, str text):
    """Append a new element ``tag`` with ``text`` to a materialized ``parent``; return it."""
    cdef Element child = Element.__new__(Element)
    child.tag = tag
    child._text = text
    if parent._children is None:
        parent._children = _untracked([child])
    else:
        parent._children.append(child)
    return child


cdef int _check_acyclic(Element parent, Element child) except -1:
    """Refuse to make ``parent`` a descendant of itself (elements are not GC-tracked)."""
    cdef list stack
    cdef Element el
    if child is parent:
        raise ValueError("an element cannot contain itself")
    ensure(child)     # only stanza roots are ever lazy: never children
    if child._children is None:
        return 0
    stack = list(child._children)
    while stack:
        el = <Element>stack.pop()
        if el is parent:
            raise ValueError("an element cannot contain one of its ancestors")
        if el._children is not None:
            stack.extend(el._children)
    return 0


# Elements hold only strings, a dict of strings and a list of elements, and the
# tree operations refuse cycles, so the cycle collector need not track them:
# parsing creates many elements and GC passes over them cost ~20% of parse time.
@cython.no_gc
@cython.freelist(256)
cdef class Element:
    """An XML element: ``tag``, ``attrib``, ``text``, ``tail`` and children.

    Unlike :class:`xml.etree.ElementTree.Element`, an element is always true
    (``bool(el)`` does not depend on the number of children), elements compare
    structurally with ``==`` (and so are unhashable), ``remove`` removes by
    identity, and ``copy()`` is deep.
    """

    def __init__(self, str tag not None, attrib=None, /, *, str text=None, str tail=None):
        self.tag = tag
        self._text = text
        self.tail = tail
        if attrib:
            self._attrib = dict(attrib)
        else:
            self._attrib = None
        self._children = None
        self._raw = None
        self._ctx = None

    @property
    def text(self):
        """The text before the first child, or None."""
        ensure(self)
        return self._text

    @text.setter
    def text(self, str value):
        ensure(self)
        self._text = value

    # -- attributes -------------------------------------------------------
    @property
    def attrib(self):
        """The attribute dict (created on first access); changes are live."""
        ensure(self)
        if self._attrib is None:
            self._attrib = {}
        return self._attrib

    @attrib.setter
    def attrib(self, value):
        ensure(self)
        if value is None:
            self._attrib = None
        elif type(value) is dict:
            self._attrib = value
        else:
            self._attrib = dict(value)

    def get(self, key, default=None):
        if self._raw is not None and type(key) is str and ":" not in key and "{" not in key \
                and key != "xmlns":
            return _lazy_get(self, <str>key, default)
        ensure(self)
        if self._attrib is None:
            return default
        return self._attrib.get(key, default)

    def set(self, key, value):
        ensure(self)
        if self._attrib is None:
            self._attrib = {key: value}
        else:
            self._attrib[key] = value

    def keys(self):
        ensure(self)
        if self._attrib is None:
            return []
        return list(self._attrib)

    def items(self):
        ensure(self)
        if self._attrib is None:
            return []
        return list(self._attrib.items())

    # -- children ---------------------------------------------------------
    def __len__(self):
        ensure(self)
        if self._children is None:
            return 0
        return len(self._children)

    def __bool__(self):
        return True

    def __getitem__(self, index):
        ensure(self)
        cdef list c = self._children
        if c is None:
            c = []
        return c[index]

    def __setitem__(self, index, value):
        ensure(self)
        cdef list c = self._children
        cdef list items
        if c is None:
            c = []
        if isinstance(index, slice):
            items = list(value)
            for item in items:
                _check_child(item)
                _check_acyclic(self, <Element>item)
            c[index] = items
        else:
            _check_child(value)
            _check_acyclic(self, <Element>value)
            c[index] = value
        if self._children is None and c:
            self._children = _untracked(c)

    def __delitem__(self, index):
        ensure(self)
        cdef list c = self._children
        if c is None:
            c = []
        del c[index]

    def __iter__(self):
        ensure(self)
        if self._children is None:
            return iter(())
        return iter(self._children)

    def append(self, Element child not None):
        ensure(self)
        _check_acyclic(self, child)
        if self._children is None:
            self._children = _untracked([child])
        else:
            self._children.append(child)

    def extend(self, children):
        ensure(self)
        cdef list items = list(children)
        for item in items:
            _check_child(item)
            _check_acyclic(self, <Element>item)
        if not items:
            return
        if self._children is None:
            self._children = _untracked(items)
        else:
            self._children.extend(items)

    def insert(self, Py_ssize_t index, Element child not None):
        ensure(self)
        _check_acyclic(self, child)
        if self._children is None:
            self._children = _untracked([child])
        else:
            self._children.insert(index, child)

    def remove(self, Element child not None):
        """Remove ``child`` (this very object, not an equal one); ValueError if absent."""
        ensure(self)
        cdef list c = self._children
        cdef Py_ssize_t i
        if c is not None:
            for i in range(len(c)):
                if c[i] is child:
                    del c[i]
                    return
        raise ValueError("Element.remove(x): x not in children")

    def clear(self):
        """Drop attributes, text, tail and children (like ElementTree)."""
        self._raw = None
        self._ctx = None
        self._attrib = None
        self._children = None
        self._text = None
        self.tail = None

    def subelement(self, str tag not None, attrib=None, /, *, str text=None):
        """Append a new child element and return it."""
        ensure(self)
        cdef Element child = new_child(self, tag, text)
        if attrib:
            child._attrib = dict(attrib)
        return child

    # -- search -----------------------------------------------------------
    def find(self, path):
        """The first element matching ``path``, or None."""
        return _first(self, path)

    def findall(self, path):
        """Every element matching ``path``, in document order."""
        return _select(self, path, False)

    def findtext(self, path, default=None):
        """The text of the first match ("" if it has none), or ``default``."""
        cdef Element el = _first(self, path)
        if el is None:
            return default
        return "" if el._text is None else el._text

    def iter(self, tag=None):
        """Depth-first over this element and its descendants (a snapshot).

        ``tag`` None or ``"*"`` selects every element, otherwise the exact tag.
        """
        if tag == "*":
            tag = None
        return iter(_walk(self, tag))

    def itertext(self):
        """The non-empty text and tail strings of the subtree, in document order."""
        cdef list out = []
        cdef list stack = [self]
        cdef list c
        cdef Element el, child
        cdef Py_ssize_t i
        ensure(self)
        while stack:
            item = stack.pop()
            if type(item) is str:
                out.append(item)
                continue
            el = <Element>item
            if el._text:
                out.append(el._text)
            c = el._children
            if c:
                for i in range(len(c) - 1, -1, -1):
                    child = c[i]
                    if child.tail:
                        stack.append(child.tail)
                    stack.append(child)
        return iter(out)

    # -- copies, comparison ---------------------------------------------
    def copy(self):
        """A deep copy of the element and its subtree (tail included)."""
        ensure(self)
        cdef Element root = _clone(self)
        cdef list stack = [self, root]
        cdef Element src, dst, child, new
        cdef list c, newc
        while stack:
            dst = stack.pop()
            src = stack.pop()
            c = src._children
            if c:
                newc = []
                for child in c:
                    new = _clone(child)
                    newc.append(new)
                    stack.append(child)
                    stack.append(new)
                dst._children = _untracked(newc)
        return root

    def __copy__(self):
        """Shallow copy: new attribute dict and child list, same child objects."""
        ensure(self)
        cdef Element new = _clone(self)
        if self._children:
            new._children = _untracked(list(self._children))
        return new

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        ensure(self)
        return (Element, (self.tag, self._attrib), (self._text, self.tail, self._children))

    def __setstate__(self, state):
        self._text, self.tail, children = state
        self._children = _untracked(list(children)) if children else None

    def __eq__(self, other):
        if not isinstance(other, Element):
            return NotImplemented
        cdef list stack = [self, other]
        cdef Element a, b
        cdef list ca, cb
        cdef Py_ssize_t i, n
        ensure(self)
        ensure(<Element>other)
        while stack:
            b = stack.pop()
            a = stack.pop()
            if a is b:
                continue
            if a.tag != b.tag:
                return False
            if (a._text or "") != (b._text or "") or (a.tail or "") != (b.tail or ""):
                return False
            if a._attrib:
                if a._attrib != (b._attrib or {}):
                    return False
            elif b._attrib:
                return False
            ca = a._children
            cb = b._children
            n = len(ca) if ca is not None else 0
            if n != (len(cb) if cb is not None else 0):
                return False
            for i in range(n):
                stack.append(ca[i])
                stack.append(cb[i])
        return True

    def __ne__(self, other):
        result = self.__eq__(other)
        if result is NotImplemented:
            return result
        return not result

    def __repr__(self):
        ensure(self)
        parts = [f"<Element {self.tag!r}"]
        if self._attrib:
            parts.append(f" {self._attrib!r}")
        if self._children:
            parts.append(f" children={len(self._children)}")
        parts.append(">")
        return "".join(parts)

    # -- names ------------------------------------------------------------
    @property
    def namespace(self):
        """The namespace URI of the tag, "" when it has none."""
        cdef str tag = self.tag
        cdef Py_ssize_t end
        if tag is not None and tag.startswith("{"):
            end = tag.find("}")
            if end > 0:
                return tag[1:end]
        return ""

    @property
    def localname(self):
        """The tag without its ``{namespace}``."""
        cdef str tag = self.tag
        cdef Py_ssize_t end
        if tag is not None and tag.startswith("{"):
            end = tag.find("}")
            if end > 0:
                return tag[end + 1:]
        return tag

    # -- xml.etree interoperability ----------------------------------------
    def to_etree(self):
        """An equivalent :class:`xml.etree.ElementTree.Element` tree."""
        ensure(self)
        root = _to_et(self)
        cdef list stack = [self, root]
        cdef Element src, child
        cdef list c
        while stack:
            dst = stack.pop()
            src = stack.pop()
            c = src._children
            if c:
                for child in c:
                    new = _to_et(child)
                    dst.append(new)
                    stack.append(child)
                    stack.append(new)
        return root

    @classmethod
    def from_etree(cls, e):
        """Convert an ElementTree tree; comments and processing instructions are dropped
        (their tails are kept)."""
        cdef Element root = _from_et(e)
        cdef Element dst, new, prev
        if root is None:
            raise TypeError("from_etree() needs an element, not a comment or processing instruction")
        cdef list stack = [e, root]
        while stack:
            dst = stack.pop()
            src = stack.pop()
            prev = None
            for child in src:
                new = _from_et(child)
                if new is None:
                    tail = child.tail
                    if tail:
                        if prev is None:
                            dst._text = (dst._text or "") + tail
                        else:
                            prev.tail = (prev.tail or "") + tail
                    continue
                dst.append(new)
                stack.append(child)
                stack.append(new)
                prev = new
        return root


# -- names and short values: small direct-mapped caches -----------------------

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)

DEF CACHE_SIZE = 1024
DEF VALUE_CACHE_MAX = 32
DEF KEY_MAX = 80

ctypedef struct CacheEntry:
    size_t hash
    PyObject *value    # an ASCII str; the key bytes are compared against its data


cdef CacheEntry *_new_cache() except NULL:
    cdef CacheEntry *table = <CacheEntry *>calloc(CACHE_SIZE, sizeof(CacheEntry))
    if table == NULL:
        raise MemoryError()
    return table


# Shared by every tokenizer; only where the GIL serialises access to them.
cdef CacheEntry *_names = _new_cache() if FX_GIL_BUILD else NULL
cdef CacheEntry *_values = _new_cache() if FX_GIL_BUILD else NULL


cdef object _intern(CacheEntry *table, const char *s, Py_ssize_t n, bint clark):
    """The str for UTF-8 ``s[:n]``; for names (``clark``) expat's ``uri}local``
    becomes ``{uri}local``.  Entries are 16 bytes (hash, str) so the tables stay
    in cache; a hit is confirmed by comparing the bytes with the cached ASCII str.
    """
    cdef uint64_t head = 0, tail = 0
    cdef size_t h
    cdef CacheEntry *e = NULL
    cdef const char *data
    cdef Py_ssize_t length
    if table != NULL and n <= (KEY_MAX if clark else VALUE_CACHE_MAX):
        # cheap hash of length, first and last 8 bytes; the byte comparison settles collisions
        if n >= 8:
            memcpy(&head, s, 8)
            memcpy(&tail, s + n - 8, 8)
        else:
            memcpy(&head, s, n)
        h = <size_t>((head * 0x9E3779B97F4A7C15ULL) ^ (tail * 0xC2B2AE3D27D4EB4FULL)
                     ^ (<uint64_t>n * 0x165667B19E3779F9ULL))
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
    if e != NULL and PyUnicode_IS_ASCII(value):
        Py_XDECREF(e.value)
        Py_INCREF(value)
        e.value = <PyObject *>value
        e.hash = h
    return value


cdef object intern_str(const char *s, Py_ssize_t n, bint clark):
    """A name (``uri}local`` → Clark notation) or attribute value, cached when short."""
    return _intern(_names if clark else _values, s, n, clark)


# -- building a lazy stanza from its bytes -------------------------------------
#
# The tokenizer has expat check each stanza (well-formedness, namespaces,
# restricted XML) without building anything, and hands over the stanza's bytes.
# Because those bytes are known to be well-formed, building the tree needs no
# validation: a forward scan over tags, attributes, text, CDATA sections and the
# five predefined entities plus character references, with XML's line-end and
# attribute-value normalisation, and namespace resolution against the bindings
# in scope (those of the stream header first).

ctypedef struct Binding:
    const char *prefix
    Py_ssize_t plen        # 0: the default namespace
    const char *uri
    Py_ssize_t ulen        # 0: no namespace

ctypedef struct Attr:
    const char *name
    Py_ssize_t nlen
    const char *value
    Py_ssize_t vlen

cdef const char *_XML_NS = b"http://www.w3.org/XML/1998/namespace"


cdef enum:
    _TEXT = 0
    _ATTR = 1
    _CDATA = 2


cdef inline bint _is_space(unsigned char c) noexcept:
    return c == b' ' or c == b'\n' or c == b'\t' or c == b'\r'


cdef Py_ssize_t _put_reference(Buffer *b, const char *s, Py_ssize_t i, Py_ssize_t n) except -1:
    """Append the character that the reference at ``s[i] == '&'`` stands for; return the index after ``;``."""
    cdef Py_ssize_t j = i + 1
    cdef unsigned long cp = 0
    cdef unsigned char c
    cdef char out[4]
    if s[j] == b'#':
        j += 1
        if s[j] == b'x':
            j += 1
            while s[j] != b';':
                c = s[j]
                cp = cp * 16 + (c - 48 if c <= b'9' else (c | 0x20) - 87)
                j += 1
        else:
            while s[j] != b';':
                cp = cp * 10 + (s[j] - 48)
                j += 1
        if cp < 0x80:
            out[0] = <char>cp
            buf_put(b, out, 1)
        elif cp < 0x800:
            out[0] = <char>(0xC0 | (cp >> 6))
            out[1] = <char>(0x80 | (cp & 0x3F))
            buf_put(b, out, 2)
        elif cp < 0x10000:
            out[0] = <char>(0xE0 | (cp >> 12))
            out[1] = <char>(0x80 | ((cp >> 6) & 0x3F))
            out[2] = <char>(0x80 | (cp & 0x3F))
            buf_put(b, out, 3)
        else:
            out[0] = <char>(0xF0 | (cp >> 18))
            out[1] = <char>(0x80 | ((cp >> 12) & 0x3F))
            out[2] = <char>(0x80 | ((cp >> 6) & 0x3F))
            out[3] = <char>(0x80 | (cp & 0x3F))
            buf_put(b, out, 4)
        return j + 1
    c = s[j]
    if c == b'l':
        buf_put(b, b"<", 1)
    elif c == b'g':
        buf_put(b, b">", 1)
    elif c == b'q':
        buf_put(b, b'"', 1)
    elif s[j + 1] == b'm':
        buf_put(b, b"&", 1)
    else:
        buf_put(b, b"'", 1)
    while s[j] != b';':
        j += 1
    return j + 1


cdef int _put_chars(Buffer *b, const char *s, Py_ssize_t n, int mode) except -1:
    """Append character data with line ends normalised (CR LF and CR become LF);
    references are replaced except in CDATA sections, and in attribute values
    white space becomes a space."""
    cdef bint attr = mode == _ATTR
    cdef Py_ssize_t i = 0, start = 0
    cdef unsigned char c
    while i < n:
        c = s[i]
        if c == b'&' and mode != _CDATA:
            buf_put(b, s + start, i - start)
            i = _put_reference(b, s, i, n)
            start = i
        elif c == b'\r':
            buf_put(b, s + start, i - start)
            buf_put(b, b" " if attr else b"\n", 1)
            i += 2 if i + 1 < n and s[i + 1] == b'\n' else 1
            start = i
        elif attr and (c == b'\n' or c == b'\t'):
            buf_put(b, s + start, i - start)
            buf_put(b, b" ", 1)
            i += 1
            start = i
        else:
            i += 1
    return buf_put(b, s + start, n - start)


cdef bint _needs_work(const char *s, Py_ssize_t n, bint attr) noexcept:
    cdef Py_ssize_t i
    cdef unsigned char c
    for i in range(n):
        c = s[i]
        if c == b'&' or c == b'\r' or (attr and (c == b'\n' or c == b'\t')):
            return True
    return False


cdef object _name(Buffer *key, Binding *bindings, Py_ssize_t nb, const char *name,
                  Py_ssize_t n, bint attribute):
    """The Clark-notation str of a prefixed or unprefixed name in scope."""
    cdef const char *colon = <const char *>memchr(name, b':', n)
    cdef const char *local = name
    cdef Py_ssize_t plen = 0, llen = n, k
    cdef const char *uri = NULL
    cdef Py_ssize_t ulen = 0
    if colon != NULL:
        plen = colon - name
        local = colon + 1
        llen = n - plen - 1
        if plen == 3 and memcmp(name, b"xml", 3) == 0:
            uri = _XML_NS
            ulen = strlen(_XML_NS)
    elif attribute:
        return intern_str(name, n, True)
    if uri == NULL:
        k = nb - 1
        while k >= 0:
            if bindings[k].plen == plen and memcmp(bindings[k].prefix, name, plen) == 0:
                uri = bindings[k].uri
                ulen = bindings[k].ulen
                break
            k -= 1
    if ulen == 0:
        return intern_str(local, llen, True)
    key.len = 0
    buf_put(key, uri, ulen)
    buf_put(key, b"}", 1)
    buf_put(key, local, llen)
    return intern_str(key.data, key.len, True)


cdef object _value(Buffer *tmp, const char *s, Py_ssize_t n, bint attr):
    if not _needs_work(s, n, attr):
        return intern_str(s, n, False) if attr else PyUnicode_DecodeUTF8(s, n, NULL)
    tmp.len = 0
    _put_chars(tmp, s, n, _ATTR if attr else _TEXT)
    return PyUnicode_DecodeUTF8(tmp.data, tmp.len, NULL)


cdef inline Py_ssize_t _tag_name_end(const char *s, Py_ssize_t j) noexcept:
    while not _is_space(s[j]) and s[j] != b'/' and s[j] != b'>':
        j += 1
    return j


cdef Py_ssize_t _next_attr(const char *s, Py_ssize_t n, Py_ssize_t j, Attr *attr) noexcept:
    """Read the attribute at ``s[j:]`` of a (well-formed) start tag into ``attr`` and
    return the index after it; at the end of the tag, minus the index after its ``>``."""
    cdef Py_ssize_t k
    cdef unsigned char q
    while _is_space(s[j]):
        j += 1
    if s[j] == b'>':
        return -(j + 1)
    if s[j] == b'/':
        return -(j + 2)
    k = j
    while s[j] != b'=' and not _is_space(s[j]):
        j += 1
    attr.name = s + k
    attr.nlen = j - k
    while s[j] != b'=':
        j += 1
    j += 1
    while _is_space(s[j]):
        j += 1
    q = s[j]
    attr.value = s + j + 1
    j = (<const char *>memchr(s + j + 1, q, n - j - 1) - s) + 1
    attr.vlen = j - 1 - (attr.value - s)
    return j


cdef object _lazy_get(Element el, str key, default):
    """``el.get(key)`` for an unprefixed attribute of a lazy stanza, read from its
    start tag without building the stanza (bots read ``type``, ``from``, ``id``
    of every stanza, often nothing else)."""
    cdef const char *s = PyBytes_AS_STRING(el._raw)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(el._raw), j, klen
    cdef const char *k = PyUnicode_AsUTF8AndSize(key, &klen)
    cdef Attr attr
    cdef Buffer tmp
    cdef char tmp_mem[256]
    j = _tag_name_end(s, 1)
    while True:
        j = _next_attr(s, n, j, &attr)
        if j < 0:
            return default
        if attr.nlen == klen and memcmp(attr.name, k, klen) == 0:
            buf_init(&tmp, tmp_mem, sizeof(tmp_mem))
            try:
                return _value(&tmp, attr.value, attr.vlen, True)
            finally:
                buf_free(&tmp)


cdef int _flush_text(Buffer *text, Element el) except -1:
    cdef Element last
    value = PyUnicode_DecodeUTF8(text.data, text.len, NULL)
    text.len = 0
    if el._children:
        last = <Element>el._children[-1]
        last.tail = value
    else:
        el._text = value
    return 0


DEF BUILD_ITEMS = 16   # bindings, attributes per tag and depth a build keeps on the C stack


cdef void *_grow(void *array, void *initial, Py_ssize_t *cap, size_t item) except NULL:
    """Double the array of ``cap[0]`` items (``initial``, on the C stack, is copied out)."""
    cdef Py_ssize_t new_cap = cap[0] * 2
    cdef void *grown
    if array == initial:
        grown = malloc(new_cap * item)
        if grown != NULL:
            memcpy(grown, array, cap[0] * item)
    else:
        grown = realloc(array, new_cap * item)
    if grown == NULL:
        raise MemoryError()
    cap[0] = new_cap
    return grown


cdef int _build(Element root, bytes raw, tuple ctx) except -1:
    cdef const char *s = PyBytes_AS_STRING(raw)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(raw)
    cdef Py_ssize_t i = 0, j, nstart, nlen, k
    cdef Attr attr
    cdef Py_ssize_t nb = 0, cap_b = BUILD_ITEMS, na, cap_a = BUILD_ITEMS, depth = 0, cap_d = BUILD_ITEMS, mark
    cdef Binding bindings_mem[BUILD_ITEMS]
    cdef Attr atts_mem[BUILD_ITEMS]
    cdef void *stack_mem[BUILD_ITEMS]
    cdef Py_ssize_t marks_mem[BUILD_ITEMS]
    cdef Binding *bindings = bindings_mem
    cdef Attr *atts = atts_mem
    cdef void **stack = stack_mem
    cdef Py_ssize_t *marks = marks_mem
    cdef const char *p
    cdef unsigned char c
    cdef bint empty
    cdef Element el
    cdef dict attrib
    cdef list children
    cdef Buffer text, key, tmp
    cdef char text_mem[512]
    cdef char key_mem[128]
    cdef char tmp_mem[256]
    cdef bytes prefix, uri
    cdef bytes default = <bytes>ctx[0]
    cdef tuple declared = <tuple>ctx[1]
    keep = None           # owners of normalised namespace URIs that bindings point into
    # (the caller holds ctx, which owns the bytes of the bindings in scope from the header)
    buf_init(&text, text_mem, sizeof(text_mem))
    buf_init(&key, key_mem, sizeof(key_mem))
    buf_init(&tmp, tmp_mem, sizeof(tmp_mem))
    try:
        bindings[0].prefix = b""
        bindings[0].plen = 0
        bindings[0].uri = default
        bindings[0].ulen = len(default)
        nb = 1
        for item in declared:
            prefix, uri = item
            if nb == cap_b:
                bindings = <Binding *>_grow(bindings, bindings_mem, &cap_b, sizeof(Binding))
            bindings[nb].prefix = prefix
            bindings[nb].plen = len(prefix)
            bindings[nb].uri = uri
            bindings[nb].ulen = len(uri)
            nb += 1
        while i < n:
            if s[i] != b'<':
                p = <const char *>memchr(s + i, b'<', n - i)
                j = p - s
                _put_chars(&text, s + i, j - i, _TEXT)
                i = j
                continue
            c = s[i + 1]
            if c == b'/':
                if text.len:
                    _flush_text(&text, <Element>stack[depth - 1])
                i = (<const char *>memchr(s + i, b'>', n - i) - s) + 1
                depth -= 1
                nb = marks[depth]
                if depth == 0:
                    break
                continue
            if c == b'!':
                j = i + 9
                while not (s[j] == b']' and s[j + 1] == b']' and s[j + 2] == b'>'):
                    j += 1
                _put_chars(&text, s + i + 9, j - i - 9, _CDATA)
                i = j + 3
                continue
            if text.len:
                _flush_text(&text, <Element>stack[depth - 1])
            nstart = i + 1
            j = _tag_name_end(s, nstart)
            nlen = j - nstart
            mark = nb
            na = 0
            while True:
                j = _next_attr(s, n, j, &attr)
                if j < 0:
                    j = -j
                    empty = s[j - 2] == b'/'
                    break
                if attr.nlen >= 5 and memcmp(attr.name, b"xmlns", 5) == 0 and (attr.nlen == 5 or attr.name[5] == b':'):
                    if nb == cap_b:
                        bindings = <Binding *>_grow(bindings, bindings_mem, &cap_b, sizeof(Binding))
                    bindings[nb].prefix = attr.name + 6
                    bindings[nb].plen = attr.nlen - 6 if attr.nlen > 5 else 0
                    if _needs_work(attr.value, attr.vlen, True):
                        tmp.len = 0
                        _put_chars(&tmp, attr.value, attr.vlen, _ATTR)
                        uri = PyBytes_FromStringAndSize(tmp.data, tmp.len)
                        if keep is None:
                            keep = [uri]
                        else:
                            keep.append(uri)
                        bindings[nb].uri = uri
                        bindings[nb].ulen = len(uri)
                    else:
                        bindings[nb].uri = attr.value
                        bindings[nb].ulen = attr.vlen
                    nb += 1
                    continue
                if na == cap_a:
                    atts = <Attr *>_grow(atts, atts_mem, &cap_a, sizeof(Attr))
                atts[na] = attr
                na += 1
            if depth == 0:
                el = root
            else:
                el = Element.__new__(Element)
                el.tag = _name(&key, bindings, nb, s + nstart, nlen, False)
                parent = <Element>stack[depth - 1]
                children = parent._children
                if children is None:
                    parent._children = _untracked([el])
                else:
                    children.append(el)
            if na:
                attrib = {}
                for k in range(na):
                    attrib[_name(&key, bindings, nb, atts[k].name, atts[k].nlen, True)] = \
                        _value(&tmp, atts[k].value, atts[k].vlen, True)
                el._attrib = attrib
            i = j
            if empty:
                nb = mark
                if depth == 0:
                    break
            else:
                if depth == cap_d:
                    k = cap_d
                    stack = <void **>_grow(stack, stack_mem, &cap_d, sizeof(void *))
                    marks = <Py_ssize_t *>_grow(marks, marks_mem, &k, sizeof(Py_ssize_t))
                stack[depth] = <void *>el
                marks[depth] = mark
                depth += 1
    finally:
        if bindings != bindings_mem:
            free(bindings)
        if atts != atts_mem:
            free(atts)
        if stack != stack_mem:
            free(stack)
        if marks != marks_mem:
            free(marks)
        buf_free(&text)
        buf_free(&key)
        buf_free(&tmp)
    return 0


cdef int _materialize(Element el) except -1:
    """Build the attributes, text and children of a lazy stanza from its bytes.

    The parts are built on a scratch element and moved over in one step, so
    no one ever sees a half-built stanza (and a failure leaves it lazy).
    """
    cdef bytes raw = el._raw        # owned here while building
    cdef tuple ctx = el._ctx
    cdef Element parts = Element.__new__(Element)
    _build(parts, raw, ctx)
    el._attrib = parts._attrib
    el._children = parts._children
    el._text = parts._text
    el._raw = None
    el._ctx = None
    return 0

