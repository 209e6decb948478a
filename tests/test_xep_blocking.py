"""XEP-0191 blocking command, sans-IO: the requests, results and pushes from scripted stanzas
(forged pushes ignored, invalid JIDs dropped), the typed errors for bad user input, and the
glue both clients share driven through fake clients (no server)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from fastxmpp import aio, sync
from fastxmpp.aio import blocking as aio_blocking
from fastxmpp.element import Element
from fastxmpp.jid import JID, InvalidJID
from fastxmpp.stanza_errors import BadRequest, ItemNotFound, ServiceUnavailable
from fastxmpp.sync import blocking as sync_blocking
from fastxmpp.xep import RemoteInvalidResult
from fastxmpp.xep.blocking import (BLOCK, BLOCKLIST, NS_BLOCKING, UNBLOCK, Blocklist, BlocklistReceived,
                                   EmptyJIDList, JIDsBlocked, JIDsUnblocked, is_blocked_error)

from test_xep_basic import FakeClient as BasicFakeClient, X  # the stanza parser and the fake client

ME = "juliet@example.com/balcony"
NS = NS_BLOCKING


def items(*jids: str) -> str:
    return "".join(f"<item jid='{j}'/>" for j in jids)


def blocklist_result(*jids: str) -> Element:
    return X(f"<iq type='result' id='b1'><blocklist xmlns='{NS}'>{items(*jids)}</blocklist></iq>")


def push(kind: str, *jids: str, sender: str = "juliet@example.com") -> Element:
    frm = f" from='{sender}'" if sender else ""
    return X(f"<iq type='set' id='p1' to='{ME}'{frm}><{kind} xmlns='{NS}'>{items(*jids)}</{kind}></iq>")


def jids(*values):
    return {JID(v) for v in values}


# -- requests and user input ------------------------------------------------------------------
def test_requests():
    core = Blocklist(ME)
    iq = core.fetch_request()
    assert iq.get("type") == "get" and iq.get("to") is None and iq.find(BLOCKLIST) is not None
    iq = core.block_request(["romeo@example.net", JID("iago@example.org/x"), "romeo@example.net"])
    assert iq.get("type") == "set"
    assert [i.get("jid") for i in iq.find(BLOCK)] == ["romeo@example.net", "iago@example.org/x"]
    iq = core.unblock_request("Romeo@Example.net")  # one string is one JID, normalised
    assert [i.get("jid") for i in iq.find(UNBLOCK)] == ["romeo@example.net"]
    iq = core.unblock_all_request()
    assert iq.find(UNBLOCK) is not None and len(iq.find(UNBLOCK)) == 0


def test_bad_user_input_raises_typed_errors():
    core = Blocklist(ME)
    for make in (core.block_request, core.unblock_request):
        with pytest.raises(EmptyJIDList):
            make([])
        with pytest.raises(ValueError):  # EmptyJIDList is a ValueError too
            make(())
        with pytest.raises(InvalidJID):
            make(["romeo@example.net", "@nope"])


# -- results and pushes -----------------------------------------------------------------------
def test_fetch_result_and_changes_between_fetches():
    core = Blocklist(ME)
    evs = core.apply_result(blocklist_result("romeo@example.net", "example.org"))
    assert evs == [BlocklistReceived(jids=frozenset(jids("romeo@example.net", "example.org")))]
    assert core.loaded and "romeo@example.net" in core and JID("example.org") in core and len(core) == 2
    assert "not a jid@" not in core and "iago@example.org" not in core
    evs = core.apply_result(blocklist_result("example.org", "iago@example.org"))
    assert evs[:2] == [JIDsBlocked(jids=(JID("iago@example.org"),)), JIDsUnblocked(jids=(JID("romeo@example.net"),))]
    assert isinstance(evs[2], BlocklistReceived) and core.jids == jids("example.org", "iago@example.org")


def test_fetch_result_drops_invalid_jids(caplog):
    core = Blocklist(ME)
    with caplog.at_level("WARNING", logger="fastxmpp.xep.blocking"):
        core.apply_result(X(f"<iq type='result' id='b1'><blocklist xmlns='{NS}'>"
                            "<item jid='@bad'/><item/><item jid='ok@example.net'/><other jid='x@y'/>"
                            "</blocklist></iq>"))
    assert core.jids == jids("ok@example.net")
    assert caplog.text.count("dropping an item with an invalid JID") == 2


def test_fetch_errors_change_nothing():
    core = Blocklist(ME)
    core.apply_result(blocklist_result("romeo@example.net"))
    with pytest.raises(ItemNotFound):
        core.apply_result(X("<iq type='error' id='b1'><error type='cancel'>"
                            "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"))
    with pytest.raises(RemoteInvalidResult):
        core.apply_result(X("<iq type='result' id='b1'/>"))
    assert core.jids == jids("romeo@example.net")


@pytest.mark.parametrize("sender", ["", "juliet@example.com", "example.com", "JULIET@example.com"])
def test_pushes_from_the_account_or_the_server(sender):
    core = Blocklist(ME)
    core.apply_result(blocklist_result("romeo@example.net"))
    reply, evs = core.receive_push(push("block", "iago@example.org", "romeo@example.net", sender=sender))
    assert (reply.get("type"), reply.get("id")) == ("result", "p1") and len(reply) == 0
    assert evs == [JIDsBlocked(jids=(JID("iago@example.org"),))]  # romeo was blocked already
    _, evs = core.receive_push(push("unblock", "romeo@example.net", "nobody@example.net", sender=sender))
    assert evs == [JIDsUnblocked(jids=(JID("romeo@example.net"),))]
    assert core.jids == jids("iago@example.org")
    _, evs = core.receive_push(push("unblock", sender=sender))  # no items: everyone
    assert evs == [JIDsUnblocked(jids=(JID("iago@example.org"),), everything=True)] and len(core) == 0
    _, evs = core.receive_push(push("unblock", "x@example.net", sender=sender))
    assert evs == []


@pytest.mark.parametrize("sender", ["mallory@example.com", "juliet@example.com/balcony", "evil.example.com",
                                    "@@bad"])
def test_pushes_from_anyone_else_are_ignored(sender, caplog):
    core = Blocklist(ME)
    core.apply_result(blocklist_result("romeo@example.net"))
    with caplog.at_level("WARNING", logger="fastxmpp.xep.blocking"), pytest.raises(ServiceUnavailable):
        core.receive_push(push("unblock", sender=sender))
    assert core.jids == jids("romeo@example.net") and "ignoring a blocking push" in caplog.text


def test_malformed_pushes(caplog):
    core = Blocklist(ME)
    with pytest.raises(BadRequest):
        core.receive_push(push("block"))  # a block push without items
    with pytest.raises(BadRequest):
        core.receive_push(X(f"<iq type='set' id='p1'><query xmlns='{NS}'/></iq>"))
    with caplog.at_level("WARNING", logger="fastxmpp.xep.blocking"):
        reply, evs = core.receive_push(push("block", "@bad", "good@example.net"))
    assert reply.get("type") == "result" and evs == [JIDsBlocked(jids=(JID("good@example.net"),))]
    assert "invalid JID" in caplog.text


def test_own_requests_applied_once_answered():
    core = Blocklist(ME)
    assert core.apply_own(core.block_request(["a@example.net", "b@example.net"])) == [
        JIDsBlocked(jids=(JID("a@example.net"), JID("b@example.net")))]
    assert core.apply_own(core.block_request("a@example.net")) == []  # the push after our result
    assert core.apply_own(core.unblock_request("a@example.net")) == [JIDsUnblocked(jids=(JID("a@example.net"),))]
    assert core.apply_own(core.unblock_all_request()) == [JIDsUnblocked(jids=(JID("b@example.net"),), everything=True)]
    assert len(core) == 0


def test_blocked_error():
    blocked = X("<message type='error' from='romeo@example.net'><error type='cancel'>"
                "<not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                "<blocked xmlns='urn:xmpp:blocking:errors'/></error></message>")
    assert is_blocked_error(blocked)
    assert not is_blocked_error(X("<message type='error'><error type='cancel'>"
                                  "<not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"))
    assert not is_blocked_error(X("<message/>"))


# -- the glue, through fake clients -----------------------------------------------------------
class FakeClient(BasicFakeClient):
    """What client.blocking uses of a client: handlers, iq, _call, jid (a blocking one)."""

    def iq(self, stanza, timeout=None):
        self.requests.append(stanza)
        if stanza.find(BLOCKLIST) is not None:
            return blocklist_result("romeo@example.net")
        return X("<iq type='result' id='r'/>")

    def _call(self, fn, event):
        fn(event)


class AsyncFakeClient(FakeClient):
    async def iq(self, stanza, timeout=None):
        return FakeClient.iq(self, stanza, timeout)


def run(kind, result):
    return asyncio.run(result) if kind == "aio" else result


@pytest.mark.parametrize("kind", ["aio", "sync"])
def test_client_blocking(kind):
    client = AsyncFakeClient() if kind == "aio" else FakeClient()
    b = (aio_blocking if kind == "aio" else sync_blocking).Blocking(client)
    seen = []
    b.on_event(seen.append)
    assert run(kind, b.fetch()) == jids("romeo@example.net") and b.loaded
    run(kind, b.block(["iago@example.org"]))
    assert "iago@example.org" in b and len(b) == 2 and set(b) == b.jids
    assert seen[-1] == JIDsBlocked(jids=(JID("iago@example.org"),))
    reply = client.deliver(push("unblock", "romeo@example.net", sender="example.com"))
    assert reply.get("type") == "result" and b.jids == jids("iago@example.org")
    reply = client.deliver(push("unblock", sender="mallory@example.com"))
    assert reply.find("{jabber:client}error/{urn:ietf:params:xml:ns:xmpp-stanzas}service-unavailable") is not None
    assert b.jids == jids("iago@example.org")
    run(kind, b.unblock("iago@example.org"))
    assert len(b) == 0 and seen[-1] == JIDsUnblocked(jids=(JID("iago@example.org"),))
    run(kind, b.block("x@example.net"))
    run(kind, b.unblock_all())
    assert len(b) == 0 and seen[-1].everything
    assert [type(e) for e in seen] == [BlocklistReceived, JIDsBlocked, JIDsUnblocked, JIDsUnblocked,
                                       JIDsBlocked, JIDsUnblocked]
    with pytest.raises(EmptyJIDList):
        run(kind, b.unblock([]))
    client.start_session(resumed=True)
    assert b.loaded
    # a fresh session: the list is fetched again, and what changed meanwhile comes as events
    fetches = sum(r.find(BLOCKLIST) is not None for r in client.requests)
    restored = [fn(SimpleNamespace(resumed=False)) for fn in client._session_listeners]
    run(kind, restored[-1])
    assert sum(r.find(BLOCKLIST) is not None for r in client.requests) == fetches + 1
    assert b.loaded and b.jids == jids("romeo@example.net") and seen[-2:] == [
        JIDsBlocked(jids=(JID("romeo@example.net"),)), BlocklistReceived(jids=jids("romeo@example.net"))]
    b.remove_listener(seen.append)


def test_client_property_made_on_first_access_only():
    for cls, module in ((aio.Client, aio_blocking), (sync.Client, sync_blocking)):
        client = cls(ME, "pw")
        assert client._iq_routes is None
        b = client.blocking
        assert type(b) is module.Blocking and client.blocking is b
        assert sorted(client._iq_routes) == [("set", BLOCK), ("set", UNBLOCK)]
