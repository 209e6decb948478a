"""The sans-IO client stream fed odd but well-formed server input: only typed errors come out.

A scripted server session (STARTTLS, PLAIN, bind, stream management, traffic, close) with
elements a broken or hostile server might send spliced in at random places: acks with bad
counts, IQ results for unknown ids, SASL and TLS elements out of turn, stream errors with
unknown conditions, nested stream headers...  Whatever happens, the stream raises an
``XMPPError`` subclass or carries on; never ``KeyError``, ``AttributeError`` and the like.
"""
from __future__ import annotations

import random
import re

import pytest

from fastxmpp import errors
from fastxmpp.stanza import iq, message
from fastxmpp.stream import ClientStream
from test_stream import BIND_FEATURES, HDR, SASL_FEATURES, TLS_FEATURES

ODD = [
    b"<a xmlns='urn:xmpp:sm:3' h='{v}'/>", b"<r xmlns='urn:xmpp:sm:3'/>",
    b"<enabled xmlns='urn:xmpp:sm:3' id='{v}' resume='{v}' max='{v}'/>",
    b"<resumed xmlns='urn:xmpp:sm:3' h='{v}' previd='{v}'/>",
    b"<failed xmlns='urn:xmpp:sm:3' h='{v}'><{c} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>",
    b"<iq type='{t}' id='{id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>{v}</jid></bind></iq>",
    b"<iq type='{t}' id='{id}' from='{v}'/>",
    b"<iq type='error' id='{id}'><error type='{v}'><{c} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
    b"<iq type='{t}' id='{id}'><query xmlns='jabber:iq:version'/></iq>", b"<iq/>",
    b"<message from='{v}' type='{t}'><body>x</body></message>", b"<presence type='{t}' from='{v}'/>",
    b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{b}</success>",
    b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><{c}/><text>t</text></failure>",
    b"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{b}</challenge>",
    b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    b"<stream:error><{c} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", b"<stream:error/>",
    b"<stream:features/>", b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>",
    b"<stream:features><{c} xmlns='urn:x'/></stream:features>", b"</stream:stream>", HDR, b"<x xmlns='urn:x'/>",
    b"<iq type='result' id='{id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>", b" ",
]
VALUES = [b"", b"x", b"-1", b"4294967296", b"99999999999999999999", b"true", b"0", b"1", b"\xc3\xa9",
          b"a@b", b"@", b"a@b/c", b"juliet@example.com/balcony", b"1.5", b" 3", b"cancel"]
CONDITIONS = [b"item-not-found", b"x", b"not-authorized", b"conflict", b"undefined-condition"]
TYPES = [b"result", b"error", b"get", b"set", b"chat", b"", b"x", b"unavailable"]
BASE64 = [b"", b"=", b"!!!", b"dj1ZWVk=", b"AAAA"]


def fill(rng, template, ids):
    out = template
    for key, pool in ((b"{v}", VALUES), (b"{c}", CONDITIONS), (b"{t}", TYPES), (b"{b}", BASE64),
                      (b"{id}", ids + VALUES)):
        while key in out:
            out = out.replace(key, rng.choice(pool), 1)
    return out


def session(rng, odds):
    """One scripted session; with probability ``odds`` odd elements come before each step."""
    s = ClientStream("juliet@example.com/balcony", "pw", mechanisms=["PLAIN"])
    s.start()
    s.data_to_send()
    ids = []

    def receive(data):
        s.receive_data(data)
        s.events()
        ids.extend(re.findall(rb'id="([^"]+)"', s.data_to_send()))

    steps = [HDR + TLS_FEATURES, b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", "tls",
             HDR + SASL_FEATURES, b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" + HDR + BIND_FEATURES,
             "bind", b"<enabled xmlns='urn:xmpp:sm:3' id='sm1' resume='true'/>",
             b"<message from='romeo@example.net/x' type='chat'><body>hi</body></message>", "send",
             b"<r xmlns='urn:xmpp:sm:3'/>", "ack", b"</stream:stream>"]
    for step in steps:
        if rng.random() < odds:
            receive(b"".join(fill(rng, rng.choice(ODD), ids) for _ in range(rng.randint(1, 3))))
        if step == "tls":
            if s.state == "tls":
                s.tls_established({})
        elif step == "bind":
            receive(b"<iq type='result' id='" + (ids[-1] if ids else b"x") + b"'><bind xmlns="
                    b"'urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/balcony</jid></bind></iq>")
        elif step == "send":
            if s.state == "ready":
                for _ in range(3):
                    s.send(message(to="romeo@example.net", body="x"))
                ping = iq(type="get", to="example.com")
                ping.subelement("{urn:xmpp:ping}ping")
                ids.append(s.send_iq(ping).encode())
        elif step == "ack":
            receive(b"<a xmlns='urn:xmpp:sm:3' h='%d'/>" % rng.randint(0, 4))
        else:
            receive(step)
    s.sm_state()
    s.unacked()
    s.close()
    s.data_to_send()


def test_the_script_itself_runs_clean():
    for seed in range(20):
        session(random.Random(seed), odds=0)


@pytest.mark.parametrize("odds", [0.05, 0.2])
def test_odd_server_input_gives_typed_errors_only(odds):
    rng = random.Random(int(odds * 100))
    outcomes = {}
    for _ in range(300):
        try:
            session(rng, odds)
            kind = "clean"
        except errors.XMPPError as exc:   # anything else fails the test
            kind = type(exc).__name__
        outcomes[kind] = outcomes.get(kind, 0) + 1
    assert outcomes.get("clean", 0) > 0 and len(outcomes) > 2, outcomes
