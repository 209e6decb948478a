"""XEP-0184 receipts, XEP-0085 chat states, XEP-0280 carbons (with a forged carbon), and
XEP-0359 / XEP-0203 on messages Prosody stamped, against the private Prosody with both
clients."""
from __future__ import annotations

import pytest

from fastxmpp.element import Element
from fastxmpp.jid import JID

from test_im_prosody import harness  # noqa: F401 - the fixture: both clients
from test_xep_prosody import serving

pytestmark = pytest.mark.prosody


def test_receipts_round_trip(harness, account):
    a_jid, a_pw = account()
    b_jid, b_pw = account()
    a = harness.connect(a_jid + "/one", a_pw)
    b = harness.connect(b_jid + "/two", b_pw)
    b.receipts  # noqa: B018 - first access: b answers requests
    got = []
    b.messages.on_message(got.append)
    seen = []
    a.receipts.on_receipt(seen.append)
    msg_id = harness.do(a.receipts.send(b.bound_jid, "please confirm"))
    with serving(harness, b):
        event = harness.do(a.receipts.wait(msg_id, timeout=30))
    assert event.id == msg_id and event.sender == b.bound_jid and seen == [event]
    assert got and got[0].body == "please confirm" and a.receipts.pending == 0
    # b's answer was advertised in disco
    with serving(harness, b):
        info = harness.do(a.disco.info(b.bound_jid))
    assert info.has_feature("urn:xmpp:receipts")


def test_chat_states_round_trip(harness, account):
    a_jid, a_pw = account()
    b_jid, b_pw = account()
    a = harness.connect(a_jid + "/one", a_pw)
    b = harness.connect(b_jid + "/two", b_pw)
    states = []
    b.chat_states.on_state(states.append)
    harness.do(a.chat_states.send(b.bound_jid, "composing"))
    msg = Element("{jabber:client}message", {"to": str(b.bound_jid), "type": "chat"})
    msg.subelement("{jabber:client}body", text="done typing")
    harness.do(a.send(a.chat_states.add(msg, "active")))
    harness.wait(lambda: len(states) >= 2, "two chat states at b")
    assert [(e.sender, e.state) for e in states] == [(a.bound_jid, "composing"), (a.bound_jid, "active")]
    assert states[1].stanza.findtext("{jabber:client}body") == "done typing"
    with serving(harness, b):
        assert harness.do(a.disco.info(b.bound_jid)).has_feature("http://jabber.org/protocol/chatstates")
