"""tokenize(serialize(x)) == x for arbitrary trees, on both twins (Hypothesis)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import load

HEADER = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
          b" version='1.0'>")
NAMESPACES = ["jabber:client", "urn:xmpp:receipts", "http://jabber.org/protocol/muc#user", ""]
XML_CHARS = st.characters(min_codepoint=0x9, max_codepoint=0x10FFFF, blacklist_categories=("Cs",)).filter(
    lambda c: c in "\t\n\r" or (ord(c) >= 0x20 and c not in "\ufffe\uffff"))
TEXT = st.text(XML_CHARS, max_size=10)
NAMES = st.sampled_from(["a", "body", "x-y", "q.r", "_u", "\u00e9l\u00e8ve", "n1"])
ATTRS = st.sampled_from(["id", "to", "type", "{urn:b}k", "{http://www.w3.org/XML/1998/namespace}lang"])


@st.composite
def trees(draw, depth=0, top=True):
    ns = "jabber:client" if top else draw(st.sampled_from(NAMESPACES))
    tag = ("{%s}%s" % (ns, draw(NAMES))) if ns else draw(NAMES)
    attrs = {k: draw(TEXT) for k in draw(st.lists(ATTRS, unique=True, max_size=3))}
    children = draw(st.lists(trees(depth=depth + 1, top=False), max_size=3)) if depth < 3 else []
    return (tag, attrs, draw(TEXT) or None, [(c, draw(TEXT) or None) for c in children])


def make(E, spec):
    tag, attrs, text, children = spec
    el = E(tag, attrs or None, text=text)
    for child, tail in children:
        c = make(E, child)
        c.tail = tail
        el.append(c)
    return el


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(spec=trees(), split=st.integers(min_value=0, max_value=10_000))
def test_tokenize_serialize_round_trip(impl, spec, split):
    E = load(impl, "element").Element
    ser = load(impl, "serializer")
    Tok = load(impl, "tokenizer").Tokenizer
    original = make(E, spec)
    data = HEADER + ser.serialize(original)
    cut = split % (len(data) + 1)
    tok = Tok()
    tokens = tok.feed(data[:cut]) + tok.feed(data[cut:])
    assert len(tokens) == 2
    assert tokens[1] == original
    # parsed and built elements are the same type: a received stanza can be changed and re-sent
    received = tokens[1]
    assert type(received) is E
    received.set("id", "changed")
    again = Tok().feed(HEADER + ser.serialize(received))[1]
    assert again.get("id") == "changed" and again == received


def test_twins_serialize_identically():
    from fastxmpp import _accel

    if not _accel.USE_EXTENSIONS:
        pytest.skip("compiled twins not in use")

    @settings(max_examples=100, deadline=None)
    @given(spec=trees())
    def check(spec):
        c = load("c", "serializer").serialize(make(load("c", "element").Element, spec))
        p = load("py", "serializer").serialize(make(load("py", "element").Element, spec))
        assert c == p

    check()
