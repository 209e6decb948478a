"""TLSSessionCache: the pool itself (with stand-ins), then both drivers against Prosody."""
from __future__ import annotations

import asyncio
import os
import ssl
import threading

import pytest

from fastxmpp import aio, sync
from fastxmpp.backoff import Backoff
from fastxmpp.sasl import channel_bindings_from_ssl
from fastxmpp.stanza import iq, message
from fastxmpp.tlsconfig import make_client_context
from fastxmpp.tlssessions import TLSSessionCache

NOW = 1_000_000.0


class FakeSession:
    def __init__(self, name, *, created=NOW, timeout=7200, hint=7200, has_ticket=True):
        self.name, self.time, self.timeout = name, created, timeout
        self.ticket_lifetime_hint, self.has_ticket = hint, has_ticket

    def __repr__(self):
        return f"<FakeSession {self.name}>"


class FakeTLS:
    """What put() reads from an SSLObject / SSLSocket."""

    def __init__(self, session, *, context="ctx", version="TLSv1.3", reused=False):
        self.session, self.context, self._version, self.session_reused = session, context, version, reused

    def version(self):
        return self._version


SERVER = ("example.net", "10.0.0.1", 5222)


def pool(**kw):
    return TLSSessionCache(clock=lambda: NOW, **kw)


# ---------------------------------------------------------------------- the pool


def test_take_returns_each_session_once_oldest_first():
    cache = pool()
    a, b = FakeSession("a"), FakeSession("b")
    assert cache.put(FakeTLS(a), *SERVER) and cache.put(FakeTLS(b), *SERVER)
    assert len(cache) == 2
    assert cache.take("ctx", *SERVER) is a
    assert cache.take("ctx", *SERVER) is b
    assert cache.take("ctx", *SERVER) is None  # single use: nothing left
    assert (cache.hits, cache.misses, len(cache)) == (2, 1, 0)


def test_sessions_are_pooled_per_context_name_host_and_port():
    cache = pool()
    s = FakeSession("s")
    cache.put(FakeTLS(s, context="ctx"), *SERVER)
    assert cache.take("other-ctx", *SERVER) is None
    assert cache.take("ctx", "other.example", "10.0.0.1", 5222) is None
    assert cache.take("ctx", "example.net", "10.0.0.2", 5222) is None
    assert cache.take("ctx", "example.net", "10.0.0.1", 5223) is None
    assert cache.take("ctx", *SERVER) is s
    assert cache.misses == 4 and cache.hits == 1


def test_only_tls13_sessions_with_a_ticket_are_kept():
    cache = pool()
    assert not cache.put(FakeTLS(FakeSession("v12"), version="TLSv1.2"), *SERVER)
    assert not cache.put(FakeTLS(FakeSession("noticket", has_ticket=False)), *SERVER)
    assert not cache.put(FakeTLS(None), *SERVER)
    assert len(cache) == 0 and cache.take("ctx", *SERVER) is None


def test_expired_sessions_are_neither_kept_nor_handed_out():
    clock = [NOW]
    cache = TLSSessionCache(clock=lambda: clock[0])
    # the ticket lifetime hint is shorter than the session timeout: it wins
    short = FakeSession("short", hint=100, timeout=7200)
    long = FakeSession("long", hint=7200, timeout=7200)
    assert not cache.put(FakeTLS(FakeSession("old", created=NOW - 200, hint=100)), *SERVER)
    cache.put(FakeTLS(short), *SERVER)
    cache.put(FakeTLS(long), *SERVER)
    clock[0] = NOW + 150
    assert cache.take("ctx", *SERVER) is long  # "short" is skipped and dropped
    assert len(cache) == 0 and cache.hits == 1
    # no hint: the session timeout alone
    cache.put(FakeTLS(FakeSession("nohint", created=NOW, hint=0, timeout=100)), *SERVER)
    assert len(cache) == 0
    cache.put(FakeTLS(FakeSession("nohint2", created=NOW + 100, hint=0, timeout=100)), *SERVER)
    assert cache.take("ctx", *SERVER).name == "nohint2"


def test_bounds_per_server_and_in_total_drop_the_oldest():
    cache = pool(maxsize=5, per_key=3)
    other = ("other.example", "10.0.0.9", 5222)
    for i in range(4):
        cache.put(FakeTLS(FakeSession(f"a{i}")), *SERVER)
    assert len(cache) == 3  # a0 went
    for i in range(3):
        cache.put(FakeTLS(FakeSession(f"b{i}")), *other)
    assert len(cache) == 5  # the third b took a1, of the server least recently fed
    names = []
    while (s := cache.take("ctx", *SERVER)) is not None:
        names.append(s.name)
    assert names == ["a2", "a3"]
    assert [cache.take("ctx", *other).name for _ in range(3)] == ["b0", "b1", "b2"]


def test_resumed_counts_connections_given_back_after_resuming():
    cache = pool()
    cache.put(FakeTLS(FakeSession("x"), reused=True), *SERVER)
    cache.put(FakeTLS(FakeSession("y"), reused=False), *SERVER)
    cache.put(FakeTLS(FakeSession("z"), version="TLSv1.2", reused=True), *SERVER)
    assert cache.resumed == 2
    assert cache.counters() == {"hits": 0, "misses": 0, "resumed": 2, "refused": 0, "size": 2}
    assert "resumed=2" in repr(cache)
    cache.clear()
    assert len(cache) == 0


def test_a_server_that_refuses_is_offered_nothing_for_a_while():
    clock = [NOW]
    cache = TLSSessionCache(refusal_ttl=600, clock=lambda: clock[0])
    other = ("example.org", "10.0.0.2", 5222)
    for name in "abc":
        cache.put(FakeTLS(FakeSession(name)), *SERVER)
    cache.put(FakeTLS(FakeSession("o")), *other)
    offered = cache.take("ctx", *SERVER)
    assert offered is not None
    # the connection did not resume what it was offered: the server refused it
    assert not cache.put(FakeTLS(FakeSession("new"), reused=False), *SERVER, offered=True)
    assert cache.refused == 1 and len(cache) == 1  # that server's pool is dropped, not the other's
    assert cache.take("ctx", *SERVER) is None
    assert not cache.put(FakeTLS(FakeSession("late")), *SERVER)  # nor pooled meanwhile
    assert cache.take("ctx", *other) is not None
    clock[0] += 601  # the server's configuration may have changed: try again
    fresh = FakeSession("fresh", created=clock[0])
    assert cache.put(FakeTLS(fresh), *SERVER)
    assert cache.take("ctx", *SERVER) is fresh
    # an offer that was taken up is not a refusal: its new session is pooled
    assert cache.put(FakeTLS(FakeSession("r", created=clock[0]), reused=True), *SERVER, offered=True)
    assert (cache.refused, cache.resumed, len(cache)) == (1, 1, 1)


def test_threads_never_get_one_session_twice():
    cache = pool(maxsize=10_000, per_key=10_000)
    for i in range(2000):
        cache.put(FakeTLS(FakeSession(i)), *SERVER)
    got = [[] for _ in range(8)]

    def worker(out):
        while (s := cache.take("ctx", *SERVER)) is not None:
            out.append(s.name)
    threads = [threading.Thread(target=worker, args=(out,)) for out in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = [n for out in got for n in out]
    assert sorted(names) == list(range(2000))
    assert cache.hits == 2000 and len(cache) == 0


def test_bad_bounds():
    with pytest.raises(ValueError):
        TLSSessionCache(0)
    with pytest.raises(ValueError):
        TLSSessionCache(per_key=0)


# ---------------------------------------------------------------------- real servers

prosody_tests = pytest.mark.prosody


def _prosody_or_skip():
    from fastxmpp.testing.prosody import prosody_binary

    if prosody_binary() is None and not os.environ.get("CI"):
        pytest.skip("prosody is not installed")


@pytest.fixture(scope="module")
def ticket_server(tmp_path_factory):
    """A Prosody that resumes TLS sessions, with a Direct TLS port."""
    _prosody_or_skip()
    from fastxmpp.testing.prosody import ProsodyServer

    srv = ProsodyServer(tmp_path_factory.mktemp("prosody-tickets"), tls_tickets=True, direct_tls_port=True)
    srv.start()
    yield srv
    srv.stop()


_n = iter(range(1 << 30))


def new_user(srv):
    return srv.create_user("t%d_%d" % (os.getpid(), next(_n)), "pw")


def sync_client(srv, jid, cache, ctx, direct=False, **kw):
    port = srv.direct_tls_port if direct else srv.port
    return sync.Client(jid, "pw", host=srv.host, port=port, direct_tls=direct, ssl_context=ctx,
                       tls_session_cache=cache, keepalive_interval=None, **kw)


def aio_client(srv, jid, cache, ctx, direct=False, **kw):
    port = srv.direct_tls_port if direct else srv.port
    return aio.Client(jid, "pw", host=srv.host, port=port, direct_tls=direct, ssl_context=ctx,
                      tls_session_cache=cache, keepalive=None, **kw)


def ping(to):
    el = iq(type="get", to=to)
    el.subelement("{urn:xmpp:ping}ping")
    return el


def sync_round_trip(c, srv):
    """A ping and a message to ourselves: the session works end to end."""
    assert c.iq(ping(srv.domain)).get("type") == "result"
    c.send(message(to=str(c.bound_jid), body="over resumed tls"))
    got = c.recv(timeout=10)
    assert got is not None and got.findtext("{jabber:client}body") == "over resumed tls"


async def aio_round_trip(c, srv):
    assert (await c.iq(ping(srv.domain))).get("type") == "result"
    got = asyncio.get_running_loop().create_future()
    c.add_handler("message", lambda st: got.done() or got.set_result(st))
    await c.send(message(to=str(c.bound_jid), body="over resumed tls"))
    assert (await asyncio.wait_for(got, 10)).findtext("{jabber:client}body") == "over resumed tls"


@prosody_tests
@pytest.mark.parametrize("direct", [False, True], ids=["starttls", "direct"])
def test_sync_second_login_resumes(ticket_server, direct):
    srv, cache, ctx = ticket_server, TLSSessionCache(), make_client_context(ca_file=str(ticket_server.ca_file))
    first = sync_client(srv, new_user(srv), cache, ctx, direct)
    first.connect()
    assert not first.tls_resumed and len(cache) == 1 and cache.misses == 1
    first.close()
    second = sync_client(srv, new_user(srv), cache, ctx, direct)  # another account: same server
    second.connect()
    try:
        assert second.tls_resumed and second._sock.version() == "TLSv1.3"
        assert (cache.hits, cache.resumed, len(cache)) == (1, 1, 1)
        sync_round_trip(second, srv)
    finally:
        second.close()


@prosody_tests
@pytest.mark.parametrize("direct", [False, True], ids=["starttls", "direct"])
def test_aio_second_login_resumes(ticket_server, direct):
    srv, cache, ctx = ticket_server, TLSSessionCache(), make_client_context(ca_file=str(ticket_server.ca_file))

    async def main():
        async with aio_client(srv, new_user(srv), cache, ctx, direct) as first:
            assert not first.tls_resumed
        assert len(cache) == 1 and cache.misses == 1
        async with aio_client(srv, new_user(srv), cache, ctx, direct) as second:
            assert second.tls_resumed
            assert (cache.hits, cache.resumed, len(cache)) == (1, 1, 1)
            await aio_round_trip(second, srv)
    asyncio.run(asyncio.wait_for(main(), 60))


@prosody_tests
def test_without_a_cache_nothing_resumes(ticket_server):
    srv = ticket_server
    ctx = make_client_context(ca_file=str(srv.ca_file))
    for _ in range(2):
        c = sync_client(srv, new_user(srv), None, ctx)
        c.connect()
        assert not c.tls_resumed
        c.close()


@prosody_tests
def test_channel_binding_data_survives_resumption(ticket_server):
    """tls-server-end-point hashes the peer certificate, which a resumed session still has."""
    srv, cache, ctx = ticket_server, TLSSessionCache(), make_client_context(ca_file=str(ticket_server.ca_file))
    first = sync_client(srv, new_user(srv), cache, ctx)
    first.connect()
    full = channel_bindings_from_ssl(first._sock)
    first.close()
    second = sync_client(srv, new_user(srv), cache, ctx)
    second.connect()
    try:
        assert second.tls_resumed
        assert second._sock.getpeercert(True) is not None
        resumed = channel_bindings_from_ssl(second._sock)
        assert resumed["tls-server-end-point"] == full["tls-server-end-point"]
        assert second.stream.channel_bindings["tls-server-end-point"] == full["tls-server-end-point"]
    finally:
        second.close()


@prosody_tests
def test_sync_reconnect_resumes_tls_and_stream(ticket_server):
    srv, cache, ctx = ticket_server, TLSSessionCache(), make_client_context(ca_file=str(ticket_server.ca_file))
    c = sync_client(srv, new_user(srv) + "/r", cache, ctx)
    c.connect()
    assert not c.tls_resumed
    c.backoff = Backoff(initial=0.01, maximum=0.02)
    event = c.reconnect(max_attempts=3)
    try:
        assert c.tls_resumed and cache.resumed == 1
        assert event.resumed  # XEP-0198 resumption over the resumed TLS session
        sync_round_trip(c, srv)
    finally:
        c.close()


@prosody_tests
def test_aio_automatic_reconnect_resumes_tls(ticket_server):
    srv, cache, ctx = ticket_server, TLSSessionCache(), make_client_context(ca_file=str(ticket_server.ca_file))

    async def main():
        c = aio_client(srv, new_user(srv) + "/r", cache, ctx, reconnect=True)
        c.backoff = Backoff(initial=0.01, maximum=0.02)
        sessions = asyncio.Queue()
        c.on_session_started = sessions.put_nowait
        await c.connect()
        await sessions.get()
        assert not c.tls_resumed
        first = c._protocol
        c.abort()
        await asyncio.wait_for(sessions.get(), 20)
        assert c._protocol is not first and c.tls_resumed
        await aio_round_trip(c, srv)
        await c.close()
        assert cache.resumed == 1
    asyncio.run(asyncio.wait_for(main(), 60))


@prosody_tests
def test_a_session_of_another_context_means_a_full_handshake(ticket_server):
    srv = ticket_server
    ctx_a = make_client_context(ca_file=str(srv.ca_file))
    ctx_b = make_client_context(ca_file=str(srv.ca_file))
    cache = TLSSessionCache()
    c = sync_client(srv, new_user(srv), cache, ctx_a)
    c.connect()
    c.close()
    foreign = cache.take(ctx_a, srv.domain, srv.host, srv.port)
    assert foreign is not None
    cache.take = lambda *key: foreign  # as if the pool handed out a session of ctx_a

    with pytest.raises(ValueError):  # what the drivers must absorb
        ctx_b.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname=srv.domain, session=foreign)
    s = sync_client(srv, new_user(srv), cache, ctx_b)
    s.connect()
    try:
        assert not s.tls_resumed
        sync_round_trip(s, srv)
    finally:
        s.close()

    async def main():
        async with aio_client(srv, new_user(srv), cache, ctx_b) as a:
            assert not a.tls_resumed
            await aio_round_trip(a, srv)
    asyncio.run(asyncio.wait_for(main(), 60))


@prosody_tests
def test_default_prosody_never_resumes_but_logins_work(prosody, account):
    """Prosody's default (OpenSSL no_ticket) sends tickets yet refuses them: full handshakes."""
    cache, ctx = TLSSessionCache(), make_client_context(ca_file=str(prosody.ca_file))
    for _ in range(2):
        jid, pw = account()
        c = sync.Client(jid, pw, host=prosody.host, port=prosody.port, ssl_context=ctx,
                        tls_session_cache=cache, keepalive_interval=None)
        c.connect()
        assert not c.tls_resumed
        sync_round_trip(c, prosody)
        c.close()
    # a ticket was offered and turned down: this server is offered none for a while
    assert (cache.hits, cache.refused, cache.resumed, len(cache)) == (1, 1, 0, 0)

    async def main():
        jid, pw = account()
        async with aio.Client(jid, pw, host=prosody.host, port=prosody.port, ssl_context=ctx,
                              tls_session_cache=cache, keepalive=None) as c:
            assert not c.tls_resumed
            await aio_round_trip(c, prosody)
    asyncio.run(asyncio.wait_for(main(), 60))
    assert (cache.hits, cache.misses, cache.refused, cache.resumed) == (1, 2, 1, 0)


@prosody_tests
def test_tls12_sessions_are_not_pooled(tmp_path):
    _prosody_or_skip()
    from fastxmpp.testing.prosody import ProsodyServer

    with ProsodyServer(tmp_path, tls_protocol="tlsv1_2", tls_tickets=True) as srv:
        cache, ctx = TLSSessionCache(), make_client_context(ca_file=str(srv.ca_file))
        for _ in range(2):
            c = sync_client(srv, new_user(srv), cache, ctx)
            c.connect()
            assert c._sock.version() == "TLSv1.2" and not c.tls_resumed
            assert c.stream.mechanism == "SCRAM-SHA-1-PLUS"  # tls-unique stays sound
            c.close()
        assert len(cache) == 0 and cache.misses == 2 and cache.hits == 0
