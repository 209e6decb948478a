"""Differential fuzzing of the compiled stanza readers against their pure-Python twins.

The compiled readers scan the raw bytes of a lazy stanza (as a possibly hostile server
sent it) without building its elements: :func:`fastxmpp._muc_c.receive_message` (twin of
``MUCCore._receive_message_py``) and :func:`fastxmpp._presence_c.receive` (twin of
``fastxmpp.im.presence._receive_py``), with the byte scanners of ``_bytescan.pxd``.

A *case* is a reader (``muc`` or ``presence``), a stream header, the bytes of one or more
stanzas after it, and whether the stanzas are built before they are read (the presence
reader has a path for built stanzas too).  :func:`outcome` feeds header and stanzas
through the real compiled tokenizer, so that the stanzas are lazy as in production, then
hands each to one twin with the same prepared state (a joined room with occupants and
known senders; a tracker with contacts online), and returns everything a caller can see:
the events, the room or tracker state after each stanza (the sender cache included), the
log lines, and an exception's class and message.  Input the tokenizer refuses is skipped
(both outcomes are then "skipped").

Cases come from :func:`gen_case`: Prosody-shaped groupchat messages (body, stanza-id,
occupant-id, delay, subject, several bodies, private messages, errors) and presences
(show, status in languages, priority, caps, vcard, MUC items, every type), with values of
lengths around multiples of 8 (the SWAR scans) and up to several KB, holding references,
line ends, tabs, quotes and multi-byte UTF-8 at any offset; then 0-4 byte mutations
(deletions, quotes, ``&``, ``;``, ``<``, ``>``, ``/``, ``=``, whitespace, NUL, high and cut
UTF-8 bytes, character references such as ``&#x10FFFF;`` ``&#0;`` ``&#xD800;``, repeated
attributes and namespace declarations, prefixes, copies of the case's own bytes).
Findings are kept in ``tests/corpus/readers/`` (:func:`save_case`) and replayed by
``tests/test_readers_fuzz.py`` in the normal suite.

Run outside the suite (see tests/README.md)::

    python3 tests/fuzz_readers.py --count 100000 --seed 1 --jobs 1
    python3 tests/fuzz_readers.py --replay tests/corpus/readers/<file>.json   # both outcomes if they differ
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import random
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fastxmpp import _accel, errors  # noqa: E402
from fastxmpp.element import Element  # noqa: E402

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "readers")

Case = Dict[str, Any]   # {"reader": "muc"|"presence", "built": bool, "header": bytes, "data": bytes,
#                          "state": "full" (optional: the presence tracker's sender cache full)}

ROOM = "coven@chat.shakespeare.lit"
OTHER_ROOM = "other@chat.shakespeare.lit"
NS_STREAMS = "http://etherx.jabber.org/streams"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
HEADERS = [
    f"<stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAMS}' from='shakespeare.lit' version='1.0'>",
    f"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAMS}'"
    " from='shakespeare.lit' id='s1' version='1.0' xml:lang='en'>",
    # prefixes for the children's namespaces declared on the header (the tokenizer refuses
    # jabber:client bound to a prefix, and a header in another default namespace)
    f"<stream:stream xmlns='jabber:client' xmlns:d='urn:xmpp:delay' xmlns:s='urn:xmpp:sid:0'"
    f" xmlns:stream='{NS_STREAMS}' version='1.0'>",
]


# -- the prepared state --------------------------------------------------------------------------

MUC_SENDERS = [f"{ROOM}/firstwitch", f"{ROOM}/secondwitch", f"{ROOM}/thirdwitch", f"{ROOM}/stranger", ROOM,
               f"{ROOM}/first witch", f"{OTHER_ROOM}/x", "hecate@shakespeare.lit/a", f"{ROOM}/caf\u00e9",
               f"{ROOM}/" + "n" * 8, f"{ROOM}/" + "n" * 15, f"{ROOM}/\U0001f600"]
CONTACTS = ["romeo@example.net/orchard", "romeo@example.net/balcony", "juliet@capulet.lit/chamber",
            "nurse@capulet.lit", "benvolio@montague.lit/" + "r" * 17]


def _tokenizer(compiled: bool) -> Any:
    if compiled:
        from fastxmpp import _tokenizer_c
        return _tokenizer_c.Tokenizer
    from fastxmpp import _tokenizer_py
    return _tokenizer_py.Tokenizer


def stanzas(header: bytes, data: bytes, compiled: bool) -> Optional[List[Element]]:
    """The elements the tokenizer gives for ``header + data`` (None: it refused them)."""
    try:
        tok = _tokenizer(compiled)()
        out = [t for t in tok.feed(header + data) if isinstance(t, Element)]
    except errors.StreamError:
        return None
    return out


def _one(xml: str, compiled: bool) -> Element:
    [el] = stanzas(HEADERS[0].encode(), xml.encode(), compiled)  # type: ignore[misc]
    return el


def _muc_pres(nick: str, compiled: bool, codes: Tuple[int, ...] = ()) -> Element:
    status = "".join(f"<status code='{c}'/>" for c in codes)
    return _one(f"<presence from='{ROOM}/{nick}' to='hag66@shakespeare.lit/pda'>"
                f"<x xmlns='{NS_MUC_USER}'><item affiliation='none' role='participant'/>{status}</x></presence>",
                compiled)


def muc_state(compiled: bool) -> Any:
    """A core joined to ROOM (as thirdwitch, with occupants) and joining OTHER_ROOM, every
    sender of MUC_SENDERS routed (the compiled twin's fast path), a clock that ticks."""
    from fastxmpp.xep.muc import MUCCore

    ticks = itertools.count()
    core = MUCCore(clock=lambda: float(next(ticks)))
    core.join(ROOM, "thirdwitch")
    for nick in ("firstwitch", "secondwitch", "caf\u00e9", "n" * 8, "\U0001f600"):
        core.receive_presence(_muc_pres(nick, compiled))
    core.receive_presence(_muc_pres("thirdwitch", compiled, (110,)))
    core.join(OTHER_ROOM, "me")
    for sender in MUC_SENDERS:
        core._receive_message_py(_one(f"<message from='{sender}' type='headline'/>", compiled))
    return core


def presence_state(compiled: bool, full: bool = False) -> Any:
    """A tracker with contacts online (the sender cache holding their JIDs); ``full``: the
    sender cache filled up (with entries under keys starting with NUL), so that the next
    new sender empties it."""
    from fastxmpp.im import presence as presence_module

    tracker = presence_module.PresenceTracker()
    for i, sender in enumerate(CONTACTS[:-1]):
        presence_module._receive_py(tracker, _one(
            f"<presence from='{sender}'><priority>{i}</priority><show>away</show></presence>", compiled))
    if full:
        jids = tracker._jids
        filler = next(iter(jids.values()))
        for i in range(presence_module._JID_CACHE - len(jids)):
            jids[f"\x00{i}"] = filler
    return tracker


# -- what a caller sees --------------------------------------------------------------------------

def _stanza(el: Any) -> Any:
    """An element as its tree (not serialized: the serializer refuses some trees the
    tokenizer accepts, such as an element in the xml: namespace)."""
    if not isinstance(el, Element):
        return repr(el)
    return (el.tag, tuple(sorted(el.attrib.items())), el.text or "", el.tail or "", tuple(_stanza(c) for c in el))


def _seen(value: Any) -> Any:
    from fastxmpp.im.events import ContactChanged, ContactOffline, ContactOnline, PresenceErrorReceived
    from fastxmpp.im.presence import ResourcePresence
    from fastxmpp.jid import JID
    from fastxmpp.xep.muc import RoomMessage

    if isinstance(value, list):
        return [_seen(v) for v in value]
    if isinstance(value, JID):
        return _jid(value)
    if isinstance(value, RoomMessage):
        try:
            message_body: Any = value.message.body
        except Exception as exc:   # the same on both twins, or a difference
            message_body = ("raised", type(exc).__name__, str(exc))
        return ("RoomMessage", str(value.room.jid), value.nick, value.body, value.private, value.delayed,
                _stanza(value.stanza), message_body)
    if isinstance(value, ResourcePresence):
        return ("RP", _jid(value.jid), value.available, value.show, value.status,
                value.statuses, value.priority, _stanza(value.stanza))
    if isinstance(value, PresenceErrorReceived):
        return ("error", _jid(value.jid), type(value.error).__name__, value.error.condition, value.error.type)
    if isinstance(value, (ContactOnline, ContactOffline, ContactChanged)):
        return (type(value).__name__,) + tuple(_seen(getattr(value, name)) for name in value.__dataclass_fields__)
    if hasattr(value, "room"):
        return (type(value).__name__, repr(value))
    return value


def _muc_picture(core: Any) -> Any:
    return [(str(jid), sorted(s.occupants), s.joined, s._joining, s.subject, s.subject_by, s._last_seen,
             sorted(s._recent), list(s._recent_order), dict(s._renames)) for jid, s in core.rooms.items()], \
        sorted((k, None if v[0] is None else str(v[0].jid), v[1]) for k, v in core._senders.items())


def _jid(jid: Any) -> Any:
    """A JID as its parts and string (the compiled twin builds some from their parts)."""
    return (type(jid).__name__, jid.localpart, jid.domain, jid.resource, str(jid), hash(jid))


def _presence_picture(tracker: Any) -> Any:
    contacts = {_jid(bare): {_jid(jid): _seen(p) for jid, p in resources.items()}
                for bare, resources in tracker.contacts.items()}
    return contacts, {_jid(b): (e.condition, e.type) for b, e in tracker.errors.items()}, len(tracker._jids), \
        sorted((k, _jid(v[0]), _jid(v[1]), v[0] is v[1]) for k, v in tracker._jids.items() if k[:1] != "\x00")


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: List[Tuple[str, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception as exc:   # a bad format: seen as such
            text = f"<getMessage raised {type(exc).__name__}>"
        self.lines.append((record.name, record.levelname, text))


_LOGGERS = ("fastxmpp.xep.muc", "fastxmpp.im", "fastxmpp.stanza", "fastxmpp.jid")


def _readers(reader: str) -> Tuple[Callable[..., Any], Optional[Callable[..., Any]]]:
    """(python twin, compiled twin or None when the extensions are not in use)."""
    if reader == "muc":
        from fastxmpp.xep.muc import MUCCore
        compiled = None
        if _accel.USE_EXTENSIONS:
            from fastxmpp import _muc_c
            compiled = _muc_c.receive_message
        return MUCCore._receive_message_py, compiled
    from fastxmpp.im import presence as presence_module
    return presence_module._receive_py, presence_module._receive_c


def outcome(case: Case, compiled_reader: bool) -> Any:
    """What a caller of one twin sees when the case's stanzas are read by it."""
    compiled_tok = _accel.USE_EXTENSIONS
    els = stanzas(case["header"], case["data"], compiled_tok)
    if els is None:
        return "skipped"
    python, compiled = _readers(case["reader"])
    receive = compiled if compiled_reader else python
    if receive is None:
        raise RuntimeError("the compiled twins are not in use")
    handler = _Lines()
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    seen: List[Any] = []
    try:
        state = muc_state(compiled_tok) if case["reader"] == "muc" else \
            presence_state(compiled_tok, case.get("state") == "full")
        picture = _muc_picture if case["reader"] == "muc" else _presence_picture
        handler.lines.clear()
        for el in els:
            if case["built"]:
                el.attrib   # builds a lazy stanza
            try:
                events = _seen(receive(state, el))
            except Exception as exc:
                events = ("raised", type(exc).__name__, str(exc))
            seen.append((events, picture(state), list(handler.lines)))
            handler.lines.clear()
    except Exception as exc:   # in the comparison itself: never an agreement
        return seen, ("CRASH", type(exc).__name__, str(exc), id(exc))
    finally:
        for lg, level in zip(loggers, levels):
            lg.removeHandler(handler)
            lg.setLevel(level)
    return seen


def explain(case: Case, diff: Tuple[Any, Any]) -> str:
    return "twins disagree on\n%s\ncompiled: %r\npython:   %r" % (case_to_json(case), *diff)


def differ(case: Case) -> Optional[Tuple[Any, Any]]:
    """None if the twins agree on ``case``, else both outcomes (compiled, Python).

    The Python twin is also run on the other form of the stanzas (built for a lazy case,
    lazy for a built one) and must see the same: on a lazy stanza its ``get()`` reads the
    start tag's bytes (the compiled element's own scanner), not a built attribute dict.
    A difference there is reported as (("other form", that outcome), Python outcome)."""
    got, want = outcome(case, True), outcome(case, False)
    if got != want:
        return got, want
    other = outcome(dict(case, built=not case["built"]), False)
    return None if other == want else (("other form", other), want)


# -- the grammar -----------------------------------------------------------------------------------

# bytes that read as something else in a value (references, line ends) or are multi-byte
SPECIALS = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#x41;", "&#65;", "&#x10FFFF;", "&#1114111;", "&#xE9;",
            "&#x2603;", "&#x1F600;", "&#13;", "&#10;", "&#9;", "&#32;", "&#x0000041;", "&#00000065;",
            "\r", "\r\n", "\n", "\t", "\u00e9", "\u2603", "\U0001f600", ">", "'", '"', " "]
# what expat refuses: now and then, so that most cases reach the readers
BAD_SPECIALS = ["<!-- c -->", "<?pi x?>", "&#0;", "&#xD800;", "&#x110000;", "&#xFFFE;", "&#X41;", "&#x;", "&bogus;", "&", "]]>", "\x00"]
TEXT_SPECIALS = SPECIALS + ["<![CDATA[a<b]]>", "<em/>", "<em xmlns='urn:x'>b</em>", "<![CDATA[]]>"]
LENGTHS = [0, 1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 63, 64, 65, 127, 128, 129, 130, 131, 132, 255,
           256, 1000, 4100]
FILL = "abcdefghijklmnopqrstuvwxyz0123456789-_.:/@ABC"
PIECES = [b"'", b'"', b"&", b";", b"<", b">", b"/", b"=", b" ", b"\t", b"\n", b"\r", b"\r\n", b"\x00", b"\x01",
          b"\xc3", b"\xe2\x98", b"\xf0\x9f\x98", b"\xff", b"\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
          b"&#x10FFFF;", b"&#0;", b"&#xD800;", b"&amp;", b"&#x41;", b"&#65;", b"&lt;", b"&#13;",
          b" xmlns='jabber:client'", b" xmlns=''", b" xmlns:p='jabber:client'", b" xmlns:c='urn:xmpp:delay'",
          b"p:", b"c:", b"xml:", b" xml:lang='de'", b" type='groupchat'", b" type='unavailable'",
          b" from='coven@chat.shakespeare.lit/firstwitch'", b" id='x'", b" by='coven@chat.shakespeare.lit'",
          b" stamp='2026-12-06T01:02:03Z'", b"<body>b</body>", b"<body/>", b"</body>", b"<subject>s</subject>",
          b"<status>s</status>", b"<show>xa</show>", b"<priority>1</priority>", b"<![CDATA[x]]>", b"<!--c-->",
          b"<?p?>", b"<x/>", b"</x>", b"<x>", b"\xc3\xa9", b"\xe2\x98\x83", b"\xf0\x9f\x98\x80"]


def value(rng: random.Random, base: str, quote: str = "'", text: bool = False, wild: float = 0.35) -> str:
    """``base``, or (with probability ``wild``) a value built around it: lengths near
    multiples of 8 (the SWAR scans), up to several KB, specials anywhere."""
    out = base
    specials = (0,)
    if rng.random() < wild:
        r = rng.random()
        if r < 0.4:
            specials = (1, 1, 1, 2, 3)
        elif r < 0.7:
            n = rng.choice(LENGTHS)
            out = (base * (n // max(len(base), 1) + 1))[:n] if base and rng.random() < 0.5 else \
                "".join(rng.choice(FILL) for _ in range(n))
            specials = (0, 0, 1, 1, 2, 3)
        else:
            out = base + "".join(rng.choice(FILL) for _ in range(rng.choice(LENGTHS)))
            specials = (0, 0, 1, 1, 2, 3)
    parts = list(out)   # specials go between characters, not inside each other
    for _ in range(rng.choice(specials)):
        special = rng.choice(BAD_SPECIALS if rng.random() < 0.03 else TEXT_SPECIALS if text else SPECIALS)
        n = len(parts)
        at = rng.choice([0, n, rng.randint(0, n)] + [p for p in (7, 8, 9, 15, 16, 17, n - 8, n - 1) if 0 <= p <= n])
        parts.insert(at, special)
    out = "".join(parts)
    if not text and rng.random() < 0.97:   # mostly well-formed: the other quote only
        out = out.replace(quote, "&apos;" if quote == "'" else "&quot;").replace("<", "&lt;")
    if text and rng.random() < 0.9:
        out = out.replace("]]>", "]]&gt;")
    return out


# the values the readers decide on: mostly as they are, so that the fast paths are reached
KEY_ATTRS = {"from", "type", "xmlns", "by"}


def _sp(rng: random.Random) -> str:
    return rng.choice([" "] * 8 + ["  ", "\n\t", "\r\n ", "\t"])


def _eq(rng: random.Random) -> str:
    return "=" if rng.random() < 0.9 else rng.choice([" = ", "\n=\t", " ="])


def attrs(rng: random.Random, pairs: List[Tuple[str, Optional[str]]]) -> str:
    """The attributes (None: absent), shuffled now and then, with odd whitespace and quotes."""
    items = [(k, v) for k, v in pairs if v is not None]
    if rng.random() < 0.2:
        rng.shuffle(items)
    if rng.random() < 0.02 and items:   # a repeated attribute (expat refuses it)
        items.append(rng.choice(items))
    out = []
    for k, v in items:
        q = "'" if rng.random() < 0.6 else '"'
        out.append(f"{_sp(rng)}{k}{_eq(rng)}{q}{value(rng, v, q, wild=0.08 if k in KEY_ATTRS else 0.35)}{q}")
    return "".join(out)


def _child(rng: random.Random, name: str, pairs: List[Tuple[str, Optional[str]]], text: Optional[str],
           prefix: str = "") -> str:
    tag = prefix + name
    a = attrs(rng, pairs)
    if text is None and rng.random() < 0.8:
        return f"<{tag}{a}{_sp(rng) if rng.random() < 0.1 else ''}/>"
    body = "" if text is None else value(rng, text, text=True)
    return f"<{tag}{a}>{body}</{tag}{_sp(rng) if rng.random() < 0.05 else ''}>"


def _ns_prefix(rng: random.Random, ns: str) -> Tuple[str, List[Tuple[str, Optional[str]]]]:
    """Mostly a default namespace (jabber:client inherited from the root, now and then
    declared); now and then a prefix declared on the child (the tokenizer refuses
    jabber:client bound to a prefix; the stream header's c: and d: are in gen_case)."""
    if rng.random() < 0.95 or ns == "jabber:client":
        return "", [("xmlns", ns)] if ns != "jabber:client" or rng.random() < 0.05 else []
    return "p:", [("xmlns:p", ns)]


# children written as they are (shape -> XML); "text" is text between the children
TEXTS = ["\n  ", " ", "\r\n", "text", "&amp;"]
ERROR = "<error type='cancel'><%s xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
MUC_FIXED = {
    "x-user": f"<x xmlns='{NS_MUC_USER}'><invite from='a@b'><reason>r</reason></invite></x>",
    "active": "<active xmlns='http://jabber.org/protocol/chatstates'/>",
    "markable": "<markable xmlns='urn:xmpp:chat-markers:0'/>",
    "error": ERROR % "item-not-found",
    "html": "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>"
            "<p>hi <b>there</b></p></body></html>",
    "nested": "<a xmlns='urn:a'><b><c x='1'/><body>deep</body></b><![CDATA[c]]></a>",
}
PRESENCE_FIXED = {
    "vcard": "<x xmlns='vcard-temp:x:update'><photo>01b87fcd030b72895ff8e88db57ec525450f000d</photo></x>",
    "muc": f"<x xmlns='{NS_MUC_USER}'><item affiliation='member' role='participant'"
           " jid='romeo@example.net/orchard'/><status code='110'/></x>",
    "delay": "<delay xmlns='urn:xmpp:delay' stamp='2026-12-06T01:02:03Z'/>",
    "error": ERROR % "remote-server-not-found",
    "idle": "<idle xmlns='urn:xmpp:idle:1' since='2026-12-06T01:00:00Z'/>",
    "nested": "<a xmlns='urn:a'><show>chat</show><status>s</status><priority>9</priority></a>",
}


def _fixed(rng: random.Random, table: Dict[str, str], shape: str) -> str:
    return rng.choice(TEXTS) if shape == "text" else table[shape]


def _root(rng: random.Random, name: str, root: List[Tuple[str, Optional[str]]], children: List[str]) -> str:
    """The stanza: now and then one child several times (bodies, stanza-ids, statuses
    past what the compiled readers keep)."""
    if children and rng.random() < 0.1:
        i = rng.randrange(len(children))
        children[i:i + 1] = [children[i]] * rng.randint(2, 10)
    a = attrs(rng, root)
    if not children and rng.random() < 0.5:
        return f"<{name}{a}/>"
    return f"<{name}{a}>{''.join(children)}</{name}>"


def gen_muc(rng: random.Random) -> str:
    nick = rng.choice(["firstwitch", "secondwitch", "thirdwitch", "caf\u00e9", "n" * 8, "\U0001f600"] * 3
                      + ["stranger", "first witch", "x"])
    sender = rng.choice([f"{ROOM}/{nick}"] * 30 + MUC_SENDERS + ["", ROOM])
    kind = rng.choice(["groupchat"] * 24 + [None, "chat", "normal", "error", "headline", "Groupchat"])
    root = [("to", "hag66@shakespeare.lit/pda"), ("type", kind), ("from", sender),
            ("xml:lang", rng.choice(["en", None, "en-GB-oxendict-x-a"])),
            ("id", rng.choice(["abcdefghijklmnopqrst", "m1", "m2", "", None, "QEYdQn9yQtMPffbT5-1GoU6F"]))]
    if rng.random() < 0.05:
        root.append(("xmlns", rng.choice(["jabber:client", "jabber:server", ""])))
    if rng.random() < 0.05:
        root.append(("xmlns:p", rng.choice(["jabber:client", "urn:xmpp:sid:0", "urn:xmpp:delay"])))
    children = []
    shapes = ["body", "occupant-id", "stanza-id", "stanza-id", "delay", "origin-id", "subject", "x-user",
              "active", "markable", "error", "html", "text", "body-lang", "nested"]
    # Prosody's order (body, occupant-id, stanza-id, a delay in history), then a few others
    wanted = [shape for shape, p in (("body", 0.9), ("occupant-id", 0.7), ("stanza-id", 0.8), ("delay", 0.2))
              if rng.random() < p]
    if rng.random() < 0.1:
        rng.shuffle(wanted)
    for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3))):
        wanted.insert(rng.randint(0, len(wanted)), rng.choice(shapes))
    for shape in wanted:
        if shape == "body":
            p, ns = _ns_prefix(rng, "jabber:client")
            children.append(_child(rng, "body", ns, rng.choice(["r0 message 1 with some text", "hi", "", "\u2603"]), p))
        elif shape == "body-lang":
            children.append(_child(rng, "body", [("xml:lang", rng.choice(["de", "en", "fr"]))], "hallo"))
        elif shape == "occupant-id":
            children.append(_child(rng, "occupant-id", [("xmlns", "urn:xmpp:occupant-id:0"),
                                                        ("id", "D1tPHMYr/MmR16WRMV83dfidTNCfs3AMyTDTWG")], None))
        elif shape == "stanza-id":
            p, ns = _ns_prefix(rng, "urn:xmpp:sid:0")
            children.append(_child(rng, "stanza-id", ns + [
                ("by", rng.choice([ROOM] * 4 + [OTHER_ROOM, "hag66@shakespeare.lit", ROOM + "x", None])),
                ("id", rng.choice(["QEYdQn9yQtMPffbT5-1GoU6F", "s1", "s2", "", None, "x" * 125, "y" * 128]))],
                None, p))
        elif shape == "delay":
            p, ns = _ns_prefix(rng, "urn:xmpp:delay")
            children.append(_child(rng, "delay", ns + [("from", rng.choice([ROOM, None])),
                                                       ("stamp", rng.choice(["2026-12-06T01:02:03.123456Z",
                                                                             "2026-12-06T01:02:03Z", None]))],
                                   rng.choice([None, "Offline storage"]), p))
        elif shape == "origin-id":
            children.append(_child(rng, "origin-id", [("xmlns", "urn:xmpp:sid:0"), ("id", "o1")], None))
        elif shape == "subject":
            children.append(_child(rng, "subject", [], rng.choice(["news", None, ""])))
        else:
            children.append(_fixed(rng, MUC_FIXED, shape))
    return _root(rng, "message", root, children)


def gen_presence(rng: random.Random) -> str:
    sender = rng.choice(CONTACTS * 3 + ["romeo@example.net/" + "z" * 9, "ROMEO@example.net/orchard",
                                        "romeo@example.net/", "bad@@x/a", "", "example.net", f"{ROOM}/firstwitch",
                                        "romeo@example.net/caf\u00e9", "romeo@example.net/a b", None])
    kind = rng.choice([None] * 6 + ["unavailable"] * 3 + ["subscribe", "subscribed", "unsubscribe", "unsubscribed",
                                                          "probe", "error", "bogus", "Unavailable"])
    root = [("from", sender), ("to", "juliet@capulet.lit/chamber"), ("type", kind),
            ("xml:lang", rng.choice([None, None, "en", "de"])), ("id", rng.choice([None, "p1", "a>b"]))]
    if rng.random() < 0.05:
        root.append(("xmlns", rng.choice(["jabber:client", "jabber:server", ""])))
    children = []
    shapes = ["show", "status", "status", "priority", "caps", "vcard", "muc", "delay", "error", "text", "nested",
              "idle"]
    for _ in range(rng.choice((0, 1, 2, 3, 4, 5, 7, 9))):
        shape = rng.choice(shapes)
        if shape == "show":
            p, ns = _ns_prefix(rng, "jabber:client")
            children.append(_child(rng, "show", ns, rng.choice(["away", "chat", "dnd", "xa", " away ", "busy", ""]),
                                   p))
        elif shape == "status":
            p, ns = _ns_prefix(rng, "jabber:client")
            children.append(_child(rng, "status", ns + [("xml:lang", rng.choice([None, None, "en", "de", ""]))],
                                   rng.choice(["Out to lunch", "", "weg"]), p))
        elif shape == "priority":
            p, ns = _ns_prefix(rng, "jabber:client")
            children.append(_child(rng, "priority", ns, rng.choice(["5", "-1", "0", "127", "-128", "128", "-129",
                                                                    "007", "+5", " 5", "high", "-", ""]), p))
        elif shape == "caps":
            children.append(_child(rng, "c", [("xmlns", "http://jabber.org/protocol/caps"), ("hash", "sha-1"),
                                              ("node", "http://prosody.im"), ("ver", "q07IKJEyjvHSyhy//CH0CxmKi8w=")],
                                   None))
        else:
            children.append(_fixed(rng, PRESENCE_FIXED, shape))
    return _root(rng, "presence", root, children)


def mutate(rng: random.Random, data: bytes) -> bytes:
    """``data`` with a few byte runs deleted, inserted (from PIECES or copied from the data
    itself) or changed."""
    buf = bytearray(data)
    for _ in range(rng.choice((0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4))):
        i = rng.randrange(len(buf) + 1)
        op = rng.random()
        if op < 0.25:
            del buf[i:i + rng.choice((1, 1, 1, 2, 3, 6))]
        elif op < 0.65:
            buf[i:i] = rng.choice(PIECES)
        elif op < 0.8 and i < len(buf):
            buf[i] = rng.choice((rng.randrange(256), rng.choice(b"'\"&;<>/= \t\n\r\x00\x80\xc3\xff")))
        else:
            j = rng.randrange(len(buf) + 1)
            buf[i:i] = buf[j:j + rng.randint(1, 40)]
    return bytes(buf)


def gen_case(rng: random.Random) -> Case:
    reader = "muc" if rng.random() < 0.5 else "presence"
    gen = gen_muc if reader == "muc" else gen_presence
    parts = [gen(rng) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
    data = "".join(parts).encode("utf-8", "surrogatepass")
    header = HEADERS[0] if rng.random() < 0.85 else rng.choice(HEADERS)
    if header is HEADERS[2] and rng.random() < 0.7:   # the prefixes the header declared
        for name, prefix, ns in ((b"delay", b"d:", b"urn:xmpp:delay"), (b"stanza-id", b"s:", b"urn:xmpp:sid:0")):
            data = data.replace(b"<" + name + b" xmlns='" + ns + b"'", b"<" + prefix + name).replace(
                b"</" + name, b"</" + prefix + name)
    case = {"reader": reader, "built": rng.random() < 0.15, "header": header.encode(), "data": mutate(rng, data)}
    if reader == "presence" and rng.random() < 0.02:
        case["state"] = "full"
    return case


# -- the corpus ------------------------------------------------------------------------------------

def case_to_json(case: Case, note: str = "") -> str:
    header = case["header"].decode("latin-1")
    doc = {"note": note, "reader": case["reader"], "built": case["built"],
           "header": HEADERS.index(header) if header in HEADERS else header,
           "data": case["data"].decode("latin-1")}
    if case.get("state"):
        doc["state"] = case["state"]
    return json.dumps(doc, ensure_ascii=True, indent=1) + "\n"


def case_from_json(text: str) -> Case:
    doc = json.loads(text)
    header = doc["header"]
    case = {"reader": doc["reader"], "built": bool(doc.get("built")),
            "header": (HEADERS[header] if isinstance(header, int) else header).encode("latin-1"),
            "data": doc["data"].encode("latin-1")}
    if doc.get("state"):
        case["state"] = doc["state"]
    return case


def corpus_files() -> List[str]:
    if not os.path.isdir(CORPUS):
        return []
    return sorted(f for f in os.listdir(CORPUS) if f.endswith(".json"))


def shrink(case: Case) -> Case:
    """A smaller case on which the twins still disagree (greedy: the plain header, not
    built, then byte runs deleted)."""
    def bad(c: Case) -> bool:
        return differ(c) is not None

    case = dict(case)
    if case.get("state"):
        trial = {k: v for k, v in case.items() if k != "state"}
        if bad(trial):
            case = trial
    for key, simpler in (("header", HEADERS[0].encode()), ("built", False)):
        trial = dict(case, **{key: simpler})
        if case[key] != simpler and bad(trial):
            case = trial
    changed = True
    while changed:
        changed = False
        for size in (64, 16, 4, 1):
            pos = 0
            while pos < len(case["data"]):
                trial = dict(case, data=case["data"][:pos] + case["data"][pos + size:])
                if bad(trial):
                    case, changed = trial, True
                else:
                    pos += size
    return case


# -- drivers -----------------------------------------------------------------------------------------

def run_seeded(seed: int, count: int, on_finding: Optional[Callable[[Case, Any], None]] = None) -> Tuple[int, int]:
    """Run ``count`` generated cases from ``random.Random(seed)``; return (how many gave
    the readers a stanza, how many disagreed)."""
    rng = random.Random(seed)
    taken = found = 0
    for _ in range(count):
        case = gen_case(rng)
        if not stanzas(case["header"], case["data"], _accel.USE_EXTENSIONS):
            continue   # refused by the tokenizer, or no stanza in it
        taken += 1
        diff = differ(case)
        if diff is not None:
            found += 1
            if on_finding is not None:
                on_finding(case, diff)
    return taken, found


def crashed(outcome_: Any) -> bool:
    """Whether an outcome ended in a crash of the comparison itself (see :func:`outcome`)."""
    return isinstance(outcome_, tuple) and len(outcome_) == 2 and outcome_[1][:1] == ("CRASH",)


def _kind(diff: Tuple[Any, Any]) -> Any:
    got, want = diff
    if isinstance(got, tuple) and got[:1] == ("other form",):
        return ("other form",) + _kind((got[1], want))
    if crashed(got) or crashed(want):
        return ("crash", (got if crashed(got) else want)[1][1])
    for g, w in zip(got, want):
        for name, a, b in zip(("events", "state", "log"), g, w):
            if a != b:
                return name
    return "length"


def _job(seed: int, count: int, out_dir: str, block: int) -> Tuple[int, int, int]:
    """``count`` cases in blocks of ``block`` (each from its own seed), a progress line
    after each; the first three findings of each kind shrunk into ``out_dir``."""
    totals = [0, 0, 0]   # cases, tokenized, found
    kinds: Dict[Any, int] = {}
    start = time.time()
    for first in range(0, count, block):
        block_seed = seed * 1_000_003 + first

        def keep(case: Case, diff: Any, block_seed: int = block_seed) -> None:
            kind = (case["reader"], _kind(diff))
            kinds[kind] = kinds.get(kind, 0) + 1
            if kinds[kind] <= 3:
                name = os.path.join(out_dir, f"s{seed}-{block_seed}-{sum(kinds.values())}.json")
                with open(name, "w") as f:
                    f.write(case_to_json(shrink(case), f"seed {seed} block {block_seed}: {kind}"))

        n = min(block, count - first)
        tokenized, found = run_seeded(block_seed, n, keep)
        totals = [totals[0] + n, totals[1] + tokenized, totals[2] + found]
        print(json.dumps({"job": seed, "done": totals[0], "tokenized": totals[1], "found": totals[2],
                          "seconds": round(time.time() - start, 1)}), flush=True)
    return totals[0], totals[1], totals[2]


def _main_random(args: argparse.Namespace) -> int:
    out_dir = args.findings
    os.makedirs(out_dir, exist_ok=True)
    per_job = args.count // args.jobs
    start = time.time()
    if args.jobs == 1:
        results = [_job(args.seed, per_job, out_dir, args.block)]
    else:
        import multiprocessing
        with multiprocessing.Pool(args.jobs) as pool:
            results = pool.starmap(_job, [(args.seed + j, per_job, out_dir, args.block) for j in range(args.jobs)])
    print(json.dumps({"inputs": sum(r[0] for r in results), "tokenized": sum(r[1] for r in results),
                      "disagreements": sum(r[2] for r in results), "seconds": round(time.time() - start, 1),
                      "jobs": args.jobs, "seed": args.seed, "findings": out_dir}), flush=True)
    return 1 if sum(r[2] for r in results) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for option, kind, default, text in (   # as tests/fuzz_tokenizer.py's
            ("--count", int, 100_000, "how many cases"), ("--seed", int, 1, "the first job's seed"),
            ("--jobs", int, 1, "processes (the cases split between them)"),
            ("--block", int, 10_000, "progress line every this many inputs"),
            ("--findings", str, os.path.join(os.getcwd(), "fuzz-findings"), "where shrunk findings go"),
            ("--replay", str, None, "run one corpus file: both outcomes if they differ")):
        parser.add_argument(option, type=kind, default=default, help=text)
    args = parser.parse_args()
    if not _accel.USE_EXTENSIONS:
        parser.error("the compiled twins are not in use (FASTXMPP_NO_EXTENSIONS, or not built)")
    if not args.replay:
        return _main_random(args)
    with open(args.replay) as f:
        case = case_from_json(f.read())
    diff = differ(case)
    print(explain(case, diff) if diff else f"the twins agree: {outcome(case, True)!r}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
