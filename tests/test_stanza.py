"""Stanza builders: every test runs on both twins (``impl`` = c / py).

The builders use the selected element type; the fixture points them at the
twin under test so both families are exercised.  ``message()`` itself has a
compiled twin (``fastxmpp._stanza_c``), which the fixture selects for ``c``.
"""
from __future__ import annotations

import pytest

from conftest import load
from fastxmpp import stanza


@pytest.fixture
def st(impl, monkeypatch):
    E = load(impl, "element").Element
    monkeypatch.setattr(stanza, "Element", E)
    message = load("c", "stanza").message if impl == "c" else stanza._message_py
    monkeypatch.setattr(stanza, "message", message)
    return stanza


@pytest.fixture
def ser(impl):
    return load(impl, "serializer").serialize


class JID:
    def __init__(self, s):
        self.s = s

    def __str__(self):
        return self.s


def test_namespaces():
    assert stanza.NS_CLIENT == "jabber:client"
    assert stanza.NS_STREAM == "http://etherx.jabber.org/streams"
    assert stanza.NS_TLS == "urn:ietf:params:xml:ns:xmpp-tls"
    assert stanza.NS_SASL == "urn:ietf:params:xml:ns:xmpp-sasl"
    assert stanza.NS_BIND == "urn:ietf:params:xml:ns:xmpp-bind"
    assert stanza.NS_SESSION == "urn:ietf:params:xml:ns:xmpp-session"
    assert stanza.NS_SM == "urn:xmpp:sm:3"
    assert stanza.NS_STANZAS == "urn:ietf:params:xml:ns:xmpp-stanzas"
    assert stanza.NS_STREAMS == "urn:ietf:params:xml:ns:xmpp-streams"
    assert stanza.NS_XML == "http://www.w3.org/XML/1998/namespace"
    assert stanza.XML_LANG == "{http://www.w3.org/XML/1998/namespace}lang"


def test_builders_use_selected_element():
    from fastxmpp import _accel
    from fastxmpp.element import Element

    assert type(stanza.message()) is Element
    assert type(stanza.presence()) is Element
    assert (stanza.message is not stanza._message_py) == _accel.USE_EXTENSIONS


MESSAGE_ARGS = [
    {},
    {"type": None},
    {"to": "romeo@example.net", "body": "hi"},
    {"to": JID("romeo@example.net/orchard"), "from_": JID("juliet@example.com"), "type": "headline",
     "id": "x1", "lang": "fr", "thread": "t", "subject": "s", "body": "b <&> \u00e9"},
    {"subject": "", "body": "", "thread": ""},
    {"to": "", "id": "", "lang": ""},
]


@pytest.mark.parametrize("kwargs", MESSAGE_ARGS)
def test_compiled_message_twin_builds_the_same_tree(kwargs):
    c_message = load("c", "stanza").message
    from fastxmpp._serializer_c import serialize

    built, expected = c_message(**kwargs), stanza._message_py(**kwargs)
    assert built == expected
    assert serialize(built) == serialize(expected)
    assert built.attrib is not expected.attrib
    built.subelement("{jabber:client}x")  # children list is the element's own
    assert len(built) == len(expected) + 1


@pytest.mark.parametrize("kwargs, error", [
    ({"type": "get"}, ValueError),
    ({"type": "Chat"}, ValueError),
    ({"body": 5}, TypeError),
    ({"subject": b"s"}, TypeError),
    ({"thread": 1.5}, TypeError),
])
def test_compiled_message_twin_raises_the_same(kwargs, error):
    c_message = load("c", "stanza").message
    with pytest.raises(error) as c_info:
        c_message(**kwargs)
    with pytest.raises(error) as py_info:
        stanza._message_py(**kwargs)
    if error is ValueError:
        assert str(c_info.value) == str(py_info.value)


# -- message ---------------------------------------------------------------------


def test_message_chat(impl, st, ser):
    m = st.message(to="romeo@example.net", body="Art thou not Romeo?", id="m1")
    assert type(m) is load(impl, "element").Element
    assert m.tag == "{jabber:client}message"
    assert ser(m) == (
        b'<message to="romeo@example.net" type="chat" id="m1"><body>Art thou not Romeo?</body></message>'
    )


def test_message_all_fields(st, ser):
    m = st.message(
        to=JID("romeo@example.net"), from_=JID("juliet@example.com/balcony"), type="groupchat",
        body="b & c", id="i", lang="en", thread="t1", subject="s",
    )
    assert ser(m) == (
        b'<message to="romeo@example.net" from="juliet@example.com/balcony" type="groupchat" id="i"'
        b' xml:lang="en"><subject>s</subject><body>b &amp; c</body><thread>t1</thread></message>'
    )
    assert m.findtext("{jabber:client}body") == "b & c"
    assert m.get(stanza.XML_LANG) == "en"


def test_message_minimal(st, ser):
    assert ser(st.message()) == b'<message type="chat"/>'
    assert ser(st.message(type=None)) == b"<message/>"


@pytest.mark.parametrize("type_", ["chat", "error", "groupchat", "headline", "normal"])
def test_message_types(st, type_):
    assert st.message(type=type_).get("type") == type_


@pytest.mark.parametrize("type_", ["", "Chat", "get", "available", "x"])
def test_message_bad_type(st, type_):
    with pytest.raises(ValueError, match="message type"):
        st.message(type=type_)


def test_builders_keyword_only(st):
    with pytest.raises(TypeError):
        st.message("romeo@example.net")
    with pytest.raises(TypeError):
        st.presence("romeo@example.net")
    with pytest.raises(TypeError):
        st.iq("get")


# -- presence --------------------------------------------------------------------


def test_presence_available(st, ser):
    assert ser(st.presence()) == b"<presence/>"


def test_presence_all_fields(st, ser):
    p = st.presence(
        to=JID("room@muc.example.com/nick"), from_="juliet@example.com/balcony", show="dnd",
        status="busy <3", priority=-5, id="p1",
    )
    assert ser(p) == (
        b'<presence to="room@muc.example.com/nick" from="juliet@example.com/balcony" id="p1">'
        b"<show>dnd</show><status>busy &lt;3</status><priority>-5</priority></presence>"
    )


@pytest.mark.parametrize(
    "type_", ["error", "probe", "subscribe", "subscribed", "unavailable", "unsubscribe", "unsubscribed"]
)
def test_presence_types(st, ser, type_):
    assert ser(st.presence(type=type_)) == f'<presence type="{type_}"/>'.encode()


@pytest.mark.parametrize("type_", ["available", "chat", "", "get"])
def test_presence_bad_type(st, type_):
    with pytest.raises(ValueError, match="presence type"):
        st.presence(type=type_)


@pytest.mark.parametrize("show", ["away", "chat", "dnd", "xa"])
def test_presence_shows(st, show):
    assert st.presence(show=show).findtext("{jabber:client}show") == show


@pytest.mark.parametrize("show", ["online", "", "DND"])
def test_presence_bad_show(st, show):
    with pytest.raises(ValueError, match="show"):
        st.presence(show=show)


@pytest.mark.parametrize("priority", [-128, 0, 127])
def test_presence_priority(st, priority):
    assert st.presence(priority=priority).findtext("{jabber:client}priority") == str(priority)


@pytest.mark.parametrize("priority", [-129, 128, "5", 1.0, True])
def test_presence_bad_priority(st, priority):
    with pytest.raises(ValueError, match="priority"):
        st.presence(priority=priority)


# -- iq ----------------------------------------------------------------------------


def test_iq_with_payload(impl, st, ser):
    E = load(impl, "element").Element
    q = E("{jabber:iq:roster}query")
    i = st.iq(type="get", id="r1", payload=q)
    assert i[0] is q
    assert ser(i) == b'<iq type="get" id="r1"><query xmlns="jabber:iq:roster"/></iq>'


def test_iq_bind(impl, st, ser):
    E = load(impl, "element").Element
    bind = E("{%s}bind" % stanza.NS_BIND)
    bind.subelement("{%s}resource" % stanza.NS_BIND, text="balcony")
    i = st.iq(type="set", id="b1", to=JID("example.com"), from_="juliet@example.com", payload=bind)
    assert ser(i) == (
        b'<iq to="example.com" from="juliet@example.com" type="set" id="b1">'
        b'<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>balcony</resource></bind></iq>'
    )


@pytest.mark.parametrize("type_", ["get", "set", "result", "error"])
def test_iq_types(st, ser, type_):
    assert ser(st.iq(type=type_)) == f'<iq type="{type_}"/>'.encode()


@pytest.mark.parametrize("type_", ["", "GET", "chat", None])
def test_iq_bad_type(st, type_):
    with pytest.raises(ValueError, match="iq type"):
        st.iq(type=type_)


def test_iq_type_required(st):
    with pytest.raises(TypeError):
        st.iq()
