"""XEP-0313 message archive management (with XEP-0059 paging) against the private Prosody
(mod_mam for accounts, mod_muc_mam for the rooms of ``prosody.muc_domain``), with both
clients: messages between two accounts paged through forward and backward in pages of 3,
and a room's archive."""
from __future__ import annotations

import inspect

import pytest

from fastxmpp.element import Element
from fastxmpp.jid import JID
from fastxmpp.xep.forms import Form

from test_im_prosody import harness  # noqa: F401 - the fixture: both clients

pytestmark = pytest.mark.prosody

N = 8


def collect(harness, iterator):
    """Every page of ``client.mam.pages(...)``, for either client."""
    if inspect.isasyncgen(iterator):
        async def drain():
            return [page async for page in iterator]
        return harness.do(drain())
    return list(iterator)


def send_chats(harness, sender, to, texts):
    for text in texts:
        msg = Element("{jabber:client}message", {"to": str(to), "type": "chat"})
        msg.subelement("{jabber:client}body", text=text)
        harness.do(sender.send(msg))


def test_two_accounts_paged_forward_and_backward(harness, account):
    a_jid, a_pw = account()
    b_jid, b_pw = account()
    a = harness.connect(a_jid + "/a", a_pw)
    b = harness.connect(b_jid + "/b", b_pw)
    got = []
    b.add_handler("message", lambda m: got.append(m) if m.find("{jabber:client}body") is not None else None)
    texts = ["message %d" % i for i in range(N)]
    send_chats(harness, a, b.bound_jid, texts)
    harness.wait(lambda: len(got) == N, "the messages delivered")

    first = harness.do(a.mam.query(with_=b_jid, max=3))
    assert [m.body for m in first.messages] == texts[:3] and not first.complete
    assert first.first == first.messages[0].id and first.last == first.messages[-1].id
    assert first.count == N
    assert all(m.archive == JID(a_jid) and m.stamp.tzinfo is not None for m in first.messages)
    assert [m.stamp for m in first.messages] == sorted(m.stamp for m in first.messages)

    pages = collect(harness, a.mam.pages(with_=b_jid, max=3))
    assert [len(p) for p in pages] == [3, 3, 2]
    assert pages[-1].complete and not any(p.complete for p in pages[:-1])
    assert [m.body for p in pages for m in p] == texts
    ids = [m.id for p in pages for m in p]
    assert len(set(ids)) == N

    back = collect(harness, a.mam.pages(with_=b_jid, max=3, reverse=True))
    assert [len(p) for p in back] == [3, 3, 2]
    assert [m.body for m in back[0]] == texts[-3:]          # the last page first, in order inside
    assert [m.body for p in reversed(back) for m in p] == texts
    assert back[-1].complete

    # B's own archive has the same messages, from A
    theirs = collect(harness, b.mam.pages(with_=a_jid, max=3))
    assert [m.body for p in theirs for m in p] == texts
    assert all(JID(m.sender).bare == JID(a_jid) for p in theirs for m in p)

    # a page after a given id; an empty page at the end
    middle = harness.do(a.mam.query(with_=b_jid, max=3, after=ids[2]))
    assert [m.id for m in middle] == ids[3:6]
    end = harness.do(a.mam.query(with_=b_jid, max=3, after=ids[-1]))
    assert end.messages == [] and end.complete
    # a time range: nothing archived before the first message
    early = harness.do(a.mam.query(with_=b_jid, end=first.messages[0].stamp.replace(year=2000)))
    assert early.messages == [] and early.complete
    assert not a.mam._queries  # the message handler is gone with the last query


def test_room_archive(harness, account, prosody):
    a_jid, a_pw = account()
    a = harness.connect(a_jid + "/a", a_pw)
    room = JID("mamroom-%s@%s" % (a_jid.split("@")[0], prosody.muc_domain))
    joined = []
    a.add_handler("presence", lambda p: joined.append(p) if JID(p.get("from")).bare == room else None)
    join = Element("{jabber:client}presence", {"to": str(room) + "/alice"})
    join.subelement("{http://jabber.org/protocol/muc}x")
    harness.do(a.send(join))
    harness.wait(lambda: joined, "the room joined")
    # the room is locked until its owner accepts the default configuration (an instant room)
    owner = Element("{jabber:client}iq", {"type": "set", "to": str(room)})
    owner.subelement("{http://jabber.org/protocol/muc#owner}query").append(Form("submit").to_element())
    harness.do(a.iq(owner))
    echoed = []
    a.add_handler("message", lambda m: echoed.append(m) if m.get("type") == "groupchat"
                  and m.find("{jabber:client}body") is not None else None)
    texts = ["room message %d" % i for i in range(5)]
    for text in texts:
        msg = Element("{jabber:client}message", {"to": str(room), "type": "groupchat"})
        msg.subelement("{jabber:client}body", text=text)
        harness.do(a.send(msg))
    harness.wait(lambda: len(echoed) == len(texts), "the groupchat echoes")

    pages = collect(harness, a.mam.pages(archive=room, max=3))
    assert [m.body for p in pages for m in p] == texts and pages[-1].complete
    assert all(m.archive == room and m.sender == str(room) + "/alice" for p in pages for m in p)
    back = collect(harness, a.mam.pages(archive=room, max=3, reverse=True))
    assert [m.body for m in back[0]] == texts[-3:]
    # our own archive does not hold the room's messages
    mine = harness.do(a.mam.query(with_=room))
    assert all(m.body not in texts for m in mine)
