"""Stanzas written every way XML allows: both twins and ElementTree must read the same tree.

The compiled twin keeps a received stanza as its (expat-checked) bytes and
builds the tree on first use, so these tests cover the raw spellings that the
differential test in test_tokenizer.py (which renders with one escaping style)
does not: references, CR/LF, literal white space in attribute values, CDATA,
both quote styles, white space inside tags, prefixes declared by the stream
header, namespace redeclaration and undeclaration.
"""
from __future__ import annotations

import copy
import pickle
import xml.etree.ElementTree as ET

import pytest
from conftest import load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tokenizer import canon, canon_et, feed_all

HEADER = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
          b" xmlns:x='urn:header:x' version='1.0'>")
END = b"</stream:stream>"

TEXT_PIECES = ["a", "\u00e9", "\u4e2d", "\U0001f600", " ", "\n", "\t", "\r\n", "\r", "&amp;", "&lt;",
               "&gt;", "&quot;", "&apos;", "&#65;", "&#x1F600;", "&#13;", "&#10;", "&#xe9;", ">",
               "<![CDATA[<&>\r\n]]>", "<![CDATA[]]>", "]a"]  # "]a": a lone "]]>" is not XML
ATTR_PIECES = [p for p in TEXT_PIECES if not p.startswith("<!")] + ["'", '"']
NAMES = ["a", "x:a", "b", "q.r", "\u00e9l", "p:c"]


@st.composite
def attr_values(draw, quote):
    pieces = draw(st.lists(st.sampled_from([p for p in ATTR_PIECES if p != quote]), max_size=6))
    return "".join(pieces)


@st.composite
def elements(draw, depth=0):
    name = draw(st.sampled_from(NAMES if depth else ["message", "iq", "x:top"]))
    decls = []
    if name.startswith("p:"):
        decls.append(" xmlns:p='urn:p'")
    if draw(st.booleans()):
        decls.append(draw(st.sampled_from([" xmlns='urn:d'", ' xmlns="urn:e&amp;f"', " xmlns=''" if depth else ""])))
    attrs = []
    for key in draw(st.lists(st.sampled_from(["id", "to", "x:k", "xml:lang", "p2:z"]), unique=True, max_size=3)):
        if key.startswith("p2:"):
            decls.append(" xmlns:p2='urn:p2'")
        quote = draw(st.sampled_from(["'", '"']))
        space = draw(st.sampled_from(["", " ", "\n", " \t"]))
        attrs.append(f"{draw(st.sampled_from([' ', '  ', chr(10), chr(9)]))}{key}{space}={space}"
                     f"{quote}{draw(attr_values(quote))}{quote}")
    order = decls + attrs
    draw(st.randoms()).shuffle(order)
    head = f"<{name}{''.join(order)}{draw(st.sampled_from(['', ' ', chr(10)]))}"
    if depth < 3 and draw(st.booleans()):
        body = "".join(draw(st.lists(st.sampled_from(TEXT_PIECES), max_size=4)))
        for child in draw(st.lists(elements(depth=depth + 1), max_size=3)):
            body += child + "".join(draw(st.lists(st.sampled_from(TEXT_PIECES), max_size=3)))
        return f"{head}>{body}</{name}{draw(st.sampled_from(['', ' ']))}>"
    return head + "/>"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(elements(), min_size=1, max_size=3), st.lists(st.integers(min_value=1, max_value=5000), max_size=6))
def test_raw_spellings_agree_with_elementtree(stanzas, cuts):
    from fastxmpp import _accel

    data = HEADER + "".join(stanzas).encode() + END
    bounds = sorted({c % len(data) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    root = ET.fromstring(data)
    expected = [canon_et(e) for e in root]
    keys = ["id", "to", "xmlns", "x:k", "{urn:header:x}k", "{http://www.w3.org/XML/1998/namespace}lang", "nope"]
    expected_get = [[e.get(k) for k in keys] for e in root]
    for impl in ["py"] + (["c"] if _accel.USE_EXTENSIONS else []):
        tokens = feed_all(load(impl, "tokenizer").Tokenizer(), chunks)
        # get() first: the compiled twin answers it from a stanza that is not built yet
        assert [[t.get(k) for k in keys] for t in tokens[1:-1]] == expected_get, impl
        assert [canon(t) for t in tokens[1:-1]] == expected, impl


STANZA = (b"<message to='a@b' id='1'><body>hi &amp; bye\r\n</body>"
          b"<x:item x:k='v'/><![CDATA[<raw>]]></message>")


def test_stanza_split_at_every_byte(Tokenizer):
    data = HEADER + STANZA + STANZA
    expected = [canon(t) for t in Tokenizer().feed(data)[1:]]
    assert expected[0][4][0][2] == "hi & bye\n"
    for cut in range(1, len(data)):
        assert [canon(t) for t in feed_all(Tokenizer(), [data[:cut], data[cut:]])[1:]] == expected
    assert [canon(t) for t in feed_all(Tokenizer(), [bytes([b]) for b in data])[1:]] == expected


def received(Tokenizer):
    (_, msg) = Tokenizer().feed(HEADER + STANZA)
    return msg


def test_changes_before_first_read_keep_the_rest(Tokenizer):
    msg = received(Tokenizer)
    msg.text = "new"
    assert msg.text == "new" and msg.find("{jabber:client}body").text == "hi & bye\n"
    msg = received(Tokenizer)
    msg.tag = "{jabber:client}presence"
    msg.tail = "t"
    assert msg.get("id") == "1" and len(msg) == 2 and msg.tail == "t"
    msg = received(Tokenizer)
    msg.attrib = {"type": "chat"}
    assert msg.attrib == {"type": "chat"} and len(msg) == 2
    msg = received(Tokenizer)
    msg.clear()
    assert msg.attrib == {} and len(msg) == 0 and msg.text is None


def test_received_stanza_inside_another_element(impl, Tokenizer):
    Element = load(impl, "element").Element
    serialize = load(impl, "serializer").serialize
    wrapper = Element("{urn:xmpp:forward:0}forwarded")
    wrapper.append(received(Tokenizer))
    fresh = Element("{urn:xmpp:forward:0}forwarded")
    fresh.extend([received(Tokenizer)])
    assert wrapper == fresh
    (_, back) = Tokenizer().feed(HEADER + serialize(wrapper))
    assert canon(back) == canon(wrapper)


def test_copies_and_pickles_of_a_received_stanza(Tokenizer):
    for make in (lambda m: m.copy(), copy.copy, copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))):
        msg = received(Tokenizer)
        assert canon(make(msg)) == canon(received(Tokenizer))


def test_header_prefixes_resolve_inside_stanzas(Tokenizer):
    (_, el) = Tokenizer().feed(HEADER + b"<x:top><stream:inner x:k='1'/></x:top>")
    assert el.tag == "{urn:header:x}top"
    assert canon(el[0]) == ("{http://etherx.jabber.org/streams}inner", (("{urn:header:x}k", "1"),), "", "", ())


def test_header_without_a_default_namespace(Tokenizer):
    from fastxmpp import errors

    header = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
    tok = Tokenizer()
    assert tok.feed(header)[0].attrib == {"version": "1.0"}
    (el,) = tok.feed(b"<x:top xmlns:x='urn:x'><plain a='1'/></x:top>")
    assert canon(el) == ("{urn:x}top", (), "", "", (("plain", (("a", "1"),), "", "", ()),))
    with pytest.raises(errors.InvalidNamespace):
        tok.feed(b"<message/>")
