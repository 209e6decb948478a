# cython: language_level=3, embedsignature=True, freethreading_compatible=True
"""Compiled twin of :meth:`fastxmpp.xep.muc.MUCCore.receive_message` (same state, same
events, same logs).

Every groupchat delivery reads the stanza's ``from``, ``type`` and ``id`` and its
``<body/>``, ``<delay/>``, ``<stanza-id/>`` and ``<subject/>`` children.  Here a stanza
still lazy (as the compiled tokenizer delivers it) is read straight from its bytes,
without building its children; the dedupe, ``last_seen`` and the
:class:`~fastxmpp.xep.muc.RoomMessage` are done here too.

Only the common case is handled: a groupchat message from a sender already routed (the
core's table of senders) to a room joined (or being joined), from an occupant or with a
stamp, with at most one body and no subject.  Anything else (a stanza already built,
another type, a new sender, several bodies, a subject, entities, CDATA, comments,
prefixed children, ...) goes to the pure-Python twin, which logs and decides, before
this twin has changed anything.  :mod:`fastxmpp.xep.muc` hands the Python objects both
twins share to :func:`bind` when it selects this twin.
"""
from cpython.ref cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memchr, memcmp, memcpy

from fastxmpp._bytescan cimport Attr, Span, _attr, _child, _is, _keep, _plain, _root, _skip
from fastxmpp._element_c cimport Element
from fastxmpp._slots cimport fx_object_new, fx_slot_offset, fx_slot_set

__all__ = ["bind", "on_message", "receive_message"]


cdef str _MESSAGE = "{jabber:client}message"
cdef str _GROUPCHAT = "groupchat"
cdef tuple _EMPTY = ()

# Bound by fastxmpp.xep.muc (see bind()).
cdef object _fallback = None
cdef object _RoomMessage = None
cdef Py_ssize_t _RECENT = 0
cdef tuple _FIELDS = ("_room", "_nick", "_body", "_private", "_delayed", "_stanza", "_message")
cdef Py_ssize_t _OFF[7]


def bind(fallback, room_message, Py_ssize_t recent):
    """Hand over the objects shared with the pure-Python twin: ``fallback(core, stanza)``
    (the pure twin), the :class:`RoomMessage` class (its slots are written here directly)
    and how many message keys a room remembers."""
    global _fallback, _RoomMessage, _RECENT
    cdef int i
    cdef Py_ssize_t off
    for i in range(7):
        off = fx_slot_offset(getattr(room_message, _FIELDS[i]))
        if off < 0:
            raise TypeError(f"{room_message.__name__}.{_FIELDS[i]} is not a slot")
        _OFF[i] = off
    _fallback, _RoomMessage, _RECENT = fallback, room_message, recent


# -- reading a lazy <message/> from its bytes --------------------------------------------------
cdef struct Parsed:
    Span from_
    Span type_
    Span id_
    int bodies
    Span body          # the first body's text (len 0 for an empty one)
    Span stamp         # the first <delay/>'s stamp (start -1: none, or no stamp)
    bint delay
    int nsid           # how many <stanza-id/> were seen (the by/id of the first two kept)
    Span sid_by[2]
    Span sid_id[2]


# the children this reader looks at: (name, namespace)
cdef enum:
    _OTHER = 0
    _BODY = 1
    _DELAY = 2
    _SID = 3


cdef bint _scan(const char *s, Py_ssize_t n, Parsed *p) noexcept:
    """Read a lazy ``<message/>``'s bytes (well-formed: expat checked them) into ``p``;
    False when it holds anything this reader leaves to the Python twin."""
    cdef Py_ssize_t j, r, k, e, ns, nslen
    cdef const char *q
    cdef Attr a
    cdef int which
    cdef bint empty
    cdef Span by, ident, stamp
    p.from_.start = p.type_.start = p.id_.start = p.body.start = p.stamp.start = -1
    p.from_.len = p.type_.len = p.id_.len = p.body.len = p.stamp.len = 0
    p.bodies = p.nsid = 0
    p.delay = False
    # only the values read are checked for references (see _plain): the others ('to',
    # 'xml:lang', an occupant-id's...) mean nothing here, whatever they decode to
    j = _root(s, n, b"<message", 8, False, &p.type_, &p.from_, b"id", 2, &p.id_)
    if j < 0:
        return False
    # only a groupchat message from someone is read here: a chat, an error... goes to the
    # Python twin before its children are walked ('groupchat' itself is plain)
    if p.from_.start < 0 or p.from_.len == 0 or p.type_.start < 0 \
            or not _is(s, p.type_.start, p.type_.len, b"groupchat", 9) \
            or not _plain(s, p.from_.start, p.from_.len, True) \
            or (p.id_.start >= 0 and not _plain(s, p.id_.start, p.id_.len, True)):
        return False
    if j == 0:
        return True   # <message .../>
    # the root's content: the unprefixed root's tag is {jabber:client}message, so an
    # unprefixed child without xmlns is in jabber:client too
    while True:
        e = _child(s, n, j, &k)
        if e < 0:
            return False
        if e == 0:
            return True    # the root's end tag
        ns = -1
        nslen = 0
        by.start = ident.start = stamp.start = -1
        j = e
        while True:
            r = _attr(s, n, j, &a, False)
            if r < 0:
                return False
            if r == 0:
                j = a.name
                empty = a.nlen
                break
            if _is(s, a.name, a.nlen, b"xmlns", 5):
                if not _plain(s, a.value, a.vlen, True):
                    return False
                ns = a.value
                nslen = a.vlen
            elif _is(s, a.name, a.nlen, b"by", 2):
                _keep(&by, &a)
            elif _is(s, a.name, a.nlen, b"id", 2):
                _keep(&ident, &a)
            elif _is(s, a.name, a.nlen, b"stamp", 5):
                _keep(&stamp, &a)
            j = r
        which = _OTHER
        if ns < 0 or _is(s, ns, nslen, b"jabber:client", 13):
            if _is(s, k, e - k, b"body", 4):
                which = _BODY
            elif _is(s, k, e - k, b"subject", 7):
                return False   # a subject: the Python twin decides what it is
        elif _is(s, k, e - k, b"delay", 5) and _is(s, ns, nslen, b"urn:xmpp:delay", 14):
            which = _DELAY
        elif _is(s, k, e - k, b"stanza-id", 9) and _is(s, ns, nslen, b"urn:xmpp:sid:0", 14):
            which = _SID
        if which == _BODY:
            p.bodies += 1
            if p.bodies > 1:
                return False   # several languages: the Python twin parses the message
            p.body.start = j
            p.body.len = 0
            if not empty:
                q = <const char *>memchr(s + j, b'<', n - j)
                if q == NULL or q + 1 >= s + n or q[1] != b'/':
                    return False   # a child inside: its text is only the part before it
                p.body.len = (q - s) - j
                if not _plain(s, j, p.body.len, False):
                    return False
                q = <const char *>memchr(q, b'>', n - (q - s))
                if q == NULL:
                    return False
                j = (q - s) + 1
            continue
        if which == _DELAY and not p.delay:
            if stamp.start >= 0 and not _plain(s, stamp.start, stamp.len, True):
                return False
            p.delay = True
            p.stamp = stamp
        elif which == _SID:
            if p.nsid == 2 or (by.start >= 0 and not _plain(s, by.start, by.len, True)) \
                    or (ident.start >= 0 and not _plain(s, ident.start, ident.len, True)):
                return False
            p.sid_by[p.nsid] = by
            p.sid_id[p.nsid] = ident
            p.nsid += 1
        if not empty:
            j = _skip(s, n, j, False)   # what is inside is not read: its values need no check
            if j < 0:
                return False


cdef inline object _str(const char *s, Span span):
    if span.start < 0:
        return None
    return PyUnicode_DecodeUTF8(s + span.start, span.len, NULL)


cdef extern from "Python.h":
    # NULL with an error set for a string that has no UTF-8 form (lone surrogates)
    const char *PyUnicode_AsUTF8AndSize(object s, Py_ssize_t *size) except? NULL
    void PyErr_Clear()


cdef object _key(const char *s, Parsed *p, str room_str, nick):
    """The dedupe key: ``"sid:" + sid`` for the room's own stanza-id, else
    ``f"id:{nick}/{id}"`` for a message with an id, else None (as the Python twin)."""
    cdef char buf[132]
    cdef int i
    cdef Span span
    cdef Py_ssize_t room_len = -1
    cdef const char *room = NULL
    if p.nsid:
        # the room's JID as UTF-8 (kept in the string by CPython, or its own bytes for
        # ASCII): a 'by' is compared as bytes, not decoded
        room = PyUnicode_AsUTF8AndSize(room_str, &room_len)
        if room == NULL:
            PyErr_Clear()
            room_len = -1
    for i in range(p.nsid):
        span = p.sid_by[i]
        if span.start < 0 or span.len != room_len or memcmp(s + span.start, room, room_len) != 0:
            continue
        span = p.sid_id[i]
        if span.start < 0 or span.len == 0:
            continue   # no id, or an empty one: the room's next stanza-id, if any
        if span.len <= 128:   # "sid:" and the id decoded at once
            memcpy(buf, b"sid:", 4)
            memcpy(buf + 4, s + span.start, span.len)
            return PyUnicode_DecodeUTF8(buf, span.len + 4, NULL)
        return "sid:" + _str(s, span)
    if p.id_.start < 0 or p.id_.len == 0:
        return None
    return f"id:{nick}/{_str(s, p.id_)}"


cdef object _receive(core, stanza, bint *taken, bint in_rooms):
    """The event of a common groupchat message, or None when it has none (``taken``
    set); else (``taken`` clear) the Python twin's list of events for it.  ``in_rooms``:
    the caller saw the core in a room already."""
    cdef Element el
    cdef Parsed p
    cdef const char *s
    cdef bytes raw
    taken[0] = False
    if type(stanza) is not Element:
        return _fallback(core, stanza)
    el = <Element>stanza
    raw = el._raw
    if raw is None or el.tag != _MESSAGE:
        return _fallback(core, stanza)
    s = raw
    if not _scan(s, len(raw), &p):
        return _fallback(core, stanza)
    sender = _str(s, p.from_)
    if not in_rooms and not core.rooms:
        return _fallback(core, stanza)
    route = (<dict?>core._senders).get(sender)
    if route is None:
        return _fallback(core, stanza)
    state = (<tuple?>route)[0]
    if state is None:
        taken[0] = True
        return None
    nick = (<tuple>route)[1]
    if not (state.joined or state._joining):
        return _fallback(core, stanza)
    stamp = _str(s, p.stamp) if p.delay else None
    if stamp is None and nick is not None and nick not in state.occupants and nick not in state._renames:
        return _fallback(core, stanza)
    # from here on the message is taken: the same steps as the Python twin
    taken[0] = True
    key = _key(s, &p, state._jid_str, nick)
    if key is not None:
        recent = <set?>state._recent
        if key in recent:
            if stamp is not None:
                return None  # history we saw before (the rejoin's "since" is inclusive)
        else:
            recent.add(key)
            order = state._recent_order
            order.append(key)
            if len(order) > _RECENT:
                recent.discard(order.popleft())
    if stamp is not None:
        state._last_seen = stamp
    else:
        clock = core.clock
        if clock is not None:
            state._last_seen = clock()
    body = _str(s, p.body) if p.bodies else None
    ev = fx_object_new(_RoomMessage, _EMPTY)
    fx_slot_set(ev, _OFF[0], state)
    fx_slot_set(ev, _OFF[1], nick)
    fx_slot_set(ev, _OFF[2], body)
    fx_slot_set(ev, _OFF[3], False)
    fx_slot_set(ev, _OFF[4], stamp)
    fx_slot_set(ev, _OFF[5], stanza)
    fx_slot_set(ev, _OFF[6], None)
    return ev


def receive_message(core, stanza):
    """Read a message: the events of the room it comes from, as
    ``MUCCore.receive_message`` (the pure-Python twin, called for anything unusual)."""
    cdef bint taken
    ev = _receive(core, stanza, &taken, False)
    if not taken:
        return ev
    return [] if ev is None else [ev]


def on_message(muc, stanza):
    """``MUCBase``'s message handler: the events of ``stanza`` handed to the listeners, as
    ``MUCBase._on_message_py`` (a groupchat message on its own; anything else, or while a
    join, nickname change or leave waits for its answer, through ``MUCBase._notify``)."""
    cdef bint taken
    core = muc.core
    if not core.rooms:
        return
    ev = _receive(core, stanza, &taken, True)
    if not taken:
        if ev:
            muc._notify(ev)
        return
    if ev is None:
        return
    if <list?>muc._waiters:
        muc._notify([ev])
        return
    listeners = (<dict?>muc._by_kind).get(_RoomMessage) or muc._listeners_of(_RoomMessage)
    if listeners:
        client = muc.client
        for fn in <tuple?>listeners:
            client._call(fn, ev)   # called as a method: no bound method made per delivery
