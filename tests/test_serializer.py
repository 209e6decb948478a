"""Serializer: every test runs on both twins (``impl`` = c / py)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import load

NS_XML = "http://www.w3.org/XML/1998/namespace"
XML_LANG = "{%s}lang" % NS_XML
MSG = "{jabber:client}message"
BODY = "{jabber:client}body"


@pytest.fixture
def E(impl):
    return load(impl, "element").Element


@pytest.fixture
def ser(impl):
    return load(impl, "serializer")


def chat(E, body="Art thou not Romeo?"):
    m = E(MSG, {"to": "romeo@example.net", "type": "chat", "id": "ktx72v49"})
    m.subelement(BODY, text=body)
    return m


# -- basic output ---------------------------------------------------------------


def test_chat_message(E, ser):
    assert ser.serialize(chat(E)) == (
        b'<message to="romeo@example.net" type="chat" id="ktx72v49">'
        b"<body>Art thou not Romeo?</body></message>"
    )


def test_empty_elements(E, ser):
    assert ser.serialize(E(MSG)) == b"<message/>"
    assert ser.serialize(E(MSG, text="")) == b"<message/>"
    m = E(MSG)
    m.subelement(BODY, text="")
    m.subelement(BODY)
    assert ser.serialize(m) == b"<message><body/><body/></message>"
    assert ser.serialize(E(MSG, text="x")) == b"<message>x</message>"


def test_tails(E, ser):
    m = E(MSG, text="a", tail="top tail is not written")
    b = m.subelement(BODY, text="b")
    b.tail = "c"
    x = m.subelement("{jabber:client}x")
    x.subelement("{jabber:client}y").tail = "d"
    x.tail = "e"
    assert ser.serialize(m) == b"<message>a<body>b</body>c<x><y/>d</x>e</message>"


def test_returns_bytes(E, ser):
    assert type(ser.serialize(E(MSG))) is bytes


# -- namespaces ---------------------------------------------------------------


def test_default_namespace_in_scope(E, ser):
    assert ser.serialize(E(MSG)) == b"<message/>"
    assert ser.serialize(E(MSG), "jabber:server") == b'<message xmlns="jabber:client"/>'
    assert ser.serialize(E(MSG), default_ns="") == b'<message xmlns="jabber:client"/>'


def test_scope_is_compared_by_value(E, ser):
    # strings equal to the default namespace but built at run time (not the same object)
    ns = "".join(["jabber", ":", "client"])
    m = E("{%s}message" % ns, {"to": "a@b"})
    m.subelement("{%s}body" % ns, text="hi")
    m.subelement("{jabber:server}x").subelement("{%s}y" % ns)
    expected = b'<message to="a@b"><body>hi</body><x xmlns="jabber:server"><y xmlns="jabber:client"/></x></message>'
    assert ser.serialize(m) == expected
    assert ser.serialize(m, ns) == expected


def test_bare_tags(E, ser):
    assert ser.serialize(E("x")) == b'<x xmlns=""/>'
    assert ser.serialize(E("x"), "") == b"<x/>"
    assert ser.serialize(E("{}x"), "") == b"<x/>"
    r = E("r")
    r.subelement("s")
    assert ser.serialize(r, "") == b"<r><s/></r>"
    r = E(MSG)
    r.subelement("s")
    assert ser.serialize(r) == b'<message><s xmlns=""/></message>'


def test_namespace_declared_where_it_changes(E, ser):
    m = E(MSG)
    req = m.subelement("{urn:xmpp:receipts}request")
    req.subelement("{urn:xmpp:receipts}inner").subelement("{jabber:client}back")
    m.subelement("{urn:xmpp:receipts}received", {"id": "1"})
    m.subelement(BODY, text="x")
    assert ser.serialize(m) == (
        b'<message><request xmlns="urn:xmpp:receipts"><inner><back xmlns="jabber:client"/>'
        b'</inner></request><received xmlns="urn:xmpp:receipts" id="1"/><body>x</body></message>'
    )


def test_namespace_uri_escaped(E, ser):
    assert ser.serialize(E('{urn:a&b"c}x')) == b'<x xmlns="urn:a&amp;b&quot;c"/>'


def test_xml_lang(E, ser):
    m = E(MSG, {XML_LANG: "en", "{%s}space" % NS_XML: "preserve"})
    assert ser.serialize(m) == b'<message xml:lang="en" xml:space="preserve"/>'


def test_namespaced_attributes_get_prefixes(E, ser):
    m = E(MSG, {"{urn:a}x": "1", "plain": "2", "{urn:b}y": "3", "{urn:a}z": "4"})
    m.subelement("{jabber:client}c", {"{urn:b}w": "5"})
    assert ser.serialize(m) == (
        b'<message xmlns:ns0="urn:a" ns0:x="1" plain="2" xmlns:ns1="urn:b" ns1:y="3" ns0:z="4">'
        b'<c xmlns:ns0="urn:b" ns0:w="5"/></message>'
    )


def test_attribute_in_element_namespace_still_prefixed(E, ser):
    el = E("{urn:a}e", {"{urn:a}x": "1"})
    assert ser.serialize(el) == b'<e xmlns="urn:a" xmlns:ns0="urn:a" ns0:x="1"/>'


# -- escaping -----------------------------------------------------------------


def test_escape_text(E, ser):
    el = E(BODY, text="a&b<c>d\"e'f\tg\nh\ri]]>")
    assert ser.serialize(el) == b"<body>a&amp;b&lt;c&gt;d\"e'f\tg\nh&#13;i]]&gt;</body>"


def test_escape_tail(E, ser):
    m = E(MSG)
    m.subelement(BODY).tail = "<&>\r"
    assert ser.serialize(m) == b"<message><body/>&lt;&amp;&gt;&#13;</message>"


def test_escape_attribute(E, ser):
    el = E(BODY, {"a": "x&y<z>\"q'\tt\nn\rr"})
    assert ser.serialize(el) == b'<body a="x&amp;y&lt;z&gt;&quot;q\'&#9;t&#10;n&#13;r"/>'


@pytest.mark.parametrize(
    "text",
    [
        "caf\u00e9 & cr\u00e8me <b>",  # UCS1, not ASCII
        "\u4e2d\u6587 & <\u0100>\r",  # UCS2
        "\U0001f600 & <\u00e9>\u4e2d\ufffd",  # UCS4
        "\u00e9" * 3000 + "&",  # grows the buffer on the non-ASCII path
        "x" * 5000 + "<" * 700,  # grows the buffer on the ASCII path
    ],
)
def test_non_ascii(E, ser, text):
    expected_text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    expected_attr = expected_text
    el = E(BODY, {"a": text}, text=text)
    assert ser.serialize(el) == f'<body a="{expected_attr}">{expected_text}</body>'.encode("utf-8")


# -- characters XML forbids -----------------------------------------------------

FORBIDDEN = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1f", "\ud800", "\udbff", "\udc00", "\udfff",
             "\ufffe", "\uffff"]
ALLOWED = ["\t", "\n", "\x7f", "\x80", "\x85", "\u2028", "\ud7ff", "\ue000", "\ufffd", "\U00010000",
           "\U0010ffff"]


@pytest.mark.parametrize("ch", FORBIDDEN)
@pytest.mark.parametrize("prefix", ["", "abc", "\u00e9", "\u4e2d", "\U0001f600"])
def test_forbidden_in_text(E, ser, ch, prefix):
    code = f"U+{ord(ch):04X}"
    with pytest.raises(ValueError, match=re.escape(code) + r".*\(text\)"):
        ser.serialize(E(BODY, text=prefix + ch + "z"))
    m = E(MSG)
    m.subelement(BODY).tail = prefix + ch
    with pytest.raises(ValueError, match=re.escape(code)):
        ser.serialize(m)
    with pytest.raises(ValueError, match=re.escape(code) + r".*\(attribute value\)"):
        ser.serialize(E(BODY, {"a": prefix + ch}))


@pytest.mark.parametrize("ch", FORBIDDEN)
def test_forbidden_in_names(E, ser, ch):
    code = re.escape(f"U+{ord(ch):04X}")
    with pytest.raises(ValueError, match=code):
        ser.serialize(E("a" + ch))
    with pytest.raises(ValueError, match=code):
        ser.serialize(E("{urn:" + ch + "}a"))
    with pytest.raises(ValueError, match=code):
        ser.serialize(E("a", {"b" + ch: "v"}))


def test_forbidden_reports_first(E, ser):
    with pytest.raises(ValueError, match="U\\+0001"):
        ser.serialize(E(BODY, text="ok\x01\x02"))


@pytest.mark.parametrize("ch", ALLOWED)
def test_allowed_characters(E, ser, ch):
    out = ser.serialize(E(BODY, text=ch))
    assert out.decode("utf-8") == "<body>" + ch + "</body>"


# -- names -------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    ["", "1a", "a b", "a:b", "-a", ".a", "{urn:x}", "{urn:x", "{urn:x}1", "a>", "a/", "{a}b}c",
     "{http://www.w3.org/XML/1998/namespace}x", "{http://www.w3.org/2000/xmlns/}x"],
)
def test_invalid_tags(E, ser, tag):
    with pytest.raises(ValueError):
        ser.serialize(E(tag))
    m = E(MSG)
    m.subelement(tag)
    with pytest.raises(ValueError):
        ser.serialize(m)


@pytest.mark.parametrize(
    "name",
    ["", "1a", "a b", "a:b", "xmlns", "{http://www.w3.org/2000/xmlns/}p", "{urn:x}", "{urn:x", "a=",
     "{urn:x}a b"],
)
def test_invalid_attribute_names(E, ser, name):
    with pytest.raises(ValueError):
        ser.serialize(E("a", {name: "v"}))


@pytest.mark.parametrize("tag", ["a", "_a", "a-b.c_1", "\u00e9l\u00e8ve", "\u4e2d", "a\u00b7b", "\U00010000x"])
def test_valid_unusual_names(E, ser, tag):
    assert ser.serialize(E(tag, {tag: "v"}), "") == f'<{tag} {tag}="v"/>'.encode("utf-8")


def test_type_errors(E, ser):
    with pytest.raises(TypeError):
        ser.serialize(E("a", {"k": 1}))
    with pytest.raises(TypeError):
        ser.serialize(E("a", {1: "v"}))
    with pytest.raises(TypeError):
        ser.serialize("<a/>")
    with pytest.raises(TypeError):
        ser.serialize(E("a"), None)


def test_other_twin_rejected(impl, ser):
    other = load("py" if impl == "c" else "c", "element").Element
    with pytest.raises(TypeError):
        ser.serialize(other("a"))


# -- big and deep ----------------------------------------------------------------


def test_deep_tree(E, ser):
    root = E("{urn:d}d")
    el = root
    for i in range(50_000):
        el = el.subelement("{urn:d}d" if i % 2 else "{urn:e}e", text="t")
        el.tail = "u"
    out = ser.serialize(root, "")
    assert out.startswith(b'<d xmlns="urn:d"><e xmlns="urn:e">t<d xmlns="urn:d">t<e xmlns="urn:e">')
    assert out.endswith(b"</e>u</d>u</e>u</d>")
    assert out.count(b"<") == 2 * 50_001  # every element has text, so none is empty


def test_wide_tree(E, ser):
    root = E(MSG)
    for i in range(2000):
        root.subelement(BODY, {"n": str(i)})
    out = ser.serialize(root)
    assert out == b"<message>" + b"".join(b'<body n="%d"/>' % i for i in range(2000)) + b"</message>"


# -- stream header and footer ----------------------------------------------------


class FakeJID:
    def __init__(self, s):
        self.s = s

    def __str__(self):
        return self.s


def test_stream_header(ser):
    assert ser.stream_header(to="example.com") == (
        b"<?xml version='1.0'?><stream:stream xmlns=\"jabber:client\""
        b' xmlns:stream="http://etherx.jabber.org/streams" to="example.com" version="1.0" xml:lang="en">'
    )


def test_stream_header_all(ser):
    assert ser.stream_header(
        to=FakeJID("example.com"), from_=FakeJID("juliet@example.com"), id="s&1", version=None,
        lang="fr", default_ns="jabber:server",
    ) == (
        b"<?xml version='1.0'?><stream:stream xmlns=\"jabber:server\""
        b' xmlns:stream="http://etherx.jabber.org/streams" to="example.com" from="juliet@example.com"'
        b' id="s&amp;1" xml:lang="fr">'
    )


def test_stream_header_none_omitted(ser):
    assert ser.stream_header(to=None, version=None, lang=None) == (
        b"<?xml version='1.0'?><stream:stream xmlns=\"jabber:client\""
        b' xmlns:stream="http://etherx.jabber.org/streams">'
    )


def test_stream_header_escapes_and_checks(ser):
    out = ser.stream_header(to='a"<>\n')
    assert b' to="a&quot;&lt;&gt;&#10;"' in out
    with pytest.raises(ValueError, match="U\\+0000"):
        ser.stream_header(to="a\x00")
    with pytest.raises(TypeError):
        ser.stream_header("example.com")


def test_stream_footer(ser):
    assert ser.stream_footer() == b"</stream:stream>"


def test_header_parses_with_body(E, ser):
    doc = ser.stream_header(to="example.com") + ser.serialize(chat(E)) + ser.stream_footer()
    root = ET.fromstring(doc)
    assert root.tag == "{http://etherx.jabber.org/streams}stream"
    assert root.get(XML_LANG) == "en"
    assert root[0].tag == MSG and root[0][0].text == "Art thou not Romeo?"


# -- property-based: twins agree and ElementTree reads back the tree ----------------

NAMESPACES = ["jabber:client", "urn:xmpp:receipts", "urn:a&b", ""]
LOCALS = ["message", "body", "x", "y", "\u00e9", "a-b.c"]
ATTR_NAMES = ["to", "id", XML_LANG, "{urn:a}p", "{urn:b}q", "{jabber:client}r"]


def _allowed(c):
    o = ord(c)
    return (o >= 0x20 or c in "\t\n\r") and not 0xD800 <= o <= 0xDFFF and o not in (0xFFFE, 0xFFFF)


TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(list("&<>\"'\t\n\r ]a")), st.characters().filter(_allowed)),
    max_size=12,
)
OPT_TEXT = st.one_of(st.none(), TEXT)


def _tag(ns_local):
    ns, local = ns_local
    return "{%s}%s" % (ns, local) if ns else local


TREE = st.recursive(
    st.tuples(
        st.tuples(st.sampled_from(NAMESPACES), st.sampled_from(LOCALS)).map(_tag),
        st.dictionaries(st.sampled_from(ATTR_NAMES), TEXT, max_size=3),
        OPT_TEXT,
        OPT_TEXT,
        st.just(()),
    ),
    lambda kids: st.tuples(
        st.tuples(st.sampled_from(NAMESPACES), st.sampled_from(LOCALS)).map(_tag),
        st.dictionaries(st.sampled_from(ATTR_NAMES), TEXT, max_size=3),
        OPT_TEXT,
        OPT_TEXT,
        st.lists(kids, max_size=4).map(tuple),
    ),
    max_leaves=12,
)


def build(E, spec):
    tag, attrib, text, tail, kids = spec
    el = E(tag, attrib, text=text, tail=tail)
    for k in kids:
        el.append(build(E, k))
    return el


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=TREE, default_ns=st.sampled_from(["jabber:client", "", "urn:a&b"]))
def test_twins_agree(spec, default_ns):
    Ec = load("c", "element").Element
    Ep = load("py", "element").Element
    sc = load("c", "serializer")
    sp = load("py", "serializer")
    assert sc.serialize(build(Ec, spec), default_ns) == sp.serialize(build(Ep, spec), default_ns)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=TREE)
def test_round_trip_through_etree(impl, spec):
    E = load(impl, "element").Element
    ser = load(impl, "serializer")
    el = build(E, spec)
    el.tail = None
    out = ser.serialize(el)
    root = ET.fromstring(b'<root xmlns="jabber:client">' + out + b"</root>")
    assert len(root) == 1
    back = E.from_etree(root[0])
    assert back == el
