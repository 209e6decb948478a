# cython: language_level=3, embedsignature=True, freethreading_compatible=True
"""Compiled twin of :mod:`fastxmpp._element_py` (same behaviour, typed fields).

The fields are declared in ``_element_c.pxd`` so the compiled tokenizer and
serializer read and write them directly.  Elements made with
``Element.__new__(Element)`` have every field None; all methods cope with that.
"""
cimport cython

import xml.etree.ElementTree as _ET

from fastxmpp._element_py import _compile_path

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
    new.text = el.text
    new.tail = el.tail
    if el._attrib:
        new._attrib = dict(el._attrib)
    return new


cdef inline _check_child(child):
    if not isinstance(child, Element):
        raise TypeError(f"expected an Element, not {type(child).__name__}")


cdef object _to_et(Element el):
    new = _ET_Element(el.tag, dict(el._attrib) if el._attrib else {})
    new.text = el.text
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
    new.text = e.text
    new.tail = e.tail
    attrib = e.attrib
    if attrib:
        new._attrib = dict(attrib)
    return new


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
    descend, steps = _compile_path(path)
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


cdef int _check_acyclic(Element parent, Element child) except -1:
    """Refuse to make ``parent`` a descendant of itself (elements are not GC-tracked)."""
    cdef list stack
    cdef Element el
    if child is parent:
        raise ValueError("an element cannot contain itself")
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
        self.text = text
        self.tail = tail
        if attrib:
            self._attrib = dict(attrib)
        else:
            self._attrib = None
        self._children = None

    # -- attributes -------------------------------------------------------
    @property
    def attrib(self):
        """The attribute dict (created on first access); changes are live."""
        if self._attrib is None:
            self._attrib = {}
        return self._attrib

    @attrib.setter
    def attrib(self, value):
        if value is None:
            self._attrib = None
        elif type(value) is dict:
            self._attrib = value
        else:
            self._attrib = dict(value)

    def get(self, key, default=None):
        if self._attrib is None:
            return default
        return self._attrib.get(key, default)

    def set(self, key, value):
        if self._attrib is None:
            self._attrib = {key: value}
        else:
            self._attrib[key] = value

    def keys(self):
        if self._attrib is None:
            return []
        return list(self._attrib)

    def items(self):
        if self._attrib is None:
            return []
        return list(self._attrib.items())

    # -- children ---------------------------------------------------------
    def __len__(self):
        if self._children is None:
            return 0
        return len(self._children)

    def __bool__(self):
        return True

    def __getitem__(self, index):
        cdef list c = self._children
        if c is None:
            c = []
        return c[index]

    def __setitem__(self, index, value):
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
        cdef list c = self._children
        if c is None:
            c = []
        del c[index]

    def __iter__(self):
        if self._children is None:
            return iter(())
        return iter(self._children)

    def append(self, Element child not None):
        _check_acyclic(self, child)
        if self._children is None:
            self._children = _untracked([child])
        else:
            self._children.append(child)

    def extend(self, children):
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
        _check_acyclic(self, child)
        if self._children is None:
            self._children = _untracked([child])
        else:
            self._children.insert(index, child)

    def remove(self, Element child not None):
        """Remove ``child`` (this very object, not an equal one); ValueError if absent."""
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
        self._attrib = None
        self._children = None
        self.text = None
        self.tail = None

    def subelement(self, str tag not None, attrib=None, /, *, str text=None):
        """Append a new child element and return it."""
        cdef Element child = Element.__new__(Element)
        child.tag = tag
        child.text = text
        if attrib:
            child._attrib = dict(attrib)
        if self._children is None:
            self._children = _untracked([child])
        else:
            self._children.append(child)
        return child

    # -- search -----------------------------------------------------------
    def find(self, path):
        """The first element matching ``path``, or None."""
        cdef list found = _select(self, path, True)
        return found[0] if found else None

    def findall(self, path):
        """Every element matching ``path``, in document order."""
        return _select(self, path, False)

    def findtext(self, path, default=None):
        """The text of the first match ("" if it has none), or ``default``."""
        cdef list found = _select(self, path, True)
        cdef Element el
        if not found:
            return default
        el = found[0]
        return "" if el.text is None else el.text

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
        while stack:
            item = stack.pop()
            if type(item) is str:
                out.append(item)
                continue
            el = <Element>item
            if el.text:
                out.append(el.text)
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
        cdef Element new = _clone(self)
        if self._children:
            new._children = _untracked(list(self._children))
        return new

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        return (Element, (self.tag, self._attrib), (self.text, self.tail, self._children))

    def __setstate__(self, state):
        self.text, self.tail, children = state
        self._children = _untracked(list(children)) if children else None

    def __eq__(self, other):
        if not isinstance(other, Element):
            return NotImplemented
        cdef list stack = [self, other]
        cdef Element a, b
        cdef list ca, cb
        cdef Py_ssize_t i, n
        while stack:
            b = stack.pop()
            a = stack.pop()
            if a is b:
                continue
            if a.tag != b.tag:
                return False
            if (a.text or "") != (b.text or "") or (a.tail or "") != (b.tail or ""):
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
                            dst.text = (dst.text or "") + tail
                        else:
                            prev.tail = (prev.tail or "") + tail
                    continue
                dst.append(new)
                stack.append(child)
                stack.append(new)
                prev = new
        return root
