"""XEP-0115 entity capabilities, sans-IO: the ver hash checked against the XEP's own worked
examples (the simple one and the complex one with an extended form), ill-formed disco results
(section 5.4) never cached, the <c/> in our presence, our answer for node#ver, and both
clients' ``client.caps`` resolving through a fake client with a shared cache."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from fastxmpp.aio.caps import Caps as AioCaps
from fastxmpp.element import Element
from fastxmpp.handlers import HandlerRegistry
from fastxmpp.im.presence import PresenceTracker
from fastxmpp.jid import JID
from fastxmpp.stanza_errors import ItemNotFound
from fastxmpp.sync import xep as sync_xep
from fastxmpp.sync.caps import Caps as SyncCaps
from fastxmpp.xep import NS_DISCO_INFO, Identity, caps, disco, forms
from fastxmpp.xep.caps import (CAPS, NS_CAPS, CapsCache, EntityCaps, caps_element, compute_ver, parse_caps,
                               ver_of_result, verification_string)
from test_xep_basic import X

ME = "juliet@example.com/balcony"
FEATURES = ["http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info",
            "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc"]

# XEP-0115 section 5.2 (simple) and 5.3 (complex), as disco#info results
SIMPLE = f"""<iq type='result' id='d1' from='romeo@montague.lit/orchard'>
<query xmlns='{NS_DISCO_INFO}' node='http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0='>
<identity category='client' name='Exodus 0.9.1' type='pc'/>
{''.join(f"<feature var='{f}'/>" for f in FEATURES)}
</query></iq>"""

COMPLEX = f"""<iq type='result' id='d2' from='benvolio@capulet.lit/230193'>
<query xmlns='{NS_DISCO_INFO}' node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>
<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
<identity xml:lang='el' category='client' name='\u03a8 0.11' type='pc'/>
{''.join(f"<feature var='{f}'/>" for f in reversed(FEATURES))}
<x xmlns='jabber:x:data' type='result'>
  <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
  <field var='ip_version' type='text-multi'><value>ipv4</value><value>ipv6</value></field>
  <field var='os'><value>Mac</value></field>
  <field var='os_version'><value>10.5.1</value></field>
  <field var='software'><value>Psi</value></field>
  <field var='software_version'><value>0.11</value></field>
</x>
</query></iq>"""


def query_of(xml: str) -> Element:
    return X(xml).find("{%s}query" % NS_DISCO_INFO)


def test_simple_example():
    identities = [Identity("client", "pc", "Exodus 0.9.1")]
    assert verification_string(identities, FEATURES) == (
        "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<"
        "http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<")
    assert compute_ver(identities, reversed(FEATURES)) == "QgayPKawpkPSDYmwT/WM94uAlu0="
    assert ver_of_result(query_of(SIMPLE)) == "QgayPKawpkPSDYmwT/WM94uAlu0="


def test_complex_example():
    query = query_of(COMPLEX)
    assert ver_of_result(query) == "q07IKJEyjvHSyhy//CH0CxmKi8w="
    identities = [Identity("client", "pc", "Psi 0.11", "en"), Identity("client", "pc", "\u03a8 0.11", "el")]
    form = forms.find_form(query)
    assert verification_string(identities, FEATURES, [form]) == (
        "client/pc/el/\u03a8 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<"
        "http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<"
        "http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<ip_version<ipv4<ipv6<os<Mac<"
        "os_version<10.5.1<software<Psi<software_version<0.11<")
    assert compute_ver(identities, FEATURES, [form]) == "q07IKJEyjvHSyhy//CH0CxmKi8w="


def test_other_hashes_and_unknown_ones():
    identities = [Identity("client", "pc", "Exodus 0.9.1")]
    assert compute_ver(identities, FEATURES, hash="sha-256") != compute_ver(identities, FEATURES)
    assert ver_of_result(query_of(SIMPLE), "sha-256") == compute_ver(identities, FEATURES, hash="sha-256")
    with pytest.raises(ValueError):
        compute_ver(identities, FEATURES, hash="crc32")
    assert ver_of_result(query_of(SIMPLE), "crc32") is None


def body(inner: str) -> Element:
    return query_of(f"<iq type='result' id='x'><query xmlns='{NS_DISCO_INFO}'>{inner}</query></iq>")


FORM = ("<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>{}</value></field>"
        "<field var='a'><value>1</value></field></x>")


@pytest.mark.parametrize("inner", [
    "<identity category='client' type='pc'/><identity category='client' type='pc'/>",   # identity twice
    "<feature var='a'/><feature var='a'/>",                                               # feature twice
    FORM.format("urn:x") + FORM.format("urn:x"),                                          # FORM_TYPE twice
    "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>a</value>"
    "</field><field var='FORM_TYPE'><value>b</value></field></x>",                        # malformed form
    "<x xmlns='jabber:x:data' type='bogus'/>",
])
def test_ill_formed_results_have_no_ver(inner):
    assert ver_of_result(body(inner)) is None


def test_forms_without_hidden_form_type_are_left_out():
    plain = body("<feature var='a'/>")
    untyped = body("<feature var='a'/><x xmlns='jabber:x:data' type='result'><field var='b'><value>1</value>"
                   "</field></x>")
    shown = body("<feature var='a'/><x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'>"
                 "<value>urn:x</value></field></x>")
    assert ver_of_result(untyped) == ver_of_result(shown) == ver_of_result(plain) is not None
    assert ver_of_result(body("<feature var='a'/>" + FORM.format("urn:x"))) != ver_of_result(plain)


def test_caps_element_and_parse():
    el = caps_element("http://psi-im.org", "q07IKJEyjvHSyhy//CH0CxmKi8w=")
    assert el.tag == CAPS and el.get("hash") == "sha-1"
    presence = Element("{jabber:client}presence")
    presence.append(el)
    found = parse_caps(presence)
    assert found == EntityCaps(node="http://psi-im.org", ver="q07IKJEyjvHSyhy//CH0CxmKi8w=", hash="sha-1")
    assert found.node_ver == "http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w="
    assert parse_caps(X("<presence><c xmlns='http://jabber.org/protocol/caps' node='n' ver='v' ext='x'/>"
                        "</presence>")).hash is None      # legacy caps
    assert parse_caps(X("<presence><c xmlns='http://jabber.org/protocol/caps' node='n'/></presence>")) is None
    assert parse_caps(X("<presence/>")) is None


def test_cache_keeps_only_verified():
    cache = CapsCache(size=2)
    simple = X(SIMPLE)
    info = disco.parse_info(simple)
    assert not cache.put("sha-1", "forged=", simple.find("{%s}query" % NS_DISCO_INFO), info)
    assert len(cache) == 0 and cache.get("sha-1", "forged=") is None
    assert cache.put("sha-1", "QgayPKawpkPSDYmwT/WM94uAlu0=", query_of(SIMPLE), info)
    assert cache.get("sha-1", "QgayPKawpkPSDYmwT/WM94uAlu0=") is info
    assert cache.get(None, "QgayPKawpkPSDYmwT/WM94uAlu0=") is None
    assert cache.put("sha-1", "q07IKJEyjvHSyhy//CH0CxmKi8w=", query_of(COMPLEX), info)
    sha256 = compute_ver([Identity("client", "pc", "Exodus 0.9.1")], FEATURES, hash="sha-256")
    assert cache.put("sha-256", sha256, query_of(SIMPLE), info)
    assert len(cache) == 2 and cache.get("sha-1", "QgayPKawpkPSDYmwT/WM94uAlu0=") is None  # the oldest went
    cache.clear()
    assert len(cache) == 0


# -- the clients, through a fake one ------------------------------------------------------------
class FakeClient(HandlerRegistry):
    """Handlers, jid, the disco layer, a presence tracker, and an iq() that delivers a
    scripted answer (counting the requests)."""

    def __init__(self, answer=None):
        self._init_handlers()
        self.jid = JID(ME)
        self.presence = SimpleNamespace(core=PresenceTracker())
        self.answer = answer
        self.requests = []
        self.sent = []

    @property
    def disco(self):
        return sync_xep.XEP.of(self).disco

    def deliver(self, stanza):
        for fn in list(self.handlers_for(stanza)):
            fn(stanza)

    def answer_iq(self, stanza):
        """Our own answer to an IQ request (as the client's dispatch would make it)."""
        return self._iq_route(stanza)(stanza)


class SyncFake(FakeClient):
    def iq(self, stanza, timeout=None):
        self.requests.append(stanza)
        return self.answer(stanza)

    def send(self, stanza):
        self.sent.append(stanza)


class AioFake(FakeClient):
    async def iq(self, stanza, timeout=None):
        self.requests.append(stanza)
        return self.answer(stanza)

    async def send(self, stanza):
        self.sent.append(stanza)


@pytest.fixture(params=["aio", "sync"])
def kind(request):
    return request.param


def make(kind, answer=None, cache=None):
    client = (AioFake if kind == "aio" else SyncFake)(answer)
    return client, (AioCaps if kind == "aio" else SyncCaps)(client, cache)


def call(kind, value):
    return asyncio.run(value) if kind == "aio" else value


def test_our_presence_carries_caps_and_we_answer_node_ver(kind):
    client, feature = make(kind)
    assert feature.disco.responder.features >= {NS_CAPS}
    ver = feature.ver
    presence = client.presence.core.available()
    c = presence.find(CAPS)
    assert (c.get("node"), c.get("ver"), c.get("hash")) == (caps.DEFAULT_NODE, ver, "sha-1")
    assert client.presence.core.available(to="romeo@montague.lit").find(CAPS) is not None  # directed too
    request = X(f"<iq type='get' id='q1' from='romeo@montague.lit/orchard'><query xmlns='{NS_DISCO_INFO}' "
                f"node='{caps.DEFAULT_NODE}#{ver}'/></iq>")
    reply = client.answer_iq(request)
    query = reply.find("{%s}query" % NS_DISCO_INFO)
    assert query.get("node") == f"{caps.DEFAULT_NODE}#{ver}" and reply.get("to") == "romeo@montague.lit/orchard"
    assert ver_of_result(query) == ver                  # what we answer hashes to what we advertise
    plain = client.answer_iq(X(f"<iq type='get' id='q2' from='romeo@montague.lit/orchard'>"
                               f"<query xmlns='{NS_DISCO_INFO}'/></iq>"))
    assert plain.find("{%s}query" % NS_DISCO_INFO).get("node") is None
    with pytest.raises(ItemNotFound):
        client.answer_iq(X(f"<iq type='get' id='q3' from='romeo@montague.lit/orchard'><query "
                           f"xmlns='{NS_DISCO_INFO}' node='{caps.DEFAULT_NODE}#stale='/></iq>"))
    # a new feature: a new ver; announce() sends the broadcast presence again with it
    feature.disco.responder.add_feature("urn:xmpp:ping")
    assert feature.ver != ver
    call(kind, feature.announce())
    assert client.sent[-1].find(CAPS).get("ver") == feature.ver
    assert len(client.sent[-1].findall(CAPS)) == 1


def test_announce_without_broadcast_presence_sends_nothing(kind):
    client, feature = make(kind)
    call(kind, feature.announce())
    assert client.sent == []


def peer_presence(jid, node, ver, hash="sha-1", kind=None):
    t = f" type='{kind}'" if kind else ""
    return X(f"<presence from='{jid}'{t}><c xmlns='{NS_CAPS}' hash='{hash}' node='{node}' ver='{ver}'/></presence>")


def simple_answer(request):
    query = request.find("{%s}query" % NS_DISCO_INFO)
    reply = X(SIMPLE.replace("romeo@montague.lit/orchard", request.get("to")))
    assert query.get("node") == "http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0="
    return reply


def test_resolve_through_disco_then_the_shared_cache(kind):
    cache = CapsCache()
    one, caps_one = make(kind, simple_answer, cache)
    two, caps_two = make(kind, simple_answer, cache)
    for client in (one, two):
        client.deliver(peer_presence("romeo@montague.lit/orchard", "http://code.google.com/p/exodus",
                                     "QgayPKawpkPSDYmwT/WM94uAlu0="))
    assert caps_one.known("romeo@montague.lit/orchard") is None
    info = call(kind, caps_one.info("romeo@montague.lit/orchard"))
    assert info.has_feature("http://jabber.org/protocol/muc") and len(one.requests) == 1
    assert len(cache) == 1
    again = call(kind, caps_two.info(JID("romeo@montague.lit/orchard")))   # the other client: no request
    assert two.requests == [] and again.features == info.features
    assert again.jid == JID("romeo@montague.lit/orchard")
    # someone else with the same ver: known at once
    one.deliver(peer_presence("benvolio@capulet.lit/x", "http://code.google.com/p/exodus",
                              "QgayPKawpkPSDYmwT/WM94uAlu0="))
    assert caps_one.known("benvolio@capulet.lit/x").jid == JID("benvolio@capulet.lit/x")
    # unavailable forgets the advertisement; a presence without caps too
    one.deliver(X("<presence from='romeo@montague.lit/orchard' type='unavailable'/>"))
    assert JID("romeo@montague.lit/orchard") not in caps_one.advertised
    one.deliver(X("<presence from='benvolio@capulet.lit/x'/>"))
    assert caps_one.advertised == {}
    one.deliver(X("<presence from='@bad'/>"))            # ignored, no exception
    one.deliver(X("<presence/>"))


def test_a_lying_ver_is_not_cached(kind):
    cache = CapsCache()
    client, feature = make(kind, lambda request: X(SIMPLE.replace("Exodus", "Evil")
                                                   .replace("romeo@montague.lit/orchard", request.get("to"))),
                           cache)
    client.deliver(peer_presence("romeo@montague.lit/orchard", "http://code.google.com/p/exodus",
                                 "QgayPKawpkPSDYmwT/WM94uAlu0="))
    info = call(kind, feature.info("romeo@montague.lit/orchard"))
    assert info.has_identity("client", "pc")            # the answer is returned...
    assert len(cache) == 0                              # ...but not cached under a ver it does not match
    call(kind, feature.info("romeo@montague.lit/orchard"))
    assert len(client.requests) == 2


def test_without_caps_plain_disco(kind):
    def answer(request):
        assert request.find("{%s}query" % NS_DISCO_INFO).get("node") is None
        return X(f"<iq type='result' id='x' from='{request.get('to')}'><query xmlns='{NS_DISCO_INFO}'>"
                 "<feature var='urn:xmpp:ping'/></query></iq>")
    cache = CapsCache()
    client, feature = make(kind, answer, cache)
    client.deliver(X("<presence from='romeo@montague.lit/orchard'><c xmlns='http://jabber.org/protocol/caps' "
                     "node='n' ver='legacy' ext='a b'/></presence>"))   # legacy: no hash, never cached
    assert call(kind, feature.info("romeo@montague.lit/orchard")).has_feature("urn:xmpp:ping")
    info = call(kind, feature.info("nobody@montague.lit/x"))
    assert info.has_feature("urn:xmpp:ping") and len(cache) == 0


def test_default_cache_is_the_shared_one():
    client = SyncFake()
    assert SyncCaps(client).cache is caps.SHARED_CACHE
    assert all(getattr(caps, name).__doc__ or name.isupper() for name in caps.__all__)
