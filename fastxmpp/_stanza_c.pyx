# cython: language_level=3, embedsignature=True, freethreading_compatible=True
"""Compiled twin of :func:`fastxmpp.stanza.message` (same elements, same errors).

A sender builds one message per stanza it sends; in Python the call's keyword
arguments and the element's attribute and child setters cost more than the
serializer does.  This builds the same tree straight into the compiled
:class:`~fastxmpp._element_c.Element`.  ``fastxmpp.stanza`` picks it when the
extensions are in use; its Python twin stays there as ``_message_py``.
"""
from fastxmpp._element_c cimport Element, new_child

__all__ = ["message"]


cdef str _MESSAGE = "{jabber:client}message"
cdef str _BODY = "{jabber:client}body"
cdef str _SUBJECT = "{jabber:client}subject"
cdef str _THREAD = "{jabber:client}thread"
cdef str _XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
cdef frozenset _TYPES = frozenset({"chat", "error", "groupchat", "headline", "normal"})


def message(*, to=None, type="chat", body=None, id=None, from_=None, lang=None, thread=None,
            subject=None):
    """A ``<message/>``: attributes to, from, type, id, xml:lang; children
    subject, body, thread (each only when given).  ``type=None`` leaves the
    attribute out (which means "normal")."""
    cdef dict attrib = {}
    cdef Element el
    if to is not None:
        attrib["to"] = to if to.__class__ is str else str(to)
    if from_ is not None:
        attrib["from"] = from_ if from_.__class__ is str else str(from_)
    if type is not None:
        if type not in _TYPES:
            raise ValueError(f"invalid message type {type!r}; expected one of {sorted(_TYPES)}")
        attrib["type"] = type
    if id is not None:
        attrib["id"] = id
    if lang is not None:
        attrib[_XML_LANG] = lang
    el = Element.__new__(Element)
    el.tag = _MESSAGE
    if attrib:
        el._attrib = attrib
    if subject is not None:
        new_child(el, _SUBJECT, subject)
    if body is not None:
        new_child(el, _BODY, body)
    if thread is not None:
        new_child(el, _THREAD, thread)
    return el
