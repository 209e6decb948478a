"""The compiled groupchat reader (fastxmpp/_muc_c.pyx) and its byte scanners
(fastxmpp/_bytescan.pxd) against the Python twin, for values that need decoding (a
reference, a CR, a tab or LF in an attribute) at every offset of the values it reads and
of those it does not: the scanners check eight bytes at a time, and only the values read
are checked at all."""
from __future__ import annotations

import itertools
import sys

import pytest

from fastxmpp import _accel
from fastxmpp.element import Element
from fastxmpp.tokenizer import Tokenizer
from fastxmpp.xep.muc import NS_MUC_USER, MUCCore

ROOM = "coven@chat.shakespeare.lit"
HEADER = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
          b" from='shakespeare.lit' version='1.0'>")
SPECIALS = ["&amp;", "&#x41;", "&apos;", "\r", "\t", "\n", "\r\n", "&#9;"]

# the message's parts, each with its value: {v} is where a value with a special goes
PARTS = {
    "from": f"{ROOM}/firstwitch",
    "id": "abcdefghijklmnopqrst",
    "to": "hag66@shakespeare.lit/pda",
    "lang": "en-GB-oxendict-x-a",
    "occupant-id": "D1tPHMYr/MmR16WRMV83dfidTNCfs3AMyTDTWG",
    "sid-by": ROOM,
    "sid-id": "QEYdQn9yQtMPffbT5-1GoU6F",
    "sid-ns": "urn:xmpp:sid:0",
    "stamp": "2026-12-06T01:02:03.123456Z",
    "body": "r0 message 1 with some text",
}


def X(xml: str) -> Element:
    tokens = [t for t in Tokenizer().feed(HEADER + xml.encode()) if isinstance(t, Element)]
    assert len(tokens) == 1
    return tokens[0]


def message(**values: str) -> str:
    v = dict(PARTS, **values)
    delay = f"<delay xmlns='urn:xmpp:delay' stamp='{v['stamp']}'/>" if "stamp" in values else ""
    return (f"<message to='{v['to']}' type='groupchat' from='{v['from']}' xml:lang='{v['lang']}'"
            f" id='{v['id']}'><body>{v['body']}</body>"
            f"<occupant-id xmlns='urn:xmpp:occupant-id:0' id='{v['occupant-id']}'/>"
            f"<stanza-id xmlns='{v['sid-ns']}' by='{v['sid-by']}' id='{v['sid-id']}'/>{delay}</message>")


def pres(nick: str, codes=()) -> Element:
    status = "".join(f"<status code='{c}'/>" for c in codes)
    return X(f"<presence from='{ROOM}/{nick}' to='hag66@shakespeare.lit/pda'>"
             f"<x xmlns='{NS_MUC_USER}'><item affiliation='none' role='participant'/>{status}</x></presence>")


def core() -> MUCCore:
    ticks = itertools.count()
    c = MUCCore(clock=lambda: float(next(ticks)))
    c.join(ROOM, "thirdwitch")
    c.receive_presence(pres("firstwitch"))
    c.receive_presence(pres("thirdwitch", codes=(110,)))
    return c


def seen(core: MUCCore, events) -> tuple:
    out = [(type(e).__name__, getattr(e, "nick", None), getattr(e, "body", None), getattr(e, "delayed", None))
           for e in events]
    state = [(s.joined, s._last_seen, sorted(s._recent), list(s._recent_order)) for s in core.rooms.values()]
    return out, state


def cases():
    for part, value in PARTS.items():
        for special in SPECIALS:
            if part == "body" and special in ("\t", "\n"):
                continue  # plain in text; covered by the attribute cases
            for at in range(0, min(len(value), 19) + 1):
                yield part, value[:at] + special + value[at:]


@pytest.mark.skipif(not _accel.USE_EXTENSIONS, reason="the compiled twins are not in use")
def test_values_that_need_decoding_agree_with_the_python_twin():
    from fastxmpp import _muc_c

    for part, value in cases():
        xml = message(**{part: value})
        results = []
        for receive in (MUCCore._receive_message_py, _muc_c.receive_message):
            c = core()
            events = receive(c, X(xml))
            results.append(seen(c, events))
        assert results[0] == results[1], (part, value)


@pytest.mark.skipif(not _accel.USE_EXTENSIONS, reason="the compiled twins are not in use")
@pytest.mark.parametrize("part", ["to", "lang", "occupant-id"])
def test_values_not_read_stay_on_the_compiled_path(part):
    """A reference in a value the reader does not use ('to', 'xml:lang', an occupant-id)
    does not send the message to the Python twin."""
    calls = []

    def watch(frame, event, arg):
        if event == "call" and frame.f_code is MUCCore._receive_message_py.__code__:
            calls.append(frame)

    c = core()
    stanza = X(message(**{part: "a&amp;b" + PARTS[part]}))
    sys.setprofile(watch)
    try:
        [ev] = c.receive_message(stanza)
    finally:
        sys.setprofile(None)
    assert calls == [] and ev.body == PARTS["body"] and ev.nick == "firstwitch"
