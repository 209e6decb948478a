"""XEP-0030 disco, XEP-0199 ping and XEP-0092 version against the private Prosody (which loads
mod_disco, mod_ping and mod_version), with both clients: querying the server, and a second
fastxmpp client answering."""
from __future__ import annotations

import contextlib
import threading

import pytest

import fastxmpp
from fastxmpp.jid import JID
from fastxmpp.stanza_errors import ServiceUnavailable
from fastxmpp.xep import NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_VERSION, Identity

from test_im_prosody import harness  # noqa: F401 - the fixture: both clients

pytestmark = pytest.mark.prosody


@contextlib.contextmanager
def serving(harness, other):
    """Let ``other`` answer while the test waits on another client: the asyncio clients
    share one loop; a blocking client reads only inside its calls, so a thread pumps it."""
    if harness.kind == "aio":
        yield
        return
    stop = threading.Event()

    def pump():
        while not stop.is_set():
            other.process(timeout=0.05)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def test_server_disco_ping_and_version(harness, account):
    jid, pw = account()
    client = harness.connect(jid + "/one", pw)
    info = harness.do(client.disco.info())
    assert info.jid == JID(client.jid.domain) and info.has_feature(NS_PING)
    assert info.has_feature(NS_DISCO_INFO) and info.has_identity("server", "im")
    assert harness.do(client.disco.info(client.jid.domain)) is info  # cached for the session
    items = harness.do(client.disco.items())
    assert all(isinstance(item.jid, JID) for item in items.items)
    rtt = harness.do(client.pinger.send())
    assert 0 <= rtt < 30
    name, version, _os = harness.do(client.software_version.query())
    assert name == "Prosody" and version


def test_cache_cleared_on_a_new_session(harness, account):
    jid, pw = account()
    client = harness.connect(jid + "/one", pw)
    info = harness.do(client.disco.info())
    harness.close(client)
    harness.do(client.connect())
    harness.clients.append(client)
    again = harness.do(client.disco.info())
    assert again is not info and again == info


def test_a_second_client_answers(harness, account):
    jid, pw = account()
    other_jid, other_pw = account()
    one = harness.connect(jid + "/one", pw)
    two = harness.connect(other_jid + "/two", other_pw)
    peer = two.bound_jid
    with serving(harness, two):
        with pytest.raises(ServiceUnavailable):  # nothing touched yet: pings are not answered
            harness.do(one.pinger.send(peer))
    two.pinger  # noqa: B018 - first access: answer pings and advertise it
    two.software_version.os = "TestOS"
    two.disco.identity = ("client", "pc", "second")
    with serving(harness, two):
        assert 0 <= harness.do(one.pinger.send(peer)) < 30
        assert harness.do(one.software_version.query(peer)) == ("fastxmpp", fastxmpp.__version__, "TestOS")
        info = harness.do(one.disco.info(peer))
        items = harness.do(one.disco.items(peer))
    assert info.jid == peer and info.identities == (Identity("client", "pc", "second"),)
    assert {NS_PING, NS_VERSION, NS_DISCO_INFO, NS_DISCO_ITEMS} <= info.features
    assert items.items == ()
