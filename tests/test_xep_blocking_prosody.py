"""XEP-0191 blocking against the private Prosody (mod_blocklist), with both clients: blocking
stops the blocked account's messages and unblocking lets them through; a change made on one
resource is pushed to another that fetched the list."""
from __future__ import annotations

import pytest

from fastxmpp.element import Element
from fastxmpp.jid import JID
from fastxmpp.xep.blocking import BlocklistReceived, JIDsBlocked, JIDsUnblocked

from test_im_prosody import harness  # noqa: F401 - the fixture: both clients

pytestmark = pytest.mark.prosody


def settle(harness, *clients):
    """Each client pings the server in turn: whatever the server routed to a client before
    its pong has been read and dispatched (a stream is in order), so a message sent before
    the earlier pings and not yet seen was not delivered."""
    for client in clients:
        harness.do(client.pinger.send())


def test_blocking_stops_messages_and_unblocking_lets_them_through(harness, account):
    a_jid, a_pw = account()
    b_jid, b_pw = account()
    a = harness.connect(a_jid + "/one", a_pw)
    b = harness.connect(b_jid + "/two", b_pw)
    got = []
    a.messages.on_message(lambda m: got.append(m.body))
    assert harness.do(a.blocking.fetch()) == frozenset() and a.blocking.loaded

    harness.do(b.messages.send(a.bound_jid, "before"))
    harness.wait(lambda: "before" in got, "the first message")

    harness.do(a.blocking.block(b_jid))
    assert JID(b_jid) in a.blocking and a.blocking.jids == {JID(b_jid)}
    assert harness.do(a.blocking.fetch()) == {JID(b_jid)}  # the server's list
    harness.do(b.messages.send(a.bound_jid, "while blocked"))
    settle(harness, b, a)
    assert got == ["before"]

    harness.do(a.blocking.unblock(b_jid))
    assert len(a.blocking) == 0 and harness.do(a.blocking.fetch()) == frozenset()
    harness.do(b.messages.send(a.bound_jid, "after"))
    harness.wait(lambda: "after" in got, "the message after unblocking")
    assert got == ["before", "after"]


def test_changes_are_pushed_to_another_resource(harness, account):
    jid, pw = account()
    c_jid, _ = account()
    d_jid, _ = account()
    one = harness.connect(jid + "/one", pw)
    two = harness.connect(jid + "/two", pw)
    seen = []
    two.blocking.on_event(seen.append)
    harness.do(two.blocking.fetch())  # the server pushes only to resources that fetched

    harness.do(one.blocking.block([c_jid, d_jid]))
    harness.wait(lambda: two.blocking.jids == {JID(c_jid), JID(d_jid)}, "the block push")
    assert isinstance(seen[0], BlocklistReceived) and isinstance(seen[1], JIDsBlocked)
    assert set(seen[1].jids) == {JID(c_jid), JID(d_jid)}

    harness.do(one.blocking.unblock(c_jid))
    harness.wait(lambda: two.blocking.jids == {JID(d_jid)}, "the unblock push")
    assert seen[-1] == JIDsUnblocked(jids=(JID(c_jid),))

    harness.do(one.blocking.unblock_all())
    harness.wait(lambda: len(two.blocking) == 0, "the unblock-all push")
    assert seen[-1].everything and seen[-1].jids == (JID(d_jid),)
    assert harness.do(one.blocking.fetch()) == frozenset()


def test_a_push_from_another_account_is_ignored(harness, account, caplog):
    jid, pw = account()
    evil, evil_pw = account()
    victim = harness.connect(jid + "/one", pw)
    harness.do(victim.blocking.fetch())
    attacker = harness.connect(evil + "/x", evil_pw)
    forged = Element("{jabber:client}iq", {"type": "set", "to": str(victim.bound_jid), "id": "forged"})
    forged.subelement("{urn:xmpp:blocking}block").subelement("{urn:xmpp:blocking}item", {"jid": "friend@example.com"})
    with caplog.at_level("WARNING", logger="fastxmpp.xep.blocking"):
        harness.do(attacker.send(forged))
        settle(harness, attacker, victim)
    assert len(victim.blocking) == 0 and "ignoring a blocking push from" in caplog.text


def test_a_fresh_session_follows_the_list_again(harness, account):
    jid, pw = account()
    c_jid, _ = account()
    one = harness.connect(jid + "/one", pw)
    two = harness.connect(jid + "/two", pw)
    harness.do(two.blocking.fetch())
    # two's session ends (no resumption) and one blocks meanwhile: the new session fetches
    # the list again by itself, sees the change, and gets the pushes that follow
    harness.do(two.close())
    harness.do(one.blocking.block(c_jid))
    seen = []
    two.blocking.on_event(seen.append)
    harness.do(two.connect())
    harness.wait(lambda: two.blocking.jids == {JID(c_jid)}, "the list fetched again")
    assert JIDsBlocked(jids=(JID(c_jid),)) in seen
    harness.do(one.blocking.unblock(c_jid))
    harness.wait(lambda: len(two.blocking) == 0, "the unblock push to the new session")
