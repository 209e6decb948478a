"""XEP-0045 multi-user chat, sans-IO: the stanzas built (join with history, private messages,
moderation, room configuration), the rooms' presences and messages read from scripted stanzas
into events and state (status codes, nick changes, kicks, bans, the subject), join errors as
typed exceptions, bad input logged and dropped, the rejoin after a new session; and the glue
both clients share, driven through fake clients (no server)."""
from __future__ import annotations

import asyncio
from collections import deque
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from fastxmpp import aio, stanza_errors, sync
from fastxmpp.aio import muc as aio_muc
from fastxmpp.element import Element
from fastxmpp.handlers import HandlerRegistry
from fastxmpp.jid import JID, InvalidJID
from fastxmpp.stanza_errors import StanzaError
from fastxmpp.sync import muc as sync_muc
from fastxmpp.tokenizer import Tokenizer
from fastxmpp.xep import forms
from fastxmpp.xep.muc import (NS_MUC, NS_MUC_ADMIN, NS_MUC_OWNER, NS_MUC_USER, Banned, CreationNotAllowed, History,
                              JoinError, JoinFailed, MembersOnly, NicknameLocked, MUCCore, MUCValueError, NickChanged, NicknameInUse, NotInRoom,
                              OccupantChanged, OccupantJoined, OccupantLeft, PasswordRequired, RoomFull,
                              RoomJoined, RoomLeft, RoomMessage, RoomNotFound, SubjectChanged, is_muc_private,
                              status_codes)

ROOM = "coven@chat.shakespeare.lit"
HEADER = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
          b" from='shakespeare.lit' version='1.0'>")
ERR = "urn:ietf:params:xml:ns:xmpp-stanzas"


def X(xml: str) -> Element:
    """One stanza parsed the way the client parses it (the twin in use)."""
    tokens = [t for t in Tokenizer().feed(HEADER + xml.encode()) if isinstance(t, Element)]
    assert len(tokens) == 1
    return tokens[0]


def pres(nick, role="participant", aff="none", codes=(), jid=None, kind=None, inner="", item=True, extra=""):
    attrs = f" type='{kind}'" if kind else ""
    item_xml = ""
    if item:
        j = f" jid='{jid}'" if jid else ""
        item_xml = f"<item affiliation='{aff}' role='{role}'{j}>{inner}</item>"
    status = "".join(f"<status code='{c}'/>" for c in codes)
    return X(f"<presence from='{ROOM}/{nick}' to='hag66@shakespeare.lit/pda'{attrs}>{extra}"
             f"<x xmlns='{NS_MUC_USER}'>{item_xml}{status}</x></presence>")


def groupchat(nick, body, stamp=None, frm=None):
    delay = f"<delay xmlns='urn:xmpp:delay' stamp='{stamp}'/>" if stamp else ""
    sender = frm or (f"{ROOM}/{nick}" if nick else ROOM)
    return X(f"<message from='{sender}' type='groupchat' id='m1'><body>{body}</body>{delay}</message>")


def error_presence(condition, nick="thirdwitch"):
    return X(f"<presence from='{ROOM}/{nick}' type='error'><error type='cancel'><{condition} xmlns='{ERR}'/>"
             "</error></presence>")


def joined_core(nick="thirdwitch", *others):
    """A core that joined ROOM as ``nick`` with ``others`` (nicks) already there."""
    core = MUCCore()
    state, _ = core.join(ROOM, nick)
    for other in others:
        assert core.receive_presence(pres(other)) == []  # there before us: not announced
    evs = core.receive_presence(pres(nick, codes=(110,)))
    assert isinstance(evs[0], RoomJoined)
    return core, state


# -- building ---------------------------------------------------------------------------------
def test_join_presence_with_password_and_history():
    core = MUCCore()
    state, p = core.join(ROOM, "thirdwitch", password="cauldronburn",
                         history=History(maxstanzas=20, maxchars=65000, seconds=180,
                                         since=datetime(1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc)))
    assert p.get("to") == f"{ROOM}/thirdwitch" and p.get("type") is None
    x = p.find(f"{{{NS_MUC}}}x")
    assert x.findtext(f"{{{NS_MUC}}}password") == "cauldronburn"
    h = x.find(f"{{{NS_MUC}}}history")
    assert dict(h.items()) == {"maxstanzas": "20", "maxchars": "65000", "seconds": "180",
                               "since": "1970-01-01T00:00:01Z"}
    assert not state.joined and core.room(ROOM) is state and core.room("COVEN@chat.shakespeare.lit") is state
    _, p = core.join(ROOM, "thirdwitch", history=History(maxstanzas=0))
    assert p.find(f"{{{NS_MUC}}}x/{{{NS_MUC}}}history").get("maxstanzas") == "0"
    assert p.find(f"{{{NS_MUC}}}x/{{{NS_MUC}}}password") is None


def test_bad_user_input_raises_typed_errors():
    core = MUCCore()
    for bad in ("coven@chat.shakespeare.lit/nick", "chat.shakespeare.lit"):
        with pytest.raises(MUCValueError):
            core.join(bad, "nick")
    with pytest.raises(InvalidJID):
        core.join("@@", "nick")
    with pytest.raises(MUCValueError):
        core.join(ROOM, " ")
    with pytest.raises(ValueError):
        core.join(ROOM, "nick", history=History(maxstanzas=-1))
    with pytest.raises(NotInRoom):  # not joined yet
        core.groupchat(ROOM, "hi")
    core, _ = joined_core()
    with pytest.raises(MUCValueError):
        core.set_role(ROOM, "x", "king")
    with pytest.raises(MUCValueError):
        core.set_affiliation(ROOM, "x@y", "friend")
    with pytest.raises(MUCValueError):
        core.affiliations_request(ROOM, "friend")


def test_messages_out():
    core, _ = joined_core()
    m = core.groupchat(ROOM, "Harpier cries")
    assert (m.get("to"), m.get("type"), m.findtext("{jabber:client}body")) == (ROOM, "groupchat", "Harpier cries")
    pm = core.private(ROOM, "firstwitch", "I'll give thee a wind.")
    assert (pm.get("to"), pm.get("type")) == (f"{ROOM}/firstwitch", "chat") and is_muc_private(pm)
    s = core.subject(ROOM, "Fire Burn")
    assert s.findtext("{jabber:client}subject") == "Fire Burn" and s.find("{jabber:client}body") is None
    assert s.get("type") == "groupchat"
    n = core.change_nick(ROOM, "oldhag")
    assert n.get("to") == f"{ROOM}/oldhag" and n.get("type") is None
    leave = core.leave(ROOM, "gone")
    assert (leave.get("to"), leave.get("type")) == (f"{ROOM}/thirdwitch", "unavailable")


def test_moderation_and_owner_requests():
    core, _ = joined_core()
    kick = core.set_role(ROOM, "pistol", "none", "Avaunt, you cullion!")
    assert (kick.get("type"), kick.get("to")) == ("set", ROOM)
    item = kick.find(f"{{{NS_MUC_ADMIN}}}query/{{{NS_MUC_ADMIN}}}item")
    assert dict(item.items()) == {"nick": "pistol", "role": "none"}
    assert item.findtext(f"{{{NS_MUC_ADMIN}}}reason") == "Avaunt, you cullion!"
    ban = core.set_affiliation(ROOM, "Earlofcambridge@shakespeare.lit/x", "outcast")
    item = ban.find(f"{{{NS_MUC_ADMIN}}}query/{{{NS_MUC_ADMIN}}}item")
    assert dict(item.items()) == {"jid": "earlofcambridge@shakespeare.lit", "affiliation": "outcast"}
    assert item.find(f"{{{NS_MUC_ADMIN}}}reason") is None
    listing = core.affiliations_request(ROOM, "outcast")
    assert listing.get("type") == "get"
    result = X(f"<iq type='result' id='a'><query xmlns='{NS_MUC_ADMIN}'>"
               "<item affiliation='outcast' jid='earlofcambridge@shakespeare.lit'/><item affiliation='outcast'"
               " jid='@@'/></query></iq>")
    assert MUCCore.parse_affiliations(result) == {JID("earlofcambridge@shakespeare.lit"): "outcast"}
    instant = MUCCore.owner_submit(ROOM)
    x = instant.find(f"{{{NS_MUC_OWNER}}}query/{{jabber:x:data}}x")
    assert instant.get("type") == "set" and x.get("type") == "submit" and len(x) == 0
    get = MUCCore.config_request(ROOM)
    assert get.get("type") == "get" and get.find(f"{{{NS_MUC_OWNER}}}query") is not None
    destroy = MUCCore.destroy_request(ROOM, "Macbeth doth come.", "coven2@chat.shakespeare.lit")
    d = destroy.find(f"{{{NS_MUC_OWNER}}}query/{{{NS_MUC_OWNER}}}destroy")
    assert d.get("jid") == "coven2@chat.shakespeare.lit" and d.findtext(f"{{{NS_MUC_OWNER}}}reason") == "Macbeth doth come."


CONFIG_FORM = (f"<iq type='result' id='c'><query xmlns='{NS_MUC_OWNER}'><x xmlns='jabber:x:data' type='form'>"
               "<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
               "<field var='muc#roomconfig_roomname' type='text-single'><value/></field>"
               "<field var='muc#roomconfig_persistentroom' type='boolean'><value>0</value></field>"
               "<field var='muc#roomconfig_whois' type='list-single'><value>moderators</value>"
               "<option><value>moderators</value></option><option><value>anyone</value></option></field>"
               "</x></query></iq>")


def test_configure_fills_the_form():
    form = MUCCore.config_form(X(CONFIG_FORM))
    iq = MUCCore.configure_submit(ROOM, form, {"roomname": "A Dark Cave", "muc#roomconfig_persistentroom": True})
    submitted = forms.parse_form(iq.find(f"{{{NS_MUC_OWNER}}}query/{{jabber:x:data}}x"))
    assert submitted.type == "submit" and submitted.form_type == "http://jabber.org/protocol/muc#roomconfig"
    assert submitted.get("muc#roomconfig_roomname") == "A Dark Cave"
    assert submitted.get("muc#roomconfig_persistentroom") is True
    assert submitted.get("muc#roomconfig_whois") == "moderators"
    with pytest.raises(forms.FormValueError):
        MUCCore.configure_submit(ROOM, form, {"whois": "nobody"})
    with pytest.raises(forms.InvalidForm):
        MUCCore.config_form(X(f"<iq type='result' id='c'><query xmlns='{NS_MUC_OWNER}'/></iq>"))


# -- receiving --------------------------------------------------------------------------------
def test_join_occupants_self_presence_and_created():
    core = MUCCore()
    state, _ = core.join(ROOM, "thirdwitch")
    assert core.receive_presence(pres("firstwitch", "moderator", "owner", jid="crone1@shakespeare.lit/desktop")) == []
    assert core.receive_presence(pres("secondwitch", "participant", "admin")) == []
    evs = core.receive_presence(pres("thirdwitch", codes=(100, 110, 170, 201), jid="hag66@shakespeare.lit/pda"))
    assert len(evs) == 1 and isinstance(evs[0], RoomJoined) and evs[0].room is state and evs[0].created
    assert state.joined and state.created and state.me.nick == "thirdwitch" and state.me.jid == JID("hag66@shakespeare.lit/pda")
    assert sorted(state.occupants) == ["firstwitch", "secondwitch", "thirdwitch"] and len(state) == 3
    first = state.occupant("firstwitch")
    assert (first.role, first.affiliation, first.jid) == ("moderator", "owner", JID("crone1@shakespeare.lit/desktop"))
    assert first.occupant_jid == JID(f"{ROOM}/firstwitch") and state.occupant("secondwitch").jid is None
    assert "firstwitch" in state and [o.nick for o in state][0] == "firstwitch"


def test_occupants_come_change_and_go():
    core, state = joined_core("thirdwitch", "firstwitch")
    evs = core.receive_presence(pres("secondwitch"))
    assert evs == [OccupantJoined(room=state, occupant=state.occupant("secondwitch"))]
    evs = core.receive_presence(pres("secondwitch", "moderator", extra="<show>away</show><status>brb</status>"))
    assert isinstance(evs[0], OccupantChanged) and evs[0].old.role == "participant"
    assert (evs[0].occupant.role, evs[0].occupant.show, evs[0].occupant.status) == ("moderator", "away", "brb")
    assert core.receive_presence(pres("secondwitch", "moderator", extra="<show>away</show><status>brb</status>")) == []
    evs = core.receive_presence(pres("secondwitch", "none", kind="unavailable"))
    assert len(evs) == 1 and isinstance(evs[0], OccupantLeft) and evs[0].reason is None
    assert evs[0].occupant.role == "moderator" and "secondwitch" not in state


def test_nick_changes():
    core, state = joined_core("thirdwitch", "firstwitch")
    evs = core.receive_presence(pres("firstwitch", kind="unavailable", codes=(303,),
                                     inner="", extra="") )
    assert evs[0].reason is None  # no new nick given: an ordinary leave
    core.receive_presence(pres("firstwitch"))
    p = X(f"<presence from='{ROOM}/firstwitch' type='unavailable'><x xmlns='{NS_MUC_USER}'>"
          "<item affiliation='none' role='participant' nick='oldhag'/><status code='303'/></x></presence>")
    evs = core.receive_presence(p)
    assert len(evs) == 1 and evs[0].reason == "nick-change" and evs[0].new_nick == "oldhag"
    evs = core.receive_presence(pres("oldhag"))
    assert evs == [OccupantJoined(room=state, occupant=state.occupant("oldhag"), renamed_from="firstwitch")]
    # our own change, asked for
    core.change_nick(ROOM, "wiccan")
    p = X(f"<presence from='{ROOM}/thirdwitch' type='unavailable'><x xmlns='{NS_MUC_USER}'>"
          "<item affiliation='none' role='participant' nick='wiccan'/><status code='303'/><status code='110'/></x>"
          "</presence>")
    assert core.receive_presence(p) == []
    evs = core.receive_presence(pres("wiccan", codes=(110,)))
    assert evs == [NickChanged(room=state, old="thirdwitch", nick="wiccan")]
    assert state.nick == "wiccan" and state.me.nick == "wiccan" and state.joined
    # refused: still in the room under the old nick
    core.change_nick(ROOM, "oldhag")
    evs = core.receive_presence(error_presence("conflict", "oldhag"))
    assert isinstance(evs[0], JoinFailed) and isinstance(evs[0].error, NicknameInUse)
    assert state.joined and state.nick == "wiccan"


def test_nick_changed_by_the_service_on_join():
    core = MUCCore()
    state, _ = core.join(ROOM, "thirdwitch")
    evs = core.receive_presence(pres("Thirdwitch (2)", codes=(110, 210)))
    assert isinstance(evs[0], RoomJoined) and evs[1] == NickChanged(
        room=state, old="thirdwitch", nick="Thirdwitch (2)", by_service=True)
    assert state.nick == "Thirdwitch (2)"


def test_kicks_bans_and_removals():
    core, state = joined_core("thirdwitch", "pistol", "cambridge", "bardolph", "nym")
    kicked = pres("pistol", "none", kind="unavailable", codes=(307,),
                  inner=f"<actor nick='Fluellen'/><reason>Avaunt, you cullion!</reason>")
    evs = core.receive_presence(kicked)
    assert (evs[0].reason, evs[0].actor, evs[0].text) == ("kicked", "Fluellen", "Avaunt, you cullion!")
    evs = core.receive_presence(pres("cambridge", "none", "outcast", kind="unavailable", codes=(301,)))
    assert evs[0].reason == "banned" and evs[0].occupant.nick == "cambridge"
    evs = core.receive_presence(pres("bardolph", "none", kind="unavailable", codes=(321,)))
    assert evs[0].reason == "affiliation"
    evs = core.receive_presence(pres("nym", "none", kind="unavailable", codes=(322,)))
    assert evs[0].reason == "members-only"
    assert sorted(state.occupants) == ["thirdwitch"]
    # and us
    evs = core.receive_presence(pres("thirdwitch", "none", kind="unavailable", codes=(110, 307),
                                     inner="<reason>out</reason>"))
    assert evs == [RoomLeft(room=state, reason="kicked", text="out")]
    assert not state.joined and not state.occupants and state.me is None
    with pytest.raises(NotInRoom):
        core.groupchat(ROOM, "still here?")


def test_leave_shutdown_and_destroy():
    core, state = joined_core()
    core.leave(ROOM)
    evs = core.receive_presence(pres("thirdwitch", "none", kind="unavailable", codes=(110,)))
    assert evs == [RoomLeft(room=state)]
    assert core.rejoin_all() == []  # we left: not rejoined
    core, state = joined_core()
    evs = core.receive_presence(pres("thirdwitch", "none", kind="unavailable", codes=(110, 332)))
    assert evs[0].reason == "shutdown" and not state.joined
    assert [s for s, _ in core.rejoin_all()] == [state]  # the next session rejoins it
    core, state = joined_core()  # out without asking (a server going down): rejoined too
    core.receive_presence(pres("thirdwitch", "none", kind="unavailable", codes=(110,)))
    assert [s for s, _ in core.rejoin_all()] == [state]
    core, state = joined_core()
    p = X(f"<presence from='{ROOM}/thirdwitch' type='unavailable'><x xmlns='{NS_MUC_USER}'>"
          "<item affiliation='none' role='none'/><destroy jid='coven2@chat.shakespeare.lit'>"
          "<reason>Macbeth doth come.</reason></destroy><status code='110'/></x></presence>")
    evs = core.receive_presence(p)
    assert evs == [RoomLeft(room=state, reason="destroyed", text="Macbeth doth come.",
                            alternate="coven2@chat.shakespeare.lit")]


@pytest.mark.parametrize("condition, cls", [
    ("conflict", NicknameInUse), ("not-authorized", PasswordRequired), ("forbidden", Banned),
    ("registration-required", MembersOnly), ("service-unavailable", RoomFull), ("item-not-found", RoomNotFound)])
def test_join_errors_are_typed(condition, cls):
    core = MUCCore()
    state, _ = core.join(ROOM, "thirdwitch")
    evs = core.receive_presence(error_presence(condition))
    assert len(evs) == 1 and isinstance(evs[0], JoinFailed) and evs[0].room is state
    error = evs[0].error
    assert isinstance(error, cls) and isinstance(error, StanzaError) and error.condition == condition
    assert error.room == JID(ROOM) and error.nick == "thirdwitch" and not state.joined
    assert core.receive_presence(error_presence(condition)) == []  # not joining any more: logged


@pytest.mark.parametrize("condition, cls, base", [
    ("conflict", NicknameInUse, stanza_errors.Conflict),
    ("not-authorized", PasswordRequired, stanza_errors.NotAuthorized),
    ("forbidden", Banned, stanza_errors.Forbidden),
    ("registration-required", MembersOnly, stanza_errors.RegistrationRequired),
    ("service-unavailable", RoomFull, stanza_errors.ServiceUnavailable),
    ("item-not-found", RoomNotFound, stanza_errors.ItemNotFound),
    ("not-allowed", CreationNotAllowed, stanza_errors.NotAllowed),
    ("not-acceptable", NicknameLocked, stanza_errors.NotAcceptable)])
def test_join_errors_are_their_stanza_error_condition_classes(condition, cls, base):
    assert issubclass(cls, JoinError) and issubclass(cls, base) and cls.condition == base.condition == condition
    core = MUCCore()
    core.join(ROOM, "thirdwitch")
    error = core.receive_presence(error_presence(condition))[0].error
    with pytest.raises(base) as caught:  # caught as the generic condition...
        raise error
    assert isinstance(caught.value, cls) and caught.value.nick == "thirdwitch"
    with pytest.raises(cls):  # ...and as the MUC one
        raise error
    assert type(stanza_errors.from_element(error_presence(condition))) is base  # the generic one unchanged


def test_other_join_error_is_a_stanza_error():
    core = MUCCore()
    core.join(ROOM, "thirdwitch")
    evs = core.receive_presence(error_presence("jid-malformed"))
    assert evs[0].error.condition == "jid-malformed"


def test_messages_in_history_subject_and_private():
    core = MUCCore()
    state, _ = core.join(ROOM, "thirdwitch")
    core.receive_presence(pres("firstwitch"))
    core.receive_presence(pres("thirdwitch", codes=(110,)))
    # history: from someone no longer here, with a stamp
    evs = core.receive_message(groupchat("secondwitch", "Thrice", stamp="2002-10-13T23:58:37Z"))
    assert evs[0].delayed == "2002-10-13T23:58:37Z" and evs[0].nick == "secondwitch" and evs[0].body == "Thrice"
    assert state.last_seen == "2002-10-13T23:58:37Z"
    evs = core.receive_message(X(f"<message from='{ROOM}/firstwitch' type='groupchat'>"
                                 "<subject>Fire Burn and Cauldron Bubble!</subject></message>"))
    assert evs == [SubjectChanged(room=state, subject="Fire Burn and Cauldron Bubble!", nick="firstwitch")]
    assert state.subject == "Fire Burn and Cauldron Bubble!" and state.subject_by == "firstwitch"
    evs = core.receive_message(X(f"<message from='{ROOM}' type='groupchat'><subject/></message>"))
    assert evs[0].subject == "" and evs[0].nick is None and state.subject == ""
    evs = core.receive_message(groupchat("firstwitch", "Thrice the brinded cat hath mew'd."))
    msg = evs[0]
    assert isinstance(msg, RoomMessage) and not msg.private and msg.delayed is None and not msg.from_me
    assert msg.message.type == "groupchat" and msg.room is state
    assert core.receive_message(groupchat("thirdwitch", "mine"))[0].from_me
    evs = core.receive_message(X(f"<message from='{ROOM}/firstwitch' type='chat'><body>psst</body>"
                                 f"<x xmlns='{NS_MUC_USER}'/></message>"))
    assert evs[0].private and evs[0].nick == "firstwitch" and evs[0].body == "psst"
    evs = core.receive_message(groupchat(None, "This room is not anonymous"))
    assert evs[0].nick is None and evs[0].body == "This room is not anonymous"


def test_live_messages_stamp_last_seen_with_the_clock():
    core = MUCCore(clock=lambda: 86400.5)
    core.join(ROOM, "thirdwitch")
    core.receive_presence(pres("thirdwitch", codes=(110,)))
    core.receive_message(groupchat("thirdwitch", "now"))
    assert core.room(ROOM).last_seen == "1970-01-02T00:00:00Z"


def test_room_message_fields_lazy_message_and_frozen():
    core, state = joined_core("thirdwitch", "firstwitch")
    stanza = X(f"<message from='{ROOM}/firstwitch' type='groupchat' id='m7'><body>Double, double</body>"
               f"<stanza-id xmlns='urn:xmpp:sid:0' id='s7' by='{ROOM}'/><thread>t1</thread></message>")
    ev = core.receive_message(stanza)[0]
    assert (ev.room, ev.nick, ev.body, ev.private, ev.delayed, ev.stanza) == (state, "firstwitch", "Double, double",
                                                                               False, None, stanza)
    msg = ev.message  # parsed on first access, then kept
    assert msg is ev.message and msg.thread == "t1" and msg.id == "m7" and msg.stanza_id() == "s7"
    assert msg.sender == JID(f"{ROOM}/firstwitch") and msg.body == ev.body
    with pytest.raises(AttributeError):
        ev.body = "changed"
    assert "Double, double" in repr(ev) and "firstwitch" in repr(ev)
    same = RoomMessage(room=state, nick="firstwitch", body="Double, double", private=False, delayed=None,
                       message=msg)
    assert same == ev and same.message is msg and same.stanza is stanza
    with pytest.raises(TypeError):
        RoomMessage(room=state, nick="x", body=None, private=False, delayed=None)
    # an empty body is "", several bodies pick the message's language, no body is None
    assert core.receive_message(groupchat("firstwitch", ""))[0].body == ""
    multi = X(f"<message from='{ROOM}/firstwitch' type='groupchat' xml:lang='de'><body xml:lang='en'>toil</body>"
              "<body>Mühe</body></message>")
    assert core.receive_message(multi)[0].body == "Mühe"
    nobody = X(f"<message from='{ROOM}/firstwitch' type='groupchat'><x xmlns='jabber:x:conference'/></message>")
    assert core.receive_message(nobody)[0].body is None


def test_repeated_history_is_dropped_by_stanza_id_of_the_room_only():
    core, state = joined_core("thirdwitch", "firstwitch")

    def sid_message(body, sid, by=ROOM, stamp=None):
        delay = f"<delay xmlns='urn:xmpp:delay' stamp='{stamp}'/>" if stamp else ""
        return X(f"<message from='{ROOM}/firstwitch' type='groupchat'><body>{body}</body>"
                 f"<stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='someone@else.lit'/>"
                 f"<stanza-id xmlns='urn:xmpp:sid:0' id='{sid}' by='{by}'/>{delay}</message>")
    assert core.receive_message(sid_message("live", "a1"))[0].body == "live"
    assert state.last_seen is None  # no clock: only history stamps are kept
    # the same message again as history (a rejoin's "since" is inclusive): dropped
    assert core.receive_message(sid_message("live", "a1", stamp="2026-12-05T20:00:00Z")) == []
    # a stanza-id by someone else does not identify it: not taken as a repeat
    assert core.receive_message(sid_message("other", "forged", stamp="2026-12-05T20:00:01Z"))[0].body == "other"
    assert state.last_seen == "2026-12-05T20:00:01Z"
    for i in range(150):  # only the last 100 are remembered
        core.receive_message(sid_message(f"m{i}", f"b{i}"))
    assert len(state._recent) == 100
    assert core.receive_message(sid_message("m0", "b0", stamp="2026-12-05T20:00:02Z"))[0].body == "m0"
    assert core.receive_message(sid_message("m149", "b149", stamp="2026-12-05T20:00:03Z")) == []


def test_senders_are_parsed_once_and_forgotten_when_a_room_is_made_again():
    core, state = joined_core("thirdwitch", "firstwitch")
    assert core.receive_message(groupchat("firstwitch", "one"))[0].room is state
    assert f"{ROOM}/firstwitch" in core._senders
    # a sender in another case is the same occupant (its JID parsed once, then remembered)
    upper = groupchat("firstwitch", "two", frm=f"COVEN@chat.shakespeare.lit/firstwitch")
    ev = core.receive_message(upper)[0]
    assert ev.room is state and ev.nick == "firstwitch"
    # leave and join again: a new room object, the remembered senders are not used
    core.leave(ROOM)
    core.receive_presence(pres("thirdwitch", kind="unavailable", codes=(110,)))
    again, _ = core.join(ROOM, "thirdwitch")
    assert again is not state and core._senders == {}
    core.receive_presence(pres("firstwitch"))
    core.receive_presence(pres("thirdwitch", codes=(110,)))
    assert core.receive_message(groupchat("firstwitch", "three"))[0].room is again


def test_listeners_added_or_removed_while_an_event_is_handled():
    client, muc = make("sync")
    core = muc.core
    core.join(ROOM, "thirdwitch")
    core.receive_presence(pres("firstwitch"))
    muc._notify(core.receive_presence(pres("thirdwitch", codes=(110,))))
    seen = []

    def late(event):
        seen.append(("late", event.body))

    def first(event):
        seen.append(("first", event.body))
        muc.on_message(late)  # takes effect from the next event
        muc.remove_listener(first)
    muc.on_message(first)
    everything = []
    muc.on_event(everything.append)
    client.deliver(groupchat("firstwitch", "one"))
    client.deliver(groupchat("firstwitch", "two"))
    assert seen == [("first", "one"), ("late", "two")]
    assert [e.body for e in everything] == ["one", "two"]


# -- bad input: logged and dropped, never raised ----------------------------------------------
def test_bad_presences_are_dropped(caplog):
    core, state = joined_core("thirdwitch", "firstwitch")
    with caplog.at_level("WARNING", logger="fastxmpp.xep.muc"):
        assert core.receive_presence(pres("intruder", item=False)) == []
        assert core.receive_presence(pres("intruder", role="king")) == []
        assert core.receive_presence(pres("intruder", aff="overlord")) == []
    assert "intruder" not in state
    assert "without its muc#user item" in caplog.text and "'king'" in caplog.text and "'overlord'" in caplog.text
    # an unavailable presence without an item still removes the occupant
    evs = core.receive_presence(pres("firstwitch", kind="unavailable", item=False))
    assert isinstance(evs[0], OccupantLeft) and "firstwitch" not in state
    # presences not from one of our rooms, or from nowhere
    assert core.receive_presence(X("<presence from='romeo@montague.lit/x'/>")) == []
    assert core.receive_presence(X("<presence/>")) == []
    assert core.receive_presence(X(f"<presence from='{ROOM}'/>")) == []
    assert core.receive_presence(X(f"<presence from='{ROOM}/x' type='subscribe'/>")) == []


def test_invalid_status_codes_and_real_jids_are_dropped(caplog):
    core, state = joined_core()
    with caplog.at_level("WARNING", logger="fastxmpp.xep.muc"):
        p = X(f"<presence from='{ROOM}/newbie'><x xmlns='{NS_MUC_USER}'>"
              "<item affiliation='none' role='participant' jid='@@bad'/><status code='abc'/>"
              "<status code='1000'/><status/><status code='307'/></x></presence>")
        evs = core.receive_presence(p)
    assert isinstance(evs[0], OccupantJoined) and evs[0].occupant.jid is None
    assert "invalid MUC status code 'abc'" in caplog.text and "invalid real JID" in caplog.text
    assert status_codes(p.find(f"{{{NS_MUC_USER}}}x")) == {307} and status_codes(None) == frozenset()


def test_message_from_a_non_occupant_is_dropped(caplog):
    core, state = joined_core("thirdwitch", "firstwitch")
    with caplog.at_level("WARNING", logger="fastxmpp.xep.muc"):
        assert core.receive_message(groupchat("stranger", "boo")) == []
        assert core.receive_message(X(f"<message from='{ROOM}/stranger' type='chat'><body>psst</body></message>")) == []
    assert "not an occupant" in caplog.text
    assert core.receive_message(groupchat("x", "hi", frm="other@chat.shakespeare.lit/x")) == []
    assert core.receive_message(groupchat("x", "hi", frm="@@/x")) == []
    assert core.receive_message(X(f"<message from='{ROOM}' type='normal'><body>invite</body></message>")) == []
    with caplog.at_level("WARNING", logger="fastxmpp.xep.muc"):
        assert core.receive_message(X(f"<message from='{ROOM}' type='error'><error type='modify'>"
                                      f"<not-acceptable xmlns='{ERR}'/></error></message>")) == []
    assert "error from room" in caplog.text
    core.leave(ROOM)
    core.receive_presence(pres("thirdwitch", kind="unavailable", codes=(110,)))
    assert core.receive_message(groupchat("firstwitch", "after we left")) == []


def test_rejoin_asks_for_history_since_and_diffs_the_occupants():
    core, state = joined_core("thirdwitch", "firstwitch", "secondwitch")
    core.receive_message(groupchat("firstwitch", "old", stamp="2026-12-05T20:00:00Z"))
    other, _ = core.join("other@chat.shakespeare.lit", "me")  # still joining: rejoined too
    left, _ = core.join("left@chat.shakespeare.lit", "me")
    core.receive_presence(X("<presence from='left@chat.shakespeare.lit/me' type='error'><error type='cancel'>"
                            f"<forbidden xmlns='{ERR}'/></error></presence>"))
    out = core.rejoin_all()
    assert [s for s, _ in out] == [state, other]
    presence = out[0][1]
    assert presence.find(f"{{{NS_MUC}}}x/{{{NS_MUC}}}history").get("since") == "2026-12-05T20:00:00Z"
    assert not state.joined and not state.occupants
    assert core.receive_presence(pres("firstwitch")) == []  # still there, unchanged
    evs = core.receive_presence(pres("fourthwitch"))
    assert evs == [OccupantJoined(room=state, occupant=state.occupant("fourthwitch"))]
    evs = core.receive_presence(pres("thirdwitch", codes=(110,)))
    assert isinstance(evs[0], RoomJoined) and evs[0].rejoined
    assert [type(e) for e in evs[1:]] == [OccupantLeft] and evs[1].reason == "gone"
    assert evs[1].occupant.nick == "secondwitch"
    assert sorted(state.occupants) == ["firstwitch", "fourthwitch", "thirdwitch"]
    # the history since the last message seen repeats that message: dropped once, by its id
    assert core.receive_message(groupchat("firstwitch", "old", stamp="2026-12-05T20:00:00Z")) == []
    evs = core.receive_message(X(f"<message from='{ROOM}/secondwitch' type='groupchat'><body>missed</body>"
                                 "<delay xmlns='urn:xmpp:delay' stamp='2026-12-05T20:00:00Z'/>"
                                 f"<stanza-id xmlns='urn:xmpp:sid:0' id='s2' by='{ROOM}'/></message>"))
    assert evs[0].body == "missed" and evs[0].delayed


# -- the glue, through fake clients -----------------------------------------------------------
class FakeClient(HandlerRegistry):
    """What client.muc uses of a client (a blocking one): handlers, send, iq, process, _call."""

    iq_timeout = 5.0

    def __init__(self):
        self._init_handlers()
        self.jid = JID("hag66@shakespeare.lit/pda")
        self.sent, self.requests = [], []
        self.inbox = deque()
        self.features = []
        self.disco = SimpleNamespace(responder=SimpleNamespace(add_feature=self.features.append))
        self.answers = {}  # sent presence 'to' -> stanzas the room answers with

    def send(self, stanza):
        self.sent.append(stanza)
        self.inbox.extend(self.answers.pop(stanza.get("to"), ()))

    def send_nowait(self, stanza):
        self.send(stanza)

    def iq(self, stanza, timeout=None):
        self.requests.append(stanza)
        if stanza.get("type") == "get" and stanza.find(f"{{{NS_MUC_OWNER}}}query") is not None:
            return X(CONFIG_FORM)
        return X("<iq type='result' id='r'/>")

    def process(self, timeout=None):
        if not self.inbox:
            raise TimeoutError("nothing scripted")
        self.deliver(self.inbox.popleft())
        return 1

    def deliver(self, stanza):
        for fn in self.handlers_for(stanza):
            fn(stanza)

    def _call(self, fn, event):
        fn(event)

    def start_session(self, resumed=False):
        for fn in self._session_listeners or ():
            fn(SimpleNamespace(resumed=resumed))


class AsyncFakeClient(FakeClient):
    def __init__(self):
        super().__init__()
        self.tasks = []

    async def send(self, stanza):
        FakeClient.send(self, stanza)
        loop = asyncio.get_running_loop()
        while self.inbox:  # the room answers after the send returned
            loop.call_soon(self.deliver, self.inbox.popleft())

    def send_nowait(self, stanza):
        FakeClient.send(self, stanza)

    async def iq(self, stanza, timeout=None):
        return FakeClient.iq(self, stanza, timeout)

    def _call(self, fn, event):
        result = fn(event)
        if asyncio.iscoroutine(result):
            self.tasks.append(asyncio.ensure_future(result))


def make(kind):
    client = AsyncFakeClient() if kind == "aio" else FakeClient()
    return client, (aio_muc if kind == "aio" else sync_muc).MUC(client)


def run(kind, make_result):
    if kind == "aio":
        async def main():
            return await make_result()
        return asyncio.run(main())
    return make_result()


@pytest.mark.parametrize("kind", ["aio", "sync"])
def test_client_join_talk_moderate_leave(kind):
    client, muc = make(kind)
    assert client.features == [NS_MUC]
    seen, messages = [], []
    muc.on_event(seen.append)
    muc.on_message(messages.append)
    to = f"{ROOM}/thirdwitch"
    client.answers[to] = [pres("firstwitch", "moderator", "owner"), pres("thirdwitch", codes=(110, 201))]

    async_or_not = kind == "aio"

    def scenario():
        if async_or_not:
            async def go():
                room = await muc.join(ROOM, "thirdwitch", history=History(maxstanzas=5))
                await room.send("hi")
                await room.send_private("firstwitch", "psst")
                await room.set_subject("Fire")
                await room.kick("firstwitch", "out")
                await room.ban("crone1@shakespeare.lit", "banned")
                await room.configure({"roomname": "Cave"})
                client.answers[to] = [pres("thirdwitch", "none", kind="unavailable", codes=(110,))]
                await room.leave()
                return room
            return go()
        room = muc.join(ROOM, "thirdwitch", history=History(maxstanzas=5))
        room.send("hi")
        room.send_private("firstwitch", "psst")
        room.set_subject("Fire")
        room.kick("firstwitch", "out")
        room.ban("crone1@shakespeare.lit", "banned")
        room.configure({"roomname": "Cave"})
        client.answers[to] = [pres("thirdwitch", "none", kind="unavailable", codes=(110,))]
        room.leave()
        return room

    if kind == "aio":
        room = asyncio.run(scenario())
    else:
        room = scenario()
    assert isinstance(room, (aio_muc if kind == "aio" else sync_muc).Room) and room.created
    assert muc.rooms[JID(ROOM)] is room and muc.room(ROOM) is room and not room.joined
    # the created room was unlocked with an empty form, as an instant room
    instant = client.requests[0]
    assert instant.find(f"{{{NS_MUC_OWNER}}}query/{{jabber:x:data}}x").get("type") == "submit"
    assert [s.get("type") for s in client.sent] == [None, "groupchat", "chat", "groupchat", "unavailable"]
    kick, ban = client.requests[1], client.requests[2]
    assert kick.find(f"{{{NS_MUC_ADMIN}}}query/{{{NS_MUC_ADMIN}}}item").get("role") == "none"
    assert ban.find(f"{{{NS_MUC_ADMIN}}}query/{{{NS_MUC_ADMIN}}}item").get("affiliation") == "outcast"
    submitted = client.requests[4].find(f"{{{NS_MUC_OWNER}}}query/{{jabber:x:data}}x")
    assert forms.parse_form(submitted).get("muc#roomconfig_roomname") == "Cave"
    assert [type(e) for e in seen] == [RoomJoined, RoomLeft]
    client.deliver(groupchat("thirdwitch", "after leaving"))  # ignored
    assert messages == []
    muc.remove_listener(seen.append)


@pytest.mark.parametrize("kind", ["aio", "sync"])
def test_client_join_refused_and_nick_change(kind):
    client, muc = make(kind)
    to = f"{ROOM}/thirdwitch"
    client.answers[to] = [error_presence("conflict")]
    with pytest.raises(NicknameInUse):
        run(kind, lambda: muc.join(ROOM, "thirdwitch"))
    client.answers[to] = [pres("thirdwitch", codes=(110,))]
    room = run(kind, lambda: muc.join(ROOM, "thirdwitch", password="pw"))
    assert room.joined and not room.created and client.requests == []
    client.answers[f"{ROOM}/oldhag"] = [error_presence("conflict", "oldhag")]
    with pytest.raises(stanza_errors.Conflict) as refused:  # the generic condition catches it too
        run(kind, lambda: room.change_nick("oldhag"))
    assert isinstance(refused.value, NicknameInUse) and refused.value.nick == "oldhag"
    client.answers["other@chat.shakespeare.lit/banned"] = [X(
        "<presence from='other@chat.shakespeare.lit/banned' type='error'><error type='auth'>"
        f"<forbidden xmlns='{ERR}'/></error></presence>")]
    with pytest.raises(stanza_errors.Forbidden) as refused:
        run(kind, lambda: muc.join("other@chat.shakespeare.lit", "banned"))
    assert isinstance(refused.value, Banned) and refused.value.room == JID("other@chat.shakespeare.lit")
    p = X(f"<presence from='{ROOM}/thirdwitch' type='unavailable'><x xmlns='{NS_MUC_USER}'>"
          "<item affiliation='none' role='participant' nick='wiccan'/><status code='303'/><status code='110'/></x>"
          "</presence>")
    client.answers[f"{ROOM}/wiccan"] = [p, pres("wiccan", codes=(110,))]
    assert run(kind, lambda: room.change_nick("wiccan")) is room and room.nick == "wiccan"
    # kicked while waiting for something else: the wait raises NotInRoom
    client.answers[f"{ROOM}/x"] = [pres("wiccan", "none", kind="unavailable", codes=(110, 307))]
    with pytest.raises(NotInRoom):
        run(kind, lambda: room.change_nick("x"))


@pytest.mark.parametrize("kind", ["aio", "sync"])
def test_client_join_times_out(kind):
    client, muc = make(kind)
    client.iq_timeout = 0.05
    client.process = lambda timeout=None: 0  # the room never answers
    with pytest.raises((TimeoutError, asyncio.TimeoutError)):
        run(kind, lambda: muc.join(ROOM, "thirdwitch", timeout=0.05))
    assert muc._waiters == []


@pytest.mark.parametrize("kind", ["aio", "sync"])
def test_client_rejoins_after_a_new_session(kind):
    client, muc = make(kind)
    client.answers[f"{ROOM}/thirdwitch"] = [pres("thirdwitch", codes=(110,))]
    room = run(kind, lambda: muc.join(ROOM, "thirdwitch", config={"roomname": "Cave"}))
    client.deliver(groupchat("thirdwitch", "seen", stamp="2026-12-05T20:00:00Z"))
    client.sent.clear()
    client.start_session(resumed=True)
    assert client.sent == []
    seen = []
    muc.on_event(seen.append)

    async def fresh_session():
        client.start_session(resumed=False)
        client.deliver(pres("thirdwitch", codes=(110, 201)))
        await asyncio.gather(*client.tasks)

    if kind == "aio":
        asyncio.run(fresh_session())
    else:
        client.start_session(resumed=False)
        client.deliver(pres("thirdwitch", codes=(110, 201)))
    rejoin = client.sent[0]
    assert rejoin.get("to") == f"{ROOM}/thirdwitch"
    assert rejoin.find(f"{{{NS_MUC}}}x/{{{NS_MUC}}}history").get("since") == "2026-12-05T20:00:00Z"
    assert isinstance(seen[0], RoomJoined) and seen[0].rejoined and room.joined
    # re-created by the rejoin (a server restart): configured again as asked on the first join
    submitted = client.requests[-1].find(f"{{{NS_MUC_OWNER}}}query/{{jabber:x:data}}x")
    assert forms.parse_form(submitted).get("muc#roomconfig_roomname") == "Cave"


def test_client_property_made_on_first_access_only():
    for cls, module in ((aio.Client, aio_muc), (sync.Client, sync_muc)):
        client = cls("hag66@shakespeare.lit/pda", "pw")
        assert client._handlers == {}
        m = client.muc
        assert type(m) is module.MUC and client.muc is m
        assert len(client._handlers["presence"]) == 1 and len(client._handlers["message"]) == 1
        assert NS_MUC in client.disco.responder.features


# -- the compiled twin of MUCCore.receive_message agrees with the Python one --------------------
import io  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

from hypothesis import given, strategies as st  # noqa: E402

from fastxmpp import _accel  # noqa: E402
from fastxmpp.xep import muc as muc_module  # noqa: E402

_OTHER_ROOM = "other@chat.shakespeare.lit"
_MSG_SENDERS = [f"{ROOM}/firstwitch", f"{ROOM}/secondwitch", f"{ROOM}/thirdwitch", f"{ROOM}/stranger", ROOM,
                f"{ROOM}/fir&#x73;twitch", f"{ROOM}/first witch", f"{_OTHER_ROOM}/x", "hecate@shakespeare.lit/a",
                "bad@@x/a", f"{ROOM}/caf\u00e9", ""]
_MSG_TYPES = ["groupchat", "groupchat", "groupchat", None, "chat", "normal", "error", "headline", "Groupchat"]
_MSG_CHILDREN = [
    "<body>hi</body>", "<body>caf\u00e9 \u2603</body>", "<body/>", "<body></body>", "<body>two\nlines\tand tab</body>",
    "<body>I&apos;m &lt;here&gt;</body>", "<body>a\r\nb</body>", "<body><![CDATA[a<b]]></body>",
    "<body>a<em xmlns='urn:x'>b</em>c</body>", "<body xml:lang='de'>hallo</body>", "<body xmlns='urn:other'>no</body>",
    "<body xmlns='jabber:client'>yes</body>", "<p:body xmlns:p='urn:p'>prefixed</p:body>",
    "<subject>news</subject>", "<subject/>",
    "<delay xmlns='urn:xmpp:delay' stamp='2026-12-06T01:02:03Z'/>",
    "<delay xmlns='urn:xmpp:delay' stamp='2026-12-06T01:02:04Z' from='x'>Offline <b>storage</b></delay>",
    "<delay xmlns='urn:xmpp:delay'/>", "<delay xmlns='urn:xmpp:delay' stamp='2026&#x2D;12'/>",
    "<delay xmlns='urn:other' stamp='2026-12-06T09:09:09Z'/>",
    f"<stanza-id xmlns='urn:xmpp:sid:0' by='{ROOM}' id='s1'/>", f"<stanza-id xmlns='urn:xmpp:sid:0' by='{ROOM}' id='s2'/>",
    f"<stanza-id xmlns='urn:xmpp:sid:0' by='{ROOM}' id=''/>", "<stanza-id xmlns='urn:xmpp:sid:0' by='hag66@shakespeare.lit' id='s1'/>",
    f"<stanza-id xmlns='urn:xmpp:sid:0' by='{ROOM}'/>", f"<stanza-id xmlns='urn:xmpp:sid:0' by='{ROOM}x' id='s5'/>",
    f"<stanza-id xmlns='urn:xmpp:sid:0' id='s3' by='{ROOM}'></stanza-id>", "<stanza-id xmlns='urn:xmpp:sid:0' id='s4'/>",
    f"<stanza-id xmlns='urn:xmpp:sid:0' by='{ROOM}' id='a&amp;b'/>",
    "<origin-id xmlns='urn:xmpp:sid:0' id='o1'/>", "<active xmlns='http://jabber.org/protocol/chatstates'/>",
    f"<x xmlns='{NS_MUC_USER}'><invite from='a@b'/></x>", "\n  ",
]


def _message_xml(sender, kind, ident, children, quote):
    attrs = f" from={quote}{sender}{quote}" if sender is not None else ""
    if kind is not None:
        attrs += f" type={quote}{kind}{quote}"
    if ident is not None:
        attrs += f" id={quote}{ident}{quote}"
    return f"<message{attrs}>{''.join(children)}</message>" if children else f"<message{attrs}/>"


_scripts = st.lists(st.one_of(
    st.builds(_message_xml, st.sampled_from(_MSG_SENDERS), st.sampled_from(_MSG_TYPES),
              st.sampled_from([None, "m1", "m2", "", "a&amp;b", "m\t1"]),
              st.lists(st.sampled_from(_MSG_CHILDREN), max_size=5), st.sampled_from(["'", '"'])),
    st.sampled_from(["join:stranger", "leave:secondwitch", "nick:firstwitch", "left-room", "rejoining"])),
    min_size=1, max_size=8)


def _seen_muc(value):
    """What an event says (its room as the room's JID, its stanza as its bytes)."""
    if isinstance(value, RoomMessage):
        return ("RoomMessage", str(value.room.jid), value.nick, value.body, value.private, value.delayed,
                value.stanza.tag, value.stanza.get("id"), value.message.body)
    if isinstance(value, list):
        return [_seen_muc(v) for v in value]
    return (type(value).__name__, repr(value))


def _muc_state(core):
    return [(str(jid), sorted(s.occupants), s.joined, s._joining, s.subject, s.subject_by, s._last_seen,
             sorted(s._recent), list(s._recent_order)) for jid, s in core.rooms.items()]


def _script_core():
    ticks = iter(range(1000))
    core = MUCCore(clock=lambda: float(next(ticks)))
    core.join(ROOM, "thirdwitch")
    for nick in ("firstwitch", "secondwitch", "caf\u00e9"):
        core.receive_presence(pres(nick))
    core.receive_presence(pres("thirdwitch", codes=(110,)))
    core.join(_OTHER_ROOM, "me")  # being joined: its messages are taken too
    for sender in _MSG_SENDERS[:-2]:  # their routes known (the compiled twin's fast path), no state changed
        assert core.receive_message(X(f"<message from='{sender}' type='headline'/>")) == []
    return core


def _step(core, receive, step):
    if step == "join:stranger":
        return core.receive_presence(pres("stranger"))
    if step == "leave:secondwitch":
        return core.receive_presence(pres("secondwitch", kind="unavailable"))
    if step == "nick:firstwitch":
        return core.receive_presence(pres("firstwitch", kind="unavailable", codes=(303,),
                                          inner="", extra=""))
    if step == "left-room":
        core.rooms[JID(ROOM)]._reset()
        return []
    if step == "rejoining":
        return [p.get("to") for _, p in core.rejoin_all()]
    return receive(core, X(step))


@pytest.mark.skipif(not _accel.USE_EXTENSIONS, reason="the compiled twins are not in use")
def test_compiled_receive_message_is_in_use():
    from fastxmpp import _muc_c

    assert MUCCore.receive_message is _muc_c.receive_message


@pytest.mark.skipif(not _accel.USE_EXTENSIONS, reason="the compiled twins are not in use")
@pytest.mark.parametrize("built", [False, True], ids=["lazy", "built"])
@given(script=_scripts)
def test_compiled_receive_message_agrees_with_the_python_twin(built, script):
    """The same events, room state and log lines from both twins, for messages read from
    their bytes (lazy) or already built, on the fast path or passed on to the Python twin."""
    from fastxmpp import _muc_c

    def compiled(core, stanza):
        if built:
            stanza.attrib  # builds a lazy stanza
        return _muc_c.receive_message(core, stanza)

    def python(core, stanza):
        if built:
            stanza.attrib
        return MUCCore._receive_message_py(core, stanza)

    handler = logging.StreamHandler(io.StringIO())
    logger = logging.getLogger("fastxmpp.xep.muc")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        results = []
        for receive in (python, compiled):
            handler.stream = io.StringIO()
            core = _script_core()
            events = [_seen_muc(_step(core, receive, step)) for step in script]
            results.append((events, _muc_state(core), handler.stream.getvalue()))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert results[0] == results[1]


@pytest.mark.skipif(not _accel.USE_EXTENSIONS, reason="the compiled twins are not in use")
def test_compiled_receive_message_reads_common_messages_itself():
    """Prosody's groupchat messages (body, the room's stanza-id, an origin-id; history with
    a delay) stay on the compiled path; the Python twin, which builds the stanza, is for
    the odd ones."""
    calls = []

    def watch(frame, event, arg):
        if event == "call" and frame.f_code is MUCCore._receive_message_py.__code__:
            calls.append(frame)

    core, state = joined_core("thirdwitch", "firstwitch")
    common = [X(f"<message from='{ROOM}/firstwitch' type='groupchat' id='a1' xml:lang='en'><body>hi\nthere</body>"
                f"<stanza-id xmlns='urn:xmpp:sid:0' by='{ROOM}' id='s1'/><origin-id xmlns='urn:xmpp:sid:0' id='a1'/>"
                "</message>"),
              X(f"<message from='{ROOM}/firstwitch' type='groupchat' id='a0'><body>old</body>"
                "<delay xmlns='urn:xmpp:delay' from='x' stamp='2026-12-06T01:02:03Z'/></message>")]
    odd = [X(f"<message from='{ROOM}/firstwitch' type='groupchat'><subject>s</subject></message>"),
           X(f"<message from='{ROOM}/firstwitch' type='chat'><body>psst</body></message>")]
    sys.setprofile(watch)
    try:
        evs = [core.receive_message(stanza) for stanza in common]
        assert calls == []
        for stanza in odd:
            core.receive_message(stanza)
    finally:
        sys.setprofile(None)
    assert len(calls) == 2
    [a], [b] = evs
    assert (a.nick, a.body, a.private, a.delayed, a.room) == ("firstwitch", "hi\nthere", False, None, state)
    assert (b.body, b.delayed) == ("old", "2026-12-06T01:02:03Z") and state.last_seen == "2026-12-06T01:02:03Z"
    assert a.message.body == "hi\nthere" and a.stanza is common[0] and list(state._recent_order)[-2:] == ["sid:s1", "id:firstwitch/a0"]


@pytest.mark.parametrize("first", ["", " id=''"])
def test_the_rooms_first_stanza_id_with_an_id_is_the_key(first):
    """A stanza-id of the room without an id (or an empty one) is passed over: the room's
    next one is the message's key (both twins)."""
    core, state = joined_core("thirdwitch", "firstwitch")
    stanza = X(f"<message from='{ROOM}/firstwitch' type='groupchat' id='m1'><body>hi</body>"
               f"<stanza-id xmlns='urn:xmpp:sid:0' by='{ROOM}'{first}/>"
               f"<stanza-id xmlns='urn:xmpp:sid:0' by='{ROOM}' id='s2'/></message>")
    assert core.receive_message(stanza)[0].body == "hi"
    assert list(state._recent_order)[-1] == "sid:s2"


@pytest.mark.skipif(not _accel.USE_EXTENSIONS, reason="the compiled twins are not in use")
@pytest.mark.parametrize("kind", ["aio", "sync"])
def test_compiled_message_handler_agrees_with_the_python_twin(kind):
    """The listeners called, in their order, with the same events (a subject, a waiter
    waiting, an error and a message from elsewhere included) from both handlers."""
    from fastxmpp import _muc_c

    assert muc_module.MUCBase._on_message is _muc_c.on_message
    stanzas = [groupchat("firstwitch", "one"), groupchat("firstwitch", "two", stamp="2026-12-06T01:02:03Z"),
               X(f"<message from='{ROOM}/firstwitch' type='groupchat'><subject>s</subject></message>"),
               X(f"<message from='{ROOM}/firstwitch' type='chat'><body>psst</body></message>"),
               X(f"<message from='{ROOM}' type='error'/>"), groupchat("stranger", "who"),
               X("<message from='hecate@shakespeare.lit/a' type='chat'><body>hi</body></message>"),
               X(f"<message from='{ROOM}/firstwitch' type='groupchat' id='m9'><body>three</body></message>")]
    results = []
    for handler in (muc_module.MUCBase._on_message_py, _muc_c.on_message):
        client, muc = make(kind)
        core = muc.core
        core.clock = lambda: 1.0
        core.join(ROOM, "thirdwitch")
        core.receive_presence(pres("firstwitch"))
        muc._notify(core.receive_presence(pres("thirdwitch", codes=(110,))))
        seen = []
        muc.on_event(lambda e: seen.append(("all", _seen_muc(e))))
        muc.on_message(lambda e: seen.append(("message", e.body)))
        muc.on_subject(lambda e: seen.append(("subject", e.subject)))
        muc.on_event(lambda e: seen.append(("kinds", type(e).__name__)), kinds=(RoomMessage, SubjectChanged))
        for i, stanza in enumerate(stanzas):
            if i == 3:
                waiter = muc._expect(core.room(ROOM), (RoomMessage,))
            handler(muc, stanza)
        assert waiter.event is not None and waiter.event.body == "psst"
        results.append((seen, _muc_state(core)))
    assert results[0] == results[1]
