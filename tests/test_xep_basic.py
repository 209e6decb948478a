"""XEP-0030 disco, XEP-0199 ping and XEP-0092 version, sans-IO: requests, results parsed from
scripted stanzas (malformed ones and errors raise typed errors), the answers a client gives,
and the glue both clients share driven through a fake client (no server)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from fastxmpp import aio, sync
from fastxmpp.aio import xep as aio_xep
from fastxmpp.sync import xep as sync_xep
from fastxmpp.element import Element
from fastxmpp.handlers import HandlerRegistry, iq_reply
from fastxmpp.jid import JID
from fastxmpp.stanza_errors import FeatureNotImplemented, ItemNotFound, ServiceUnavailable
from fastxmpp.tokenizer import Tokenizer
from fastxmpp.xep import (NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_VERSION, DiscoCache, DiscoItem,
                          DiscoResponder, Identity, InvalidDiscoResult, InvalidVersionResult,
                          RemoteInvalidResult, SoftwareVersion)
from fastxmpp.xep import _glue, disco, ping, version

ME = "juliet@example.com/balcony"
HEADER = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
          b" from='example.com' version='1.0'>")


def X(xml: str) -> Element:
    """One stanza parsed the way the client parses it (the twin in use)."""
    tokens = [t for t in Tokenizer().feed(HEADER + xml.encode()) if isinstance(t, Element)]
    assert len(tokens) == 1
    return tokens[0]


def info_result(body: str, sender="example.com", node="") -> Element:
    node_attr = f" node='{node}'" if node else ""
    return X(f"<iq type='result' id='d1' from='{sender}'><query xmlns='{NS_DISCO_INFO}'{node_attr}>"
             f"{body}</query></iq>")


def items_result(body: str, sender="example.com") -> Element:
    return X(f"<iq type='result' id='d2' from='{sender}'><query xmlns='{NS_DISCO_ITEMS}'>{body}</query></iq>")


def error_iq(condition: str, sender="example.com") -> Element:
    return X(f"<iq type='error' id='e1' from='{sender}'><error type='cancel'>"
             f"<{condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")


# -- disco ------------------------------------------------------------------------------------
def test_disco_requests():
    iq = disco.info_request(JID("example.com"))
    assert (iq.get("type"), iq.get("to")) == ("get", "example.com")
    assert iq.find("{%s}query" % NS_DISCO_INFO).get("node") is None
    iq = disco.items_request("pubsub.example.com", node="n1")
    assert iq.get("to") == "pubsub.example.com" and iq.find("{%s}query" % NS_DISCO_ITEMS).get("node") == "n1"


def test_disco_info_parsed():
    info = disco.parse_info(info_result(
        "<identity category='server' type='im' name='Prosody'/>"
        "<identity category='pubsub' type='pep' xml:lang='en'/>"
        f"<feature var='{NS_PING}'/><feature var='{NS_DISCO_INFO}'/><feature var='{NS_PING}'/>"
        "<x xmlns='jabber:x:data' type='result'/>"))
    assert info.jid == JID("example.com") and info.node is None
    assert info.identities == (Identity("server", "im", "Prosody", None), Identity("pubsub", "pep", None, "en"))
    assert info.features == frozenset({NS_PING, NS_DISCO_INFO})
    assert info.has_feature(NS_PING) and not info.has_feature(NS_VERSION)
    assert info.has_identity("server") and info.has_identity("pubsub", "pep") and not info.has_identity("client")
    # the JID asked wins over the result's from; the node is read back
    info = disco.parse_info(info_result("", sender="x.example.com", node="n"), JID("example.com"))
    assert (info.jid, info.node, info.identities, info.features) == (JID("example.com"), "n", (), frozenset())


@pytest.mark.parametrize("body, reason", [
    ("<identity type='im'/>", "category"),
    ("<identity category='server'/>", "'type'"),
    ("<feature/>", "var"),
])
def test_disco_info_malformed(body, reason):
    with pytest.raises(InvalidDiscoResult, match=reason) as caught:
        disco.parse_info(info_result(body))
    assert isinstance(caught.value, RemoteInvalidResult) and isinstance(caught.value, ValueError)
    assert caught.value.stanza is not None


def test_disco_results_without_payload_or_not_results():
    with pytest.raises(InvalidDiscoResult, match="payload"):
        disco.parse_info(X("<iq type='result' id='d1' from='example.com'/>"))
    with pytest.raises(InvalidDiscoResult, match="payload"):
        disco.parse_items(info_result(""))  # a disco#info payload is not disco#items
    with pytest.raises(InvalidDiscoResult, match="type 'get'"):
        disco.parse_info(X(f"<iq type='get' id='d1'><query xmlns='{NS_DISCO_INFO}'/></iq>"))
    with pytest.raises(InvalidDiscoResult, match="from"):
        disco.parse_info(X(f"<iq type='result' id='d1'><query xmlns='{NS_DISCO_INFO}'/></iq>"))


def test_disco_error_replies_raise_typed_errors():
    with pytest.raises(ServiceUnavailable):
        disco.parse_info(error_iq("service-unavailable"))
    with pytest.raises(ItemNotFound):
        disco.parse_items(error_iq("item-not-found"))


def test_disco_items_parsed():
    items = disco.parse_items(items_result(
        "<item jid='conference.example.com' name='Rooms'/><item jid='example.com' node='announce'/>"))
    assert items.jid == JID("example.com") and items.node is None
    assert items.items == (DiscoItem(JID("conference.example.com"), None, "Rooms"),
                           DiscoItem(JID("example.com"), "announce", None))
    assert disco.parse_items(items_result("")).items == ()


@pytest.mark.parametrize("item", ["<item name='no jid'/>", "<item jid='' />", "<item jid='a@b@c'/>"])
def test_disco_items_without_a_valid_jid(item):
    with pytest.raises(InvalidDiscoResult, match="jid"):
        disco.parse_items(items_result(item))


def test_responder_answers_info_and_items():
    responder = DiscoResponder([Identity("client", "pc", "Tester", "en")])
    responder.add_feature(NS_PING)
    request = X(f"<iq type='get' id='q1' from='romeo@example.net/orchard'><query xmlns='{NS_DISCO_INFO}'/></iq>")
    reply = responder.answer_info(request)
    assert (reply.get("type"), reply.get("id"), reply.get("to")) == ("result", "q1", "romeo@example.net/orchard")
    info = disco.parse_info(reply, "juliet@example.com/balcony")  # what we answer parses back
    assert info.identities == (Identity("client", "pc", "Tester", "en"),)
    assert info.features == {NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING}
    responder.remove_feature(NS_PING)
    assert NS_PING not in disco.parse_info(responder.answer_info(request), "j@example.com").features
    items = responder.answer_items(X(f"<iq type='get' id='q2' from='r@example.net'><query xmlns='{NS_DISCO_ITEMS}'/></iq>"))
    assert disco.parse_items(items, "j@example.com").items == ()
    with pytest.raises(ItemNotFound):
        responder.answer_info(X(f"<iq type='get' id='q3'><query xmlns='{NS_DISCO_INFO}' node='x'/></iq>"))
    with pytest.raises(ItemNotFound):
        responder.answer_items(X(f"<iq type='get' id='q4'><query xmlns='{NS_DISCO_ITEMS}' node='x'/></iq>"))


def test_cache_by_kind_jid_and_node():
    cache = DiscoCache()
    info = disco.parse_info(info_result(""))
    cache.put("info", JID("example.com"), None, info)
    assert cache.get("info", JID("Example.COM"), None) is info
    assert cache.get("info", JID("example.com"), "n") is None and cache.get("items", JID("example.com"), None) is None
    cache.put("info", JID("example.com"), "n", info)
    cache.put("info", JID("other.example.com"), None, info)
    cache.forget("example.com")
    assert len(cache) == 1
    cache.clear()
    assert len(cache) == 0


# -- ping -------------------------------------------------------------------------------------
def test_ping_request_answer_and_errors():
    iq = ping.ping_request("example.com")
    assert iq.get("to") == "example.com" and iq.find("{urn:xmpp:ping}ping") is not None
    request = X("<iq type='get' id='p1' from='example.com'><ping xmlns='urn:xmpp:ping'/></iq>")
    reply = ping.answer_ping(request)
    assert (reply.get("type"), reply.get("id"), reply.get("to"), len(reply)) == ("result", "p1", "example.com", 0)
    ping.check_pong(reply)
    with pytest.raises(ServiceUnavailable):
        ping.check_pong(error_iq("service-unavailable"))
    with pytest.raises(FeatureNotImplemented):
        ping.check_pong(error_iq("feature-not-implemented"))


# -- version ----------------------------------------------------------------------------------
def test_version_parsed():
    def result(body):
        return X(f"<iq type='result' id='v1' from='example.com'><query xmlns='{NS_VERSION}'>{body}</query></iq>")

    assert version.parse_version(result("<name>Prosody</name><version> 0.12.4 </version><os>Linux</os>")) \
        == SoftwareVersion("Prosody", "0.12.4", "Linux")
    assert version.parse_version(result("<name>x</name><version>1</version>")) == ("x", "1", None)
    for body, missing in (("<version>1</version>", "name"), ("<name>x</name>", "version"),
                          ("<name/><version>1</version>", "name")):
        with pytest.raises(InvalidVersionResult, match=missing):
            version.parse_version(result(body))
    with pytest.raises(InvalidVersionResult, match="payload"):
        version.parse_version(X("<iq type='result' id='v1'/>"))
    with pytest.raises(ServiceUnavailable):
        version.parse_version(error_iq("service-unavailable"))


def test_version_answer():
    request = X(f"<iq type='get' id='v2' from='romeo@example.net/o'><query xmlns='{NS_VERSION}'/></iq>")
    reply = version.answer_version(request, "fastxmpp", "1.2")
    assert reply.get("to") == "romeo@example.net/o"
    assert version.parse_version(reply) == ("fastxmpp", "1.2", None)  # no <os/> by default
    assert version.parse_version(version.answer_version(request, "fastxmpp", "1.2", "Linux")).os == "Linux"


def test_library_version():
    import fastxmpp

    assert _glue.library_version() == fastxmpp.__version__


# -- the glue, through a fake client ----------------------------------------------------------
class FakeClient(HandlerRegistry):
    """What the XEP layer uses of a client: handlers, iq, jid (a blocking one)."""

    def __init__(self):
        self._init_handlers()
        self.jid = JID(ME)
        self.requests = []
        self.answers = []

    def iq(self, stanza, timeout=None):
        self.requests.append(stanza)
        return self.answers.pop(0)

    def deliver(self, stanza):
        route = self._iq_route(stanza)
        results = []
        try:
            results.append(route(stanza) if route else None)
        except Exception as exc:  # noqa: BLE001 - what the clients do
            results.append(exc)
        return iq_reply(stanza, results, route is not None)

    def start_session(self, resumed=False):
        for fn in self._session_listeners or ():
            fn(SimpleNamespace(resumed=resumed))


def layer(client):
    return sync_xep.XEP.of(client)


def ask(client, payload):
    return client.deliver(X(f"<iq type='get' id='a1' from='romeo@example.net/o'>{payload}</iq>"))


def test_nothing_registered_before_first_access():
    client = FakeClient()
    assert ask(client, "<ping xmlns='urn:xmpp:ping'/>").find("{jabber:client}error") is not None
    xep = layer(client)
    assert xep is layer(client) and client._iq_routes is None and len(client._session_listeners) == 1
    xep.disco
    assert sorted(client._iq_routes) == [("get", disco.INFO_QUERY), ("get", disco.ITEMS_QUERY)]


def test_client_answers_what_is_in_use():
    client = FakeClient()
    xep = layer(client)
    xep.disco
    info = disco.parse_info(ask(client, f"<query xmlns='{NS_DISCO_INFO}'/>"), "x@example.com")
    assert info.identities == (Identity("client", "bot", "fastxmpp"),)
    assert info.features == {NS_DISCO_INFO, NS_DISCO_ITEMS}
    assert ask(client, "<ping xmlns='urn:xmpp:ping'/>").find("{jabber:client}error") is not None  # not yet
    assert ask(client, f"<query xmlns='{NS_VERSION}'/>").find("{jabber:client}error") is not None

    xep.pinger
    xep.software_version
    assert ask(client, "<ping xmlns='urn:xmpp:ping'/>").get("type") == "result"
    import fastxmpp
    assert version.parse_version(ask(client, f"<query xmlns='{NS_VERSION}'/>")) == ("fastxmpp", fastxmpp.__version__, None)
    xep.software_version.os = "Linux"
    assert version.parse_version(ask(client, f"<query xmlns='{NS_VERSION}'/>")).os == "Linux"
    xep.disco.identity = ("client", "pc")
    info = disco.parse_info(ask(client, f"<query xmlns='{NS_DISCO_INFO}'/>"), "x@example.com")
    assert info.identities == (Identity("client", "pc"),) and xep.disco.identity == ("client", "pc", None, None)
    assert info.features == {NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_VERSION}
    assert disco.parse_items(ask(client, f"<query xmlns='{NS_DISCO_ITEMS}'/>"), "x@example.com").items == ()
    reply = ask(client, f"<query xmlns='{NS_DISCO_INFO}' node='nope'/>")
    assert reply.find("{jabber:client}error/{urn:ietf:params:xml:ns:xmpp-stanzas}item-not-found") is not None


def test_queries_default_to_the_server_and_are_cached_per_session():
    client = FakeClient()
    d = layer(client).disco
    client.answers = [info_result(f"<identity category='server' type='im'/><feature var='{NS_PING}'/>"),
                      items_result("<item jid='conference.example.com'/>")]
    info = d.info()
    assert client.requests[-1].get("to") == "example.com" and info.has_feature(NS_PING)
    assert d.info("Example.com") is info and len(client.requests) == 1  # cached
    assert d.items().items == (DiscoItem(JID("conference.example.com")),)
    assert d.items() is d.items() and len(client.requests) == 2
    client.start_session(resumed=True)  # the same session: still valid
    assert d.info() is info
    client.start_session()  # a new one: asked again
    client.answers = [info_result("")]
    assert d.info() is not info and len(client.requests) == 3
    client.answers = [info_result("<identity type='x'/>")]
    with pytest.raises(InvalidDiscoResult):
        d.info(node="n")
    assert d.cached_info(None, "n")[1] is None  # not cached


def test_ping_and_version_queries():
    client = FakeClient()
    xep = layer(client)
    client.answers = [X("<iq type='result' id='p' from='romeo@example.net/o'/>"),
                      X(f"<iq type='result' id='v' from='example.com'><query xmlns='{NS_VERSION}'>"
                        "<name>Prosody</name><version>0.12</version></query></iq>")]
    rtt = xep.pinger.send("romeo@example.net/o")
    assert isinstance(rtt, float) and rtt >= 0 and client.requests[-1].get("to") == "romeo@example.net/o"
    assert xep.software_version.query() == ("Prosody", "0.12", None)
    assert client.requests[-1].get("to") == "example.com"


def test_client_properties_made_on_first_access_only():
    for cls, module in ((aio.Client, aio_xep), (sync.Client, sync_xep)):
        client = cls("juliet@example.com/balcony", "pw")
        assert "_xep" not in client.__dict__ and client._iq_routes is None
        d = client.disco
        assert type(d) is module.Disco and client.disco is d
        assert type(client.pinger) is module.Pinger and type(client.software_version) is module.SoftwareVersion
        assert ("get", ping.PING) in client._iq_routes and ("get", version.QUERY) in client._iq_routes
