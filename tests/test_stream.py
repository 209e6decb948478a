"""The sans-IO client stream, driven with scripted server bytes (no sockets)."""
from __future__ import annotations

import base64

import pytest

from fastxmpp import errors, events
from fastxmpp.stanza import iq, message
from fastxmpp._client_base import _CONNECTED
from fastxmpp.stream import TRANSITIONS, ClientStream, EncryptionRequired

HDR = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
       b" from='example.com' id='s1' version='1.0' xml:lang='en'>")
TLS_FEATURES = (b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
                b"</starttls></stream:features>")
SASL_FEATURES = (b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                 b"<mechanism>PLAIN</mechanism></mechanisms></stream:features>")
BIND_FEATURES = (b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
                 b"<sm xmlns='urn:xmpp:sm:3'/></stream:features>")


def kinds(evs):
    return [type(e).__name__ for e in evs]


def negotiate(stream=None, bind_features=BIND_FEATURES):
    s = stream or ClientStream("juliet@example.com/balcony", "pw", mechanisms=["PLAIN"])
    s.start()
    assert s.data_to_send().startswith(b"<?xml version='1.0'?><stream:stream")
    s.receive_data(HDR + TLS_FEATURES)
    assert s.data_to_send() == b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
    s.receive_data(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert kinds(s.events()) == ["StreamOpened", "TLSRequested"]
    s.tls_established({})
    out = s.data_to_send()
    assert b"from=\"juliet@example.com\"" in out or b"from='juliet@example.com'" in out
    s.receive_data(HDR + SASL_FEATURES)
    auth = s.data_to_send()
    assert auth.startswith(b"<auth xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\" mechanism=\"PLAIN\">") \
        or b"mechanism=\"PLAIN\"" in auth
    assert base64.b64encode(b"\0juliet\0pw") in auth
    # success and the new stream header in the same read: nothing may be lost
    s.receive_data(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" + HDR + bind_features)
    out = s.data_to_send()
    assert out.startswith(b"<?xml version='1.0'?><stream:stream")
    assert b"<bind xmlns=\"urn:ietf:params:xml:ns:xmpp-bind\"><resource>balcony</resource></bind>" in out
    bind_id = out.split(b"id=\"")[1].split(b"\"")[0].decode()
    s.receive_data(("<iq type='result' id='%s'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                    "<jid>juliet@example.com/balcony</jid></bind></iq>" % bind_id).encode())
    evs = s.events()
    if b"<sm " in bind_features:  # SessionStarted comes with the answer to <enable/>
        assert kinds(evs) == ["StreamOpened", "Authenticated", "StreamOpened"]
        assert str(s.bound_jid) == "juliet@example.com/balcony"
    else:
        assert kinds(evs) == ["StreamOpened", "Authenticated", "StreamOpened", "SessionStarted"]
        assert str(evs[-1].jid) == "juliet@example.com/balcony"
        assert not evs[-1].sm_enabled and not evs[-1].resumable
    return s


@pytest.mark.parametrize("answer, sm_enabled, resumable", [
    (b"<enabled xmlns='urn:xmpp:sm:3' id='sm1' resume='true'/>", True, True),
    (b"<enabled xmlns='urn:xmpp:sm:3' id='sm1' resume='1'/>", True, True),
    (b"<enabled xmlns='urn:xmpp:sm:3' id='sm1'/>", True, False),
    (b"<failed xmlns='urn:xmpp:sm:3'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
     b"</failed>", False, False),
])
def test_first_session_says_whether_it_is_resumable(answer, sm_enabled, resumable):
    """SessionStarted of a fresh session waits for the answer to <enable/> and carries it."""
    s = negotiate()
    s.receive_data(answer)
    (ev,) = s.events()
    assert isinstance(ev, events.SessionStarted)
    assert (ev.resumed, ev.sm_enabled, ev.resumable) == (False, sm_enabled, resumable)
    assert str(ev.jid) == "juliet@example.com/balcony"
    assert (s.sm_state() is not None) == resumable
    s.receive_data(b"<enabled xmlns='urn:xmpp:sm:3' id='sm2' resume='true'/>")  # never twice
    assert not [e for e in s.events() if isinstance(e, events.SessionStarted)]


@pytest.mark.parametrize("value, expected", [
    ("300", 300), ("0", 0), ("", None), ("-1", None), ("1.5", None), (" 3", None),
    ("\u00b2", None), ("\u0663", None),  # digits to str.isdigit(), not to int() or xs:unsignedInt
])
def test_the_resumption_max_is_read_as_an_unsigned_int_or_left_out(value, expected):
    s = negotiate()
    s.receive_data(f"<enabled xmlns='urn:xmpp:sm:3' id='sm1' resume='true' max='{value}'/>".encode())
    assert kinds(s.events()) == ["SessionStarted"]
    assert s.sm_state().max == expected


def test_full_negotiation_and_stream_management():
    s = negotiate()
    assert s.state == "ready"
    assert s.data_to_send() == b"<enable xmlns='urn:xmpp:sm:3' resume='true'/>"
    s.receive_data(b"<enabled xmlns='urn:xmpp:sm:3' id='sm1' resume='true' max='300'/>")
    assert s.sm.active and s.sm_state().id == "sm1"
    assert kinds(s.events()) == ["SessionStarted"]
    s.send(message(to="romeo@example.net", body="hi"))
    s.send(message(to="romeo@example.net", body="again"))
    assert len(s.unacked()) == 2
    s.receive_data(b"<message from='romeo@example.net/o' type='chat'><body>yo</body></message><r xmlns='urn:xmpp:sm:3'/>")
    evs = s.events()
    assert kinds(evs) == ["StanzaReceived"]
    assert s.data_to_send().endswith(b"<a xmlns='urn:xmpp:sm:3' h='1'/>")
    s.receive_data(b"<a xmlns='urn:xmpp:sm:3' h='1'/>")
    (acked,) = s.events()
    assert isinstance(acked, events.StanzasAcked) and len(acked.stanzas) == 1
    assert [m.findtext("{jabber:client}body") for m in s.unacked()] == ["again"]
    with pytest.raises(errors.UndefinedCondition):
        s.receive_data(b"<a xmlns='urn:xmpp:sm:3' h='5'/>")  # more than we sent
    assert s.state == "closed"
    assert b"<stream:error>" in s.data_to_send()


def test_iq_tracking_matches_id_and_sender():
    s = negotiate()
    s.data_to_send()
    req = iq(type="get", to="romeo@example.net/orchard")
    req.subelement("{urn:xmpp:ping}ping")
    iq_id = s.send_iq(req)
    # a response from someone else is not the response
    s.receive_data(("<iq type='result' id='%s' from='mallory@evil.example'/>" % iq_id).encode())
    assert kinds(s.events()) == ["StanzaReceived"]
    s.receive_data(("<iq type='result' id='%s' from='romeo@example.net/orchard'/>" % iq_id).encode())
    (resp,) = s.events()
    assert isinstance(resp, events.IQResponseReceived) and resp.id == iq_id
    # to the server (no 'to'): no from, our bare JID or the domain may answer
    req2 = iq(type="get")
    req2_id = s.send_iq(req2)
    s.receive_data(("<iq type='result' id='%s' from='example.com'/>" % req2_id).encode())
    assert kinds(s.events()) == ["IQResponseReceived"]


@pytest.mark.parametrize("data, error", [
    (HDR + b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", errors.BadFormat),
    (HDR + b"<foo xmlns='urn:other'/>", errors.UnsupportedStanzaType),
    (HDR.replace(b"version='1.0'", b"version='0.9'"), errors.UnsupportedVersion),
    (HDR + b"<!-- x -->", errors.RestrictedXML),
])
def test_inputs_outside_the_table_are_protocol_errors(data, error):
    s = ClientStream("juliet@example.com", "pw")
    s.start()
    s.data_to_send()
    with pytest.raises(error):
        s.receive_data(data)
    assert s.state == "closed"
    out = s.data_to_send()
    assert out.startswith(b"<stream:error><%s xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" % error.condition.encode())
    assert out.endswith(b"</stream:stream>")


def test_transition_table_is_data():
    assert TRANSITIONS[("sasl", "success")] == "_on_success"
    assert ("ready", "success") not in TRANSITIONS
    assert all(hasattr(ClientStream, name) for name in TRANSITIONS.values())


def test_no_starttls_offered_is_an_error_not_a_downgrade():
    s = ClientStream("juliet@example.com", "pw")
    s.start()
    with pytest.raises(EncryptionRequired):
        s.receive_data(HDR + SASL_FEATURES)


def test_plain_refused_on_an_unencrypted_stream():
    s = ClientStream("juliet@example.com", "pw", require_tls=False)
    s.start()
    with pytest.raises(errors.SASLError) as info:
        s.receive_data(HDR + SASL_FEATURES)
    assert info.value.condition == "no-usable-mechanism"


def test_plaintext_injected_after_proceed_is_refused():
    s = ClientStream("juliet@example.com", "pw")
    s.start()
    s.receive_data(HDR + TLS_FEATURES)
    s.receive_data(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + HDR + SASL_FEATURES)
    with pytest.raises(errors.PolicyViolation):
        s.tls_established({})


def test_sasl_failure_is_a_typed_error():
    s = ClientStream("juliet@example.com", "pw", mechanisms=["PLAIN"], tls_active=True)
    s.start()
    s.receive_data(HDR + SASL_FEATURES)
    with pytest.raises(errors.SASLError) as info:
        s.receive_data(b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/>"
                       b"<text xml:lang='en'>bad password</text></failure>")
    assert info.value.condition == "not-authorized"
    assert "bad password" in str(info.value)


def test_stream_error_from_server():
    s = negotiate()
    s.data_to_send()
    s.receive_data(b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
                   b"</stream:stream>")
    (ev,) = s.events()
    assert isinstance(ev, events.StreamErrorReceived)
    assert isinstance(ev.error, errors.Conflict)
    assert s.state == "closed"


def test_resumption_resends_unacked_and_fallback_hands_them_back():
    s = negotiate()
    s.receive_data(b"<enabled xmlns='urn:xmpp:sm:3' id='sm1' resume='true'/>")
    for i in range(3):
        s.send(message(to="romeo@example.net", body=str(i)))
    s.receive_data(b"<message from='romeo@example.net/o'><body>x</body></message>")
    state = s.sm_state()
    assert state.inbound == 1 and len(state.unacked) == 3

    r = ClientStream("juliet@example.com/balcony", "pw", mechanisms=["PLAIN"], resume=state)
    r.start()
    r.receive_data(HDR + TLS_FEATURES)
    r.receive_data(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    r.tls_established({})
    r.receive_data(HDR + SASL_FEATURES)
    r.receive_data(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" + HDR + BIND_FEATURES)
    assert r.data_to_send().endswith(b"<resume xmlns='urn:xmpp:sm:3' previd='sm1' h='1'/>")
    r.receive_data(b"<resumed xmlns='urn:xmpp:sm:3' previd='sm1' h='1'/>")
    evs = r.events()
    assert [type(e).__name__ for e in evs][-2:] == ["SessionStarted", "StanzasAcked"]
    assert evs[-2].resumed
    out = r.data_to_send()
    assert out.count(b"<message") == 2 and b">1</body>" in out and b">2</body>" in out

    f = ClientStream("juliet@example.com/balcony", "pw", mechanisms=["PLAIN"], resume=r.sm_state() or state)
    f.start()
    f.receive_data(HDR + TLS_FEATURES)
    f.receive_data(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    f.tls_established({})
    f.receive_data(HDR + SASL_FEATURES)
    f.receive_data(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" + HDR + BIND_FEATURES)
    f.data_to_send()
    f.receive_data(b"<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>")
    failed = [e for e in f.events() if isinstance(e, events.ResumeFailed)][0]
    assert failed.condition == "item-not-found" and len(failed.unacked) >= 2
    assert b"<bind" in f.data_to_send()  # falls back to a fresh session


def test_send_before_ready_is_a_local_error():
    s = ClientStream("juliet@example.com", "pw")
    with pytest.raises(errors.LocalProtocolError):
        s.send(message(to="romeo@example.net", body="too early"))


def test_server_closing_first_is_not_a_clean_close():
    s = ClientStream("a@example.com", "pw", tls_active=True)
    s.start()
    s.data_to_send()
    s.receive_data(HDR + b"</stream:stream>")
    closed = s.events()[-1]
    assert isinstance(closed, events.StreamClosed) and not closed.clean
    assert s.data_to_send() == b"</stream:stream>"  # we answer the closing handshake


def test_on_stanza_callback_keeps_the_order_of_events():
    got = []
    s = negotiate(ClientStream("juliet@example.com/balcony", "pw", mechanisms=["PLAIN"], on_stanza=got.append))
    s.data_to_send()
    s.receive_data(b"<message from='romeo@example.net/o'><body>1</body></message>"
                   b"<enabled xmlns='urn:xmpp:sm:3' id='sm1' resume='true'/>"
                   b"<message from='romeo@example.net/o'><body>2</body></message>")
    # nothing was pending before the first message: it went straight to the callback
    # the second message queues behind SessionStarted (which came with <enabled/>)
    assert [m.findtext("{jabber:client}body") for m in got] == ["1"]
    evs = s.events()
    assert kinds(evs) == ["SessionStarted", "StanzaReceived"] and evs[0].resumable
    assert evs[1].stanza.findtext("{jabber:client}body") == "2"
    assert s.sm.state.inbound == 1  # counted once SM was active
    s.send(message(to="romeo@example.net", body="hi"))
    s.receive_data(b"<a xmlns='urn:xmpp:sm:3' h='1'/><message from='romeo@example.net/o'><body>3</body></message>")
    # an event was pending: the message is queued behind it instead
    evs = s.events()
    assert kinds(evs) == ["StanzasAcked", "StanzaReceived"] and len(got) == 1
    assert evs[1].stanza.findtext("{jabber:client}body") == "3"


def test_stanzas_while_ready_are_counted_and_routed_by_kind():
    got = []
    s = negotiate(ClientStream("juliet@example.com/balcony", "pw", mechanisms=["PLAIN"], on_stanza=got.append))
    s.data_to_send()
    s.receive_data(b"<enabled xmlns='urn:xmpp:sm:3' id='sm1' resume='true'/>")
    assert kinds(s.events()) == ["SessionStarted"]
    pending = s.send_iq(iq(type="get", to="example.com"))
    s.receive_data(b"<presence from='romeo@example.net/o'/>"
                   b"<iq type='get' id='q1' from='romeo@example.net/o'><query xmlns='jabber:iq:version'/></iq>"
                   b"<message from='romeo@example.net/o'><body>1</body></message>"
                   + ("<iq type='result' id='%s' from='example.com'/>" % pending).encode()
                   + b"<message from='romeo@example.net/o'><body>2</body></message>"
                   b"<r xmlns='urn:xmpp:sm:3'/>")
    # presence, the IQ request and the first message went straight to the callback; the
    # IQ response became an event, so the second message queues behind it
    assert [el.tag.split("}")[1] for el in got] == ["presence", "iq", "message"]
    evs = s.events()
    assert kinds(evs) == ["IQResponseReceived", "StanzaReceived"]
    assert evs[1].stanza.findtext("{jabber:client}body") == "2"
    assert s.sm.state.inbound == 5  # every stanza counts, the IQ response too
    assert s.data_to_send().endswith(b"<a xmlns='urn:xmpp:sm:3' h='5'/>")


def test_nothing_is_dispatched_after_a_stream_error_in_the_same_read():
    got = []
    s = negotiate(ClientStream("juliet@example.com/balcony", "pw", mechanisms=["PLAIN"], on_stanza=got.append))
    s.data_to_send()
    s.receive_data(b"<message><body>1</body></message>"
                   b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
                   b"<message><body>2</body></message>")
    assert [m.findtext("{jabber:client}body") for m in got] == ["1"]
    assert s.state == "closed"
    assert kinds(s.events()) == ["StreamErrorReceived"]


def test_ack_requested_every_ack_every_stanzas_and_unacked_kept_in_order():
    s = negotiate(ClientStream("juliet@example.com/balcony", "pw", mechanisms=["PLAIN"], ack_every=3))
    s.data_to_send()
    s.receive_data(b"<enabled xmlns='urn:xmpp:sm:3' id='sm1' resume='true'/>")
    assert kinds(s.events()) == ["SessionStarted"]
    r = b"<r xmlns='urn:xmpp:sm:3'/>"
    sent = [message(to="romeo@example.net", body=str(i)) for i in range(7)]
    for m in sent[:2]:
        s.send(m)
    assert not s.data_to_send().endswith(r) and s.sm.since_request == 2
    s.send(sent[2])
    assert s.data_to_send().endswith(r) and s.sm.since_request == 0
    for m in sent[3:]:
        s.send(m)
    assert s.data_to_send().count(r) == 0  # the first request is still out
    assert s.sm.since_request == 4
    assert s.unacked() == sent and all(a is b for a, b in zip(s.unacked(), sent))
    # its answer comes back: 4 more went out meanwhile, so the next request goes at once
    (acked,) = (s.receive_data(b"<a xmlns='urn:xmpp:sm:3' h='3'/>"), s.events())[1]
    assert list(acked.stanzas) == sent[:3] and s.unacked() == sent[3:]
    assert s.data_to_send() == r and s.sm.since_request == 0
    s.receive_data(b"<a xmlns='urn:xmpp:sm:3' h='7'/>")
    assert s.data_to_send() == b"" and s.unacked() == []
    for m in sent[:3]:
        s.send(m)
    assert s.data_to_send().endswith(r)  # answered: requests go every 3 again


def test_no_counting_without_stream_management_and_inbound_wraps_at_2_32():
    s = negotiate(bind_features=BIND_FEATURES.replace(b"<sm xmlns='urn:xmpp:sm:3'/>", b""))
    s.send(message(to="romeo@example.net", body="x"))
    s.receive_data(b"<message from='romeo@example.net/o'><body>1</body></message>")
    assert s.unacked() == [] and s.sm.since_request == 0 and s.sm.state.inbound == 0
    assert b"<r " not in s.data_to_send()

    s = negotiate()
    s.receive_data(b"<enabled xmlns='urn:xmpp:sm:3' id='sm1' resume='true'/>")
    s.sm.state.inbound = (1 << 32) - 1
    s.receive_data(b"<presence from='romeo@example.net/o'/><r xmlns='urn:xmpp:sm:3'/>")
    assert s.sm.state.inbound == 0
    assert s.data_to_send().endswith(b"<a xmlns='urn:xmpp:sm:3' h='0'/>")


def _bound(resume=None):
    """A stream through TLS, SASL and resource binding, checking nothing on the way."""
    s = ClientStream("juliet@example.com/balcony", "pw", mechanisms=["PLAIN"], resume=resume)
    s.start()
    for reply in (HDR + TLS_FEATURES, b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", None,
                  HDR + SASL_FEATURES, b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" + HDR + BIND_FEATURES):
        if reply is None:
            s.tls_established({})
        else:
            s.receive_data(reply)
    if resume is None:
        bind_id = s.data_to_send().split(b"id=\"")[1].split(b"\"")[0].decode()
        s.receive_data(("<iq type='result' id='%s'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                        "<jid>juliet@example.com/balcony</jid></bind></iq>" % bind_id).encode())
    s.data_to_send()
    s.events()
    return s


def _sm_ready():
    s = _bound()
    s.receive_data(b"<enabled xmlns='urn:xmpp:sm:3' id='sm1' resume='true'/>")
    s.send(message(to="romeo@example.net", body="x"))
    s.data_to_send()
    return s


@pytest.mark.parametrize("h", ["1", "01", "+1", " 1 ", "\t1\n", "0", "-0", "000"])
def test_ack_h_is_read_as_xs_unsigned_int(h):
    s = _sm_ready()
    s.receive_data(b"<a xmlns='urn:xmpp:sm:3' h='%s'/>" % h.replace("\t", "&#9;").replace("\n", "&#10;").encode())
    assert len(s.unacked()) == 1 - int(h)
    assert s.state == "ready"


@pytest.mark.parametrize("h", [str(1 << 32), str((1 << 32) + 1), "99999999999999999999", "-1", "1_0",
                               "\u0661", "", "0x1", "1.0", "+", "- 0", "+-1"])
def test_ack_h_outside_unsigned_int_is_undefined_condition(h):
    """XEP-0198: 'h' is an xs:unsignedInt; a value past 2**32 - 1 is refused, not wrapped."""
    s = _sm_ready()
    with pytest.raises(errors.UndefinedCondition, match="invalid h"):
        s.receive_data(("<a xmlns='urn:xmpp:sm:3' h='%s'/>" % h).encode())
    assert s.state == "closed"
    assert b"<undefined-condition" in s.data_to_send()


@pytest.mark.parametrize("element", [
    b"<resumed xmlns='urn:xmpp:sm:3' previd='sm1' h='4294967297'/>",
    b"<failed xmlns='urn:xmpp:sm:3' h='4294967296'><item-not-found"
    b" xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>",
])
def test_resumption_h_above_2_32_is_undefined_condition(element):
    r = _bound(resume=_sm_ready().sm_state())
    with pytest.raises(errors.UndefinedCondition, match="above 2"):
        r.receive_data(element)
    assert r.state == "closed"


def test_in_stanza_follows_the_tokenizer():
    s = _bound()
    assert not s.in_stanza
    s.receive_data(b"<message from='romeo@example.net/o'><bo")
    assert s.in_stanza
    s.receive_data(b"dy>x</body></message>")
    assert not s.in_stanza


# -- login phases: the core's Authenticated and SessionStarted end SASL and bind -----------------
@pytest.mark.parametrize("driver", ["aio", "sync"])
@pytest.mark.parametrize("split", [False, True])
def test_login_timings_from_a_scripted_login_without_tls(driver, split):
    """Both clients turn the core's events into ``last_login_timings`` (no TLS: ``tls`` is
    None); the core says Authenticated once, strictly before SessionStarted, also when the
    server's bytes arrive one at a time."""
    import importlib

    Client = importlib.import_module("fastxmpp.%s" % driver).Client
    client = Client("juliet@example.com/balcony", "pw", mechanisms=["PLAIN"], require_tls=False,
                    allow_plain_unencrypted=True)
    seen = []
    client.on_session_started = lambda ev: seen.append(client.last_login_timings)
    s = client.stream = ClientStream("juliet@example.com/balcony", "pw", mechanisms=["PLAIN"],
                                     require_tls=False, allow_plain_unencrypted=True,
                                     stream_management=False)
    client._login_begin()
    client._login_mark(_CONNECTED)  # the driver's TCP connection
    s.start()
    order = []
    script = [HDR + SASL_FEATURES, b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" + HDR + BIND_FEATURES]
    for chunk in script:
        for piece in ([chunk[i:i + 1] for i in range(len(chunk))] if split else [chunk]):
            s.receive_data(piece)
            evs = s.events()
            order += [e for e in kinds(evs) if e in ("Authenticated", "SessionStarted")]
            client._handle_events(evs)
        out = s.data_to_send()
    bind_id = out.split(b"id=\"")[1].split(b"\"")[0].decode()
    s.receive_data(("<iq type='result' id='%s'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                    "<jid>juliet@example.com/balcony</jid></bind></iq>" % bind_id).encode())
    evs = s.events()
    order += [e for e in kinds(evs) if e in ("Authenticated", "SessionStarted")]
    client._handle_events(evs)
    assert order == ["Authenticated", "SessionStarted"]
    timings = client.last_login_timings
    assert seen == [timings] and timings is not None and not timings.resumed
    assert timings.secured is None and timings.tls is None
    marks = [timings.started, timings.connected, timings.authenticated, timings.bound]
    assert marks == sorted(marks)
    assert list(timings.phases()) == ["tcp", "tls", "sasl", "bind"]
    assert sum(timings.phases().values()) <= timings.total + 1e-9
    client._handle_events([events.SessionStarted(jid=s.bound_jid, resumed=False, sm_enabled=False)])
    assert client.last_login_timings is timings  # once per connection, not per event


def test_login_timings_phases_follow_each_other():
    t = events.LoginTimings(started=10.0, connected=10.25, secured=10.75, authenticated=11.0,
                            bound=11.5, resumed=True)
    assert (t.tcp, t.tls, t.sasl, t.bind, t.total) == (0.25, 0.5, 0.25, 0.5, 1.5)
    assert t.phases() == {"tcp": 0.25, "tls": 0.5, "sasl": 0.25, "bind": 0.5}
    with pytest.raises(Exception):
        t.bound = 0.0  # frozen
