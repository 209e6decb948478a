"""The blocking driver (fastxmpp.sync.Client) against a real, private Prosody.

Skipped when prosody is not installed, except under CI (``CI`` set), where a
missing prosody fails.  The server is module-scoped; the restart test comes
last in the file and leaves the server running (same port and data).
"""
from __future__ import annotations

import importlib.util
import itertools
import json
import logging
import os
import socket
import struct
import subprocess
import sys
import textwrap
import threading

import pytest

from fastxmpp import errors
from fastxmpp.backoff import Backoff
from fastxmpp.element import Element
from fastxmpp.handlers import CLAIMED
from fastxmpp.stanza import iq, message
from fastxmpp.stanza_errors import ServiceUnavailable, StanzaError
from fastxmpp.sync import Client, ConnectionLost
from fastxmpp.testing.prosody import TEST_NS, ProsodyServer, find_free_port, prosody_binary
from login_timings import check_login_timings

pytestmark = pytest.mark.prosody

DOMAIN = "fastxmpp.test"
PASSWORD = "s3cret"
NS_PING = "urn:xmpp:ping"
NS_TEST_QUERY = "urn:example:fastxmpp:sync-test"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

if prosody_binary() is None and not os.environ.get("CI"):
    pytest.skip("prosody is not installed (run scripts/install-system-deps)", allow_module_level=True)

_names = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ProsodyServer(tmp_path_factory.mktemp("prosody-sync"), domain=DOMAIN, direct_tls_port=True)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def make_client(server):
    """``make_client(name=None, resource=None, password=PASSWORD, connect=True, **options)``."""
    made = []

    def make(name=None, resource=None, password=PASSWORD, connect=True, **options):
        name = name or "user%d" % next(_names)
        jid = server.create_user(name, PASSWORD)
        if resource:
            jid += "/" + resource
        options.setdefault("host", server.host)
        options.setdefault("port", server.port)
        options.setdefault("ca_file", str(server.ca_file))
        client = Client(jid, password, **options)
        made.append(client)
        if connect:
            client.connect()
        return client

    yield make
    for client in made:
        client.close()


def body_of(stanza):
    return stanza.findtext("{jabber:client}body")


def ping_iq(to):
    return iq(type="get", to=to, payload=Element("{%s}ping" % NS_PING))


class Pump:
    """Runs ``client.process()`` in a thread so another client can wait on it (test-only:
    the client itself never starts threads)."""

    def __init__(self, client):
        self.client = client
        self.stop = threading.Event()
        self.errors = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        try:
            while not self.stop.is_set():
                self.client.process(timeout=0.05)
        except Exception as exc:  # pragma: no cover - reported by __exit__
            self.errors.append(exc)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()
        assert not self.errors, self.errors


def settle(*clients):
    """Ping the server from each client in turn: everything routed before is then
    in the clients' receive queues (the server handles each stream in order)."""
    for client in clients:
        client.ping(timeout=10)


# ------------------------------------------------------------------------- login


def test_login_requested_resource(make_client):
    client = make_client("alice", resource="desk", mechanisms=["SCRAM-SHA-1"])
    assert client.is_ready
    assert str(client.bound_jid) == "alice@%s/desk" % DOMAIN
    assert client.mechanism == "SCRAM-SHA-1"
    assert client.stream.tls_active  # STARTTLS
    assert client.stream.sm.active and client.sm_state() is not None
    check_login_timings(client.last_login_timings, tls=True)


def test_login_timings_are_set_before_the_session_listeners(make_client):
    client = make_client(connect=False)
    assert client.last_login_timings is None
    seen = []
    client.on_session_started = lambda ev: seen.append(client.last_login_timings)
    client.connect()
    check_login_timings(client.last_login_timings, tls=True)
    assert seen == [client.last_login_timings]
    client.ping(timeout=10)
    assert seen == [client.last_login_timings]  # traffic does not touch them


def test_login_server_assigned_resource(make_client):
    client = make_client("bob")
    assert client.is_ready
    assert client.bound_jid.bare == client.jid
    assert client.bound_jid.resource
    assert client.mechanism.startswith("SCRAM-SHA-1")


def test_login_direct_tls(make_client, server):
    client = make_client(port=server.direct_tls_port, direct_tls=True)
    assert client.is_ready
    check_login_timings(client.last_login_timings, tls=True)
    assert client.ping(timeout=10).get("type") == "result"


def test_wrong_password(make_client):
    client = make_client(password="wrong", connect=False)
    with pytest.raises(errors.SASLError) as info:
        client.connect()
    assert info.value.condition == "not-authorized"
    assert not client.is_ready and client._sock is None


def test_context_manager_closes_cleanly(server):
    jid = server.create_user("ctx", PASSWORD)
    with Client(jid, PASSWORD, host=server.host, port=server.port, ca_file=str(server.ca_file)) as client:
        assert client.is_ready
        stream = client.stream
    assert not client.is_ready
    assert stream.state == "closed"
    assert client.error is None
    with pytest.raises(ConnectionLost):
        client.send(message(to=jid, body="too late"))
    client.close()  # idempotent


def test_connect_refused_raises_connection_lost(server):
    client = Client(server.jid("nobody"), PASSWORD, host=server.host, port=find_free_port(),
                    ca_file=str(server.ca_file), connect_timeout=5)
    with pytest.raises(ConnectionLost):
        client.connect()
    client.backoff = Backoff(initial=0.01, maximum=0.02)
    with pytest.raises(ConnectionLost):
        client.reconnect(max_attempts=2)
    assert client.backoff.attempts == 3


# ----------------------------------------------------------------------- stanzas


def test_message_exchange(make_client):
    a, b = make_client(), make_client()
    assert b.recv(timeout=0.05) is None
    for i in range(3):
        a.send(message(to=b.bound_jid, body="hello %d" % i))
    got = [b.recv(timeout=10) for _ in range(3)]
    assert [body_of(m) for m in got] == ["hello 0", "hello 1", "hello 2"]
    assert {m.get("from") for m in got} == {str(a.bound_jid)}
    b.send(message(to=a.bound_jid, body="back"))
    assert body_of(a.recv(timeout=10)) == "back"


def test_process_dispatches_to_handlers(make_client, caplog):
    a, b = make_client(), make_client()
    seen = []

    @b.on_message
    def handler(stanza):
        seen.append(body_of(stanza))
        if body_of(stanza) == "boom":
            raise RuntimeError("handler bug")

    for text in ("one", "boom", "two"):
        a.send(message(to=b.bound_jid, body=text))
    a.ping(timeout=10)  # the three messages were routed to b
    dispatched = 0
    with caplog.at_level(logging.ERROR, logger="fastxmpp.sync"):
        while len(seen) < 3:
            dispatched += b.process(timeout=10)
    assert seen == ["one", "boom", "two"]
    assert dispatched >= 3
    assert any("handler" in r.getMessage() and r.exc_info for r in caplog.records)
    assert b.is_ready and b.recv(timeout=0) is None  # handled stanzas are not queued
    settle(b)


def test_ping_server_and_error_response(make_client):
    a = make_client()
    result = a.ping(timeout=10)
    assert result.get("type") == "result" and result.get("from") == DOMAIN
    assert a.iq(ping_iq(DOMAIN), timeout=10).get("type") == "result"
    with pytest.raises(StanzaError) as info:
        a.iq(ping_iq("nobody@%s/gone" % DOMAIN), timeout=10)
    assert isinstance(info.value, ServiceUnavailable)
    with pytest.raises(ServiceUnavailable):
        a.iq(iq(type="get", to="nobody@" + DOMAIN, payload=Element("{%s}query" % NS_TEST_QUERY)), timeout=10)
    assert a.is_ready  # stanza errors do not hurt the stream


def test_incoming_iq_handled(make_client):
    a, b = make_client(), make_client()

    @b.on_iq
    def answer(request):
        if request.get("type") != "get":
            return
        reply = iq(type="result", to=request.get("from"), id=request.get("id"))
        query = reply.subelement("{%s}query" % NS_TEST_QUERY)
        query.subelement("{%s}echo" % NS_TEST_QUERY, text=request.find("{%s}query" % NS_TEST_QUERY).get("x"))
        b.send(reply)
        return CLAIMED

    with Pump(b):
        request = iq(type="get", to=b.bound_jid, payload=Element("{%s}query" % NS_TEST_QUERY, {"x": "42"}))
        result = a.iq(request, timeout=10)
    assert result.get("from") == str(b.bound_jid)
    assert result.findtext("{%s}query/{%s}echo" % (NS_TEST_QUERY, NS_TEST_QUERY)) == "42"


def test_incoming_iq_without_handler_is_refused(make_client):
    a, b = make_client(), make_client()
    with Pump(b):
        with pytest.raises(ServiceUnavailable):
            a.iq(iq(type="get", to=b.bound_jid, payload=Element("{%s}query" % NS_TEST_QUERY)), timeout=10)
    assert b.recv(timeout=0) is None  # answered, not queued


def test_iq_timeout(make_client):
    a, b = make_client(), make_client()  # b never reads: nobody answers
    request = iq(type="get", to=b.bound_jid, payload=Element("{%s}query" % NS_TEST_QUERY))
    with pytest.raises(TimeoutError):
        a.iq(request, timeout=0.2)
    assert a.stream._pending_iq == {}
    assert a.ping(timeout=10).get("type") == "result"


def test_stream_error_from_server(make_client):
    a = make_client()
    request = iq(type="set", to=DOMAIN, payload=Element(
        "{%s}stream-error" % TEST_NS, {"condition": "policy-violation", "text": "test"}))
    with pytest.raises(errors.PolicyViolation) as info:
        a.iq(request, timeout=10)
    assert info.value.text == "test"
    assert a.error is info.value
    assert not a.is_ready
    with pytest.raises(ConnectionLost):
        a.recv(timeout=0.1)


def test_server_drops_connection(make_client):
    a = make_client()
    request = iq(type="set", to=DOMAIN, payload=Element("{%s}stream-error" % TEST_NS, {"abrupt": "true"}))
    with pytest.raises(ConnectionLost):
        a.iq(request, timeout=10)
    assert not a.is_ready


# ------------------------------------------------------------ stream management


def test_acks_drain_unacked(make_client):
    a, b = make_client(), make_client()
    acked = []
    a.on_stanzas_acked = acked.extend
    for i in range(5):
        a.send(message(to=b.bound_jid, body=str(i)))
    assert len(a.stream.unacked()) == 5
    a.request_ack()
    while a.stream.unacked():
        a.process(timeout=10)
    assert [body_of(m) for m in acked] == ["0", "1", "2", "3", "4"]
    a.send(message(to=b.bound_jid, body="5"))
    a.keepalive()
    a.wait_for_acks(timeout=10)
    assert a.stream.unacked() == []


def cut(client, how):
    """Kill the connection under the client."""
    sock = client._sock
    if how == "shutdown":
        sock.shutdown(socket.SHUT_RDWR)
    else:  # RST: whatever is still in the kernel's send buffer is lost
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


@pytest.mark.parametrize("how", ["shutdown", "reset"])
def test_cut_and_resume_exactly_once(make_client, how):
    a, b = make_client(), make_client()
    sent = iter(range(40))
    for i in itertools.islice(sent, 20):
        a.send(message(to=b.bound_jid, body=str(i)))
    got = [int(body_of(b.recv(timeout=10))) for _ in range(5)]
    old_a, old_b = str(a.bound_jid), str(b.bound_jid)

    cut(a, how)
    cut(b, how)
    with pytest.raises(ConnectionLost):
        a.send(message(to=b.bound_jid, body=str(next(sent))))  # queued for retransmission
    with pytest.raises(ConnectionLost):  # what b had read before the cut is still queued
        while True:
            got.append(int(body_of(b.recv(timeout=10))))
    assert not a.is_ready and a.sm_state() is not None

    a.backoff = Backoff(initial=0.01, maximum=0.05)
    b.backoff = Backoff(initial=0.01, maximum=0.05)
    session_a = a.reconnect()
    session_b = b.reconnect()
    assert session_a.resumed and session_b.resumed
    assert (str(a.bound_jid), str(b.bound_jid)) == (old_a, old_b)
    assert a.resume_failed_stanzas == [] and b.resume_failed_stanzas == []

    for i in sent:
        a.send(message(to=b.bound_jid, body=str(i)))
    while len(got) < 40:
        stanza = b.recv(timeout=10)
        assert stanza is not None, "missing messages: %s" % sorted(set(range(40)) - set(got))
        got.append(int(body_of(stanza)))
    settle(a, b)
    while True:
        stanza = b.recv(timeout=0)
        if stanza is None:
            break
        got.append(int(body_of(stanza)))
    assert sorted(got) == list(range(40))  # nothing lost, nothing twice
    a.wait_for_acks(timeout=10)


# ------------------------------------------------------------------------ gevent

GEVENT_SCRIPT = r"""
from gevent import monkey
monkey.patch_all()

import json, sys
import gevent
from fastxmpp.stanza import message
from fastxmpp.sync import Client

host, port, ca_file, jid_a, jid_b, password = sys.argv[1:7]
N = 50
a = Client(jid_a + "/ga", password, host=host, port=int(port), ca_file=ca_file)
b = Client(jid_b + "/gb", password, host=host, port=int(port), ca_file=ca_file)
gevent.joinall([gevent.spawn(a.connect), gevent.spawn(b.connect)], raise_error=True, timeout=30)
ticks = []

def ticker():
    while True:
        ticks.append(1)
        gevent.sleep(0.005)

def talk(me, peer, tag):
    # each greenlet first blocks in recv(): if that blocked the whole process,
    # the other greenlet could never send and the exchange would deadlock
    first = me.recv(timeout=0.05)
    for i in range(N):
        me.send(message(to=peer, body="%s%d" % (tag, i)))
    got = [first] if first is not None else []
    while len(got) < N:
        got.append(me.recv(timeout=20))
    return [s.findtext("{jabber:client}body") for s in got]

tick = gevent.spawn(ticker)
jobs = [gevent.spawn(talk, b, jid_a + "/ga", "b"), gevent.spawn(talk, a, jid_b + "/gb", "a")]
gevent.joinall(jobs, raise_error=True, timeout=60)
tick.kill()
got_b, got_a = jobs[0].value, jobs[1].value
a.close(); b.close()
print(json.dumps({"a": got_a, "b": got_b, "ticks": len(ticks),
                  "patched": monkey.is_module_patched("socket")}))
"""


def test_gevent_greenlets(server, tmp_path):
    if importlib.util.find_spec("gevent") is None:
        if os.environ.get("CI"):
            pytest.fail("gevent is not installed (it is in the test extra)")
        pytest.skip("gevent is not installed")
    jid_a, jid_b = server.create_user("ga", PASSWORD), server.create_user("gb", PASSWORD)
    script = tmp_path / "gevent_clients.py"
    script.write_text(textwrap.dedent(GEVENT_SCRIPT))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, str(script), server.host, str(server.port), str(server.ca_file), jid_a, jid_b, PASSWORD],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    result = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert result["patched"]
    assert result["a"] == ["b%d" % i for i in range(50)]  # a received b's messages, in order
    assert result["b"] == ["a%d" % i for i in range(50)]
    assert result["ticks"] > 0


# ------------------------------------------------- server restart (keep it last)


def test_server_restart_gives_fresh_session(make_client, server):
    """server.restart() in two halves, so that some stanzas surely never reach a server:
    those written while it is down.  Stanzas the old server got may come back acked by
    the new one's <failed h='...'/> (Prosody keeps h across restarts); every stanza is
    either acked or handed back, never both."""
    a, c = make_client(resource="r1"), make_client()
    handed_back, acked = {a: [], c: []}, {a: [], c: []}
    a.on_resume_failed = handed_back[a].extend  # through the callback
    for client in (a, c):
        client.backoff = Backoff(initial=0.01, maximum=0.5)
        client.wait_for_acks(timeout=10)
        client.on_stanzas_acked = acked[client].extend
    before = {a: ["a-before0", "a-before1"], c: ["c-before0"]}
    for client, ids in before.items():
        for text in ids:
            client.send(message(to=server.jid("offline"), body=text, id=text))

    server.stop()
    during = {a: [], c: []}
    for client in (a, c):
        for i in range(3):
            text = "%s-during%d" % ("a" if client is a else "c", i)
            during[client].append(text)
            try:
                client.send(message(to=server.jid("offline"), body=text, id=text))
            except ConnectionLost:  # the stanza stays queued; later sends would not be
                break
    server.start()

    for client in (a, c):
        session = client.reconnect()
        assert not session.resumed
        assert client.is_ready
    assert str(a.bound_jid) == str(a.jid) and a.jid.resource == "r1"
    handed_back[c] = c.resume_failed_stanzas
    assert a.resume_failed_stanzas == []
    for client in (a, c):
        back = [m.get("id") for m in handed_back[client]]
        got_acked = [m.get("id") for m in acked[client]]
        assert set(during[client]) <= set(back)
        assert sorted(back + got_acked) == sorted(before[client] + during[client])
    assert a.ping(timeout=10).get("type") == "result"
    assert c.sm_state() is not None  # the fresh session is resumable again


def test_abort_is_a_connection_loss_and_reconnect_resumes(make_client):
    a, b = make_client(), make_client()
    a.wait_for_acks(timeout=10)
    a.abort()
    assert not a.is_ready and a.sm_state() is not None
    with pytest.raises(ConnectionLost) as info:
        a.send(message(to=b.bound_jid, body="x"))
    assert "abort()" in str(info.value.__cause__)
    a.backoff = Backoff(initial=0.01, maximum=0.05)
    first = a.last_login_timings
    assert a.reconnect().resumed
    check_login_timings(a.last_login_timings, tls=True, resumed=True)  # once per connect
    assert a.last_login_timings.started > first.bound
    a.send(message(to=b.bound_jid, body="after"))
    assert body_of(b.recv(timeout=10)) == "after"
