"""Pure-Python twin of the serializer: elements to UTF-8 bytes.

Every element is written unprefixed; ``xmlns`` is declared only where the
element's namespace differs from the default namespace in scope (the one of
the parent, or ``default_ns`` at the top).  Attributes in the XML namespace
use the ``xml:`` prefix; other namespaced attributes get a generated prefix
(``ns0``, ``ns1``...) declared on the element that carries them.

Characters that XML 1.0 forbids, and names that are not XML names (NCNames),
raise ValueError; non-str attribute names, values or text raise TypeError.

The helpers :func:`_tag_parts`, :func:`_attr_parts`, :func:`_check_chars`
and :func:`stream_header` are shared with the compiled twin.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from ._element_py import NCNAME, Element

__all__ = ["serialize", "stream_header", "stream_footer"]

NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_XMLNS = "http://www.w3.org/2000/xmlns/"
NS_STREAM = "http://etherx.jabber.org/streams"

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTR_SPECIAL = re.compile('[&<>"\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')

_CACHE_MAX = 2048


def _check_chars(s: str, where: str) -> None:
    """Raise ValueError naming the first character of ``s`` XML 1.0 forbids."""
    m = _FORBIDDEN.search(s)
    if m is not None:
        raise ValueError(f"character U+{ord(m.group()):04X} is not allowed in XML ({where})")


def _escape_text(s: str) -> str:
    if s.isascii() and s.isprintable():  # no control character: only & < > to escape
        if "&" in s:
            s = s.replace("&", "&amp;")
        if "<" in s:
            s = s.replace("<", "&lt;")
        if ">" in s:
            s = s.replace(">", "&gt;")
        return s
    if _TEXT_SPECIAL.search(s) is None:
        return s
    _check_chars(s, "text")
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _escape_attr(s: str, where: str = "attribute value") -> str:
    if s.isascii() and s.isprintable():  # no control character: only & < > " to escape
        if "&" in s:
            s = s.replace("&", "&amp;")
        if "<" in s:
            s = s.replace("<", "&lt;")
        if ">" in s:
            s = s.replace(">", "&gt;")
        if '"' in s:
            s = s.replace('"', "&quot;")
        return s
    if _ATTR_SPECIAL.search(s) is None:
        return s
    _check_chars(s, where)
    return (
        s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
    )


def _split_clark(name: object, what: str) -> Tuple[str, str]:
    """``(namespace, local)`` of a Clark name (``{ns}local`` or ``local``), validated."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be str, not {type(name).__name__}")
    if name[:1] == "{":
        end = name.find("}")
        if end < 0:
            raise ValueError(f"invalid {what} {name!r}")
        ns, local = name[1:end], name[end + 1 :]
    else:
        ns, local = "", name
    _check_chars(name, what)
    if NCNAME.fullmatch(local) is None:
        raise ValueError(f"invalid {what} {name!r}")
    return ns, local


def _tag_parts(tag: object) -> Tuple[str, str, str]:
    """``(namespace, local, escaped namespace)`` of a Clark tag, validated."""
    ns, local = _split_clark(tag, "element name")
    if ns == NS_XML or ns == NS_XMLNS:
        raise ValueError(f"element namespace {ns!r} is reserved")
    return ns, local, _escape_attr(ns, "namespace")


def _attr_parts(name: object) -> Tuple[str, str]:
    """``(namespace, written name)`` of a Clark attribute name, validated.

    The written name is ``local``, ``xml:local``, or for another namespace
    the bare local name (the caller adds a generated prefix).
    """
    ns, local = _split_clark(name, "attribute name")
    if ns == NS_XMLNS or (not ns and local == "xmlns"):
        raise ValueError(
            f"attribute {name!r} is a namespace declaration; put the namespace in the tag instead"
        )
    if ns == NS_XML:
        return ns, "xml:" + local
    return ns, local


_tag_cache: Dict[str, Tuple[str, str, str, str]] = {}
_attr_cache: Dict[str, Tuple[str, str]] = {}


def _tag_info(tag: str) -> Tuple[str, str, str, str]:
    """``(namespace, "<local", '<local xmlns="ns"', "</local>")``, cached."""
    try:
        return _tag_cache[tag]
    except (KeyError, TypeError):
        pass
    ns, local, ns_esc = _tag_parts(tag)
    info = (ns, "<" + local, f'<{local} xmlns="{ns_esc}"', f"</{local}>")
    if len(_tag_cache) >= _CACHE_MAX:
        _tag_cache.clear()
    _tag_cache[tag] = info
    return info


def _attr_info(name: str) -> Tuple[str, str]:
    """``(namespace or "", written name)``, cached."""
    try:
        return _attr_cache[name]
    except (KeyError, TypeError):
        pass
    info = _attr_parts(name)
    if len(_attr_cache) >= _CACHE_MAX:
        _attr_cache.clear()
    _attr_cache[name] = info
    return info


_tag_cache_get = _tag_cache.get
_attr_cache_get = _attr_cache.get


def _start_tag(out: List[str], el: Element, scope: str) -> Tuple[str, str, str, str]:
    """Write ``<local [xmlns] [attributes]`` (no closing ``>``); return el's tag info."""
    tag = el.tag
    info = _tag_cache_get(tag) if type(tag) is str else None
    if info is None:
        info = _tag_info(tag)
    out.append(info[1] if info[0] == scope else info[2])
    attrib = el._attrib
    if attrib:
        prefixes: Optional[Dict[str, str]] = None
        for name, value in attrib.items():
            ainfo = _attr_cache_get(name) if type(name) is str else None
            if ainfo is None:
                ainfo = _attr_info(name)
            ans, written = ainfo
            if ans and ans != NS_XML:
                if prefixes is None:
                    prefixes = {}
                prefix = prefixes.get(ans)
                if prefix is None:
                    prefix = prefixes[ans] = f"ns{len(prefixes)}"
                    out.append(f' xmlns:{prefix}="{_escape_attr(ans, "namespace")}"')
                written = f"{prefix}:{written}"
            if type(value) is not str and not isinstance(value, str):
                raise TypeError(f"attribute {name!r} value must be str, not {type(value).__name__}")
            out.append(f' {written}="{_escape_attr(value)}"')
    return info


def _text(out: List[str], s: object) -> None:
    if s:
        if type(s) is not str and not isinstance(s, str):
            raise TypeError(f"text must be str, not {type(s).__name__}")
        out.append(_escape_text(s))


def serialize(element: Element, default_ns: str = "jabber:client") -> bytes:
    """UTF-8 bytes of ``element`` and its subtree (without its own tail).

    ``default_ns`` is the default namespace in scope where the element is
    written: ``jabber:client`` inside a client-to-server stream.
    """
    if not isinstance(element, Element):
        raise TypeError(f"expected an Element, not {type(element).__name__}")
    if not isinstance(default_ns, str):
        raise TypeError(f"default_ns must be str, not {type(default_ns).__name__}")
    out: List[str] = []
    info = _start_tag(out, element, default_ns)
    if not element._children:
        if element.text:
            out.append(">")
            _text(out, element.text)
            out.append(info[3])
        else:
            out.append("/>")
        return "".join(out).encode("utf-8")
    out.append(">")
    _text(out, element.text)
    # Explicit stack of [element, its tag info, next child index].
    stack: List[List[Any]] = [[element, info, 0]]
    while stack:
        frame = stack[-1]
        parent = frame[0]
        children = parent._children
        i = frame[2]
        if children is not None and i < len(children):
            frame[2] = i + 1
            child = children[i]
            cinfo = _start_tag(out, child, frame[1][0])
            if child._children:
                out.append(">")
                _text(out, child.text)
                stack.append([child, cinfo, 0])
                continue
            if child.text:
                out.append(">")
                _text(out, child.text)
                out.append(cinfo[3])
            else:
                out.append("/>")
            _text(out, child.tail)
            continue
        stack.pop()
        out.append(frame[1][3])
        if stack:
            _text(out, parent.tail)
    return "".join(out).encode("utf-8")


def _header_value(value: object, what: str) -> str:
    s = value if isinstance(value, str) else str(value)
    return _escape_attr(s, what)


def stream_header(
    *,
    to: object,
    from_: object = None,
    id: Optional[str] = None,
    version: Optional[str] = "1.0",
    lang: Optional[str] = "en",
    default_ns: str = "jabber:client",
) -> bytes:
    """The XML declaration and the opening ``<stream:stream ...>`` tag.

    ``to``/``from_`` may be str or anything with ``__str__`` (a JID); attributes
    that are None are left out.
    """
    parts = [
        "<?xml version='1.0'?><stream:stream xmlns=\"",
        _header_value(default_ns, "namespace"),
        f'" xmlns:stream="{NS_STREAM}"',
    ]
    for name, value in (("to", to), ("from", from_), ("id", id), ("version", version), ("xml:lang", lang)):
        if value is not None:
            parts.append(f' {name}="{_header_value(value, "attribute value")}"')
    parts.append(">")
    return "".join(parts).encode("utf-8")


def stream_footer() -> bytes:
    """The closing tag of the stream."""
    return b"</stream:stream>"
