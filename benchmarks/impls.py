"""The implementations under comparison, shared by the pytest benchmarks,
``memory.py`` and ``report.py``.

Parse functions take the list of 4 KiB chunks and return the list of parsed
top-level elements (stanza objects), except the two raw pyexpat ceilings which
have no handlers and return the known count.

Build functions take no argument and return the UTF-8 bytes of one stanza.
"""
from __future__ import annotations

import logging
import types
import xml.etree.ElementTree as ET
import xml.sax
from typing import Callable, Dict, List, Sequence

import pyexpat

try:
    import fastxmpp  # noqa: F401
except ImportError:  # run as `python benchmarks/x.py` from a checkout: use the in-place build
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastxmpp import stanza as _stanza
from fastxmpp._element_c import Element as CElement
from fastxmpp._element_py import Element as PyElement
from fastxmpp._serializer_c import serialize as c_serialize
from fastxmpp._serializer_py import serialize as py_serialize
from fastxmpp._tokenizer_c import Tokenizer as CTokenizer
from fastxmpp._tokenizer_py import Tokenizer as PyTokenizer

Chunks = Sequence[bytes]

# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


def _fastxmpp(tokenizer_cls, element_cls):
    def parse(chunks: Chunks) -> list:
        t = tokenizer_cls()
        feed = t.feed
        out: list = []
        extend = out.extend
        for c in chunks:
            extend(feed(c))
        # Keep the Element tokens only (drop the StreamHeader).
        return [tok for tok in out if type(tok) is element_cls]

    return parse


parse_fastxmpp_c = _fastxmpp(CTokenizer, CElement)
parse_fastxmpp_py = _fastxmpp(PyTokenizer, PyElement)


def parse_pyexpat_ns(chunks: Chunks, n: int = 0):
    """Raw pyexpat, namespace processing on, no handlers: the ceiling."""
    p = pyexpat.ParserCreate(namespace_separator="}")
    parse = p.Parse
    for c in chunks:
        parse(c, False)
    return n


def parse_pyexpat_nons(chunks: Chunks, n: int = 0):
    """Raw pyexpat without namespace processing, no handlers."""
    p = pyexpat.ParserCreate()
    parse = p.Parse
    for c in chunks:
        parse(c, False)
    return n


def parse_etree_pull(chunks: Chunks) -> list:
    """xml.etree.ElementTree.XMLPullParser (start/end), collecting depth-1 elements."""
    parser = ET.XMLPullParser(("start", "end"))
    feed = parser.feed
    read_events = parser.read_events
    out: list = []
    append = out.append
    depth = 0
    for c in chunks:
        feed(c)
        for event, el in read_events():
            if event == "start":
                depth += 1
            else:
                depth -= 1
                if depth == 1:
                    append(el)
    return out


# --- slixmpp ----------------------------------------------------------------
# Real receive path: slixmpp.xmlstream.XMLStream.data_received() on a
# slixmpp.ClientXMPP instance.  For each chunk that method feeds its
# ET.XMLPullParser(("start", "end")), walks read_events(), calls
# start_stream_handler() on the root, and for each depth-1 element calls
# _spawn_event(xml) -> incoming_filter(xml) -> _build_stanza(xml) (finds the
# registered root stanza class, builds Message/Presence/Iq/StanzaBase objects,
# sets 'lang' from the stream's xml:lang) -> recv_stanza(stanza), and clears
# the root.  We replace recv_stanza on the instance with list.append, so the
# stanza objects are built but not matched against handlers (no event loop is
# needed; handler dispatch is not parsing).

_slix_client = None


def _slixmpp_client():
    global _slix_client
    if _slix_client is None:
        logging.getLogger("slixmpp").setLevel(logging.WARNING)
        import asyncio

        import slixmpp

        try:
            asyncio.get_event_loop()
        except RuntimeError:
            asyncio.set_event_loop(asyncio.new_event_loop())
        _slix_client = slixmpp.ClientXMPP("juliet@example.org/balcony.Hx7Q", "secret")
        _slix_client.register_plugin("xep_0184")  # receipts (also used by build)
    return _slix_client


def parse_slixmpp(chunks: Chunks) -> list:
    x = _slixmpp_client()
    x.init_parser()  # what connection_made() does: new XMLPullParser, depth 0
    out: list = []
    x.recv_stanza = out.append  # instance attribute shadows the method
    data_received = x.data_received
    for c in chunks:
        data_received(c)
    del x.recv_stanza
    return out


# --- aioxmpp ----------------------------------------------------------------
# Real receive path: what aioxmpp.protocol.XMLStream._reset_state() sets up
# and data_received()/_rx_feed() drive: an aioxmpp.xml.XMPPXMLProcessor as
# content handler of aioxmpp.xml.make_parser() (xml.sax expat reader with
# namespaces and XMPPLexicalHandler), whose stanza_parser is an
# aioxmpp.xso.XSOParser with Message, Presence, IQ (as StanzaStream registers
# them) and StreamFeatures registered; parser.feed(chunk) per chunk.
# Payload modules (roster, disco, muc, chatstates, entitycaps, delay,
# receipts) are imported so their XSOs are registered, like a real client.


def _aioxmpp_setup():
    import aioxmpp
    import aioxmpp.chatstates  # noqa: F401
    import aioxmpp.disco  # noqa: F401
    import aioxmpp.entitycaps  # noqa: F401
    import aioxmpp.mdr  # noqa: F401
    import aioxmpp.misc  # noqa: F401
    import aioxmpp.muc  # noqa: F401
    import aioxmpp.nonza
    import aioxmpp.roster  # noqa: F401
    import aioxmpp.xml
    import aioxmpp.xso

    return aioxmpp


AIOXMPP_ERRORS: List[BaseException] = []


def parse_aioxmpp(chunks: Chunks) -> list:
    aioxmpp = _aioxmpp_setup()
    out: list = []
    sp = aioxmpp.xso.XSOParser()
    for cls in (aioxmpp.stanza.IQ, aioxmpp.stanza.Message, aioxmpp.stanza.Presence,
                aioxmpp.nonza.StreamFeatures):
        sp.add_class(cls, out.append)
    proc = aioxmpp.xml.XMPPXMLProcessor()
    proc.stanza_parser = sp
    proc.on_exception = AIOXMPP_ERRORS.append
    parser = aioxmpp.xml.make_parser()
    parser.setContentHandler(proc)
    feed = parser.feed
    for c in chunks:
        feed(c)
    return out


# (name, function, returns_elements)
def _read_all(parse):
    """``parse``, then read every element's tag, attributes, text and tail: the
    compiled twin builds a stanza's tree on first use, so this is its full cost."""
    def parse_and_read(chunks: Chunks) -> list:
        out = parse(chunks)
        for stanza in out:
            for el in stanza.iter():
                el.tag, el.attrib, el.text, el.tail
        return out

    return parse_and_read


PARSERS: Dict[str, Callable] = {
    "pyexpat (ns, no handlers)": parse_pyexpat_ns,
    "pyexpat (no ns, no handlers)": parse_pyexpat_nons,
    "fastxmpp compiled": parse_fastxmpp_c,
    "fastxmpp compiled, all read": _read_all(parse_fastxmpp_c),
    "fastxmpp pure-Python": parse_fastxmpp_py,
    "ET.XMLPullParser": parse_etree_pull,
    "ET.XMLPullParser, all read": _read_all(parse_etree_pull),
    "slixmpp data_received": parse_slixmpp,
    "aioxmpp XMPPXMLProcessor": parse_aioxmpp,
}
RAW = {"pyexpat (ns, no handlers)", "pyexpat (no ns, no handlers)"}

# ---------------------------------------------------------------------------
# Building + serializing
# ---------------------------------------------------------------------------

TO = "romeo@montague.example/orchard"
MSG_ID = "4a6f7b2e-8c1d-4e5f-9a0b-1c2d3e4f5a6b"
BODY = "Wherefore art thou Romeo? Deny thy father & refuse thy name <3"
STATUS = "Out to lunch & back soon"
NS_RECEIPTS = "urn:xmpp:receipts"
_REQUEST = "{urn:xmpp:receipts}request"


def _rebind(fn, element_cls):
    """The very builder function of fastxmpp.stanza, with its globals bound to
    another Element twin (fastxmpp.stanza imports the selected twin)."""
    g = dict(fn.__globals__)
    g["Element"] = element_cls
    f = types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)
    f.__kwdefaults__ = fn.__kwdefaults__
    return f


# fastxmpp.stanza uses the selected (compiled) twins: message() from
# _stanza_c, presence() bound to _element_c.Element.  The Python twin gets a
# copy of the Python builder code bound to _element_py.Element.
assert _stanza.presence.__globals__["Element"] is CElement, "extensions not in use"
assert _stanza.message is not _stanza._message_py, "extensions not in use"
_c_message, _c_presence = _stanza.message, _stanza.presence
_py_message, _py_presence = _rebind(_stanza._message_py, PyElement), _rebind(_stanza.presence, PyElement)


def build_msg_fastxmpp_c() -> bytes:
    m = _c_message(to=TO, type="chat", body=BODY, id=MSG_ID)
    m.subelement(_REQUEST)
    return c_serialize(m)


def build_msg_fastxmpp_py() -> bytes:
    m = _py_message(to=TO, type="chat", body=BODY, id=MSG_ID)
    m.subelement(_REQUEST)
    return py_serialize(m)


def build_pres_fastxmpp_c() -> bytes:
    return c_serialize(_c_presence(show="away", status=STATUS, priority=5))


def build_pres_fastxmpp_py() -> bytes:
    return py_serialize(_py_presence(show="away", status=STATUS, priority=5))


def _esc_attr(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&apos;").replace('"', "&quot;")


def _esc_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_msg_fstring(to: str = TO, id: str = MSG_ID, body: str = BODY) -> bytes:
    return (
        f"<message to='{_esc_attr(to)}' type='chat' id='{_esc_attr(id)}'>"
        f"<body>{_esc_text(body)}</body><request xmlns='urn:xmpp:receipts'/></message>"
    ).encode("utf-8")


def build_pres_fstring(show: str = "away", status: str = STATUS, priority: int = 5) -> bytes:
    return (
        f"<presence><show>{_esc_text(show)}</show><status>{_esc_text(status)}</status>"
        f"<priority>{int(priority)}</priority></presence>"
    ).encode("utf-8")


def build_msg_etree() -> bytes:
    m = ET.Element("message", {"to": TO, "type": "chat", "id": MSG_ID})
    ET.SubElement(m, "body").text = BODY
    ET.SubElement(m, "request", {"xmlns": NS_RECEIPTS})
    return ET.tostring(m, encoding="utf-8", xml_declaration=False)


def build_pres_etree() -> bytes:
    p = ET.Element("presence")
    ET.SubElement(p, "show").text = "away"
    ET.SubElement(p, "status").text = STATUS
    ET.SubElement(p, "priority").text = "5"
    return ET.tostring(p, encoding="utf-8", xml_declaration=False)


# slixmpp: make_message()/make_presence() build the stanza objects; the
# receipt request goes through the xep_0184 plugin's 'request_receipt'
# interface; serialization is what XMLStream's send queue does
# (xmlstream.py: tostring(data.xml, xmlns=self.default_ns, stream=self,
# top_level=True), then send_raw() encodes str to UTF-8).


def build_msg_slixmpp() -> bytes:
    from slixmpp.xmlstream.tostring import tostring

    x = _slixmpp_client()
    m = x.make_message(mto=TO, mbody=BODY, mtype="chat")
    m["id"] = MSG_ID
    m["request_receipt"] = True
    return tostring(m.xml, xmlns=x.default_ns, stream=x, top_level=True).encode("utf-8")


def build_pres_slixmpp() -> bytes:
    from slixmpp.xmlstream.tostring import tostring

    x = _slixmpp_client()
    p = x.make_presence(pshow="away", pstatus=STATUS, ppriority=5)
    return tostring(p.xml, xmlns=x.default_ns, stream=x, top_level=True).encode("utf-8")


# aioxmpp: build Message/Presence XSOs and serialize them with
# aioxmpp.xml.XMLStreamWriter.send() (XMPPXMLGenerator, as the protocol's
# writer does) onto a sink whose write() collects the bytes.  The stream
# header is written once at setup, as on a live stream.


class _Sink:
    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: List[bytes] = []

    def write(self, b: bytes) -> None:
        self.parts.append(b)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        b = b"".join(self.parts)
        self.parts.clear()
        return b


_aio_state = None


def _aioxmpp_writer():
    global _aio_state
    if _aio_state is None:
        aioxmpp = _aioxmpp_setup()
        sink = _Sink()
        w = aioxmpp.xml.XMLStreamWriter(sink, aioxmpp.JID.fromstr("example.org"),
                                        nsmap={None: "jabber:client"})
        w.start()
        sink.take()
        _aio_state = (aioxmpp, w, sink, aioxmpp.JID.fromstr(TO))
    return _aio_state


def build_msg_aioxmpp() -> bytes:
    aioxmpp, w, sink, to = _aio_state or _aioxmpp_writer()
    m = aioxmpp.Message(type_=aioxmpp.MessageType.CHAT, to=to, id_=MSG_ID)
    m.body[None] = BODY
    m.xep0184_request_receipt = True
    w.send(m)
    return sink.take()


def build_pres_aioxmpp() -> bytes:
    aioxmpp, w, sink, to = _aio_state or _aioxmpp_writer()
    p = aioxmpp.Presence(type_=aioxmpp.PresenceType.AVAILABLE, show=aioxmpp.PresenceShow.AWAY)
    p.status[None] = STATUS
    p.priority = 5
    w.send(p)
    return sink.take()


MSG_BUILDERS: Dict[str, Callable[[], bytes]] = {
    "f-string template": build_msg_fstring,
    "fastxmpp compiled": build_msg_fastxmpp_c,
    "fastxmpp pure-Python": build_msg_fastxmpp_py,
    "ElementTree": build_msg_etree,
    "slixmpp": build_msg_slixmpp,
    "aioxmpp": build_msg_aioxmpp,
}
PRES_BUILDERS: Dict[str, Callable[[], bytes]] = {
    "f-string template": build_pres_fstring,
    "fastxmpp compiled": build_pres_fastxmpp_c,
    "fastxmpp pure-Python": build_pres_fastxmpp_py,
    "ElementTree": build_pres_etree,
    "slixmpp": build_pres_slixmpp,
    "aioxmpp": build_pres_aioxmpp,
}
