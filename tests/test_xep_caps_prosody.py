"""XEP-0115 entity capabilities against the private Prosody, with both clients: one client
advertises caps in its presence, another sees them, resolves them through disco#info
(verified, then cached for the whole process) and learns the first one's features."""
from __future__ import annotations

import pytest

from fastxmpp.xep import NS_PING, caps

from test_im_prosody import harness  # noqa: F401 - the fixture: both clients
from test_xep_prosody import serving

pytestmark = pytest.mark.prosody


def test_one_sees_the_others_features_through_caps(harness, account):
    a_jid, a_pw = account()
    b_jid, b_pw = account()
    cache = caps.CapsCache()
    a = harness.connect(a_jid + "/a", a_pw)
    b = harness.connect(b_jid + "/b", b_pw)
    a.caps.cache = cache
    b.pinger  # noqa: B018 - b answers pings, and says so
    b.disco.identity = ("client", "bot", "caps test")
    b.caps.node = "https://example.org/caps-test"
    b.caps.cache = cache
    ver = b.caps.ver
    harness.do(b.presence.available(to=a.bound_jid))       # directed: a sees it without a subscription
    harness.wait(lambda: b.bound_jid in a.caps.advertised, "b's caps in its presence")
    seen = a.caps.advertised[b.bound_jid]
    assert (seen.node, seen.ver, seen.hash) == ("https://example.org/caps-test", ver, "sha-1")
    assert a.caps.known(b.bound_jid) is None

    with serving(harness, b):
        info = harness.do(a.caps.info(b.bound_jid))
    assert info.has_feature(NS_PING) and info.has_feature(caps.NS_CAPS)
    assert info.has_identity("client", "bot") and info.jid == b.bound_jid
    assert len(cache) == 1
    # known now without asking again; b itself learns nothing it did not ask
    again = a.caps.known(b.bound_jid)
    assert again is not None and again.features == info.features
    assert harness.do(a.caps.info(b.bound_jid)).features == info.features

    # a new feature changes the ver; announce() sends it (a sees it in b's next broadcast
    # only with a subscription, so a directed presence carries it here)
    b.software_version  # noqa: B018
    assert b.caps.ver != ver
    harness.do(b.presence.available(to=a.bound_jid))
    harness.wait(lambda: a.caps.advertised[b.bound_jid].ver == b.caps.ver, "the new ver")
    with serving(harness, b):
        newer = harness.do(a.caps.info(b.bound_jid))
    assert "jabber:iq:version" in newer.features and len(cache) == 2
    harness.do(b.caps.announce())  # no broadcast presence yet: nothing to send again
    harness.do(b.presence.available())
    assert b.presence.core.own.find(caps.CAPS).get("ver") == b.caps.ver
