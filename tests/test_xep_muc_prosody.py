"""XEP-0045 multi-user chat against the private Prosody (conference.localhost), with both
clients: three accounts join a room (created as an instant room), talk, whisper, set the
subject, change nicknames, kick and leave; a configured room (name, password) refuses a join
without the password and a banned account; a fresh session rejoins with the history missed."""
from __future__ import annotations

import itertools
import os

import pytest

from fastxmpp.jid import JID
from fastxmpp.xep.muc import (Banned, History, NickChanged, NicknameInUse, OccupantJoined, OccupantLeft,
                              PasswordRequired, RoomJoined, RoomLeft, RoomMessage, SubjectChanged)

from test_im_prosody import harness  # noqa: F401 - the fixture: both clients

pytestmark = pytest.mark.prosody

_rooms = itertools.count(1)


def new_room(prosody) -> str:
    return "room%d_%d@%s" % (os.getpid(), next(_rooms), prosody.muc_domain)


def recorder(client):
    seen = []
    client.muc.on_event(seen.append)
    return seen


def of(seen, kind, **attrs):
    return [e for e in seen if isinstance(e, kind) and all(getattr(e, k) == v for k, v in attrs.items())]


def test_join_talk_whisper_subject_nick_kick_leave(harness, account, prosody):
    room_jid = new_room(prosody)
    (a_jid, a_pw), (b_jid, b_pw), (c_jid, c_pw) = account(), account(), account()
    a = harness.connect(a_jid + "/one", a_pw)
    b = harness.connect(b_jid + "/two", b_pw)
    c = harness.connect(c_jid + "/three", c_pw)
    a_seen, b_seen, c_seen = recorder(a), recorder(b), recorder(c)

    ra = harness.do(a.muc.join(room_jid, "alice"))
    assert ra.joined and ra.created and ra.me.affiliation == "owner" and ra.me.role == "moderator"
    assert of(a_seen, RoomJoined, created=True)
    rb = harness.do(b.muc.join(room_jid, "bob", history=History(maxstanzas=0)))
    assert not rb.created and set(rb.occupants) == {"alice", "bob"}
    assert rb.occupants["alice"].affiliation == "owner"
    with pytest.raises(NicknameInUse):
        harness.do(c.muc.join(room_jid, "bob"))
    rc = harness.do(c.muc.join(room_jid, "carol"))
    harness.wait(lambda: set(ra.occupants) == set(rb.occupants) == {"alice", "bob", "carol"}, "all three")
    assert [e.occupant.nick for e in of(a_seen, OccupantJoined)] == ["bob", "carol"]

    harness.do(rb.send("hello, room"))
    harness.wait(lambda: of(a_seen, RoomMessage, body="hello, room") and of(c_seen, RoomMessage, body="hello, room")
                 and of(b_seen, RoomMessage, body="hello, room"), "the groupchat message")
    got = of(c_seen, RoomMessage, body="hello, room")[0]
    assert got.nick == "bob" and not got.private and got.room is rc
    assert of(b_seen, RoomMessage, body="hello, room")[0].from_me

    harness.do(ra.send_private("carol", "just between us"))
    harness.wait(lambda: of(c_seen, RoomMessage, body="just between us"), "the private message")
    assert of(c_seen, RoomMessage, body="just between us")[0].private
    assert of(c_seen, RoomMessage, body="just between us")[0].nick == "alice"

    harness.do(ra.set_subject("Fire Burn"))
    harness.wait(lambda: rb.subject == rc.subject == ra.subject == "Fire Burn", "the subject")
    assert of(b_seen, SubjectChanged, subject="Fire Burn")[0].nick == "alice"

    harness.do(rb.change_nick("robert"))
    assert rb.nick == "robert" and of(b_seen, NickChanged, old="bob", nick="robert")
    harness.wait(lambda: "robert" in ra.occupants and "bob" not in ra.occupants, "the nick change")
    assert of(a_seen, OccupantLeft, reason="nick-change", new_nick="robert")
    assert of(a_seen, OccupantJoined, renamed_from="bob")

    harness.do(ra.kick("carol", "be gone"))
    harness.wait(lambda: of(c_seen, RoomLeft) and "carol" not in ra.occupants
                 and "carol" not in rb.occupants, "the kick")
    left = of(c_seen, RoomLeft)[0]
    assert left.reason == "kicked" and left.text == "be gone" and not rc.joined
    assert of(b_seen, OccupantLeft, reason="kicked")[0].occupant.nick == "carol"

    harness.do(rb.leave())
    assert not rb.joined and of(b_seen, RoomLeft, reason=None)
    harness.wait(lambda: set(ra.occupants) == {"alice"}, "bob leaving")


def test_configured_room_password_and_ban(harness, account, prosody):
    room_jid = new_room(prosody)
    (a_jid, a_pw), (b_jid, b_pw) = account(), account()
    a = harness.connect(a_jid + "/one", a_pw)
    b = harness.connect(b_jid + "/two", b_pw)
    ra = harness.do(a.muc.join(room_jid, "owner", config={
        "roomname": "The Cave", "roomsecret": "cauldron", "changesubject": True}))
    assert ra.created and ra.joined
    form = harness.do(ra.get_config())
    assert form.get("muc#roomconfig_roomname") == "The Cave"
    assert form.get("muc#roomconfig_roomsecret") == "cauldron"
    assert form.get("muc#roomconfig_changesubject") is True
    info = harness.do(b.disco.info(room_jid))
    assert info.has_feature("muc_passwordprotected")

    with pytest.raises(PasswordRequired):
        harness.do(b.muc.join(room_jid, "guest"))
    rb = harness.do(b.muc.join(room_jid, "guest", password="cauldron"))
    assert rb.joined
    b_seen = recorder(b)
    harness.do(ra.ban(b_jid, "no guests"))
    harness.wait(lambda: of(b_seen, RoomLeft), "the ban")
    assert of(b_seen, RoomLeft)[0].reason == "banned" and not rb.joined
    assert harness.do(ra.affiliations("outcast")) == {JID(b_jid): "outcast"}
    with pytest.raises(Banned):
        harness.do(b.muc.join(room_jid, "guest", password="cauldron"))
    harness.do(ra.destroy("closing"))


def test_rejoin_after_a_fresh_session_gets_the_history_missed(harness, account, prosody):
    room_jid = new_room(prosody)
    (a_jid, a_pw), (b_jid, b_pw) = account(), account()
    a = harness.connect(a_jid + "/one", a_pw, stream_management=False)
    b = harness.connect(b_jid + "/two", b_pw)
    ra = harness.do(a.muc.join(room_jid, "alice"))
    rb = harness.do(b.muc.join(room_jid, "bob"))
    a_seen = recorder(a)
    harness.do(rb.send("before"))
    harness.wait(lambda: of(a_seen, RoomMessage, body="before"), "the first message")

    a.abort()  # no stream management: the next connection is a fresh session
    harness.wait(lambda: "alice" not in rb.occupants, "alice dropping out")
    harness.do(rb.send("while you were away"))
    harness.do(b.pinger.send())
    harness.do(a.connect())
    harness.wait(lambda: of(a_seen, RoomJoined, rejoined=True) and ra.joined, "the rejoin")
    harness.wait(lambda: of(a_seen, RoomMessage, body="while you were away"), "the history missed")
    missed = of(a_seen, RoomMessage, body="while you were away")[0]
    assert missed.delayed is not None and missed.nick == "bob"
    assert [e.body for e in of(a_seen, RoomMessage)].count("before") == 1  # not again: since the last seen
    assert set(ra.occupants) == {"alice", "bob"}
