"""The IM layer (RFC 6121) sans-IO: roster, presence, subscriptions and messages fed scripted
stanzas, and the glue both clients share driven through a fake client (no server)."""
from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from fastxmpp.element import Element
from fastxmpp.serializer import serialize
from fastxmpp.handlers import HandlerRegistry, iq_reply
from fastxmpp.im import (KEEP, ContactChanged, ContactOffline, ContactOnline, ContactUnsubscribed,
                         JSONRosterStore, MemoryRosterStore, PreApprovalNotSupported,
                         PresenceErrorReceived, PresenceTracker, Roster, RosterItem, RosterItemAdded,
                         RosterItemChanged, RosterItemRemoved, RosterReceived, SubscriptionApproved,
                         SubscriptionRequested, SubscriptionRevoked, Subscriptions, build_message,
                         parse_message)
from fastxmpp.jid import JID
from fastxmpp.stanza import XML_LANG
from fastxmpp.stanza_errors import BadRequest, ServiceUnavailable
from fastxmpp.tokenizer import Tokenizer

ME = "juliet@example.com"
HEADER = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
          b" from='example.com' version='1.0'>")
FEATURES_VER = "<stream:features><ver xmlns='urn:xmpp:features:rosterver'/></stream:features>"
FEATURES_ALL = ("<stream:features><ver xmlns='urn:xmpp:features:rosterver'/>"
                "<sub xmlns='urn:xmpp:features:pre-approval'/></stream:features>")


def X(xml: str) -> Element:
    """One stanza parsed the way the client parses it (the twin in use)."""
    tokens = [t for t in Tokenizer().feed(HEADER + xml.encode()) if isinstance(t, Element)]
    assert len(tokens) == 1
    return tokens[0]


def roster_result(items: str, ver=None, id="r1") -> Element:
    ver_attr = f" ver='{ver}'" if ver is not None else ""
    return X(f"<iq type='result' id='{id}'><query xmlns='jabber:iq:roster'{ver_attr}>{items}</query></iq>")


def push(item: str, ver=None, sender=None, id="p1") -> Element:
    ver_attr = f" ver='{ver}'" if ver is not None else ""
    from_attr = f" from='{sender}'" if sender is not None else ""
    return X(f"<iq type='set' id='{id}'{from_attr}><query xmlns='jabber:iq:roster'{ver_attr}>{item}</query></iq>")


def pres(sender: str, type=None, body: str = "", lang=None) -> Element:
    attrs = f" from='{sender}'"
    if type:
        attrs += f" type='{type}'"
    if lang:
        attrs += f" xml:lang='{lang}'"
    return X(f"<presence{attrs}>{body}</presence>")


# -- roster -----------------------------------------------------------------------------------
def test_fetch_request_carries_the_version_only_when_offered():
    roster = Roster(ME + "/balcony")
    query = roster.fetch_request().find("{jabber:iq:roster}query")
    assert query is not None and query.get("ver") is None
    query = roster.fetch_request(X(FEATURES_VER)).find("{jabber:iq:roster}query")
    assert query.get("ver") == ""  # offered, nothing stored yet (RFC 6121 2.6.3)
    roster.apply_result(roster_result("", ver="v7"))
    assert roster.fetch_request(X(FEATURES_VER)).find("{jabber:iq:roster}query").get("ver") == "v7"


def test_result_fills_the_mapping():
    roster = Roster(ME)
    evs = roster.apply_result(roster_result(
        "<item jid='Romeo@Example.net' name='Romeo' subscription='both'><group>Friends</group>"
        "<group>Lovers</group><group>Friends</group></item>"
        "<item jid='nurse@example.com' ask='subscribe' approved='true'/>", ver="1"))
    assert [type(e) for e in evs] == [RosterReceived]  # nothing held before: no per-item events
    assert evs[0].version == "1" and len(evs[0].items) == 2 and not evs[0].cached
    romeo = roster["romeo@example.net"]
    assert romeo == RosterItem(jid=JID("romeo@example.net"), name="Romeo", subscription="both",
                               groups=("Friends", "Lovers"))
    nurse = roster[JID("nurse@example.com")]
    assert (nurse.subscription, nurse.ask, nurse.approved) == ("none", "subscribe", True)
    assert "nurse@example.com" in roster and "tybalt@example.com" not in roster and "bad@@" not in roster
    assert len(roster) == 2 and set(roster) == {JID("romeo@example.net"), JID("nurse@example.com")}
    assert [i.jid for i in roster.groups()["Friends"]] == [JID("romeo@example.net")]
    assert roster.loaded and roster.version == "1"


def test_error_result_raises_and_changes_nothing():
    roster = Roster(ME)
    with pytest.raises(ServiceUnavailable):
        roster.apply_result(X("<iq type='error' id='r1'><error type='cancel'><service-unavailable"
                              " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"))
    assert not roster.loaded and len(roster) == 0


def test_a_second_full_result_gives_the_differences():
    roster = Roster(ME)
    roster.apply_result(roster_result("<item jid='a@x'/><item jid='b@x'/>"))
    evs = roster.apply_result(roster_result("<item jid='b@x' name='B'/><item jid='c@x'/>"))
    kinds = [(type(e).__name__, str(getattr(e, "item", None) and e.item.jid)) for e in evs[:-1]]
    assert sorted(kinds) == [("RosterItemAdded", "c@x"), ("RosterItemChanged", "b@x"), ("RosterItemRemoved", "a@x")]


def test_empty_result_to_a_versioned_request_keeps_the_stored_roster():
    store = MemoryRosterStore()
    store.replace("v1", [RosterItem(jid=JID("romeo@example.net"), subscription="both")])
    roster = Roster(ME, store=store)
    assert "romeo@example.net" in roster
    assert roster.fetch_request(X(FEATURES_VER)).find("{jabber:iq:roster}query").get("ver") == "v1"
    evs = roster.apply_result(X("<iq type='result' id='r1'/>"))
    assert isinstance(evs[-1], RosterReceived) and evs[-1].cached and roster.loaded
    assert roster["romeo@example.net"].subscription == "both"
    # then the changes come as pushes, each with its version
    reply, evs = roster.receive_push(push("<item jid='romeo@example.net' subscription='from'/>", ver="v2"))
    assert isinstance(evs[0], RosterItemChanged) and roster.version == "v2" and store.version == "v2"
    assert store.items[JID("romeo@example.net")].subscription == "from"


def test_malformed_items_in_a_result_are_skipped_and_logged(caplog):
    roster = Roster(ME)
    with caplog.at_level(logging.WARNING, logger="fastxmpp.im"):
        roster.apply_result(roster_result(
            "<item jid='good@x' subscription='to'/>"
            "<item jid='bad@@x'/>"                         # invalid JID
            "<item/>"                                     # no JID
            "<item jid='odd@x' subscription='sometimes'/>"  # unknown subscription
            "<item jid='gone@x' subscription='remove'/>"  # remove only in pushes
            "<item jid='ask@x' ask='maybe'/>"
            "<item jid='grp@x'><group/></item>"           # empty group
            "<item jid='appr@x' approved='yes'/>"
            "<item jid='good@x' subscription='both'/>"    # duplicate: the first one stays
            "<other xmlns='urn:x'/>"))
    assert list(roster) == [JID("good@x")] and roster["good@x"].subscription == "to"
    assert len([r for r in caplog.records if "roster result" in r.getMessage()]) == 8


def test_push_add_change_remove_and_replies():
    roster = Roster(ME + "/balcony")
    roster.apply_result(roster_result(""))
    reply, evs = roster.receive_push(push("<item jid='romeo@example.net' name='R'/>", sender=ME, id="a"))
    assert (reply.get("type"), reply.get("id"), reply.get("to")) == ("result", "a", ME)
    assert isinstance(evs[0], RosterItemAdded) and evs[0].item.name == "R"
    reply, evs = roster.receive_push(push("<item jid='romeo@example.net' name='R'/>", id="b"))
    assert evs == [] and reply.get("to") is None  # no change, no event; no from: no to
    _, evs = roster.receive_push(push("<item jid='romeo@example.net' name='Romeo'><group>G</group></item>"))
    assert isinstance(evs[0], RosterItemChanged) and evs[0].old.name == "R" and evs[0].item.groups == ("G",)
    _, evs = roster.receive_push(push("<item jid='romeo@example.net' subscription='remove'/>"))
    assert isinstance(evs[0], RosterItemRemoved) and "romeo@example.net" not in roster
    _, evs = roster.receive_push(push("<item jid='never@example.net' subscription='remove'/>"))
    assert evs == []


@pytest.mark.parametrize("sender", ["romeo@example.net", "juliet@example.com/other", "example.com", "bad@@x"])
def test_push_not_from_the_account_is_ignored(sender):
    roster = Roster(ME + "/balcony")
    with pytest.raises(ServiceUnavailable):
        roster.receive_push(push("<item jid='evil@example.net'/>", sender=sender))
    assert len(roster) == 0


@pytest.mark.parametrize("items", [
    "", "<item jid='a@x'/><item jid='b@x'/>", "<item jid='bad@@x'/>", "<item jid='a@x' subscription='x'/>",
])
def test_malformed_push_is_bad_request_and_not_applied(items):
    roster = Roster(ME)
    with pytest.raises(BadRequest):
        roster.receive_push(push(items))
    assert len(roster) == 0
    with pytest.raises(BadRequest):
        roster.receive_push(X("<iq type='set' id='x'/>"))


def test_set_and_remove_requests():
    roster = Roster(ME)
    roster.apply_result(roster_result("<item jid='romeo@example.net' name='Romeo'><group>A</group></item>"))
    item = roster.set_request("romeo@example.net", groups=["B", "C", "B"]).find(".//{jabber:iq:roster}item")
    assert item.get("name") == "Romeo"  # kept
    assert [g.text for g in item] == ["B", "C"]
    item = roster.set_request("romeo@example.net", name=None, groups=KEEP).find(".//{jabber:iq:roster}item")
    assert item.get("name") is None and [g.text for g in item] == ["A"]
    item = roster.remove_request("Romeo@Example.net").find(".//{jabber:iq:roster}item")
    assert (item.get("jid"), item.get("subscription")) == ("romeo@example.net", "remove")
    with pytest.raises(ValueError):
        roster.set_request("romeo@example.net", groups=[""])
    with pytest.raises(TypeError):
        roster.set_request("romeo@example.net", groups="friends")
    with pytest.raises(ValueError):
        roster.set_request("bad@@x")


def test_json_store_round_trip(tmp_path, caplog):
    path = tmp_path / "roster.json"
    roster = Roster(ME, store=JSONRosterStore(path))
    roster.apply_result(roster_result("<item jid='romeo@example.net' name='Romeo' subscription='both'>"
                                      "<group>Friends</group></item>", ver="v1"))
    roster.receive_push(push("<item jid='nurse@example.com' ask='subscribe'/>", ver="v2"))
    data = json.loads(path.read_text())
    assert data["version"] == "v2" and len(data["items"]) == 2
    again = Roster(ME, store=JSONRosterStore(path))
    assert again.version == "v2" and again.by_jid == roster.by_jid
    assert [p.name for p in tmp_path.iterdir()] == ["roster.json"]  # no temporary file left
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="fastxmpp.im"):
        broken = Roster(ME, store=JSONRosterStore(path))
    assert broken.version is None and len(broken) == 0 and "unreadable" in caplog.text
    path.write_text(json.dumps({"version": "v3", "items": [{"jid": "a@x", "subscription": "sometimes"}]}))
    assert Roster(ME, store=JSONRosterStore(path)).version is None


# -- presence ---------------------------------------------------------------------------------
def test_tracker_resources_best_and_events():
    t = PresenceTracker()
    evs = t.receive(pres("romeo@example.net/orchard", body="<priority>5</priority><show>away</show>"))
    assert isinstance(evs[0], ContactOnline) and evs[0].jid == JID("romeo@example.net")
    assert evs[0].presence.show == "away" and evs[0].presence.priority == 5
    evs = t.receive(pres("romeo@example.net/phone", body="<priority>1</priority>"))
    assert isinstance(evs[0], ContactChanged) and evs[0].best.jid == JID("romeo@example.net/orchard")
    evs = t.receive(pres("romeo@example.net/tablet", body="<priority>5</priority><show>chat</show>"))
    assert evs[0].best.jid == JID("romeo@example.net/tablet")  # same priority, more available
    assert [r.jid.resource for r in t.resources("romeo@example.net")] == ["tablet", "orchard", "phone"]
    assert t.is_online("Romeo@example.net/x") and t.online() == [JID("romeo@example.net")]
    evs = t.receive(pres("romeo@example.net/tablet", "unavailable"))
    assert isinstance(evs[0], ContactChanged) and not evs[0].presence.available
    assert t.best("romeo@example.net").jid.resource == "orchard"
    t.receive(pres("romeo@example.net/orchard", "unavailable"))
    evs = t.receive(pres("romeo@example.net/phone", "unavailable", "<status>bye</status>"))
    assert isinstance(evs[0], ContactOffline) and evs[0].presence.status == "bye"
    assert not t.is_online("romeo@example.net") and t.best("romeo@example.net") is None
    assert t.receive(pres("romeo@example.net/phone", "unavailable")) == []  # already gone


def test_unavailable_from_the_bare_jid_ends_every_resource():
    t = PresenceTracker()
    t.receive(pres("romeo@example.net/a"))
    t.receive(pres("romeo@example.net/b"))
    evs = t.receive(pres("romeo@example.net", "unavailable"))
    assert isinstance(evs[0], ContactOffline) and t.online() == []


def test_status_languages():
    t = PresenceTracker()
    [ev] = t.receive(pres("romeo@example.net/a", lang="en",
                          body="<status xml:lang='de'>weg</status><status>away</status>"))
    assert ev.presence.status == "away"
    assert ev.presence.statuses == (("de", "weg"), ("en", "away"))


def test_bad_presences_never_raise(caplog):
    t = PresenceTracker()
    with caplog.at_level(logging.DEBUG, logger="fastxmpp.im"):
        [ev] = t.receive(pres("romeo@example.net/a", body="<priority>high</priority><show>sleeping</show>"))
        assert ev.presence.priority == 0 and ev.presence.show is None
        [ev] = t.receive(pres("romeo@example.net/b", body="<priority>300</priority>"))
        assert ev.presence.priority == 0
        assert t.receive(pres("bad@@x/a")) == []
        assert t.receive(X("<presence/>")) == []
        assert t.receive(pres("romeo@example.net/c", "dancing")) == []
        assert t.receive(pres("romeo@example.net/c", "probe")) == []
        assert t.receive(pres("romeo@example.net/c", "subscribe")) == []
    assert "bad priority" in caplog.text and "unknown show" in caplog.text and "unknown type" in caplog.text
    assert len(t.resources("romeo@example.net")) == 2


def test_presence_errors_kept_per_contact():
    t = PresenceTracker()
    [ev] = t.receive(pres("romeo@example.net", "error",
                          "<error type='cancel'><remote-server-not-found"
                          " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"))
    assert isinstance(ev, PresenceErrorReceived) and ev.error.condition == "remote-server-not-found"
    assert t.error("romeo@example.net/x").condition == "remote-server-not-found"
    t.receive(pres("romeo@example.net/a"))
    assert t.error("romeo@example.net") is None


def test_own_presence_and_restoring_it():
    t = PresenceTracker()
    el = t.available(show="dnd", status={None: "busy", "de": "beschäftigt"}, priority=-1, lang="en")
    assert el.findtext("{jabber:client}show") == "dnd" and el.get(XML_LANG) == "en"
    assert [(s.get(XML_LANG), s.text) for s in el.findall("{jabber:client}status")] == \
        [(None, "busy"), ("de", "beschäftigt")]
    assert el.findtext("{jabber:client}priority") == "-1"
    directed = t.available(to="room@muc.example.com/juliet")
    assert directed.get("to") == "room@muc.example.com/juliet" and t.own is el  # directed is not remembered
    t.receive(pres("romeo@example.net/a"))
    assert t.session_started(resumed=True) == (None, [])
    again, evs = t.session_started(resumed=False)
    assert t.own is again and serialize(again) == serialize(el)  # built again, the same
    assert [type(e) for e in evs] == [ContactOffline] and t.online() == []
    t.unavailable(status="gone")
    assert t.session_started(resumed=False) == (None, [])
    with pytest.raises(ValueError):
        t.available(show="sleeping")
    with pytest.raises(ValueError):
        t.available(priority=200)


def test_fresh_session_sends_our_presence_with_the_current_extensions():
    """After a fresh session our presence goes out again with each extension's child built
    anew (XEP-0115 caps: the ver of the features we have now, not of those we had)."""
    t = PresenceTracker()
    ver = ["old"]
    t.extensions.append(lambda: Element("{http://jabber.org/protocol/caps}c", {"ver": ver[0]}))
    t.available(show="away", status={None: "out", "de": "weg"}, priority=3, lang="en")
    ver[0] = "new"
    again, _ = t.session_started(resumed=False)
    assert again.find("{http://jabber.org/protocol/caps}c").get("ver") == "new"
    assert again.findtext("{jabber:client}show") == "away" and again.findtext("{jabber:client}priority") == "3"
    assert [(s.get(XML_LANG), s.text) for s in again.findall("{jabber:client}status")] == [(None, "out"), ("de", "weg")]
    assert again.get(XML_LANG) == "en" and again.get("to") is None and t.own is again and t.sent_initial
    assert t.session_started(resumed=True) == (None, [])
    t.own = Element("{jabber:client}presence")  # set by hand: sent as it is
    assert t.session_started(resumed=False)[0] is t.own


# -- subscriptions ----------------------------------------------------------------------------
def test_outbound_subscription_stanzas():
    s = Subscriptions()
    out = [s.subscribe("Romeo@example.net/x", status="hi"), s.approve("romeo@example.net"),
           s.deny("romeo@example.net"), s.cancel("romeo@example.net"), s.unsubscribe("romeo@example.net")]
    assert [(e.get("type"), e.get("to")) for e in out] == [
        ("subscribe", "romeo@example.net"), ("subscribed", "romeo@example.net"),
        ("unsubscribed", "romeo@example.net"), ("unsubscribed", "romeo@example.net"),
        ("unsubscribe", "romeo@example.net")]
    assert out[0].findtext("{jabber:client}status") == "hi"
    with pytest.raises(PreApprovalNotSupported):
        s.preapprove("romeo@example.net", X(FEATURES_VER))
    assert s.preapprove("romeo@example.net", X(FEATURES_ALL)).get("type") == "subscribed"


def test_inbound_subscription_events_and_policies():
    roster = Roster(ME)
    roster.apply_result(roster_result("<item jid='friend@x' subscription='to'/><item jid='half@x'/>"))
    s = Subscriptions(roster)
    out, [ev] = s.receive(pres("stranger@x/r", "subscribe", "<status>let me in</status>"))
    assert out == [] and isinstance(ev, SubscriptionRequested)
    assert ev.jid == JID("stranger@x") and ev.status == "let me in"
    assert [type(e) for e in s.receive(pres("a@x", "subscribed"))[1]] == [SubscriptionApproved]
    assert [type(e) for e in s.receive(pres("a@x", "unsubscribed"))[1]] == [SubscriptionRevoked]
    assert [type(e) for e in s.receive(pres("a@x", "unsubscribe"))[1]] == [ContactUnsubscribed]
    assert s.receive(pres("a@x")) == ([], [])
    assert s.receive(pres("bad@@x", "subscribe")) == ([], [])
    assert s.receive(X("<presence type='subscribe'/>")) == ([], [])
    s.policy = "accept-roster"
    out, evs = s.receive(pres("friend@x", "subscribe"))
    assert [(e.get("type"), e.get("to")) for e in out] == [("subscribed", "friend@x")] and evs == []
    assert isinstance(s.receive(pres("stranger@x", "subscribe"))[1][0], SubscriptionRequested)
    s.policy, s.subscribe_back = "accept-all", True
    out, _ = s.receive(pres("stranger@x", "subscribe"))
    assert [(e.get("type"), e.get("to")) for e in out] == [("subscribed", "stranger@x"), ("subscribe", "stranger@x")]
    out, _ = s.receive(pres("friend@x", "subscribe"))  # we already see friend's presence
    assert [e.get("type") for e in out] == ["subscribed"]
    with pytest.raises(ValueError):
        s.policy = "whatever"


# -- messages ---------------------------------------------------------------------------------
def test_message_parse_and_reply():
    msg = parse_message(X(
        "<message from='romeo@example.net/orchard' to='juliet@example.com' type='chat' id='m1' xml:lang='en'>"
        "<subject>Hi</subject><body>Hello</body><body xml:lang='de'>Hallo</body>"
        "<thread parent='p0'>t1</thread></message>"))
    assert (msg.type, msg.body, msg.subject, msg.thread, msg.parent_thread) == ("chat", "Hello", "Hi", "t1", "p0")
    assert msg.bodies == (("en", "Hello"), ("de", "Hallo")) and msg.body_in("de") == "Hallo"
    reply = msg.reply("Bye")
    assert (reply.get("to"), reply.get("type")) == ("romeo@example.net/orchard", "chat")
    assert reply.find("{jabber:client}thread").text == "t1"
    assert reply.find("{jabber:client}thread").get("parent") == "p0"
    group = parse_message(X("<message from='room@muc.x/nick' type='groupchat'><body>hey</body></message>"))
    assert group.reply("hi").get("to") == "room@muc.x" and group.reply("hi").get("type") == "groupchat"


def test_odd_messages_never_raise():
    msg = parse_message(X("<message from='bad@@x' type='weird'><body/></message>"))
    assert msg.type == "normal" and msg.sender is None and msg.body == ""
    with pytest.raises(ValueError):
        msg.reply("x")  # no sender to answer
    err = parse_message(X("<message from='a@x' type='error'><error type='cancel'>"
                          "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"))
    assert err.error.condition == "item-not-found"
    with pytest.raises(ValueError):
        err.reply("x")
    assert parse_message(X("<message/>")).body is None


def test_build_message_with_several_languages():
    el = build_message(to="romeo@example.net", body={None: "Hi", "fr": "Salut"}, subject="S", type="normal",
                       thread="t", parent_thread="p", lang="en", id="m9")
    assert [(b.get(XML_LANG), b.text) for b in el.findall("{jabber:client}body")] == [(None, "Hi"), ("fr", "Salut")]
    assert el.get(XML_LANG) == "en" and el.get("id") == "m9"
    with pytest.raises(ValueError):
        build_message(to="a@x", type="spam")
    with pytest.raises(ValueError):
        build_message(to="a@x", parent_thread="p")


# -- the glue, through a fake blocking client ----------------------------------------------------
class FakeClient(HandlerRegistry):
    """What the IM layer uses of a client: handlers, _call, send, iq, stream, jid."""

    def __init__(self, features=FEATURES_VER):
        self._init_handlers()
        self.jid = JID(ME + "/balcony")
        self.stream = SimpleNamespace(server_features=X(features))
        self.sent = []
        self.requests = []
        self.answers = []

    def _call(self, fn, *args):
        fn(*args)

    def send(self, stanza):
        self.sent.append(stanza)

    def iq(self, stanza):
        self.requests.append(stanza)
        return self.answers.pop(0)

    def deliver(self, stanza):
        kind = stanza.tag.split("}")[1]
        if kind == "iq":
            route = self._iq_route(stanza)
            results = []
            try:
                results.append(route(stanza) if route else None)
            except Exception as exc:
                results.append(exc)
            reply = iq_reply(stanza, results, route is not None)
            if reply is not None:
                self.sent.append(reply)
            return
        for fn in self._handlers.get(kind, ()):
            fn(stanza)

    def start_session(self, resumed):
        for fn in self._session_listeners or ():
            fn(SimpleNamespace(resumed=resumed))


def im_of(client):
    from fastxmpp.sync.im import IM

    return IM.of(client)


def test_nothing_registered_until_used():
    client = FakeClient()
    assert client._handlers == {} and client._iq_routes is None and client._session_listeners is None
    im = im_of(client)
    assert im is im_of(client) and client._handlers == {} and client._iq_routes is None
    im.roster
    assert list(client._iq_routes) == [("set", "{jabber:iq:roster}query")] and client._handlers == {}


def test_glue_roster_presence_and_restore_after_a_fresh_session():
    client = FakeClient()
    im = im_of(client)
    seen = []
    im.roster.on_event(seen.append)
    im.presence.on_event(seen.append)
    client.answers.append(roster_result("<item jid='romeo@example.net' subscription='both'/>", ver="v1"))
    im.presence.available(status="here")  # the initial presence: the roster first
    assert [s.tag for s in client.requests] == ["{jabber:client}iq"]
    assert client.sent[-1].findtext("{jabber:client}status") == "here"
    assert isinstance(seen[0], RosterReceived) and "romeo@example.net" in im.roster
    im.presence.available(status="again")  # not the initial one: no fetch
    assert len(client.requests) == 1
    client.deliver(pres("romeo@example.net/orchard"))
    assert im.presence.is_online("romeo@example.net") and isinstance(seen[-1], ContactOnline)
    # a push from the account, and a forged one
    client.deliver(push("<item jid='nurse@example.com'/>", ver="v2", sender=ME, id="p1"))
    assert client.sent[-1].get("type") == "result" and "nurse@example.com" in im.roster
    client.deliver(push("<item jid='evil@example.com'/>", sender="romeo@example.net/orchard", id="p2"))
    assert client.sent[-1].get("type") == "error" and "evil@example.com" not in im.roster
    # resumed: nothing to do; fresh: roster again (versioned), then our presence again
    client.start_session(resumed=True)
    assert len(client.requests) == 1
    client.answers.append(X("<iq type='result' id='r2'/>"))
    sent_before = len(client.sent)
    client.start_session(resumed=False)
    assert client.requests[-1].find("{jabber:iq:roster}query").get("ver") == "v2"
    assert client.sent[sent_before].findtext("{jabber:client}status") == "again"
    assert isinstance(seen[-1], RosterReceived) and seen[-1].cached
    assert any(isinstance(e, ContactOffline) for e in seen) and not im.presence.is_online("romeo@example.net")


def test_glue_subscription_requests_answered_by_the_handler():
    client = FakeClient(FEATURES_ALL)
    im = im_of(client)
    requests = []
    im.subscriptions.on_request(requests.append)
    client.deliver(pres("romeo@example.net/orchard", "subscribe"))
    [request] = requests
    assert request.jid == JID("romeo@example.net")
    request.approve()
    assert (client.sent[-1].get("type"), client.sent[-1].get("to")) == ("subscribed", "romeo@example.net")
    request.deny()
    assert client.sent[-1].get("type") == "unsubscribed"
    im.subscriptions.preapprove("nurse@example.com")
    assert client.sent[-1].get("type") == "subscribed"
    im.subscriptions.policy = "accept-all"
    client.deliver(pres("tybalt@example.com", "subscribe"))
    assert client.sent[-1].get("to") == "tybalt@example.com" and len(requests) == 1


def test_glue_messages():
    client = FakeClient()
    im = im_of(client)
    got = []
    im.messages.on_message(got.append, types=("chat",))
    assert "message" in client._handlers
    client.deliver(X("<message from='romeo@example.net/o' type='chat'><body>hi</body><thread>t</thread></message>"))
    client.deliver(X("<message from='romeo@example.net/o' type='headline'><body>news</body></message>"))
    assert [m.body for m in got] == ["hi"]
    im.messages.reply(got[0], "hello")
    assert client.sent[-1].find("{jabber:client}thread").text == "t"
    im.messages.send("romeo@example.net", "x", type="normal")
    assert client.sent[-1].get("type") == "normal"


def test_glue_bad_input_answered_or_logged_never_raised(caplog):
    client = FakeClient()
    im = im_of(client)
    im.roster.core.apply_result(roster_result("<item jid='romeo@example.net'/>"))
    im.presence
    im.subscriptions
    with caplog.at_level(logging.WARNING, logger="fastxmpp.im"):
        client.deliver(push("<item jid='a@x'/><item jid='b@x'/>", id="two"))
        assert client.sent[-1].get("type") == "error" and client.sent[-1].get("id") == "two"
        assert client.sent[-1].find(".//{urn:ietf:params:xml:ns:xmpp-stanzas}bad-request") is not None
        client.deliver(push("<item jid='x@@y'/>", id="bad"))
        assert client.sent[-1].find(".//{urn:ietf:params:xml:ns:xmpp-stanzas}bad-request") is not None
        client.deliver(pres("romeo@example.net/a", body="<priority>-999</priority><show>?</show>"))
        client.deliver(pres("x@@y/a", "subscribe"))
        client.deliver(pres("romeo@example.net/a", "bogus"))
    assert list(im.roster) == [JID("romeo@example.net")]
    assert im.presence.best("romeo@example.net").priority == 0
    assert "bad priority" in caplog.text and "invalid JID" in caplog.text and "unknown type" in caplog.text


# -- the fast paths of the IM layer agree with the general ones ------------------------------

from hypothesis import given, strategies as st  # noqa: E402

from fastxmpp.im.events import positional  # noqa: E402
from fastxmpp.im.presence import ResourcePresence, SHOW_RANK, _best  # noqa: E402
from fastxmpp.jid import InvalidJID, _parse_once  # noqa: E402

_jid_text = st.one_of(
    st.text(alphabet="aZ.-@/ x9é!\"'", max_size=12),
    st.from_regex(r"[A-Za-z0-9]{1,4}@[A-Za-z0-9-]{1,5}(\.[a-z]{1,3})?\.?(/[ -~]{0,4})?", fullmatch=True),
)


@given(_jid_text)
def test_parse_once_is_jid(text):
    """``_parse_once`` (rosters: no LRU cache, shared domains) gives the JID that ``JID``
    gives, or raises the same error class."""
    try:
        expected = JID(text)
    except InvalidJID as exc:
        with pytest.raises(type(exc)):
            _parse_once(text)
        return
    got = _parse_once(text)
    assert (got, str(got), got.localpart, got.domain, got.resource) == \
        (expected, str(expected), expected.localpart, expected.domain, expected.resource)


def test_parse_once_shares_strings():
    a, b = _parse_once("a@Example.net/r"), _parse_once("b@example.net")
    assert a.domain is b.domain
    text = "c@example.net/R"
    assert str(_parse_once(text)) is text  # normalised already: no second copy


def test_positional_builds_the_same_event():
    make = positional(ContactChanged)
    assert make("a@b", 1, 2) == ContactChanged(jid="a@b", presence=1, best=2)


@given(st.lists(st.tuples(st.integers(-3, 3), st.sampled_from(sorted(SHOW_RANK, key=str))), min_size=1, max_size=5))
def test_best_is_max_by_rank(ranks):
    resources = {JID(f"a@b/{i}"): ResourcePresence(jid=JID(f"a@b/{i}"), available=True, show=show, priority=priority)
                 for i, (priority, show) in enumerate(ranks)}
    assert _best(resources) is max(resources.values(), key=lambda p: (p.priority, SHOW_RANK.get(p.show, 0)))


def test_result_items_groups_and_jids_on_the_fast_paths(caplog):
    roster = Roster(ME)
    with caplog.at_level(logging.WARNING, logger="fastxmpp.im"):
        roster.apply_result(roster_result(
            "<item jid='A@Example.NET' approved='1'><group>B</group><group>A</group><group>B</group></item>"
            "<item jid='b@example.net.' ask='subscribe'><group>B</group><group>A</group><group>B</group></item>"
            "<item jid='c@example.net'><group>A</group><group></group></item>"  # empty group: skipped
            "<item jid='d@example.net'><group>A</group></item>"
            "<item jid='e@example.net'/>"))
    a, b, d, e = (roster[j] for j in ("a@example.net", "b@example.net", "d@example.net", "e@example.net"))
    assert list(roster) == [JID("a@example.net"), JID("b@example.net"), JID("d@example.net"), JID("e@example.net")]
    assert a.groups == b.groups == ("A", "B") and a.groups is b.groups and d.groups == ("A",) and e.groups == ()
    assert (a.approved, a.ask, b.approved, b.ask) == (True, None, False, "subscribe")
    assert str(a.jid) == "a@example.net" and str(b.jid) == "b@example.net" and a.jid.domain is b.jid.domain
    assert a.subscription is e.subscription == "none"
    assert [r.getMessage() for r in caplog.records] == [
        "roster result: skipping a malformed item: roster item c@example.net with an empty group"]


# -- the compiled twin of PresenceTracker.receive agrees with the Python one ------------------

from fastxmpp import _accel  # noqa: E402
from fastxmpp.im import presence as presence_module  # noqa: E402

_SENDERS = ["romeo@example.net/a", "romeo@example.net/b", "Romeo@Example.net/c", "romeo@example.net",
            "romeo@example.net/&#x61;", "romeo@example.net/t\tab", "romeo@example.net/l\r\nf", "r&amp;d@example.net/a",
            "Romeo@Example.net", "romeo@example.net/a/b", "romeo@example.net/", "romeo@example.net/é",
            "romeo@example.net/ x ", "example.net/a", "example.net", "juliet@example.com/x", "bad@@x/a",
            "Élise@éxample.net/r", "élise@éxample.net/s", None]
_TYPES = [None, None, None, "unavailable", "error", "probe", "subscribe", "dancing"]
_CHILDREN = [
    "<show>away</show>", "<show>chat</show>", "<show> dnd </show>", "<show>sleeping</show>", "<show/>",
    "<show></show>", "<show>\n xa\n</show>", "<show xmlns='urn:other'>dnd</show>",
    "<p:show xmlns:p='urn:p'>dnd</p:show>", "<status>hi</status>", "<status/>",
    "<status xml:lang='de'>weg</status>", '<status xml:lang="en">away &amp; out</status>',
    "<status>caf\u00e9 \u2603</status>", "<status><![CDATA[a<b]]></status>", "<status>a\r\nb</status>",
    "<status>a<em xmlns='urn:x'>b</em>c</status>", "<status xml:lang='fr'\n>l\u00e0</status>",
    "<priority>5</priority>", "<priority>-1</priority>", "<priority>+3</priority>", "<priority>300</priority>",
    "<priority>x</priority>", "<priority/>", "<priority> 7 </priority>", "<priority>0127</priority>",
    "<priority>-0</priority>", "<priority>-129</priority>", "<priority>127</priority>",
    "<priority>\u0661</priority>", "<priority>&#53;</priority>", "<show>&#97;way</show>", "<show>d&#x6E;d</show>",
    "<status>I&apos;m &lt;out&gt; &quot;now&quot; &#x263A;&#9731;&#10;x&#13;y</status>", "<status>a\rb\r\rc</status>",
    "<status xml:lang='e&#x6E;'>lang by reference</status>", "<status xml:lang='de'>tab\there</status>", "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='a>b'/>",
    "<x xmlns='urn:y'><show>dnd</show><status>inner</status></x>",
    "<error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
    "\n  ",
]


def _presence_xml(sender, kind, lang, children, quote, extra):  # noqa: PLR0913 - the parts of one stanza
    attrs = ""
    if sender is not None:
        attrs += f" from={quote}{sender}{quote}"
    if kind is not None:
        attrs += f" type={quote}{kind}{quote}"
    if lang is not None:
        attrs += f" xml:lang={quote}{lang}{quote}"
    attrs += extra
    return f"<presence{attrs}>{''.join(children)}</presence>" if children or extra else f"<presence{attrs}/>"


_presences = st.lists(st.builds(
    _presence_xml, st.sampled_from(_SENDERS), st.sampled_from(_TYPES), st.sampled_from([None, "en", "de"]),
    st.lists(st.sampled_from(_CHILDREN), max_size=5), st.sampled_from(["'", '"']),
    st.sampled_from(["", " id='p>1'", "\n\tid = \"a\tb\"", " to='me@example.net/x'", " id='&amp;&#x26;'"])),
    min_size=1, max_size=6)


def _seen(value):
    """What an event or a ResourcePresence says, with the stanza as its bytes."""
    if isinstance(value, ResourcePresence):
        return ("RP", value.jid, value.available, value.show, value.status, value.statuses, value.priority,
                serialize(value.stanza))
    if isinstance(value, list):
        return [_seen(v) for v in value]
    if isinstance(value, PresenceErrorReceived):
        return ("error", value.jid, type(value.error).__name__, value.error.condition, value.error.type)
    if isinstance(value, (ContactOnline, ContactOffline, ContactChanged, PresenceErrorReceived)):
        return (type(value).__name__,) + tuple(_seen(getattr(value, name)) for name in value.__dataclass_fields__)
    return value


def _state(tracker):
    return ({bare: {jid: _seen(p) for jid, p in resources.items()} for bare, resources in tracker.contacts.items()},
            {bare: (e.condition, e.type) for bare, e in tracker.errors.items()})


@pytest.mark.skipif(not _accel.USE_EXTENSIONS, reason="the compiled twins are not in use")
def test_compiled_receive_is_in_use():
    from fastxmpp import _presence_c

    assert PresenceTracker.receive is _presence_c.receive


@pytest.mark.skipif(not _accel.USE_EXTENSIONS, reason="the compiled twins are not in use")
@pytest.mark.parametrize("built", [False, True], ids=["lazy", "built"])
@given(xmls=_presences)
def test_compiled_receive_agrees_with_the_python_twin(built, xmls):
    """The same events, state and log lines from both twins, for stanzas read from their
    bytes (lazy) or already built, on the fast path or passed on to the Python twin."""
    import io

    handler = logging.StreamHandler(io.StringIO())
    logger = logging.getLogger("fastxmpp.im")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        results = []
        for receive in (presence_module._receive_py, presence_module._receive_c):
            handler.stream = io.StringIO()
            tracker = PresenceTracker()
            events = []
            for xml in xmls:
                stanza = X(xml)
                if built:
                    stanza.attrib  # builds a lazy stanza
                events.append(_seen(receive(tracker, stanza)))
            results.append((events, _state(tracker), handler.stream.getvalue()))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert results[0] == results[1]


@pytest.mark.parametrize("built", [False, True], ids=["lazy", "built"])
def test_receive_reads_children_as_the_spec_says(built):
    """Only jabber:client show/status/priority count; other namespaces and nested
    elements are skipped; entities and CDATA are text (both twins)."""
    t = PresenceTracker()
    stanza = X("<presence from='romeo@example.net/a' xml:lang='en' id='x>y'>"
               "<c xmlns='http://jabber.org/protocol/caps' ver='a>b'><show>chat</show></c>"
               "<show xmlns='urn:other'>dnd</show><show>xa</show><show>away</show>"
               "<status xml:lang='de'>weg</status><status>out &amp; <![CDATA[<about>]]></status>"
               "<priority>-5</priority><priority>9</priority></presence>")
    if built:
        stanza.attrib
    [ev] = t.receive(stanza)
    p = ev.presence
    assert (p.show, p.status, p.statuses, p.priority) == ("xa", "out & <about>", (("de", "weg"), ("en", "out & <about>")), -5)
    assert p.stanza is stanza and ev.jid == JID("romeo@example.net")


@pytest.mark.skipif(not _accel.USE_EXTENSIONS, reason="the compiled twins are not in use")
def test_compiled_receive_reads_common_presences_itself():
    """References, line ends and caps children stay on the compiled path (the Python twin,
    which builds the stanza, is for the odd ones)."""
    import sys

    calls = []

    def watch(frame, event, arg):
        if event == "call" and frame.f_code is presence_module._receive_py.__code__:
            calls.append(frame)

    t = PresenceTracker()
    common = [pres("romeo@example.net/a", body="<show>away</show><status>I&apos;m &lt;out&gt;\r\n</status>"
                   "<priority>5</priority><c xmlns='http://jabber.org/protocol/caps' node='n?a&amp;b' ver='v'/>"),
              pres("romeo@example.net/b", lang="en", body="<status xml:lang='de'>weg</status>"),
              pres("romeo@example.net/b", "unavailable")]
    odd = [pres("romeo@example.net/a", body="<priority>high</priority>"), pres("romeo@example.net/a", "probe")]
    sys.setprofile(watch)
    try:
        evs = [t.receive(stanza) for stanza in common]
        assert calls == []
        for stanza in odd:
            t.receive(stanza)
    finally:
        sys.setprofile(None)
    assert len(calls) == 2
    assert evs[0][0].presence.status == "I'm <out>\n" and evs[0][0].presence.priority == 5
    assert isinstance(evs[2][0], ContactChanged) and evs[2][0].best.jid == JID("romeo@example.net/a")
