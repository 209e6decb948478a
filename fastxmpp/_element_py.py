"""Pure-Python twin of the element type shared by the tokenizer and the builder.

Tags and attribute names use Clark notation: ``{namespace}local``, or a bare
``local`` for no namespace.  ``_attrib`` and ``_children`` stay ``None`` until
an attribute or a child is added, so a parsed leaf element costs no more than
an :mod:`xml.etree` C element; tokenizers create elements with
``Element.__new__(Element)`` and set the five slots themselves, so every method
here copes with those ``None`` values.

Every tree walk (``iter``, ``itertext``, ``copy``, ``==``, ``to_etree``,
``from_etree``) uses an explicit stack, so a deep tree cannot exhaust the C
stack in the compiled twin nor the recursion limit here.

This module also holds the helpers both twins share: the path compiler
(:func:`_compile_path`) and the XML name pattern (:data:`NCNAME`).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, TypeVar, Union, overload

__all__ = ["Element"]

_T = TypeVar("_T")

# NameStartChar / NameChar of XML 1.0 (fifth edition) without ":" (an NCName).
_NAME_START = (
    "A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff"
    "\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd"
    "\U00010000-\U000effff"
)
_NAME_CHAR = _NAME_START + r"\-.0-9\u00b7\u0300-\u036f\u203f-\u2040"
NCNAME = re.compile(f"[{_NAME_START}][{_NAME_CHAR}]*")
"""Compiled pattern of an XML NCName; use ``NCNAME.fullmatch(name)``."""

# Path step codes (shared with the compiled twin).
STEP_SELF = 0  # "."
STEP_ANY = 1  # "*"
STEP_TAG = 2  # "{ns}local" or "local": the tag must be equal to the value
STEP_NS = 3  # "{ns}*": the tag must start with the value "{ns}"
STEP_NO_NS = 4  # "{}*": the tag must have no namespace
STEP_LOCAL = 5  # "{*}local": any namespace or none; the value is "}local"

_STEP = re.compile(r"\{([^{}]*)\}(.*)", re.S)
_path_cache: Dict[str, Tuple[bool, Tuple[Tuple[int, str], ...]]] = {}


def _compile_path(path: str) -> Tuple[bool, Tuple[Tuple[int, str], ...]]:
    """Compile a find/findall path into ``(descend_first, steps)``.

    Steps are separated by ``/``; each is ``.``, ``*``, ``{ns}local``,
    ``local``, ``{ns}*`` (any element in ns), ``{}*`` (any element without
    namespace) or ``{*}local`` (that local name in any namespace or none).  A leading ``.//`` or ``//`` makes the
    first step search every descendant.  Anything else raises ValueError.
    """
    try:
        return _path_cache[path]
    except (KeyError, TypeError):
        pass
    if not isinstance(path, str):
        raise TypeError(f"path must be str, not {type(path).__name__}")
    descend = False
    rest = path
    if rest.startswith(".//"):
        descend, rest = True, rest[3:]
    elif rest.startswith("//"):
        descend, rest = True, rest[2:]
    steps: List[Tuple[int, str]] = []
    # A "/" inside "{...}" belongs to the namespace URI, so split by hand.
    parts: List[str] = []
    start = 0
    depth = 0
    for i, ch in enumerate(rest):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "/" and depth == 0:
            parts.append(rest[start:i])
            start = i + 1
    parts.append(rest[start:])
    for part in parts:
        if part == ".":
            steps.append((STEP_SELF, ""))
        elif part == "*":
            steps.append((STEP_ANY, ""))
        elif NCNAME.fullmatch(part):
            steps.append((STEP_TAG, part))
        else:
            m = _STEP.fullmatch(part)
            if m is None:
                raise ValueError(f"unsupported path {path!r} (bad step {part!r})")
            ns, local = m.groups()
            if ns == "*":
                if not NCNAME.fullmatch(local):
                    raise ValueError(f"unsupported path {path!r} (bad step {part!r})")
                steps.append((STEP_LOCAL, "}" + local))
            elif local == "*":
                steps.append((STEP_NS, "{" + ns + "}") if ns else (STEP_NO_NS, ""))
            elif NCNAME.fullmatch(local):
                steps.append((STEP_TAG, "{" + ns + "}" + local) if ns else (STEP_TAG, local))
            else:
                raise ValueError(f"unsupported path {path!r} (bad step {part!r})")
    if descend and steps[0][0] == STEP_SELF:
        raise ValueError(f"unsupported path {path!r} (descendant step must name elements)")
    result = (descend, tuple(steps))
    if len(_path_cache) >= 256:
        _path_cache.clear()
    _path_cache[path] = result
    return result


def _matches(code: int, value: str, tag: str) -> bool:
    if code == STEP_ANY:
        return True
    if code == STEP_TAG:
        return tag == value
    if code == STEP_NS:
        return tag.startswith(value)
    if code == STEP_LOCAL:
        return tag.endswith(value) or tag == value[1:]
    return not tag.startswith("{")  # STEP_NO_NS


class Element:
    """An XML element: ``tag``, ``attrib``, ``text``, ``tail`` and children.

    Unlike :class:`xml.etree.ElementTree.Element`, an element is always true
    (``bool(el)`` does not depend on the number of children), elements compare
    structurally with ``==`` (and so are unhashable), ``remove`` removes by
    identity, and ``copy()`` is deep.
    """

    __slots__ = ("tag", "text", "tail", "_attrib", "_children")

    tag: str
    text: Optional[str]
    tail: Optional[str]
    _attrib: Optional[Dict[str, str]]
    _children: Optional[List["Element"]]

    def __init__(
        self,
        tag: str,
        attrib: Optional[Mapping[str, str]] = None,
        /,
        *,
        text: Optional[str] = None,
        tail: Optional[str] = None,
    ) -> None:
        if type(tag) is not str and not isinstance(tag, str):
            raise TypeError(f"tag must be str, not {type(tag).__name__}")
        if text is not None and not isinstance(text, str):
            raise TypeError(f"text must be str or None, not {type(text).__name__}")
        if tail is not None and not isinstance(tail, str):
            raise TypeError(f"tail must be str or None, not {type(tail).__name__}")
        self.tag = tag
        self.text = text
        self.tail = tail
        self._attrib = dict(attrib) if attrib else None
        self._children = None

    # -- attributes -------------------------------------------------------
    @property
    def attrib(self) -> Dict[str, str]:
        """The attribute dict (created on first access); changes are live."""
        a = self._attrib
        if a is None:
            a = self._attrib = {}
        return a

    @attrib.setter
    def attrib(self, value: Optional[Mapping[str, str]]) -> None:
        if value is None:
            self._attrib = None
        elif type(value) is dict:
            self._attrib = value
        else:
            self._attrib = dict(value)

    @overload
    def get(self, key: str) -> Optional[str]: ...

    @overload
    def get(self, key: str, default: _T) -> Union[str, _T]: ...

    def get(self, key: str, default: Optional[_T] = None) -> Union[str, _T, None]:
        """The value of the attribute ``key`` (Clark notation for a namespaced one), else
        ``default``."""
        a = self._attrib
        if a is None:
            return default
        return a.get(key, default)

    def set(self, key: str, value: str) -> None:
        """Set the attribute ``key`` to ``value``."""
        a = self._attrib
        if a is None:
            self._attrib = {key: value}
        else:
            a[key] = value

    def keys(self) -> List[str]:
        """The attribute names, in document order."""
        a = self._attrib
        return [] if a is None else list(a)

    def items(self) -> List[Tuple[str, str]]:
        """The (name, value) pairs of the attributes, in document order."""
        a = self._attrib
        return [] if a is None else list(a.items())

    # -- children ---------------------------------------------------------
    def __len__(self) -> int:
        c = self._children
        return 0 if c is None else len(c)

    def __bool__(self) -> bool:
        return True

    def __getitem__(self, index: Union[int, slice]) -> Any:
        c = self._children
        if c is None:
            c = []
        return c[index]

    def __setitem__(self, index: Union[int, slice], value: Any) -> None:
        c = self._children
        if c is None:
            c = []
        if isinstance(index, slice):
            items = list(value)
            for item in items:
                _check_child(item)
                _check_acyclic(self, item)
            c[index] = items
        else:
            _check_child(value)
            _check_acyclic(self, value)
            c[index] = value
        if self._children is None and c:
            self._children = c

    def __delitem__(self, index: Union[int, slice]) -> None:
        c = self._children
        if c is None:
            c = []
        del c[index]

    def __iter__(self) -> Iterator["Element"]:
        c = self._children
        return iter(()) if c is None else iter(c)

    def append(self, child: "Element") -> None:
        """Add ``child`` as the last child; ``TypeError`` if it is not an Element,
        ``ValueError`` if it contains this element."""
        _check_child(child)
        _check_acyclic(self, child)
        c = self._children
        if c is None:
            self._children = [child]
        else:
            c.append(child)

    def extend(self, children: Iterable["Element"]) -> None:
        """Append each of ``children`` (all checked first, as :meth:`append` does)."""
        items = list(children)
        for item in items:
            _check_child(item)
            _check_acyclic(self, item)
        if not items:
            return
        c = self._children
        if c is None:
            self._children = items
        else:
            c.extend(items)

    def insert(self, index: int, child: "Element") -> None:
        """Insert ``child`` before position ``index`` (checked as :meth:`append` does)."""
        _check_child(child)
        _check_acyclic(self, child)
        c = self._children
        if c is None:
            self._children = [child]
        else:
            c.insert(index, child)

    def remove(self, child: "Element") -> None:
        """Remove ``child`` (this very object, not an equal one); ValueError if absent."""
        c = self._children
        if c is not None:
            for i, x in enumerate(c):
                if x is child:
                    del c[i]
                    return
        raise ValueError("Element.remove(x): x not in children")

    def clear(self) -> None:
        """Drop attributes, text, tail and children (like ElementTree)."""
        self._attrib = None
        self._children = None
        self.text = None
        self.tail = None

    def subelement(
        self,
        tag: str,
        attrib: Optional[Mapping[str, str]] = None,
        /,
        *,
        text: Optional[str] = None,
    ) -> "Element":
        """Append a new child element and return it."""
        child = Element(tag, attrib, text=text)
        c = self._children
        if c is None:
            self._children = [child]
        else:
            c.append(child)
        return child

    # -- search -----------------------------------------------------------
    def _select(self, path: str, first: bool) -> List["Element"]:
        descend, steps = _compile_path(path)
        context: List[Element] = [self]
        last = len(steps) - 1
        for n, (code, value) in enumerate(steps):
            out: List[Element] = []
            if n == 0 and descend:
                for el in self.iter():
                    if el is not self and _matches(code, value, el.tag):
                        out.append(el)
                        if first and n == last:
                            return out
            elif code == STEP_SELF:
                out = context
            else:
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

    def find(self, path: str) -> Optional["Element"]:
        """The first element matching ``path``, or None."""
        found = self._select(path, True)
        return found[0] if found else None

    def findall(self, path: str) -> List["Element"]:
        """Every element matching ``path``, in document order."""
        return self._select(path, False)

    def findtext(self, path: str, default: Any = None) -> Any:
        """The text of the first match ("" if it has none), or ``default``."""
        found = self._select(path, True)
        if not found:
            return default
        text = found[0].text
        return "" if text is None else text

    def iter(self, tag: Optional[str] = None) -> Iterator["Element"]:
        """Depth-first over this element and its descendants (a snapshot).

        ``tag`` None or ``"*"`` selects every element, otherwise the exact tag.
        """
        if tag == "*":
            tag = None
        out: List[Element] = []
        stack: List[Element] = [self]
        while stack:
            el = stack.pop()
            if tag is None or el.tag == tag:
                out.append(el)
            c = el._children
            if c:
                stack.extend(reversed(c))
        return iter(out)

    def itertext(self) -> Iterator[str]:
        """The non-empty text and tail strings of the subtree, in document order."""
        out: List[str] = []
        stack: List[Any] = [self]
        while stack:
            item = stack.pop()
            if type(item) is str:
                out.append(item)
                continue
            if item.text:
                out.append(item.text)
            c = item._children
            if c:
                for child in reversed(c):
                    if child.tail:
                        stack.append(child.tail)
                    stack.append(child)
        return iter(out)

    # -- copies, comparison ---------------------------------------------
    def copy(self) -> "Element":
        """A deep copy of the element and its subtree (tail included)."""
        root = _clone(self)
        stack = [(self, root)]
        while stack:
            src, dst = stack.pop()
            c = src._children
            if c:
                new = [_clone(x) for x in c]
                dst._children = new
                stack.extend(zip(c, new))
        return root

    def __copy__(self) -> "Element":
        """Shallow copy: new attribute dict and child list, same child objects."""
        new = _clone(self)
        if self._children:
            new._children = list(self._children)
        return new

    def __deepcopy__(self, memo: Any) -> "Element":
        return self.copy()

    def __reduce__(self) -> Any:
        return (Element, (self.tag, self._attrib), (self.text, self.tail, self._children))

    def __setstate__(self, state: Any) -> None:
        self.text, self.tail, children = state
        self._children = list(children) if children else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Element):
            return NotImplemented
        stack = [(self, other)]
        while stack:
            a, b = stack.pop()
            if a is b:
                continue
            if a.tag != b.tag or (a.text or "") != (b.text or "") or (a.tail or "") != (b.tail or ""):
                return False
            if (a._attrib or {}) != (b._attrib or {}):
                return False
            ca = a._children or ()
            cb = b._children or ()
            if len(ca) != len(cb):
                return False
            stack.extend(zip(ca, cb))
        return True

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        if result is NotImplemented:
            return NotImplemented
        return not result

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [f"<Element {self.tag!r}"]
        if self._attrib:
            parts.append(f" {self._attrib!r}")
        if self._children:
            parts.append(f" children={len(self._children)}")
        parts.append(">")
        return "".join(parts)

    # -- names ------------------------------------------------------------
    @property
    def namespace(self) -> str:
        """The namespace URI of the tag, "" when it has none."""
        tag = self.tag
        if tag[:1] == "{":
            end = tag.find("}")
            if end > 0:
                return tag[1:end]
        return ""

    @property
    def localname(self) -> str:
        """The tag without its ``{namespace}``."""
        tag = self.tag
        if tag[:1] == "{":
            end = tag.find("}")
            if end > 0:
                return tag[end + 1 :]
        return tag

    # -- xml.etree interoperability ----------------------------------------
    def to_etree(self) -> ET.Element:
        """An equivalent :class:`xml.etree.ElementTree.Element` tree."""
        root = _to_et(self)
        stack = [(self, root)]
        while stack:
            src, dst = stack.pop()
            c = src._children
            if c:
                for child in c:
                    new = _to_et(child)
                    dst.append(new)
                    stack.append((child, new))
        return root

    @classmethod
    def from_etree(cls, e: ET.Element) -> "Element":
        """Convert an ElementTree tree; comments and processing instructions are dropped
        (their tails are kept)."""
        root = _from_et(e)
        if root is None:
            raise TypeError("from_etree() needs an element, not a comment or processing instruction")
        stack = [(e, root)]
        while stack:
            src, dst = stack.pop()
            prev: Optional[Element] = None
            for child in src:
                new = _from_et(child)
                if new is None:
                    if child.tail:
                        if prev is None:
                            dst.text = (dst.text or "") + child.tail
                        else:
                            prev.tail = (prev.tail or "") + child.tail
                    continue
                dst.append(new)
                stack.append((child, new))
                prev = new
        return root


def _check_acyclic(parent: "Element", child: "Element") -> None:
    """Refuse to make ``parent`` a descendant of itself (same rule as the compiled twin,
    whose elements are not tracked by the cycle collector)."""
    if child is parent:
        raise ValueError("an element cannot contain itself")
    stack = list(child._children or ())
    while stack:
        el = stack.pop()
        if el is parent:
            raise ValueError("an element cannot contain one of its ancestors")
        if el._children:
            stack.extend(el._children)


def _check_child(child: Any) -> None:
    if not isinstance(child, Element):
        raise TypeError(f"expected an Element, not {type(child).__name__}")


def _clone(el: Element) -> Element:
    new = Element.__new__(Element)
    new.tag = el.tag
    new.text = el.text
    new.tail = el.tail
    new._attrib = dict(el._attrib) if el._attrib else None
    new._children = None
    return new


def _to_et(el: Element) -> ET.Element:
    new = ET.Element(el.tag, dict(el._attrib) if el._attrib else {})
    new.text = el.text
    new.tail = el.tail
    return new


def _from_et(e: Any) -> Optional[Element]:
    tag = e.tag
    if isinstance(tag, ET.QName):
        tag = tag.text
    if not isinstance(tag, str):
        return None
    new = Element.__new__(Element)
    new.tag = tag
    new.text = e.text
    new.tail = e.tail
    new._attrib = dict(e.attrib) if e.attrib else None
    new._children = None
    return new
