"""Stream tokenizer: every test runs on both twins (``impl`` = c / py)."""
from __future__ import annotations

import tracemalloc
from xml.sax.saxutils import escape, quoteattr
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import load
from fastxmpp import errors
from fastxmpp.tokens import StreamEnd, StreamHeader

NS_STREAM = "http://etherx.jabber.org/streams"
HEADER = (
    b"<?xml version='1.0'?>"
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
    b" from='im.example.com' id='++TR84Sm6A3hnt3Q065SnAbbk3Y=' to='juliet@im.example.com'"
    b" version='1.0' xml:lang='en'>"
)
FEATURES = (
    b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    b"</stream:features>"
)
MESSAGE = (
    "<message from='juliet@im.example.com/balcony' id='ktx72v49' to='romeo@example.net'"
    " type='chat' xml:lang='en'><body>Art thou not Romeo, and a Montague? \u00e9\u4e2d\U0001f600</body>"
    "</message>"
).encode()
END = b"</stream:stream>"


def canon(token):
    """A comparable picture of a token that does not depend on the twin."""
    if isinstance(token, (StreamHeader, StreamEnd)):
        return token
    return (
        token.tag,
        tuple(sorted(token.attrib.items())),
        token.text or "",
        token.tail or "",
        tuple(canon(child) for child in token),
    )


def feed_all(tok, chunks):
    out = []
    for chunk in chunks:
        out.extend(tok.feed(chunk))
    return out


# -- the stream ------------------------------------------------------------------------------


def test_header_stanzas_and_end(Tokenizer):
    tokens = Tokenizer().feed(HEADER + FEATURES + MESSAGE + END)
    header, features, message, end = tokens
    assert isinstance(header, StreamHeader)
    assert header.from_ == "im.example.com"
    assert header.to == "juliet@im.example.com"
    assert header.id == "++TR84Sm6A3hnt3Q065SnAbbk3Y="
    assert header.version == "1.0"
    assert header.lang == "en"
    assert header.content_ns == "jabber:client"
    assert features.tag == "{%s}features" % NS_STREAM
    starttls = features.find("{urn:ietf:params:xml:ns:xmpp-tls}starttls")
    assert starttls.find("{urn:ietf:params:xml:ns:xmpp-tls}required") is not None
    assert message.tag == "{jabber:client}message"
    assert message.get("type") == "chat"
    assert message.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert message.findtext("{jabber:client}body") == "Art thou not Romeo, and a Montague? \u00e9\u4e2d\U0001f600"
    assert end == StreamEnd()


def test_stanza_delivered_by_the_feed_that_ends_it(Tokenizer):
    tok = Tokenizer()
    assert len(tok.feed(HEADER)) == 1
    assert tok.feed(MESSAGE[:-1]) == []
    (message,) = tok.feed(MESSAGE[-1:])
    assert message.tag == "{jabber:client}message"
    assert tok.feed(b" ") == []  # whitespace keepalive between stanzas


def test_every_split_point_gives_the_same_tokens(Tokenizer):
    data = HEADER + FEATURES + MESSAGE + END
    expected = [canon(t) for t in Tokenizer().feed(data)]
    for cut in range(1, len(data)):
        tok = Tokenizer()
        assert [canon(t) for t in feed_all(tok, [data[:cut], data[cut:]])] == expected, cut
    one_by_one = feed_all(Tokenizer(), [data[i:i + 1] for i in range(len(data))])
    assert [canon(t) for t in one_by_one] == expected


def test_multibyte_character_split_across_chunks(Tokenizer):
    body = "\u00e9\u4e2d\U0001f600".encode()
    data = HEADER + b"<message><body>" + body + b"</body></message>"
    start = data.index(body)
    for cut in range(start + 1, start + len(body)):
        tokens = feed_all(Tokenizer(), [data[:cut], data[cut:]])
        assert tokens[1].findtext("{jabber:client}body") == "\u00e9\u4e2d\U0001f600"


def test_megabytes_at_once(Tokenizer):
    data = HEADER + MESSAGE * 20000 + END
    assert len(data) > 3_000_000
    tokens = Tokenizer().feed(data)
    assert len(tokens) == 20002
    assert tokens[-2].findtext("{jabber:client}body").startswith("Art thou")


def test_text_and_tail_and_cdata(Tokenizer):
    data = HEADER + b"<message><body>a<b xmlns='urn:x'>b</b>c<![CDATA[<&>]]>d&amp;&lt;&#65;</body></message>"
    body = Tokenizer().feed(data)[1][0]
    assert body.text == "a"
    assert body[0].text == "b"
    assert body[0].tail == "c<&>d&<A"


# -- stream restarts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "trigger",
    [b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
     b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9</success>"],
)
def test_restart_keeps_bytes_of_the_same_read(Tokenizer, trigger):
    tok = Tokenizer()
    second = HEADER.replace(b"++TR84", b"second") + FEATURES + MESSAGE
    tokens = tok.feed(HEADER + FEATURES + trigger + second[:50])
    assert tokens[-1].tag.endswith(("}proceed", "}success"))
    assert tok.paused
    assert tok.feed(second[50:]) == []  # held back until reset()
    after = tok.reset()
    assert not tok.paused
    assert after[0].id.startswith("second")
    assert [t.tag for t in after[1:]] == ["{%s}features" % NS_STREAM, "{jabber:client}message"]


def test_restart_trigger_split_at_every_byte(Tokenizer):
    trigger = b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
    second = HEADER + FEATURES
    data = HEADER + trigger + second
    expected = [canon(t) for t in Tokenizer().feed(second)]
    for cut in range(len(HEADER), len(data)):
        tok = Tokenizer()
        feed_all(tok, [data[:cut], data[cut:]])
        assert [canon(t) for t in tok.reset()] == expected, cut


def test_reset_without_held_bytes(Tokenizer):
    tok = Tokenizer()
    tok.feed(HEADER + b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert tok.reset() == []
    assert isinstance(tok.feed(HEADER)[0], StreamHeader)


# -- namespaces ------------------------------------------------------------------------------


def test_any_prefix_and_redeclared_default(Tokenizer):
    data = HEADER + (
        b"<message><r:request xmlns:r='urn:xmpp:receipts'/>"
        b"<x xmlns='jabber:x:data'><field><value>1</value></field></x>"
        b"<q:query xmlns:q='jabber:iq:roster' q:ver='7' xml:lang='de'/></message>"
    )
    message = Tokenizer().feed(data)[1]
    assert [c.tag for c in message] == [
        "{urn:xmpp:receipts}request", "{jabber:x:data}x", "{jabber:iq:roster}query"]
    assert message[1][0][0].tag == "{jabber:x:data}value"
    assert message[2].attrib == {
        "{jabber:iq:roster}ver": "7", "{http://www.w3.org/XML/1998/namespace}lang": "de"}


def test_prefixes_declared_in_the_stream_header_resolve(Tokenizer):
    header = HEADER.replace(b" version='1.0' xml:lang", b" xmlns:db='jabber:server:dialback' version='1.0' xml:lang")
    (_, result) = Tokenizer().feed(header + b"<db:result type='valid'/>")
    assert result.tag == "{jabber:server:dialback}result"


def test_stream_prefix_other_than_stream(Tokenizer):
    header = HEADER.replace(b"stream:", b"s:").replace(b"xmlns:stream", b"xmlns:s")
    tokens = Tokenizer().feed(header + b"<s:features/></s:stream>")
    assert tokens[1].tag == "{%s}features" % NS_STREAM
    assert tokens[2] == StreamEnd()


@pytest.mark.parametrize(
    "data, error",
    [
        (HEADER + b"<message><x:y/></message>", errors.NotWellFormed),
        (HEADER.replace(b"etherx.jabber.org/streams", b"example.com/wrong"), errors.InvalidNamespace),
        (HEADER.replace(b"xmlns='jabber:client'", b"xmlns='jabber:server'"), errors.InvalidNamespace),
        (HEADER + b"<c:message xmlns:c='jabber:client'/>", errors.BadNamespacePrefix),
        (b"<html>", errors.BadFormat),
    ],
)
def test_namespace_errors(Tokenizer, data, error):
    with pytest.raises(error) as info:
        Tokenizer().feed(data)
    assert info.value.condition == error.condition


# -- restricted XML, encodings, malformed input ---------------------------------------------


@pytest.mark.parametrize(
    "bad, error",
    [
        (b"<!-- a comment -->", errors.RestrictedXML),
        (b"<message><!-- inside --></message>", errors.RestrictedXML),
        (b"<?php echo 1; ?>", errors.RestrictedXML),
        (b"<message><?pi x?></message>", errors.RestrictedXML),
        (b"<!DOCTYPE foo [<!ENTITY x 'y'>]>", errors.RestrictedXML),
        (b"<message><body>&xxe;</body></message>", errors.RestrictedXML),
        (b"<message><body>&nbsp;</body></message>", errors.RestrictedXML),
        (b"<message><body>x</bdy></message>", errors.NotWellFormed),
        (b"<message to='a' to='b'/>", errors.NotWellFormed),
        (b"<message><body>\xff\xfe</body></message>", errors.NotWellFormed),
        (b"<message><body>\x01</body></message>", errors.NotWellFormed),
        (b"<message a=b/>", errors.NotWellFormed),
    ],
)
def test_bad_input_keeps_the_stanzas_before_it(Tokenizer, bad, error):
    tok = Tokenizer()
    with pytest.raises(error) as info:
        tok.feed(HEADER + MESSAGE + bad + MESSAGE)
    assert info.value.condition == error.condition
    assert [type(t) for t in info.value.events][:1] == [StreamHeader]
    assert canon(info.value.events[1]) == canon(Tokenizer().feed(HEADER + MESSAGE)[1])
    assert len(info.value.events) == 2
    with pytest.raises(error):  # the tokenizer stays failed
        tok.feed(MESSAGE)


def test_bad_input_in_a_later_feed(Tokenizer):
    tok = Tokenizer()
    tok.feed(HEADER)
    with pytest.raises(errors.RestrictedXML) as info:
        tok.feed(MESSAGE + b"<!--x-->")
    assert len(info.value.events) == 1


@pytest.mark.parametrize(
    "data",
    [
        "<?xml version='1.0' encoding='UTF-16'?><stream:stream/>".encode("utf-16"),
        b"\xfe\xff\x00<",
        b"<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream>",
        b"<?xml version=\"1.0\" encoding=\"latin1\"?>",
    ],
)
def test_only_utf8(Tokenizer, data):
    with pytest.raises(errors.UnsupportedEncoding):
        Tokenizer().feed(data)


def test_utf8_declared_accepted(Tokenizer):
    data = b"<?xml version='1.0' encoding='utf-8'?>" + HEADER[21:] + MESSAGE
    assert len(Tokenizer().feed(data)) == 2


def test_close_in_the_middle_of_a_stanza(Tokenizer):
    tok = Tokenizer()
    tok.feed(HEADER + MESSAGE[:30])
    with pytest.raises(errors.NotWellFormed):
        tok.close()
    tok = Tokenizer()
    tok.feed(HEADER + MESSAGE)
    assert tok.close() == []


# -- limits ----------------------------------------------------------------------------------


def test_stanza_size_limit_is_exact(Tokenizer):
    stanza = b"<message><body>" + b"x" * 1000 + b"</body></message>"
    assert len(Tokenizer(max_stanza_bytes=len(stanza)).feed(HEADER + stanza)) == 2
    with pytest.raises(errors.PolicyViolation) as info:
        Tokenizer(max_stanza_bytes=len(stanza) - 1).feed(HEADER + MESSAGE + stanza)
    assert len(info.value.events) == 2
    # the same across chunk boundaries
    tok = Tokenizer(max_stanza_bytes=len(stanza) - 1)
    with pytest.raises(errors.PolicyViolation):
        feed_all(tok, [HEADER, stanza[:500], stanza[500:]])


def test_default_stanza_limit_is_one_mebibyte(Tokenizer):
    big = b"<message><body>" + b"x" * (1 << 20) + b"</body></message>"
    with pytest.raises(errors.PolicyViolation):
        Tokenizer().feed(HEADER + big)


def test_depth_limit(Tokenizer):
    def nested(depth):
        return b"<a>" * (depth - 1) + b"<b/>" + b"</a>" * (depth - 1)

    tok = Tokenizer(max_depth=8)
    assert len(tok.feed(HEADER + nested(8))) == 2
    with pytest.raises(errors.PolicyViolation):
        Tokenizer(max_depth=8).feed(HEADER + nested(9))
    assert len(Tokenizer().feed(HEADER + nested(256))) == 2
    with pytest.raises(errors.PolicyViolation):
        Tokenizer().feed(HEADER + nested(257))


def test_hostile_input_does_not_hurt_the_process(Tokenizer):
    huge = HEADER + b"<message to='" + b"z" * 50_000_000 + b"'/>"
    tracemalloc.start()
    try:
        with pytest.raises(errors.PolicyViolation):
            Tokenizer().feed(HEADER + b"<a>" * 10000)
        tok = Tokenizer()
        tok.feed(HEADER + b"<message><body>")
        chunk = b"y" * 65536
        with pytest.raises(errors.PolicyViolation):
            for _ in range(50 * 16):  # 50 MB of text in one stanza
                tok.feed(chunk)
        with pytest.raises(errors.PolicyViolation):  # a 50 MB attribute value
            Tokenizer().feed(huge)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * (1 << 20)  # parser state stays bounded whatever the input


def test_limit_reached_while_feeding_keeps_earlier_stanzas(Tokenizer):
    tok = Tokenizer(max_stanza_bytes=2000)
    tok.feed(HEADER)
    with pytest.raises(errors.PolicyViolation) as info:
        tok.feed(MESSAGE + b"<message><body>" + b"q" * 5000)
    assert [t.tag for t in info.value.events] == ["{jabber:client}message"]


@pytest.mark.parametrize(
    "stanza",
    [
        b"<presence to='a@b'/>",
        b"<r xmlns='urn:xmpp:sm:3' />",
        b"<message a='/>'><body>x/></body></message>",  # '/>' in text and in a value
        b"<iq type='get'><query xmlns='jabber:iq:roster'/></iq>",
        b"<message></message   >",
    ],
)
def test_stanza_size_is_exact_at_every_split(Tokenizer, stanza):
    data = HEADER + MESSAGE + stanza + MESSAGE
    for cut in range(len(HEADER) + len(MESSAGE), len(data) - len(MESSAGE) + 1):
        tok = Tokenizer(max_stanza_bytes=max(len(stanza), len(MESSAGE)))
        assert len(feed_all(tok, [data[:cut], data[cut:]])) == 4, cut
        short = HEADER + stanza
        tok = Tokenizer(max_stanza_bytes=len(stanza) - 1)
        with pytest.raises(errors.PolicyViolation):
            feed_all(tok, [short[:cut - len(MESSAGE)], short[cut - len(MESSAGE):]])


def test_oversized_start_tag_between_stanzas(Tokenizer):
    # a '>' inside the value must not make the tag look complete
    tok = Tokenizer(max_stanza_bytes=1000)
    tok.feed(HEADER)
    with pytest.raises(errors.PolicyViolation):
        feed_all(tok, [b"<message a='>"] + [b"z" * 300] * 4)
    with pytest.raises(errors.PolicyViolation):
        Tokenizer(max_stanza_bytes=1000).feed(HEADER + b"<message a='" + b"z" * 2000)


def test_white_space_between_stanzas_is_not_a_stanza(Tokenizer):
    data = b"<?xml version='1.0'?>" + b"\n" * 3000 + HEADER[21:] + b" " * 3000 + b"<presence/>" + b"\t" * 3000 + END
    expected = [canon(t) for t in Tokenizer().feed(data)]
    assert len(expected) == 3
    for size in (1, 7, 1000, len(data)):
        tok = Tokenizer(max_stanza_bytes=len(HEADER))
        chunks = [data[i:i + size] for i in range(0, len(data), size)]
        assert [canon(t) for t in feed_all(tok, chunks)] == expected


def test_big_read_with_a_restart_trigger_far_into_it(Tokenizer):
    second = HEADER.replace(b"++TR84", b"second") + FEATURES
    trigger = b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
    data = HEADER + MESSAGE * 1000 + trigger + second
    assert len(data) > 150_000
    tok = Tokenizer()
    tokens = tok.feed(data)
    assert len(tokens) == 1002 and tok.paused
    after = tok.reset()
    assert after[0].id.startswith("second") and len(after) == 2


def test_stanza_straddling_parser_slices_in_one_read(Tokenizer):
    # one read much bigger than the pieces expat is given, with a stanza at the limit
    # laid across every few bytes of a 64 KiB boundary
    big = b"<message><body>" + b"w" * 3000 + b"</body></message>"
    for pad in range(0, 3100, 97):
        data = HEADER + b"<presence/>" * 5900 + b" " * pad + big + MESSAGE
        tokens = Tokenizer(max_stanza_bytes=len(big)).feed(data)
        assert len(tokens) == 5903
        with pytest.raises(errors.PolicyViolation) as info:
            Tokenizer(max_stanza_bytes=len(big) - 1).feed(data)
        assert len(info.value.events) == 5901


# -- RFC examples ----------------------------------------------------------------------------

RFC_STANZAS = [
    # RFC 6120 9.1 (TLS, SASL, bind), 8.x stanza examples, 4.9 stream error
    b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
    b"<mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism>SCRAM-SHA-1</mechanism>"
    b"<mechanism>PLAIN</mechanism></mechanisms></stream:features>",
    b"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>cj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ==</challenge>",
    b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>",
    b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
    b"<iq id='yhc13a95' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
    b"<jid>juliet@im.example.com/balcony</jid></bind></iq>",
    b"<iq id='wy2xa82b4' type='error'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
    b"<resource>balcony</resource></bind><error type='modify'>"
    b"<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
    b"<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
    b"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>Bad host</text></stream:error>",
    # RFC 6121 roster, presence, message
    b"<iq id='bv1bs71f' to='juliet@example.com/chamber' type='result'>"
    b"<query xmlns='jabber:iq:roster' ver='ver11'><item jid='romeo@example.net' name='Romeo'"
    b" subscription='both'><group>Friends</group></item></query></iq>",
    b"<presence from='romeo@example.net/orchard' to='juliet@example.com/balcony' xml:lang='en'>"
    b"<show>dnd</show><status>Wooing Juliet</status><priority>1</priority></presence>",
    b"<presence from='juliet@example.com' to='romeo@example.net' type='subscribed'/>",
    b"<message from='juliet@example.com/balcony' to='romeo@example.net' type='chat' xml:lang='en'>"
    b"<body>Wherefore art thou, Romeo?</body><thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread>"
    b"</message>",
]


@pytest.mark.parametrize("stanza", RFC_STANZAS, ids=range(len(RFC_STANZAS)))
def test_rfc_examples_match_elementtree(Tokenizer, stanza):
    tok = Tokenizer(restart_triggers=frozenset())
    (_, element) = tok.feed(HEADER + stanza)
    wrapped = HEADER.split(b"?>", 1)[1] + stanza + END
    expected = ET.fromstring(wrapped)[0]
    assert canon(element) == canon_et(expected)
    assert canon_et(element.to_etree()) == canon_et(expected)


def canon_et(e):
    return (e.tag, tuple(sorted(e.attrib.items())), e.text or "", e.tail or "",
            tuple(canon_et(c) for c in e))


# -- differential: random trees, random splits, both twins and ElementTree agree -------------

NAMESPACES = ["jabber:client", "urn:a", "urn:b", "http://jabber.org/protocol/x"]
_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00\ufffe\uffff",
                              min_codepoint=9).filter(lambda c: True), max_size=12).map(
    lambda s: "".join(c for c in s if c in "\t\n" or ord(c) >= 0x20))


@st.composite
def trees(draw, depth=0):
    ns = draw(st.sampled_from(NAMESPACES))
    local = draw(st.sampled_from(["a", "b", "body", "x-y", "q.r", "\u00e9l"]))
    el = ET.Element("{%s}%s" % (ns, local))
    for name in draw(st.lists(st.sampled_from(["id", "to", "{urn:b}k", "{http://www.w3.org/XML/1998/namespace}lang"]),
                              unique=True, max_size=3)):
        el.set(name, draw(_text))
    el.text = draw(_text) or None
    if depth < 3:
        for child in draw(st.lists(trees(depth=depth + 1), max_size=3)):
            child.tail = draw(_text) or None
            el.append(child)
    return el


def render(el, default_ns, prefixed=False):
    """XML text of an ElementTree element; non-content namespaces alternate between prefix and default."""
    ns, local = el.tag[1:].split("}")
    decls, attrs = [], []
    if ns != "jabber:client" and prefixed:
        name = "p:" + local
        decls.append(" xmlns:p=%s" % quoteattr(ns))
        inner_default = default_ns
    else:
        name = local
        if ns != default_ns:
            decls.append(" xmlns=%s" % quoteattr(ns))
        inner_default = ns
    for key, value in el.attrib.items():
        if key.startswith("{http://www.w3.org/XML/1998/namespace}"):
            key = "xml:" + key.split("}")[1]
        elif key.startswith("{"):
            kns, klocal = key[1:].split("}")
            decls.append(" xmlns:a=%s" % quoteattr(kns))
            key = "a:" + klocal
        attrs.append(" %s=%s" % (key, quoteattr(value)))
    inner = escape(el.text or "") + "".join(
        render(c, inner_default, not prefixed) + escape(c.tail or "") for c in el)
    return "<%s%s%s>%s</%s>" % (name, "".join(decls), "".join(attrs), inner, name)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(trees(), min_size=1, max_size=4), st.lists(st.integers(min_value=1, max_value=4000), max_size=8))
def test_twins_and_elementtree_agree(stanzas, cuts):
    from fastxmpp import _accel

    data = HEADER + b"".join(render(s, "jabber:client").encode() for s in stanzas) + END
    bounds = sorted({c % len(data) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    expected = [canon_et(s) for s in stanzas]
    impls = ["py"] + (["c"] if _accel.USE_EXTENSIONS else [])
    for impl in impls:
        tokens = feed_all(load(impl, "tokenizer").Tokenizer(), chunks)
        assert isinstance(tokens[0], StreamHeader) and tokens[-1] == StreamEnd()
        for element, want in zip(tokens[1:-1], expected):
            got = canon(element)
            assert got[:2] == want[:2]
            assert got == (want[0], want[1], want[2], "", want[4])  # top-level tails are dropped


def test_python_twin_unwraps_32_bit_byte_indexes():
    from fastxmpp._tokenizer_py import _unwrap

    for true in (0, 5, (1 << 31) - 3, 1 << 31, (1 << 32) + 7, 5 * (1 << 32) + 123456):
        for near in (true - 1_000_000, true, true + 70_000):
            if near < 0:
                continue
            wrapped = (true + (1 << 31)) % (1 << 32) - (1 << 31)  # a signed 32-bit long
            assert _unwrap(wrapped, near) == true
            assert _unwrap(true, near) == true  # a 64-bit long is left alone


@pytest.mark.parametrize(
    "bad",
    [
        b"<!-- a comment -->",
        b"<message><!-- inside --></message>",
        b"<message><?pi x?></message>",
        b"<?php echo 1; ?>",
        b"<!DOCTYPE foo>",
        b"<message><!DOCTYPE foo></message>",
        b"<message><!-x></message>",
    ],
)
def test_twins_name_the_same_restriction(bad):
    messages = []
    for impl in ("c", "py"):
        with pytest.raises(errors.RestrictedXML) as info:
            load(impl, "tokenizer").Tokenizer().feed(HEADER + MESSAGE + bad)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_python_twin_parser_stays_small():
    # pyexpat allocates its text buffer per parser: a load test holds thousands of these
    Tokenizer = load("py", "tokenizer").Tokenizer
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tokenizers = [Tokenizer() for _ in range(50)]
        for tok in tokenizers:
            tok.feed(HEADER + MESSAGE)
        per_tokenizer = (tracemalloc.get_traced_memory()[0] - before) / len(tokenizers)
    finally:
        tracemalloc.stop()
    assert per_tokenizer < 32 * 1024
