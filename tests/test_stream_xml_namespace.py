"""A declaration of the XML namespace that XML forbids does not end the stream.

Prosody 0.12 forwards an element ``<xml:foo/>`` that one user sent as
``<foo xmlns='http://www.w3.org/XML/1998/namespace'/>``, and an attribute ``xml:foo`` through
``xmlns:ns1='http://www.w3.org/XML/1998/namespace'``; expat rejects both (a reserved
namespace bound to a prefix other than ``xml``).  Read as sent, one message from anyone ended
the recipient's stream, and every later session of the account once the server had stored
it offline (``test_xml_namespace_message_from_another_user_through_prosody``).  The stream
reads such a declaration as one of :data:`fastxmpp.stream.XML_NS_REDECLARED`, wherever the
transport cuts the bytes.  Both twins (the suite runs once per twin).
"""
from __future__ import annotations

import time

import pytest

from fastxmpp import errors
from fastxmpp.stream import XML_NS_REDECLARED, ClientStream
from test_stream import HDR, TLS_FEATURES, kinds, negotiate

XML = "{http://www.w3.org/XML/1998/namespace}"
RED = "{%s}" % XML_NS_REDECLARED

# as Prosody 0.12 forwards <xml:foo a='1'>x<bar/></xml:foo> and xml:foo='z'
ELEMENT = (b"<message to='juliet@example.com/balcony' from='romeo@example.net/o' xml:lang='en' type='chat'>"
           b"<foo a='1' xmlns='http://www.w3.org/XML/1998/namespace'>x<bar xmlns='jabber:client'/></foo>"
           b"<body>hi</body></message>")
ATTRIBUTE = (b"<message from='romeo@example.net/o' type='chat'><body xml:lang='en'"
             b" xmlns:ns1=\"http://www.w3.org/XML/1998/namespace\" ns1:foo='z'>hi</body>"
             b"<x xmlns='urn:a'><y xmlns = 'http://www.w3.org/XML/1998/namespace'/></x></message>")
AFTER = b"<message from='romeo@example.net/o'><body>after</body></message>"


def ready_stream():
    s = negotiate()
    s.receive_data(b"<enabled xmlns='urn:xmpp:sm:3' id='sm1' resume='true'/>")
    assert kinds(s.events()) == ["SessionStarted"]
    s.data_to_send()
    return s


def received(s):
    evs = s.events()
    assert kinds(evs) == ["StanzaReceived"] * len(evs)
    return [e.stanza for e in evs]


def check_element(stanza):
    foo, body = list(stanza)
    assert foo.tag == RED + "foo" and foo.get("a") == "1" and foo.text == "x"
    assert [c.tag for c in foo] == ["{jabber:client}bar"]
    assert body.tag == "{jabber:client}body" and body.text == "hi"
    assert stanza.get(XML + "lang") == "en"


def check_attribute(stanza):
    body, x = list(stanza)
    assert body.text == "hi" and body.get(XML + "lang") == "en" and body.get(RED + "foo") == "z"
    assert [c.tag for c in x] == [RED + "y"]


@pytest.mark.parametrize("data, check", [(ELEMENT, check_element), (ATTRIBUTE, check_attribute)],
                         ids=["element", "attribute"])
def test_the_stream_goes_on_and_the_stanza_is_read(data, check):
    s = ready_stream()
    s.receive_data(data + AFTER)
    first, after = received(s)
    check(first)
    assert after.findtext("{jabber:client}body") == "after"
    assert s.state == "ready" and s.sm.state.inbound == 2
    assert s.data_to_send() == b""  # no stream error went out


@pytest.mark.parametrize("data, check", [(ELEMENT, check_element), (ATTRIBUTE, check_attribute)],
                         ids=["element", "attribute"])
def test_every_cut_of_the_bytes_gives_the_same_stanzas(data, check):
    whole = data + AFTER
    for cut in range(1, len(whole)):
        s = ready_stream()
        s.receive_data(whole[:cut])
        s.receive_data(whole[cut:])
        first, after = received(s)
        check(first)
        assert after.findtext("{jabber:client}body") == "after", cut


def test_one_byte_at_a_time():
    s = ready_stream()
    for i in range(len(ELEMENT)):
        s.receive_data(ELEMENT[i:i + 1])
    [stanza] = received(s)
    check_element(stanza)


def test_a_long_tag_cut_near_its_declaration():
    """An attribute value longer than the held-back tail before the declaration."""
    long_value = b"v" * 5000
    data = (b"<message from='romeo@example.net/o'><foo a='" + long_value
            + b"' xmlns='http://www.w3.org/XML/1998/namespace'/></message>")
    at = data.index(b"xmlns='http://")
    for cut in range(at - 3, at + 50):
        s = ready_stream()
        s.receive_data(data[:cut])
        s.receive_data(data[cut:])
        [stanza] = received(s)
        assert stanza[0].tag == RED + "foo" and stanza[0].get("a") == long_value.decode()


def test_allowed_and_other_declarations_are_left_alone():
    s = ready_stream()
    s.receive_data(b"<message from='romeo@example.net/o'>"
                   b"<x xmlns='urn:a' xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:space='keep'/>"
                   b"<y xmlns='http://www.w3.org/XML/1998/namespacex'/>"
                   b"<body>see xmlns=&apos;http://www.w3.org/XML/1998/namespace&apos; and"
                   b" xmlns='http://www.w3.org/XML/1998/namespace' in text</body></message>")
    [stanza] = received(s)
    x, y, body = list(stanza)
    assert x.tag == "{urn:a}x" and x.get(XML + "space") == "keep"
    assert y.tag == "{http://www.w3.org/XML/1998/namespacex}y"
    assert body.text == ("see xmlns='http://www.w3.org/XML/1998/namespace' and"
                         " xmlns='http://www.w3.org/XML/1998/namespace' in text")


def test_a_cut_declaration_is_not_carried_over_starttls():
    """Plaintext after <proceed/> is refused, held back or not."""
    for tail in (b"<x xmlns", b"<x xmln", b"<x a='1' xmlns='http://www.w3"):
        s = ClientStream("juliet@example.com", "pw")
        s.start()
        s.receive_data(HDR + TLS_FEATURES)
        s.receive_data(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + tail)
        with pytest.raises(errors.PolicyViolation):
            s.tls_established({})


@pytest.mark.prosody
@pytest.mark.parametrize("raw", [
    "<message to='TO' type='chat'><xml:foo a='1'>x<bar/></xml:foo><body>hi</body></message>",
    "<message to='TO' type='chat'><body xml:lang='en' xml:foo='z'>hi</body><x xmlns='urn:a'><xml:y/></x></message>",
], ids=["element", "attribute"])
def test_xml_namespace_message_from_another_user_through_prosody(prosody, account, raw):
    """Sent raw by one user (the client's serializer would refuse to write it), forwarded by
    Prosody with the forbidden declaration: the recipient reads it and stays connected."""
    from fastxmpp.stanza import message
    from fastxmpp.sync import Client

    (ja, pa), (jb, pb) = account(), account()
    with Client(ja + "/a", pa, host=prosody.host, port=prosody.port, ca_file=str(prosody.ca_file)) as a, \
            Client(jb + "/b", pb, host=prosody.host, port=prosody.port, ca_file=str(prosody.ca_file)) as b:
        got = []
        b.on_message(got.append)
        a._sock.sendall(raw.replace("TO", jb + "/b").encode())  # noqa: SLF001 - bytes the API refuses to send
        a.send(message(to=jb + "/b", body="after"))
        deadline = time.monotonic() + 30
        while len(got) < 2 and time.monotonic() < deadline:
            b.process(timeout=1.0)
        assert b.is_ready and a.is_ready
        assert [st.findtext("{jabber:client}body") for st in got] == ["hi", "after"]
        assert any(c.tag.startswith(RED) for st in got[:1] for c in st.iter())
