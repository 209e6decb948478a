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
from cpython.ref cimport Py_INCREF, PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport free, malloc
from libc.string cimport memchr, memcmp

from fastxmpp._bytescan cimport Attr, Span, _attr, _child, _end_tag, _is, _keep, _root, _skip
from fastxmpp._element_c cimport Element
from fastxmpp._slots cimport fx_object_new, fx_slot_get, fx_slot_offset, fx_slot_set

__all__ = ["bind", "receive"]


cdef extern from "Python.h":
    int PyObject_GenericSetAttr(object o, object name, object value) except -1
    dict PyObject_GenericGetDict(object o, void *context)
    # a borrowed reference; NULL with no error set when absent
    PyObject *PyDict_GetItem "PyDict_GetItemWithError"(object d, object key) except? NULL
    void PyObject_GC_UnTrack(void *op)


cdef extern from *:
    """
    /* Dict operations with the key's hash known (a JID's is its string's: no call of
       JID.__hash__, a Python method).  Public in cpython/dictobject.h up to 3.12;
       exported, in the internal headers, in 3.13; later versions hash again. */
    #if PY_VERSION_HEX >= 0x030D0000 && PY_VERSION_HEX < 0x030E0000
    PyAPI_FUNC(int) _PyDict_SetItem_KnownHash(PyObject *, PyObject *, PyObject *, Py_hash_t);
    #endif
    static PyObject *fx_dict_get_hashed(PyObject *d, PyObject *key, Py_hash_t h) {
    #if PY_VERSION_HEX < 0x030E0000
        return _PyDict_GetItem_KnownHash(d, key, h);
    #else
        (void)h;
        return PyDict_GetItemWithError(d, key);
    #endif
    }
    static int fx_dict_set_hashed(PyObject *d, PyObject *key, PyObject *value, Py_hash_t h) {
    #if PY_VERSION_HEX < 0x030E0000
        return _PyDict_SetItem_KnownHash(d, key, value, h);
    #else
        (void)h;
        return PyDict_SetItem(d, key, value);
    #endif
    }
    """
    PyObject *fx_dict_get_hashed(dict d, object key, Py_hash_t h) except? NULL
    int fx_dict_set_hashed(dict d, object key, object value, Py_hash_t h) except -1


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
cdef object _AWAY = None, _CHAT = None, _DND = None, _XA = None
cdef long _RANK_NONE = 0, _RANK_AWAY = 0, _RANK_CHAT = 0, _RANK_DND = 0, _RANK_XA = 0
cdef object _JID = None              # the JID class
cdef Py_ssize_t _JID_STR_OFF = -1    # where a JID keeps its string (hash(jid) == hash(jid._str))
cdef Py_ssize_t _JID_LOCAL_OFF = -1, _JID_DOMAIN_OFF = -1, _JID_RESOURCE_OFF = -1
cdef object _resource_fast = None
# Where the frozen dataclasses keep each field (Python 3.10+: slots), written directly
# as object.__setattr__ would; Python 3.9 goes through object.__setattr__.
cdef bint _SLOTS = False
cdef Py_ssize_t _RP_OFF[7]
cdef Py_ssize_t _ONLINE_OFF[2]
cdef Py_ssize_t _CHANGED_OFF[3]
cdef Py_ssize_t _OFFLINE_OFF[2]

cdef tuple _PRESENCE_FIELDS = ("jid", "available", "show", "status", "statuses", "priority", "stanza")


def bind(fallback, resource_presence, online, changed, offline, jid_class, parse_once, invalid_jid,
         resource_fast, dict shows, dict show_rank, Py_ssize_t jid_cache):
    """Hand over the objects shared with the pure-Python twin: ``fallback(tracker,
    stanza)`` (that twin), the ResourcePresence and event classes, the JID class, its
    parser and error, the check of a resourcepart that is already normalised ASCII, the
    shows table, the show ranks and the size of the sender cache."""
    global _fallback, _ResourcePresence, _ContactOnline, _ContactChanged, _ContactOffline
    global _parse_once, _InvalidJID, _SHOWS, _SHOW_RANK, _JID_CACHE, _SLOTS
    global _AWAY, _CHAT, _DND, _XA, _RANK_NONE, _RANK_AWAY, _RANK_CHAT, _RANK_DND, _RANK_XA
    global _JID, _JID_STR_OFF, _JID_LOCAL_OFF, _JID_DOMAIN_OFF, _JID_RESOURCE_OFF, _resource_fast
    cdef Py_ssize_t *offsets
    cdef Py_ssize_t i
    cdef bint slots = True
    from dataclasses import fields
    for cls, names in ((resource_presence, _PRESENCE_FIELDS), (online, ("jid", "presence")),
                       (changed, ("jid", "presence", "best")), (offline, ("jid", "presence"))):
        if tuple([f.name for f in fields(cls)]) != names:
            raise TypeError(f"{cls.__name__} fields changed: update fastxmpp/_presence_c.pyx")
        if cls is resource_presence:
            offsets = &_RP_OFF[0]
        elif cls is online:
            offsets = &_ONLINE_OFF[0]
        elif cls is changed:
            offsets = &_CHANGED_OFF[0]
        else:
            offsets = &_OFFLINE_OFF[0]
        for i, name in enumerate(names):
            descr = cls.__dict__.get(name)
            offsets[i] = -1 if descr is None else fx_slot_offset(descr)
            if offsets[i] < 0:
                slots = False
    _SLOTS = slots
    _AWAY, _CHAT, _DND, _XA = shows["away"], shows["chat"], shows["dnd"], shows["xa"]
    _RANK_NONE, _RANK_AWAY, _RANK_CHAT = show_rank.get(None, 0), show_rank.get("away", 0), show_rank.get("chat", 0)
    _RANK_DND, _RANK_XA = show_rank.get("dnd", 0), show_rank.get("xa", 0)
    _JID = jid_class
    descr = jid_class.__dict__.get("_str")
    _JID_STR_OFF = -1 if descr is None else fx_slot_offset(descr)
    probe = jid_class("a@b.example/c")
    if hash(probe) != hash("a@b.example/c") or probe._str != "a@b.example/c":
        _JID_STR_OFF = -1   # a JID's hash is no longer its string's: hash it
    _JID_LOCAL_OFF, _JID_DOMAIN_OFF, _JID_RESOURCE_OFF = (
        -1 if jid_class.__dict__.get(name) is None else fx_slot_offset(jid_class.__dict__[name])
        for name in ("_localpart", "_domain", "_resource"))
    if tuple(getattr(jid_class, "__slots__", ())) != ("_localpart", "_domain", "_resource", "_str"):
        _JID_LOCAL_OFF = -1   # a JID has other fields now: _with_resource would leave them unset
    _resource_fast = resource_fast
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


cdef inline void _put(object o, Py_ssize_t *offsets, int i, str name, object value) except *:
    if _SLOTS:
        fx_slot_set(o, offsets[i], value)
    else:   # Python 3.9: no slots, the instance dict
        PyObject_GenericSetAttr(o, name, value)


cdef object _presence(jid, bint available, show, status, tuple statuses, int priority, stanza):
    cdef object o = _new(_ResourcePresence)
    _put(o, _RP_OFF, 0, "jid", jid)
    _put(o, _RP_OFF, 1, "available", True if available else False)
    _put(o, _RP_OFF, 2, "show", show)
    _put(o, _RP_OFF, 3, "status", status)
    _put(o, _RP_OFF, 4, "statuses", statuses)
    _put(o, _RP_OFF, 5, "priority", priority)
    _put(o, _RP_OFF, 6, "stanza", stanza)
    return o


cdef object _event(cls, Py_ssize_t *offsets, jid, presence):
    cdef object o = _new(cls)
    _put(o, offsets, 0, "jid", jid)
    _put(o, offsets, 1, "presence", presence)
    return o


cdef object _changed(jid, presence, best):
    cdef object o = _new(_ContactChanged)
    _put(o, _CHANGED_OFF, 0, "jid", jid)
    _put(o, _CHANGED_OFF, 1, "presence", presence)
    _put(o, _CHANGED_OFF, 2, "best", best)
    return o


cdef inline long _rank(show) except? -1:
    """``SHOW_RANK.get(show, 0)``, the shared shows by identity."""
    if show is None:
        return _RANK_NONE
    if show is _AWAY:
        return _RANK_AWAY
    if show is _CHAT:
        return _RANK_CHAT
    if show is _XA:
        return _RANK_XA
    if show is _DND:
        return _RANK_DND
    return _SHOW_RANK.get(show, 0)


cdef inline Py_hash_t _jid_hash(jid) except? -1:
    """``hash(jid)`` without calling JID.__hash__ (-1: not a plain JID, hash it)."""
    cdef PyObject *text
    if _JID_STR_OFF < 0 or type(jid) is not _JID:
        return -1
    text = fx_slot_get(jid, _JID_STR_OFF)
    if text == NULL:
        return -1
    return hash(<object>text)


cdef inline PyObject *_get(dict d, key, Py_hash_t h) except? NULL:
    """``d.get(key)`` as a borrowed reference (NULL: absent), with ``hash(key)`` if known."""
    if h == -1:
        return PyDict_GetItem(d, key)
    return fx_dict_get_hashed(d, key, h)


cdef inline int _set(dict d, key, value, Py_hash_t h) except -1:
    if h == -1:
        d[key] = value
        return 0
    return fx_dict_set_hashed(d, key, value, h)


cdef object _best(dict resources):
    """Highest priority, then most available show; the first of equals (as the twin)."""
    cdef object best = None
    cdef object presence, show
    cdef PyObject *slot_priority
    cdef PyObject *slot_show
    cdef long top = 0, rank = 0, r, priority
    for presence in resources.values():
        if _SLOTS and type(presence) is _ResourcePresence:
            slot_priority = fx_slot_get(presence, _RP_OFF[5])
            slot_show = fx_slot_get(presence, _RP_OFF[2])
            if slot_priority == NULL or slot_show == NULL:
                priority = presence.priority   # raises AttributeError, as the twin would
                show = presence.show
            else:
                priority = <object>slot_priority
                show = <object>slot_show
        else:
            priority = presence.priority
            show = presence.show
        if best is None or priority > top:
            best = presence
            top = priority
            rank = _rank(show)
        elif priority == top:
            r = _rank(show)
            if r > rank:
                best = presence
                rank = r
    return best


# -- reading a lazy stanza from its bytes ------------------------------------------------------
cdef struct Parsed:
    bint early         # typed other than "unavailable": the children were not read
    Span type_
    Span from_
    Span lang
    Span show
    Span priority
    int nstatus
    Span status_lang[_MAX_STATUSES]
    Span status_text[_MAX_STATUSES]


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
    p.early = False
    j = _root(s, n, b"<presence", 9, False, &p.type_, &p.from_, b"xml:lang", 8, &p.lang)
    if j < 0:
        return False
    if p.type_.start >= 0 and not _is(s, p.type_.start, p.type_.len, b"unavailable", 11):
        p.early = True    # a subscription, an error, a probe...: decided on its type alone
        return True
    if j == 0:
        return True   # <presence .../>
    # the root's content: the unprefixed root's tag is {jabber:client}presence, so an
    # unprefixed child without xmlns is in jabber:client too
    while True:
        e = _child(s, n, j, &k)
        if e < 0:
            return False
        if e == 0:
            return True    # the root's end tag
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
            r = _attr(s, n, j, &a, False)
            if r < 0:
                return False
            if r == 0:
                j = a.name
                empty = a.nlen
                break
            if which and a.nlen >= 5 and memcmp(s + a.name, b"xmlns", 5) == 0:
                return False   # a namespace of its own (or a prefix declared here)
            if which == 2 and _is(s, a.name, a.nlen, b"xml:lang", 8):
                _keep(&lang, &a)
            j = r
        if which == 0:
            if not empty:
                j = _skip(s, n, j, False)
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


class _Unsupported(Exception):
    """Raised inside receive() for input the Python twin is to read."""


cdef object _decode(const char *p, Py_ssize_t n, bint attr):
    """The text of ``n`` bytes of character data (``attr``: an attribute value) as expat
    reports it: references to the predefined entities and characters replaced, line ends
    normalised (CR LF and CR to LF), and in attribute values tab, LF and CR to a space."""
    cdef Py_ssize_t i
    cdef char c
    for i in range(n):
        c = p[i]
        if c == b'&' or c == b'\r' or (attr and (c == b'\t' or c == b'\n')):
            return _decode_slow(p, n, attr)
    return PyUnicode_DecodeUTF8(p, n, NULL)


cdef int _utf8(char *out, unsigned long cp) noexcept:
    """Write code point ``cp`` as UTF-8; the number of bytes."""
    if cp < 0x80:
        out[0] = <char>cp
        return 1
    if cp < 0x800:
        out[0] = <char>(0xC0 | (cp >> 6))
        out[1] = <char>(0x80 | (cp & 0x3F))
        return 2
    if cp < 0x10000:
        out[0] = <char>(0xE0 | (cp >> 12))
        out[1] = <char>(0x80 | ((cp >> 6) & 0x3F))
        out[2] = <char>(0x80 | (cp & 0x3F))
        return 3
    out[0] = <char>(0xF0 | (cp >> 18))
    out[1] = <char>(0x80 | ((cp >> 12) & 0x3F))
    out[2] = <char>(0x80 | ((cp >> 6) & 0x3F))
    out[3] = <char>(0x80 | (cp & 0x3F))
    return 4


cdef char _entity(const char *name, Py_ssize_t n) noexcept:
    """The character of a predefined entity (XML 1.0 4.6), or 0."""
    if n == 2 and name[1] == b't':
        return b'<' if name[0] == b'l' else b'>' if name[0] == b'g' else 0
    if n == 3 and memcmp(name, b"amp", 3) == 0:
        return b'&'
    if n == 4 and memcmp(name, b"quot", 4) == 0:
        return b'"'
    if n == 4 and memcmp(name, b"apos", 4) == 0:
        return b"'"
    return 0


cdef object _decode_slow(const char *p, Py_ssize_t n, bint attr):
    # the result is never longer than the source: each reference is longer than its
    # UTF-8 (the shortest, "&#9;", is 4 bytes for 1), and CR LF becomes one byte
    cdef char *out = <char *>malloc(n + 1)
    cdef Py_ssize_t i = 0, o = 0, k, e
    cdef unsigned long cp
    cdef const char *semi
    cdef char c
    cdef int digit
    if out == NULL:
        raise MemoryError()
    try:
        while i < n:
            c = p[i]
            if c == b'&':
                semi = <const char *>memchr(p + i, b';', n - i)
                if semi == NULL:
                    raise _Unsupported()
                k = i + 1
                e = semi - p
                if e - k >= 2 and p[k] == b'#':
                    cp = 0
                    if p[k + 1] == b'x':
                        if e - k < 3 or e - k > 8:
                            raise _Unsupported()
                        for i in range(k + 2, e):
                            c = p[i]
                            if 48 <= c <= 57:
                                digit = c - 48
                            elif 97 <= c <= 102:
                                digit = c - 87
                            elif 65 <= c <= 70:
                                digit = c - 55
                            else:
                                raise _Unsupported()
                            cp = cp * 16 + digit
                    else:
                        if e - k > 8:
                            raise _Unsupported()
                        for i in range(k + 1, e):
                            c = p[i]
                            if not 48 <= c <= 57:
                                raise _Unsupported()
                            cp = cp * 10 + (c - 48)
                    if cp == 0 or cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                        raise _Unsupported()
                    o += _utf8(out + o, cp)
                else:
                    out[o] = _entity(p + k, e - k)
                    if out[o] == 0:
                        raise _Unsupported()
                    o += 1
                i = e + 1
            elif c == b'\r':
                out[o] = b' ' if attr else b'\n'
                o += 1
                i += 2 if i + 1 < n and p[i + 1] == b'\n' else 1
            elif attr and (c == b'\t' or c == b'\n'):
                out[o] = b' '
                o += 1
                i += 1
            else:
                out[o] = c
                o += 1
                i += 1
        return PyUnicode_DecodeUTF8(out, o, NULL)
    finally:
        free(out)


cdef inline object _str(const char *s, Span span):
    """An attribute's value, None when absent."""
    if span.start < 0:
        return None
    return _decode(s + span.start, span.len, True)


cdef inline object _text(const char *s, Span span):
    """A child's text as ``child.text`` gives it: None when empty."""
    if span.len == 0:
        return None
    return _decode(s + span.start, span.len, False)


cdef object _known_show(const char *s, Span span):
    """The shared string of a ``<show/>`` written exactly as one of the four, or None."""
    if span.len == 4:
        if memcmp(s + span.start, b"away", 4) == 0:
            return _AWAY
        if memcmp(s + span.start, b"chat", 4) == 0:
            return _CHAT
    elif span.len == 3 and memcmp(s + span.start, b"dnd", 3) == 0:
        return _DND
    elif span.len == 2 and memcmp(s + span.start, b"xa", 2) == 0:
        return _XA
    return None


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


# -- the cache of senders ---------------------------------------------------------------------
cdef object _str_of(jid):
    cdef PyObject *text
    if _JID_STR_OFF >= 0 and type(jid) is _JID:
        text = fx_slot_get(jid, _JID_STR_OFF)
        if text != NULL:
            return <object>text
    return str(jid)


cdef object _with_resource(dict jids, str sender):
    """(JID, bare JID) of ``sender`` (bare/resource), built from its bare JID cached under
    the same string, when the resourcepart is normalised ASCII already: what
    ``_parse_once`` gives (the parts are checked and normalised each on its own), without
    parsing the bare part again.  None when that does not apply."""
    cdef Py_ssize_t k
    cdef PyObject *entry
    cdef PyObject *part
    if _JID_LOCAL_OFF < 0 or _JID_DOMAIN_OFF < 0 or _JID_RESOURCE_OFF < 0 or _JID_STR_OFF < 0:
        return None
    k = sender.find("/")
    if k <= 0:
        return None
    head = sender[:k]
    entry = PyDict_GetItem(jids, head)
    if entry == NULL or type(<object>entry) is not tuple or len(<tuple>entry) != 2:
        return None
    bare = (<tuple>entry)[1]
    if type(bare) is not _JID or (<tuple>entry)[0] is not bare:
        return None
    part = fx_slot_get(bare, _JID_STR_OFF)
    if part == NULL or not (<object>part == head):   # written as normalised
        return None
    resource = sender[k + 1:]
    if _resource_fast(resource) is None:
        return None
    jid = _new(_JID)   # untracked: a JID holds only strings (see _new)
    part = fx_slot_get(bare, _JID_LOCAL_OFF)
    fx_slot_set(jid, _JID_LOCAL_OFF, None if part == NULL else <object>part)
    part = fx_slot_get(bare, _JID_DOMAIN_OFF)
    fx_slot_set(jid, _JID_DOMAIN_OFF, None if part == NULL else <object>part)
    fx_slot_set(jid, _JID_RESOURCE_OFF, resource)
    fx_slot_set(jid, _JID_STR_OFF, sender)
    return jid, bare


cdef object _new_sender(dict jids, str sender):
    """Parse a sender not in the cache and cache it (as the Python twin's
    ``_cache_entry``: one bare JID object per contact); None for an invalid JID."""
    built = _with_resource(jids, sender)
    if built is None:
        try:
            jid = _parse_once(sender)
        except _InvalidJID:
            return None
        bare = jid.bare
    else:
        jid, bare = built
    if len(jids) >= _JID_CACHE:
        jids.clear()
    text = _str_of(bare)
    found = PyDict_GetItem(jids, text)
    if found == NULL:
        # JIDs hold only strings: no cycle can go through them or these pairs (see _new)
        PyObject_GC_UnTrack(<void *>bare)
        shared = (bare, bare)
        PyObject_GC_UnTrack(<void *>shared)
        jids[text] = shared
    else:
        bare = (<tuple>found)[1]
    PyObject_GC_UnTrack(<void *>jid)
    known = (jid, bare)
    PyObject_GC_UnTrack(<void *>known)
    jids[sender] = known
    return known


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
    cdef PyObject *attr
    cdef Py_hash_t bare_hash
    cdef Element child
    if type(stanza) is not Element:
        return _fallback(tracker, stanza)
    el = <Element>stanza
    status = None
    cdef tuple held = _EMPTY
    show = None
    if el._raw is not None:
        s = PyBytes_AS_STRING(el._raw)
        if el.tag != _PRESENCE or not _scan(s, PyBytes_GET_SIZE(el._raw), &p):
            return _fallback(tracker, stanza)
        try:
            kind = _str(s, p.type_)
            if kind is not None:
                if kind in _SUBSCRIPTION_TYPES:
                    return []
                if kind != _UNAVAILABLE or p.early:
                    return _fallback(tracker, stanza)   # error, probe, unknown: logged there
            if p.from_.start < 0:
                return _fallback(tracker, stanza)
            sender = _str(s, p.from_)
            if p.priority.start >= 0 and not _priority(s, p.priority, &priority):
                return _fallback(tracker, stanza)       # logged there
            if p.show.start >= 0:
                show = _known_show(s, p.show)
                if show is None:
                    show = _SHOWS.get((_text(s, p.show) or "").strip())
                    if show is None:
                        return _fallback(tracker, stanza)   # logged there
            if p.nstatus:
                default_lang = _str(s, p.lang)
                held = PyTuple_New(p.nstatus)
                for i in range(p.nstatus):
                    lang = default_lang if p.status_lang[i].start < 0 else _str(s, p.status_lang[i])
                    text = _text(s, p.status_text[i]) or ""
                    if status is None and (lang is default_lang or lang == default_lang):
                        status = text
                    item = (lang, text)
                    PyObject_GC_UnTrack(<void *>item)   # strings only (see _new)
                    Py_INCREF(item)
                    PyTuple_SET_ITEM(held, i, item)
                PyObject_GC_UnTrack(<void *>held)
        except _Unsupported:   # a reference expat would not have let through
            return _fallback(tracker, stanza)
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
        statuses = []
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
        if statuses:
            held = tuple(statuses)
            PyObject_GC_UnTrack(<void *>held)   # tuples of strings (see _new)
    if status is None and held:
        status = held[0][1]
    available = kind is None
    # the tracker's attributes from its instance dict (each getattr also looks through
    # the class first); by getattr when they are not there
    state = PyObject_GenericGetDict(tracker, NULL)
    found = PyDict_GetItem(state, "_jids")
    jids = <dict>found if found != NULL and type(<object>found) is dict else tracker._jids
    found = PyDict_GetItem(state, "contacts")
    contacts = <dict>found if found != NULL and type(<object>found) is dict else tracker.contacts
    found = PyDict_GetItem(jids, sender)
    if found == NULL:
        known = _new_sender(jids, sender)
        if known is None:
            return _fallback(tracker, stanza)       # an invalid JID: logged there
    else:
        known = <object>found
    if type(known) is tuple and PyTuple_GET_SIZE(known) == 2:
        jid = <object>PyTuple_GET_ITEM(known, 0)
        bare = <object>PyTuple_GET_ITEM(known, 1)
    else:
        jid, bare = known
    presence = _presence(jid, available, show if available else None, status, held, priority, stanza)
    bare_hash = _jid_hash(bare)
    found = _get(contacts, bare, bare_hash)
    if available:
        attr = PyDict_GetItem(state, "errors")
        errors = <dict>attr if attr != NULL and type(<object>attr) is dict else tracker.errors
        if errors:
            errors.pop(bare, None)
        if found == NULL:
            resources = {}
            _set(resources, jid, presence, _jid_hash(jid))
            _set(contacts, bare, resources, bare_hash)
            return [_event(_ContactOnline, _ONLINE_OFF, bare, presence)]
        resources = <dict>found
        _set(resources, jid, presence, _jid_hash(jid))
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
    return [_event(_ContactOffline, _OFFLINE_OFF, bare, presence)]
