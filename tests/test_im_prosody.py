"""The IM layer (RFC 6121) against the private Prosody, with both clients.

Each scenario is written once and runs with ``fastxmpp.aio.Client`` and with
``fastxmpp.sync.Client``: the harness runs the asyncio client's coroutines on one event
loop, and pumps the blocking clients' sockets while waiting for a condition.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import time

import pytest

from fastxmpp import aio, sync
from fastxmpp.element import Element
from fastxmpp.im import (ContactOffline, ContactOnline, JSONRosterStore, RosterItemAdded,
                         RosterItemChanged, RosterItemRemoved, SubscriptionApproved)
from fastxmpp.jid import JID

pytestmark = pytest.mark.prosody

TIMEOUT = 30.0


class Harness:
    """Connects clients of one kind and runs what they return (a coroutine for aio)."""

    def __init__(self, kind, prosody):
        self.kind, self.prosody = kind, prosody
        self.loop = asyncio.new_event_loop() if kind == "aio" else None
        self.clients = []

    def do(self, result):
        if inspect.isawaitable(result):
            return self.loop.run_until_complete(asyncio.wait_for(result, TIMEOUT))
        return result

    def connect(self, jid, password, **options):
        cls = aio.Client if self.kind == "aio" else sync.Client
        options.setdefault("keepalive" if self.kind == "aio" else "keepalive_interval", None)
        client = cls(jid, password, host=self.prosody.host, port=self.prosody.port,
                     ca_file=str(self.prosody.ca_file), **options)
        self.do(client.connect())
        self.clients.append(client)
        return client

    def wait(self, condition, what="the condition"):
        deadline = time.monotonic() + TIMEOUT
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            if self.kind == "aio":
                self.loop.run_until_complete(asyncio.sleep(0.02))
            else:
                for client in self.clients:
                    if client.is_ready:
                        client.process(timeout=0.02)

    def close(self, client):
        self.do(client.close())
        self.clients.remove(client)

    def close_all(self):
        for client in list(self.clients):
            try:
                self.close(client)
            except Exception:  # noqa: BLE001 - best effort at the end of a test
                pass
        if self.loop is not None:
            self.loop.close()


@pytest.fixture(params=["aio", "sync"])
def harness(request, prosody):
    h = Harness(request.param, prosody)
    yield h
    h.close_all()


def test_roster_fetch_add_update_remove_seen_by_another_resource(harness, account):
    jid, pw = account()
    contact, _ = account()
    one = harness.connect(jid + "/one", pw)
    two = harness.connect(jid + "/two", pw)
    received = harness.do(one.roster.fetch())
    assert received.items == () and one.roster.loaded and one.roster.version is not None
    harness.do(two.roster.fetch())
    seen = []
    two.roster.on_event(seen.append)

    harness.do(one.roster.add(contact, name="Romeo", groups=["Friends"]))
    harness.wait(lambda: contact in two.roster and contact in one.roster, "the add push")
    item = two.roster[contact]
    assert (item.name, item.groups, item.subscription, item.ask) == ("Romeo", ("Friends",), "none", None)
    assert isinstance(seen[-1], RosterItemAdded)

    harness.do(one.roster.update(contact, name="Romeo M."))
    harness.wait(lambda: two.roster[contact].name == one.roster[contact].name == "Romeo M.", "the rename push")
    assert two.roster[contact].groups == ("Friends",)  # kept
    harness.do(one.roster.update(contact, groups=["Verona", "Family"]))
    harness.wait(lambda: two.roster[contact].groups == ("Family", "Verona"), "the group push")
    assert isinstance(seen[-1], RosterItemChanged) and seen[-1].old.groups == ("Friends",)

    harness.do(one.roster.remove(contact))
    harness.wait(lambda: contact not in two.roster and contact not in one.roster, "the remove push")
    assert isinstance(seen[-1], RosterItemRemoved)
    assert one.roster.version == two.roster.version


def test_forged_roster_push_is_ignored(harness, account, caplog):
    jid, pw = account()
    evil, evil_pw = account()
    victim = harness.connect(jid + "/one", pw)
    harness.do(victim.roster.fetch())
    marks = []
    victim.messages.on_message(marks.append)
    attacker = harness.connect(evil + "/x", evil_pw)
    push = Element("{jabber:client}iq", {"type": "set", "to": str(victim.bound_jid), "id": "forged"})
    push.subelement("{jabber:iq:roster}query").subelement("{jabber:iq:roster}item", {"jid": "mallory@example.com"})
    with caplog.at_level("WARNING", logger="fastxmpp.im"):
        harness.do(attacker.send(push))
        harness.do(attacker.messages.send(victim.bound_jid, "after the push"))
        harness.wait(lambda: marks, "the message sent after the push")
    assert "mallory@example.com" not in victim.roster and len(victim.roster) == 0
    assert "ignoring a roster push from" in caplog.text  # and answered service-unavailable


def test_subscription_handshake_to_both_and_presence(harness, account):
    a_jid, a_pw = account()
    b_jid, b_pw = account()
    a = harness.connect(a_jid + "/pc", a_pw)
    b = harness.connect(b_jid + "/phone", b_pw)
    a_events, b_requests = [], []
    a.presence.on_event(a_events.append)
    a.subscriptions.on_event(a_events.append)
    b.subscriptions.on_request(b_requests.append)
    harness.do(a.presence.available(status="here"))  # fetches the roster first
    assert a.roster.loaded
    harness.do(b.presence.available(show="chat", priority=5))

    harness.do(a.subscriptions.subscribe(b_jid))
    harness.wait(lambda: b_requests, "b's subscription request")
    assert b_requests[0].jid == JID(a_jid)
    harness.do(b_requests[0].approve())
    harness.wait(lambda: a.roster.get(b_jid) is not None and a.roster[b_jid].subscription == "to",
                 "a's subscription 'to'")
    assert any(isinstance(e, SubscriptionApproved) for e in a_events)
    harness.wait(lambda: a.presence.is_online(b_jid), "b's presence at a")
    best = a.presence.best(b_jid)
    assert (best.show, best.priority, best.jid) == ("chat", 5, JID(b_jid + "/phone"))
    assert any(isinstance(e, ContactOnline) and e.jid == JID(b_jid) for e in a_events)

    # b subscribes back; a accepts from its roster by policy
    a.subscriptions.policy = "accept-roster"
    harness.do(b.subscriptions.subscribe(a_jid))
    harness.wait(lambda: a.roster[b_jid].subscription == "both", "both at a")
    harness.wait(lambda: b.roster.get(a_jid) is not None and b.roster[a_jid].subscription == "both", "both at b")
    harness.wait(lambda: b.presence.is_online(a_jid), "a's presence at b")
    assert b.presence.best(a_jid).status == "here"

    harness.do(b.presence.unavailable())
    harness.wait(lambda: not a.presence.is_online(b_jid), "b offline at a")
    assert isinstance(a_events[-1], ContactOffline) and a_events[-1].jid == JID(b_jid)


def test_tracker_follows_two_resources_and_directed_presence(harness, account):
    a_jid, a_pw = account()
    b_jid, b_pw = account()
    a = harness.connect(a_jid + "/pc", a_pw)
    b1 = harness.connect(b_jid + "/desk", b_pw)
    b2 = harness.connect(b_jid + "/phone", b_pw)
    a.subscriptions.policy = b1.subscriptions.policy = "accept-all"
    harness.do(a.presence.available())
    harness.do(b1.presence.available(priority=1))
    harness.do(b2.presence.available(priority=10, show="away"))
    harness.do(a.subscriptions.subscribe(b_jid))
    harness.wait(lambda: len(a.presence.resources(b_jid)) == 2, "both of b's resources at a")
    assert a.presence.best(b_jid).jid == JID(b_jid + "/phone")
    harness.do(b2.presence.unavailable())
    harness.wait(lambda: len(a.presence.resources(b_jid)) == 1, "b's phone gone")
    assert a.presence.best(b_jid).jid == JID(b_jid + "/desk")
    # directed presence to someone without a subscription
    c_jid, c_pw = account()
    c = harness.connect(c_jid + "/x", c_pw)
    c.presence  # track presence from now on
    harness.do(b1.presence.available(to=c.bound_jid, status="psst"))
    harness.wait(lambda: c.presence.is_online(b_jid), "the directed presence")
    assert c.presence.best(b_jid).status == "psst"
    assert b1.presence.core.own.findtext("{jabber:client}status") is None  # directed: not remembered


def test_deny_unsubscribe_cancel_and_preapproval(harness, account):
    a_jid, a_pw = account()
    b_jid, b_pw = account()
    a = harness.connect(a_jid + "/pc", a_pw)
    b = harness.connect(b_jid + "/pc", b_pw)
    harness.do(a.presence.available())  # subscription stanzas go to available resources
    harness.do(b.presence.available())
    revoked = []
    a.subscriptions.on_event(revoked.append)
    b.subscriptions.on_request(lambda request: request.deny())
    harness.do(a.subscriptions.subscribe(b_jid))
    harness.wait(lambda: revoked, "the denial")
    harness.wait(lambda: a.roster.get(b_jid) is not None and a.roster[b_jid].ask is None
                 and a.roster[b_jid].subscription == "none", "the pending request ended")
    # pre-approval (Prosody offers it): b's request is approved without asking a.  Prosody
    # keeps approved='true' but does not show it in the roster; a roster fetch is a barrier
    # (the server handles a session's stanzas in order)
    a_requests = []
    a.subscriptions.on_request(a_requests.append)
    harness.do(a.subscriptions.preapprove(b_jid))
    harness.do(a.roster.fetch())
    harness.do(b.subscriptions.subscribe(a_jid))
    harness.wait(lambda: b.roster.get(a_jid) is not None and b.roster[a_jid].subscription == "to", "b sees a")
    harness.wait(lambda: a.roster[b_jid].subscription == "from", "a's roster says from")
    # b unsubscribes; then a pre-approves again and b subscribes, and a cancels
    harness.do(b.subscriptions.unsubscribe(a_jid))
    harness.wait(lambda: a.roster[b_jid].subscription == "none", "unsubscribed")
    harness.do(a.subscriptions.preapprove(b_jid))
    harness.do(a.roster.fetch())
    harness.do(b.subscriptions.subscribe(a_jid))
    harness.wait(lambda: a.roster[b_jid].subscription == "from", "from again")
    assert a_requests == []
    harness.do(a.subscriptions.cancel(b_jid))
    harness.wait(lambda: b.roster[a_jid].subscription == "none", "cancelled at b")
    harness.wait(lambda: a.roster[b_jid].subscription == "none", "cancelled at a")


def test_roster_versioning_round_trip_with_the_json_store(harness, account, tmp_path):
    jid, pw = account()
    contact, _ = account()
    other, _ = account()
    path = tmp_path / "roster.json"
    first = harness.connect(jid + "/one", pw)
    first.roster.store = JSONRosterStore(path)
    received = harness.do(first.roster.fetch())
    assert not received.cached
    harness.do(first.roster.add(contact, name="C"))
    harness.wait(lambda: contact in first.roster, "the push")
    version = first.roster.version
    harness.close(first)
    saved = json.loads(path.read_text())
    assert saved["version"] == version and [i["jid"] for i in saved["items"]] == [contact]

    # unchanged: the server answers "no change" and the stored roster is the roster
    second = harness.connect(jid + "/two", pw)
    second.roster.store = JSONRosterStore(path)
    received = harness.do(second.roster.fetch())
    assert received.cached and second.roster[contact].name == "C" and second.roster.version == version
    # changed while the store's owner was away
    harness.do(second.roster.add(other))
    harness.wait(lambda: other in second.roster, "the push")
    harness.close(second)
    path.write_text(json.dumps(saved))  # back to the first version
    third = harness.connect(jid + "/three", pw)
    third.roster.store = JSONRosterStore(path)
    assert other not in third.roster
    harness.do(third.roster.fetch())
    harness.wait(lambda: other in third.roster, "the changes since the stored version")
    assert contact in third.roster and third.roster.version != version
    assert other in [i["jid"] for i in json.loads(path.read_text())["items"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roster.json"]


def test_presence_restored_after_a_fresh_session(harness, account):
    a_jid, a_pw = account()
    b_jid, b_pw = account()
    a = harness.connect(a_jid + "/pc", a_pw)
    b = harness.connect(b_jid + "/pc", b_pw)
    a.subscriptions.policy = "accept-all"
    harness.do(a.presence.available(status="back soon"))
    harness.do(b.presence.available())
    harness.do(b.subscriptions.subscribe(a_jid))
    harness.wait(lambda: b.presence.is_online(a_jid), "a online at b")
    # a loses its session (no resumption): a fresh session restores roster and presence
    harness.do(a.close())
    harness.wait(lambda: not b.presence.is_online(a_jid), "a offline at b")
    harness.do(a.connect())
    harness.wait(lambda: b.presence.is_online(a_jid), "a's presence restored")
    assert b.presence.best(a_jid).status == "back soon"
    harness.wait(lambda: a.roster.loaded, "a's roster fetched again")
    assert b_jid in a.roster


def test_fresh_session_presence_carries_the_current_caps(harness, account):
    """After a fresh session (no resumption) our presence goes out again with the XEP-0115
    ver of the features we have now, not the ver it had when it was first sent."""
    a_jid, a_pw = account()
    b_jid, b_pw = account()
    a = harness.connect(a_jid + "/pc", a_pw)
    b = harness.connect(b_jid + "/pc", b_pw)
    a.subscriptions.policy = "accept-all"
    a.caps  # noqa: B018 - a advertises caps in its available presences
    b.caps  # noqa: B018 - b tracks the caps others advertise
    harness.do(a.presence.available(status="here"))
    harness.do(b.presence.available())
    harness.do(b.subscriptions.subscribe(a_jid))
    a_full = JID(a_jid + "/pc")
    old = a.caps.ver
    harness.wait(lambda: a_full in b.caps.advertised and b.caps.advertised[a_full].ver == old, "a's caps at b")
    a.software_version  # noqa: B018 - a new feature: a new ver, not announced
    assert a.caps.ver != old
    harness.do(a.close())
    harness.wait(lambda: not b.presence.is_online(a_jid), "a offline at b")
    harness.do(a.connect())
    harness.wait(lambda: b.presence.is_online(a_jid), "a's presence restored")
    harness.wait(lambda: b.caps.advertised.get(a_full) is not None
                 and b.caps.advertised[a_full].ver == a.caps.ver, "a's new ver at b")
    assert b.presence.best(a_jid).status == "here"
