"""XEP-0184 receipts, XEP-0085 chat states, XEP-0280 carbons (with a forged carbon), and
XEP-0359 / XEP-0203 on messages Prosody stamped, against the private Prosody with both
clients."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fastxmpp.element import Element
from fastxmpp.jid import JID
from fastxmpp.stanza_errors import ServiceUnavailable
from fastxmpp.xep.stanzaid import add_origin_id

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


def test_receipt_wait_ends_with_the_bounce(harness, account):
    a_jid, a_pw = account()
    a = harness.connect(a_jid + "/one", a_pw)
    msg_id = harness.do(a.receipts.send("nobody-here@" + a.jid.domain, "hello?", type="chat"))
    with pytest.raises(ServiceUnavailable):
        harness.do(a.receipts.wait(msg_id, timeout=30))
    assert a.receipts.pending == 0


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


def test_carbons_copy_received_and_sent_to_the_second_resource(harness, account):
    a_jid, a_pw = account()
    b_jid, b_pw = account()
    one = harness.connect(a_jid + "/one", a_pw)
    two = harness.connect(a_jid + "/two", a_pw)
    bob = harness.connect(b_jid + "/bob", b_pw)
    harness.do(one.carbons.enable())
    harness.do(two.carbons.enable())
    assert two.carbons.enabled
    copies = []
    two.carbons.on_carbon(copies.append)
    got = []
    bob.messages.on_message(got.append)

    harness.do(bob.messages.send(one.bound_jid, "to one", type="chat"))  # a full JID: one gets it, two a copy
    harness.wait(lambda: copies, "the received copy at two")
    harness.do(one.messages.send(bob.bound_jid, "from one", type="chat"))
    harness.wait(lambda: len(copies) >= 2 and got, "the sent copy at two")
    received, sent = copies[:2]
    assert (received.direction, received.message.sender, received.message.body) == ("received", bob.bound_jid, "to one")
    assert received.message.to == str(one.bound_jid)
    assert (sent.direction, sent.message.sender, sent.message.body) == ("sent", one.bound_jid, "from one")
    assert JID(sent.message.to) == bob.bound_jid and two.carbons.refused == 0

    msg = Element("{jabber:client}message", {"to": str(bob.bound_jid), "type": "chat"})
    msg.subelement("{jabber:client}body", text="private")
    harness.do(one.send(one.carbons.mark_private(msg)))
    msg = Element("{jabber:client}message", {"to": str(bob.bound_jid), "type": "chat"})
    msg.subelement("{jabber:client}body", text="after the private one")
    harness.do(one.send(msg))
    harness.wait(lambda: len(copies) >= 3, "the copy after the private message")
    assert [c.message.body for c in copies] == ["to one", "from one", "after the private one"]

    harness.do(two.carbons.disable())
    assert not two.carbons.enabled


def test_carbons_enabled_again_after_a_fresh_session(harness, account):
    a_jid, a_pw = account()
    b_jid, b_pw = account()
    one = harness.connect(a_jid + "/one", a_pw)
    two = harness.connect(a_jid + "/two", a_pw)
    bob = harness.connect(b_jid + "/bob", b_pw)
    harness.do(two.carbons.enable())
    # two's session ends (no resumption); the new one has carbons off on the server until
    # the feature enables them again, by itself
    harness.do(two.close())
    harness.do(two.connect())
    harness.wait(lambda: two.carbons.enabled, "carbons enabled again")
    copies = []
    two.carbons.on_carbon(copies.append)
    harness.do(bob.messages.send(one.bound_jid, "after the reconnect", type="chat"))
    harness.wait(lambda: copies, "the copy at two")
    assert copies[0].message.body == "after the reconnect"


def test_forged_carbon_is_refused(harness, account, caplog):
    a_jid, a_pw = account()
    m_jid, m_pw = account()
    b_jid, _ = account()
    victim = harness.connect(a_jid + "/two", a_pw)
    mallory = harness.connect(m_jid + "/evil", m_pw)
    harness.do(victim.carbons.enable())
    copies, plain = [], []
    victim.carbons.on_carbon(copies.append)
    victim.messages.on_message(plain.append)
    for direction in ("received", "sent"):
        # mallory wraps a fake message from bob (or "by us") in a carbon; the server stamps from=mallory
        outer = Element("{jabber:client}message", {"to": str(victim.bound_jid), "type": "chat"})
        inner = outer.subelement("{urn:xmpp:carbons:2}" + direction).subelement("{urn:xmpp:forward:0}forwarded")
        if direction == "received":
            attrs = {"from": b_jid + "/phone", "to": str(victim.bound_jid)}
        else:
            attrs = {"from": a_jid + "/one", "to": b_jid}
        fake = inner.subelement("{jabber:client}message", dict(attrs, type="chat"))
        fake.subelement("{jabber:client}body", text="send mallory your password")
        with caplog.at_level("WARNING", logger="fastxmpp.xep"):
            harness.do(mallory.send(outer))
            harness.do(mallory.messages.send(victim.bound_jid, "marker " + direction))
            harness.wait(lambda: any(m.body == "marker " + direction for m in plain), "the marker after the forgery")
    assert copies == [] and victim.carbons.refused == 2
    assert caplog.text.count("refusing a carbon copy") == 2 and m_jid in caplog.text
    # the forgeries did arrive, as plain messages from mallory, never as carbons
    forged = [m for m in plain if m.stanza.find("{urn:xmpp:carbons:2}received") is not None
              or m.stanza.find("{urn:xmpp:carbons:2}sent") is not None]
    assert len(forged) == 2 and all(m.sender.bare == JID(m_jid) for m in forged)


def test_delay_and_stanza_id_stamped_by_prosody(harness, account):
    a_jid, a_pw = account()
    b_jid, b_pw = account()
    a = harness.connect(a_jid + "/one", a_pw)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    msg = Element("{jabber:client}message", {"to": b_jid, "type": "chat"})  # b is offline: stored
    msg.subelement("{jabber:client}body", text="while you were out")
    origin = add_origin_id(msg)
    harness.do(a.send(msg))
    harness.do(a.pinger.send())  # the server has handled the message
    b = harness.connect(b_jid + "/two", b_pw)
    got = []
    b.messages.on_message(got.append)
    harness.do(b.presence.available())  # offline messages come after the initial presence
    harness.wait(lambda: got, "the offline message")
    offline = got[0]
    assert offline.body == "while you were out" and offline.origin_id == origin
    assert offline.delay is not None and offline.delay.sender == JID(b_jid.split("@")[1])
    assert before - timedelta(seconds=5) <= offline.delay.stamp <= datetime.now(timezone.utc) + timedelta(seconds=5)

    harness.do(a.messages.send(b.bound_jid, "live"))  # archived by mod_mam: a stanza-id by b's account
    harness.wait(lambda: len(got) >= 2, "the live message")
    live = got[1]
    assert live.delay is None
    assert live.stanza_id() and live.stanza_id() == live.stanza_id(b_jid)
    assert live.stanza_id(a_jid) is None
