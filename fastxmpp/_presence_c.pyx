# cython: language_level=3, embedsignature=True, freethreading_compatible=True
"""Compiled twin of :meth:`fastxmpp.im.presence.PresenceTracker.receive` (same state,
same events, same logs).

A presence storm spends most of its time reading each stanza's ``type``, ``from``,
``xml:lang`` and its ``<show/>``, ``<status/>`` and ``<priority/>`` children.  Here a
stanza still lazy (as the compiled tokenizer delivers it) is read straight from its
bytes, without building its children; a built one from its C-level fields.  The
tracker update, the best resource and the event are done here too.

Only the common, well-formed case is handled: anything else (an error, probe or
unknown type, no sender, an invalid JID, an unknown show, a priority that is not a
plain number in range, entities, CDATA, comments, prefixed children, ...) goes to the
pure-Python twin, which logs and decides, before this twin has changed anything but
the cache of parsed senders.  :mod:`fastxmpp.im.presence` hands the Python objects both
twins share to :func:`bind` when it selects this twin.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.ref cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memchr, memcmp

from fastxmpp._element_c cimport Element

__all__ = ["bind", "receive"]


cdef extern from "Python.h":
    int PyObject_GenericSetAttr(object o, object name, object value) except -1
    void PyObject_GC_UnTrack(void *op)


cdef extern from *:
    """
    static PyObject *fx_object_new(PyObject *cls, PyObject *empty) {
        return PyBaseObject_Type.tp_new((PyTypeObject *)cls, empty, NULL);
    }
    """
    object fx_object_new(object cls, object empty)


cdef str _PRESENCE = "{jabber:client}presence"
cdef str _SHOW = "{jabber:client}show"
cdef str _STATUS = "{jabber:client}status"
cdef str _PRIORITY = "{jabber:client}priority"
cdef str _XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
cdef str _UNAVAILABLE = "unavailable"
cdef frozenset _SUBSCRIPTION_TYPES = frozenset({"subscribe", "subscribed", "unsubscribe", "unsubscribed"})
cdef tuple _EMPTY = ()
cdef enum:
    _MAX_STATUSES = 8     # more <status/> children than this: the Python twin reads them

# Bound by fastxmpp.im.presence (see bind()).
cdef object _fallback = None
cdef object _ResourcePresence = None
cdef object _ContactOnline = None
cdef object _ContactChanged = None
cdef object _ContactOffline = None
cdef object _parse_once = None
cdef object _InvalidJID = None
cdef dict _SHOWS = None
cdef dict _SHOW_RANK = None
cdef Py_ssize_t _JID_CACHE = 0

cdef tuple _PRESENCE_FIELDS = ("jid", "available", "show", "status", "statuses", "priority", "stanza")


def bind(fallback, resource_presence, online, changed, offline, parse_once, invalid_jid,
         dict shows, dict show_rank, Py_ssize_t jid_cache):
    """Hand over the objects shared with the pure-Python twin: ``fallback(tracker,
    stanza)`` (that twin), the ResourcePresence and event classes, the JID parser and
    its error, the shows table, the show ranks and the size of the sender cache."""
    global _fallback, _ResourcePresence, _ContactOnline, _ContactChanged, _ContactOffline
    global _parse_once, _InvalidJID, _SHOWS, _SHOW_RANK, _JID_CACHE
    from dataclasses import fields
    for cls, names in ((resource_presence, _PRESENCE_FIELDS), (online, ("jid", "presence")),
                       (changed, ("jid", "presence", "best")), (offline, ("jid", "presence"))):
        if tuple([f.name for f in fields(cls)]) != names:
            raise TypeError(f"{cls.__name__} fields changed: update fastxmpp/_presence_c.pyx")
    _fallback = fallback
    _ResourcePresence = resource_presence
    _ContactOnline = online
    _ContactChanged = changed
    _ContactOffline = offline
    _parse_once = parse_once
    _InvalidJID = invalid_jid
    _SHOWS = shows
    _SHOW_RANK = show_rank
    _JID_CACHE = jid_cache


# -- building the frozen dataclasses without their __init__ (object.__setattr__ per field)
cdef inline object _new(object cls):
    """``object.__new__(cls)``, not tracked by the cycle collector.

    The objects made here hold only JIDs, strings, numbers, tuples of strings, stanzas
    (which hold only strings) and each other (an event its presences), never a
    container of the application's, so they cannot be part of a reference cycle;
    tracking them made the collector walk every presence held (a storm allocates
    several per stanza: ~20% of the time).  CPython untracks such tuples the same way.
    """
    o = fx_object_new(cls, _EMPTY)
    PyObject_GC_UnTrack(<void *>o)
    return o


cdef object _presence(jid, bint available, show, status, tuple statuses, int priority, stanza):
    cdef object o = _new(_ResourcePresence)
    PyObject_GenericSetAttr(o, "jid", jid)
    PyObject_GenericSetAttr(o, "available", True if available else False)
    PyObject_GenericSetAttr(o, "show", show)
    PyObject_GenericSetAttr(o, "status", status)
    PyObject_GenericSetAttr(o, "statuses", statuses)
    PyObject_GenericSetAttr(o, "priority", priority)
    PyObject_GenericSetAttr(o, "stanza", stanza)
    return o


cdef object _event(cls, jid, presence):
    cdef object o = _new(cls)
    PyObject_GenericSetAttr(o, "jid", jid)
    PyObject_GenericSetAttr(o, "presence", presence)
    return o


cdef object _changed(jid, presence, best):
    cdef object o = _new(_ContactChanged)
    PyObject_GenericSetAttr(o, "jid", jid)
    PyObject_GenericSetAttr(o, "presence", presence)
    PyObject_GenericSetAttr(o, "best", best)
    return o


cdef object _best(dict resources):
    """Highest priority, then most available show; the first of equals (as the twin)."""
    cdef object best = None
    cdef object presence
    cdef long top = 0, rank = 0, r, priority
    for presence in resources.values():
        priority = presence.priority
        if best is None or priority > top:
            best = presence
            top = priority
            rank = _SHOW_RANK.get(presence.show, 0)
        elif priority == top:
            r = _SHOW_RANK.get(presence.show, 0)
            if r > rank:
                best = presence
                rank = r
    return best


# -- reading a lazy stanza from its bytes ------------------------------------------------------
cdef struct Span:
    Py_ssize_t start   # -1: absent
    Py_ssize_t len


cdef struct Parsed:
    Span type_
    Span from_
    Span lang
    Span show
    Span priority
    int nstatus
    Span status_lang[_MAX_STATUSES]
    Span status_text[_MAX_STATUSES]


cdef struct Attr:
    Py_ssize_t name
    Py_ssize_t nlen
    Py_ssize_t value
    Py_ssize_t vlen


cdef inline bint _space(char c) noexcept:
    return c == b' ' or c == b'\t' or c == b'\n' or c == b'\r'


cdef inline bint _is(const char *s, Py_ssize_t at, Py_ssize_t n, const char *name, Py_ssize_t k) noexcept:
    return n == k and memcmp(s + at, name, k) == 0


cdef Py_ssize_t _name_end(const char *s, Py_ssize_t n, Py_ssize_t j) noexcept:
    while j < n and not _space(s[j]) and s[j] != b'>' and s[j] != b'/':
        j += 1
    return j


cdef Py_ssize_t _attr(const char *s, Py_ssize_t n, Py_ssize_t j, Attr *a) noexcept:
    """The attribute at ``j``: its end, or 0 at the end of the tag (``a.name`` is then
    where the content starts and ``a.nlen`` 1 for an empty element), or -1 for
    anything this reader leaves to the Python twin."""
    cdef const char *q
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
    while j < n and s[j] != b'=' and not _space(s[j]):
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
    # attribute-value normalisation turns these into spaces: left to the Python twin
    if memchr(s + a.value, b'\t', a.vlen) != NULL or memchr(s + a.value, b'\n', a.vlen) != NULL:
        return -1
    return (q - s) + 1


cdef Py_ssize_t _end_tag(const char *s, Py_ssize_t n, Py_ssize_t j) noexcept:
    """After the end tag that starts at ``j`` ('</'), or -1."""
    cdef const char *q = <const char *>memchr(s + j, b'>', n - j)
    return -1 if q == NULL else (q - s) + 1


cdef Py_ssize_t _skip(const char *s, Py_ssize_t n, Py_ssize_t j) noexcept:
    """After the end of the element whose content starts at ``j``, or -1."""
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
            r = _attr(s, n, j, &a)
            if r < 0:
                return -1
            if r == 0:
                j = a.name
                if not a.nlen:
                    depth += 1
                break
            j = r


cdef bint _scan(const char *s, Py_ssize_t n, Parsed *p) noexcept:
    """Read a lazy ``<presence/>``'s bytes (well-formed: expat checked them) into ``p``;
    False when it holds anything this reader leaves to the Python twin."""
    cdef Py_ssize_t j, r, k, e
    cdef const char *q
    cdef Attr a
    cdef int which
    cdef bint empty
    cdef Span lang, text
    p.type_.start = p.from_.start = p.lang.start = p.show.start = p.priority.start = -1
    p.nstatus = 0
    # entity and character references, and CR (line-end normalisation): Python twin
    if memchr(s, b'&', n) != NULL or memchr(s, b'\r', n) != NULL:
        return False
    if n < 11 or memcmp(s, b"<presence", 9) != 0 or not (_space(s[9]) or s[9] == b'>' or s[9] == b'/'):
        return False   # a prefixed root: its children's default namespace is not known here
    j = 9
    while True:
        r = _attr(s, n, j, &a)
        if r < 0:
            return False
        if r == 0:
            if a.nlen:
                return True   # <presence .../>
            j = a.name
            break
        if _is(s, a.name, a.nlen, b"type", 4):
            p.type_.start = a.value
            p.type_.len = a.vlen
        elif _is(s, a.name, a.nlen, b"from", 4):
            p.from_.start = a.value
            p.from_.len = a.vlen
        elif _is(s, a.name, a.nlen, b"xml:lang", 8):
            p.lang.start = a.value
            p.lang.len = a.vlen
        j = r
    # the root's content: the unprefixed root's tag is {jabber:client}presence, so an
    # unprefixed child without xmlns is in jabber:client too
    while True:
        q = <const char *>memchr(s + j, b'<', n - j)
        if q == NULL or q + 1 >= s + n:
            return False
        j = q - s
        if q[1] == b'/':
            return True    # the root's end tag
        if q[1] == b'!' or q[1] == b'?':
            return False
        k = j + 1
        e = _name_end(s, n, k)
        if memchr(s + k, b':', e - k) != NULL:
            return False
        if _is(s, k, e - k, b"show", 4):
            which = 1
        elif _is(s, k, e - k, b"status", 6):
            which = 2
        elif _is(s, k, e - k, b"priority", 8):
            which = 3
        else:
            which = 0
        lang.start = -1
        j = e
        while True:
            r = _attr(s, n, j, &a)
            if r < 0:
                return False
            if r == 0:
                j = a.name
                empty = a.nlen
                break
            if which and a.nlen >= 5 and memcmp(s + a.name, b"xmlns", 5) == 0:
                return False   # a namespace of its own (or a prefix declared here)
            if which == 2 and _is(s, a.name, a.nlen, b"xml:lang", 8):
                lang.start = a.value
                lang.len = a.vlen
            j = r
        if which == 0:
            if not empty:
                j = _skip(s, n, j)
                if j < 0:
                    return False
            continue
        text.start = j
        text.len = 0
        if not empty:
            q = <const char *>memchr(s + j, b'<', n - j)
            if q == NULL or q + 1 >= s + n or q[1] != b'/':
                return False   # a child inside: its text is only the part before it
            text.len = (q - s) - j
            j = _end_tag(s, n, q - s)
            if j < 0:
                return False
        if which == 1:
            if p.show.start < 0:
                p.show = text
        elif which == 3:
            if p.priority.start < 0:
                p.priority = text
        else:
            if p.nstatus == _MAX_STATUSES:
                return False
            p.status_lang[p.nstatus] = lang
            p.status_text[p.nstatus] = text
            p.nstatus += 1


cdef inline object _str(const char *s, Span span):
    if span.start < 0:
        return None
    return PyUnicode_DecodeUTF8(s + span.start, span.len, NULL)


cdef inline object _text(const char *s, Span span):
    """A child's text as ``child.text`` gives it: None when empty."""
    if span.len == 0:
        return None
    return PyUnicode_DecodeUTF8(s + span.start, span.len, NULL)


cdef bint _priority(const char *s, Span span, int *out) noexcept:
    """A plain priority (-128..127, optional minus, 1-3 ASCII digits); False otherwise."""
    cdef Py_ssize_t i = span.start, end = span.start + span.len
    cdef int value = 0
    cdef bint negative = False
    if span.len == 0:
        return False
    if s[i] == b'-':
        negative = True
        i += 1
    if i == end or end - i > 3:
        return False
    while i < end:
        if s[i] < 48 or s[i] > 57:   # not an ASCII digit
            return False
        value = value * 10 + (s[i] - 48)
        i += 1
    if negative:
        value = -value
    if value < -128 or value > 127:
        return False
    out[0] = value
    return True


cdef bint _priority_text(str text, int *out):
    """The same for a built child's text (None: no text)."""
    cdef bytes raw
    cdef Span span
    if text is None or not text.isascii():
        return False
    raw = text.encode("ascii")
    span.start = 0
    span.len = len(raw)
    return _priority(PyBytes_AS_STRING(raw), span, out)


# -- the tracker update ----------------------------------------------------------------------
def receive(tracker, stanza):
    """Apply a received presence; returns the events (none for ignored stanzas)."""
    cdef Element el
    cdef Parsed p
    cdef const char *s
    cdef Py_ssize_t i
    cdef int priority = 0
    cdef bint available
    cdef dict attrib, jids, contacts, resources, errors
    cdef list statuses
    cdef PyObject *found
    cdef Element child
    if type(stanza) is not Element:
        return _fallback(tracker, stanza)
    el = <Element>stanza
    status = None
    statuses = []
    show = None
    if el._raw is not None:
        s = PyBytes_AS_STRING(el._raw)
        if el.tag != _PRESENCE or not _scan(s, PyBytes_GET_SIZE(el._raw), &p):
            return _fallback(tracker, stanza)
        kind = _str(s, p.type_)
        if kind is not None:
            if kind in _SUBSCRIPTION_TYPES:
                return []
            if kind != _UNAVAILABLE:
                return _fallback(tracker, stanza)   # error, probe, unknown: logged there
        if p.from_.start < 0:
            return _fallback(tracker, stanza)
        sender = _str(s, p.from_)
        if p.priority.start >= 0 and not _priority(s, p.priority, &priority):
            return _fallback(tracker, stanza)       # logged there
        if p.show.start >= 0:
            show = _text(s, p.show)
            show = _SHOWS.get((show or "").strip())
            if show is None:
                return _fallback(tracker, stanza)   # logged there
        if p.nstatus:
            default_lang = _str(s, p.lang)
            for i in range(p.nstatus):
                lang = default_lang if p.status_lang[i].start < 0 else _str(s, p.status_lang[i])
                text = _text(s, p.status_text[i]) or ""
                if status is None and lang == default_lang:
                    status = text
                item = (lang, text)
                PyObject_GC_UnTrack(<void *>item)   # strings only (see _new)
                statuses.append(item)
    else:
        attrib = el._attrib
        if attrib is None:
            return _fallback(tracker, stanza)
        kind = attrib.get("type")
        if kind is not None:
            if kind in _SUBSCRIPTION_TYPES:
                return []
            if kind != _UNAVAILABLE:
                return _fallback(tracker, stanza)
        sender = attrib.get("from")
        if sender is None:
            return _fallback(tracker, stanza)
        default_lang = attrib.get(_XML_LANG)
        priority_seen = False
        if el._children is not None:
            for child in el._children:
                tag = child.tag
                if tag == _STATUS:
                    text = child._text or ""
                    lang = child._attrib.get(_XML_LANG, default_lang) if child._attrib else default_lang
                    if lang == default_lang and status is None:
                        status = text
                    statuses.append((lang, text))
                elif tag == _SHOW:
                    if show is None:
                        show = _SHOWS.get((child._text or "").strip())
                        if show is None:
                            return _fallback(tracker, stanza)
                elif tag == _PRIORITY:
                    if not priority_seen:
                        priority_seen = True
                        if not _priority_text(child._text, &priority):
                            return _fallback(tracker, stanza)
    if status is None and statuses:
        status = statuses[0][1]
    available = kind is None
    jids = tracker._jids
    contacts = tracker.contacts
    found = PyDict_GetItem(jids, sender)
    if found == NULL:
        try:
            jid = _parse_once(sender)
        except _InvalidJID:
            return _fallback(tracker, stanza)       # logged there
        if len(jids) >= _JID_CACHE:
            jids.clear()
        bare = jid.bare
        # JIDs hold only strings: no cycle can go through them or this pair (see _new)
        PyObject_GC_UnTrack(<void *>jid)
        PyObject_GC_UnTrack(<void *>bare)
        known = (jid, bare)
        PyObject_GC_UnTrack(<void *>known)
        jids[sender] = known
    else:
        known = <object>found
    jid, bare = known
    if statuses:
        held = tuple(statuses)
        PyObject_GC_UnTrack(<void *>held)   # tuples of strings (see _new)
    else:
        held = _EMPTY
    presence = _presence(jid, available, show if available else None, status, held, priority, stanza)
    found = PyDict_GetItem(contacts, bare)
    if available:
        errors = tracker.errors
        if errors:
            errors.pop(bare, None)
        if found == NULL:
            contacts[bare] = {jid: presence}
            return [_event(_ContactOnline, bare, presence)]
        resources = <dict>found
        resources[jid] = presence
        return [_changed(bare, presence, _best(resources))]
    if found == NULL:
        return []
    resources = <dict>found
    if jid.is_bare:   # unavailable from the bare JID: every resource is gone
        resources.clear()
    elif resources.pop(jid, None) is None:
        return []
    if resources:
        return [_changed(bare, presence, _best(resources))]
    del contacts[bare]
    return [_event(_ContactOffline, bare, presence)]
