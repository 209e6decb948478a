"""The asyncio client against a real private Prosody."""
from __future__ import annotations

import asyncio

import pytest

from fastxmpp import errors, stanza_errors
from fastxmpp.backoff import Backoff
from fastxmpp.aio import Client, ConnectionLost
from fastxmpp.element import Element
from fastxmpp.stanza import iq, message
from login_timings import check_login_timings

pytestmark = pytest.mark.prosody


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def client(prosody, jid, password, **kw):
    kw.setdefault("keepalive", None)
    return Client(jid, password, host=prosody.host, port=prosody.port, ca_file=str(prosody.ca_file), **kw)


def ping(to):
    el = iq(type="get", to=to)
    el.subelement("{urn:xmpp:ping}ping")
    return el


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "PLAIN"])
def test_login_each_mechanism(prosody, account, mechanism):
    jid, pw = account()

    async def main():
        async with client(prosody, jid + "/res", pw, mechanisms=[mechanism]) as c:
            assert c.stream.tls_active
            assert c.stream.mechanism == mechanism
            assert str(c.bound_jid) == jid + "/res"
    run(main())


def test_login_timings_over_starttls_are_set_before_the_session_listeners(prosody, account):
    jid, pw = account()

    async def main():
        c = client(prosody, jid + "/t", pw)
        assert c.last_login_timings is None
        seen = []
        c.on_session_started = lambda ev: seen.append(c.last_login_timings)
        async with c:
            timings = c.last_login_timings
            check_login_timings(timings, tls=True)
            assert seen == [timings]  # the listener saw this login's timings
            await c.iq(ping(prosody.domain))
            assert c.last_login_timings is timings  # traffic does not touch them
    run(main())


def test_best_mechanism_is_chosen_and_server_signature_verified(prosody, account):
    jid, pw = account()

    async def main():
        async with client(prosody, jid, pw) as c:
            # the strongest the server offered over TLS 1.3 (Prosody 0.12: SCRAM-SHA-1, PLAIN)
            assert c.stream.mechanism == "SCRAM-SHA-1"
            assert c.stream.authenticated  # set only once the server signature was verified
    run(main())


def test_scram_plus_on_tls12(tmp_path):
    """Prosody 0.12 offers SCRAM-SHA-1-PLUS with tls-unique, which needs TLS 1.2."""
    from fastxmpp.testing.prosody import ProsodyServer

    with ProsodyServer(tmp_path, tls_protocol="tlsv1_2") as srv:
        jid = srv.create_user("plus", "pw")

        async def main():
            async with client(srv, jid, "pw") as c:
                assert c.stream.mechanism == "SCRAM-SHA-1-PLUS"
                assert str(c.bound_jid).startswith(jid + "/")
        run(main())


def test_wrong_password(prosody, account):
    jid, _ = account()

    async def main():
        with pytest.raises(errors.SASLError) as info:
            async with client(prosody, jid, "wrong"):
                pass
        assert info.value.condition == "not-authorized"
    run(main())


def test_server_assigned_resource_and_iq_round_trip(prosody, account):
    jid, pw = account()

    async def main():
        async with client(prosody, jid, pw) as c:
            assert c.bound_jid.bare == jid and c.bound_jid.resource
            result = await c.iq(ping(prosody.domain))
            assert result.get("type") == "result"
            with pytest.raises(stanza_errors.StanzaError) as info:
                await c.iq(ping("nobody-here@" + prosody.domain + "/x"))
            assert info.value.condition in ("service-unavailable", "item-not-found", "recipient-unavailable")
    run(main())


def test_message_exchange_and_handlers(prosody, account):
    (ja, pa), (jb, pb) = account(), account()

    async def main():
        async with client(prosody, ja + "/a", pa) as a, client(prosody, jb + "/b", pb) as b:
            got = asyncio.Queue()
            b.on_message(lambda st: got.put_nowait(st))

            @b.on_message
            def broken(_st):  # an exception in a handler is logged and the connection survives
                raise RuntimeError("handler bug")

            for i in range(20):
                await a.send(message(to=jb + "/b", body="hi %d \u00e9<&>" % i))
            bodies = [(await asyncio.wait_for(got.get(), 10)).findtext("{jabber:client}body") for _ in range(20)]
            assert bodies == ["hi %d \u00e9<&>" % i for i in range(20)]
            assert b.is_ready
    run(main())


def test_incoming_iq_handler_and_default_error(prosody, account):
    (ja, pa), (jb, pb) = account(), account()

    async def main():
        async with client(prosody, ja + "/a", pa) as a, client(prosody, jb + "/b", pb) as b:
            with pytest.raises(stanza_errors.ServiceUnavailable):
                await a.iq(iq(type="get", to=jb + "/b", payload=Element("{urn:example}q")))

            @b.on_iq
            async def answer(req):
                if req.get("type") == "get":
                    reply = Element("{jabber:client}iq", {"type": "result", "id": req.get("id"), "to": req.get("from")})
                    reply.subelement("{urn:example}q", text="42")
                    return reply

            result = await a.iq(iq(type="get", to=jb + "/b", payload=Element("{urn:example}q")))
            assert result.findtext("{urn:example}q/{urn:example}q") or result.find("{urn:example}q").text == "42"
    run(main())


def test_resource_conflict_kicks_the_old_session_with_a_stream_error(prosody, account):
    jid, pw = account()

    async def main():
        old = client(prosody, jid + "/same", pw)
        await old.connect()
        lost = asyncio.get_running_loop().create_future()
        old.on_disconnected = lambda exc: lost.done() or lost.set_result(exc)
        async with client(prosody, jid + "/same", pw) as new:
            assert str(new.bound_jid) == jid + "/same"
            await asyncio.wait_for(lost, 10)
            assert isinstance(old.error, errors.Conflict)
            assert old.error.condition == "conflict"
        with pytest.raises(ConnectionLost):
            await old.send(message(to=jid, body="x"))
        await old.close()
    run(main())


def test_stream_management_acks_drain_the_queue(prosody, account):
    (ja, pa), (jb, _) = account(), account()

    async def main():
        async with client(prosody, ja + "/a", pa) as a:
            assert a.stream.sm.enabled  # <enable/> is pipelined right after bind
            for i in range(7):
                await a.send(message(to=jb, body=str(i)))
            a.stream.request_ack()
            a._flush(a._protocol)
            for _ in range(100):
                if not a.stream.unacked():
                    break
                await asyncio.sleep(0.05)
            assert a.stream.unacked() == []
    run(main())


def test_connection_cut_mid_traffic_resumes_without_loss_or_duplicates(prosody, account):
    (ja, pa), (jb, pb) = account(), account()

    async def main():
        received = []
        async with client(prosody, jb + "/b", pb) as b:
            b.on_message(lambda st: received.append(st.findtext("{jabber:client}body")))
            a = client(prosody, ja + "/a", pa, reconnect=True)
            resumed = asyncio.get_running_loop().create_future()
            a.on_session_started = lambda ev: ev.resumed and not resumed.done() and resumed.set_result(ev)
            await a.connect()
            first = a.last_login_timings
            check_login_timings(first, tls=True)
            for _ in range(100):  # <enabled/> arrives after the session is ready
                if a.stream.sm.active:
                    break
                await asyncio.sleep(0.02)
            for i in range(30):
                await a.send(message(to=jb + "/b", body=str(i)))
            a.abort()  # the connection dies under the client, acks pending
            event = await asyncio.wait_for(resumed, 20)
            assert event.resumed
            check_login_timings(a.last_login_timings, tls=True, resumed=True)  # once per connect
            assert a.last_login_timings.started > first.bound
            for i in range(30, 40):
                await a.send(message(to=jb + "/b", body=str(i)))
            for _ in range(200):
                if len(received) >= 40:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            await a.close()
        assert received == [str(i) for i in range(40)]
    run(main())


def test_reconnect_after_server_restart(tmp_path):
    from fastxmpp.testing.prosody import ProsodyServer

    with ProsodyServer(tmp_path) as srv:
        jid = srv.create_user("restart", "pw")

        async def main():
            c = client(srv, jid + "/r", "pw", reconnect=True)
            sessions = asyncio.Queue()
            c.on_session_started = lambda ev: sessions.put_nowait(ev)
            failed = []
            c.on_resume_failed = lambda stanzas: failed.append(stanzas)
            await c.connect()
            await sessions.get()
            await asyncio.get_running_loop().run_in_executor(None, srv.restart)
            event = await asyncio.wait_for(sessions.get(), 30)
            assert not event.resumed  # a restarted server forgot the session: fresh one
            assert (await c.iq(ping(srv.domain))).get("type") == "result"
            await c.close()
        run(main())


def test_unreachable_server_is_a_clear_error(prosody, account):
    jid, pw = account()
    from fastxmpp.testing.prosody import find_free_port

    async def main():
        c = Client(jid, pw, host="127.0.0.1", port=find_free_port(), ca_file=str(prosody.ca_file))
        with pytest.raises(ConnectionLost):
            await c.connect()
    run(main())


def test_tls_verification_is_on_by_default(prosody, account):
    jid, pw = account()

    async def main():
        c = Client(jid, pw, host=prosody.host, port=prosody.port, keepalive=None)  # system CAs only
        with pytest.raises(Exception) as info:
            await c.connect()
        assert "CERTIFICATE_VERIFY_FAILED" in repr(info.value) or "certificate" in repr(info.value).lower()
    run(main())


def test_connect_through_dns_srv(tmp_path):
    """No host given: the client finds the server through a real DNS server's SRV record."""
    import shutil
    import subprocess
    import time

    from fastxmpp.testing.prosody import ProsodyServer, find_free_port

    dnsmasq = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")
    if dnsmasq is None:
        pytest.skip("dnsmasq not installed") if not __import__("os").environ.get("CI") else pytest.fail("no dnsmasq")
    with ProsodyServer(tmp_path / "srv", domain="fastxmpp.test") as srv:
        jid = srv.create_user("srv", "pw")
        port = find_free_port()
        proc = subprocess.Popen([
            dnsmasq, "--no-daemon", "--conf-file=/dev/null", "--pid-file=", "--no-resolv", "--no-hosts",
            "--port=%d" % port, "--listen-address=127.0.0.1", "--bind-interfaces", "--user=root",
            "--group=root", "--local=/test/",
            "--srv-host=_xmpp-client._tcp.fastxmpp.test,xmpp.fastxmpp.test,%d,10,0" % srv.port,
            "--address=/xmpp.fastxmpp.test/127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.3)

            async def main():
                c = Client(jid, "pw", ca_file=str(srv.ca_file), nameservers=["127.0.0.1"], dns_port=port,
                           keepalive=None)
                async with c:
                    assert c.bound_jid.bare == jid
                    assert c._protocol.transport.get_extra_info("peername")[1] == srv.port
            run(main())
        finally:
            proc.terminate()
            proc.wait(5)


def test_async_iterator_of_stanzas(prosody, account):
    (ja, pa), (jb, pb) = account(), account()

    async def main():
        async with client(prosody, ja + "/a", pa) as a, client(prosody, jb + "/b", pb) as b:
            async def collect():
                out = []
                async for st in b.stanzas():
                    if st.tag == "{jabber:client}message":
                        out.append(st.findtext("{jabber:client}body"))
                        if len(out) == 3:
                            return out
            task = asyncio.ensure_future(collect())
            await asyncio.sleep(0)
            for i in range(3):
                await a.send(message(to=jb + "/b", body="m%d" % i))
            assert await asyncio.wait_for(task, 10) == ["m0", "m1", "m2"]
    run(main())


def _frozen(srv):
    """Freeze the server process (SIGSTOP): a server that vanished without closing anything."""
    import contextlib
    import os
    import signal

    @contextlib.contextmanager
    def cm():
        os.kill(srv.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(srv.pid, signal.SIGCONT)
    return cm()


def test_dead_connection_is_detected_and_reconnects(tmp_path):
    from fastxmpp.testing.prosody import ProsodyServer

    with ProsodyServer(tmp_path) as srv:
        jid = srv.create_user("dead", "pw")

        async def main():
            c = client(srv, jid + "/d", "pw", keepalive=0.3, dead_timeout=0.6, reconnect=True, connect_timeout=2)
            sessions = asyncio.Queue()
            lost = asyncio.Queue()
            c.on_session_started = lambda ev: sessions.put_nowait(ev)
            c.on_disconnected = lambda exc: lost.put_nowait(exc)
            await c.connect()
            await sessions.get()
            with _frozen(srv):
                await asyncio.wait_for(lost.get(), 10)  # noticed without any help from the server
            await asyncio.wait_for(sessions.get(), 30)  # and came back once the server did
            assert (await c.iq(ping(srv.domain))).get("type") == "result"
            await c.close()
        run(main())


def test_flow_control_bounds_memory_when_the_server_stops_reading(tmp_path):
    from fastxmpp.testing.prosody import ProsodyServer

    with ProsodyServer(tmp_path) as srv:
        jid = srv.create_user("slow", "pw")

        async def main():
            c = client(srv, jid + "/s", "pw", write_buffer_limit=64 * 1024)
            await c.connect()
            body = "x" * 1024
            sent = 0

            async def flood():
                nonlocal sent
                for _ in range(100_000):
                    await c.send(message(to=jid, body=body))
                    sent += 1
            with _frozen(srv):
                task = asyncio.ensure_future(flood())
                await asyncio.sleep(1.5)
                assert not task.done()  # send() is waiting for buffer space
                buffered = c._protocol.transport.get_write_buffer_size()
                assert buffered <= 64 * 1024 + 32 * 1200  # the limit plus at most one batch of stanzas
                assert sent < 100_000
                task.cancel()
            c._abort_transport()
        run(main())


def test_slow_stanza_consumer_applies_back_pressure(prosody, account):
    (ja, pa), (jb, pb) = account(), account()

    async def main():
        async with client(prosody, ja + "/a", pa) as a, client(prosody, jb + "/b", pb) as b:
            got = []

            async def consume():
                async for st in b.stanzas(maxsize=1):
                    got.append(st.findtext("{jabber:client}body"))
                    await asyncio.sleep(0.05)  # slower than the sender
                    if len(got) == 10:
                        return
            task = asyncio.ensure_future(consume())
            await asyncio.sleep(0)
            for i in range(10):
                a.send_nowait(message(to=jb + "/b", body=str(i)))
            await asyncio.wait_for(task, 15)
            assert got == [str(i) for i in range(10)]
            assert b.is_ready
    run(main())


def test_direct_tls(tmp_path):
    """XEP-0368: TLS from the first byte, no STARTTLS."""
    from fastxmpp.testing.prosody import ProsodyServer

    with ProsodyServer(tmp_path, direct_tls_port=True) as srv:
        jid = srv.create_user("direct", "pw")

        async def main():
            c = Client(jid + "/d", "pw", host=srv.host, port=srv.direct_tls_port, direct_tls=True,
                       ca_file=str(srv.ca_file), keepalive=None)
            async with c:
                assert c.stream.tls_active
                assert c.stream.server_features.find("{urn:ietf:params:xml:ns:xmpp-tls}starttls") is None
                check_login_timings(c.last_login_timings, tls=True)
                assert (await c.iq(ping(srv.domain))).get("type") == "result"
        run(main())


def test_cuts_right_after_resumption_inside_the_handler_still_reconnect(prosody, account):
    """Issue 13.5: a loss inside on_session_started, right after a resumption (and again
    during the reconnection that follows), leads to a new attempt each time; nothing is
    lost or duplicated."""
    (ja, pa), (jb, pb) = account(), account()

    async def main():
        received = []
        async with client(prosody, jb + "/b", pb) as b:
            b.on_message(lambda st: received.append(st.findtext("{jabber:client}body")))
            a = client(prosody, ja + "/a", pa, reconnect=True)
            a.backoff = Backoff(initial=0.01, maximum=0.05)
            sessions = asyncio.Queue()
            cuts = [3]  # abort inside the handler of the next three resumed sessions

            def started(event):
                sessions.put_nowait(event)
                if event.resumed and cuts[0] > 0:
                    cuts[0] -= 1
                    a.abort()
            a.on_session_started = started
            await a.connect()
            first = await sessions.get()
            assert not first.resumed and first.resumable  # with the answer to <enable/>
            for i in range(20):
                await a.send(message(to=jb + "/b", body=str(i)))
            a.abort()
            for _ in range(4):  # three resumptions cut inside the handler, then one that stays
                event = await asyncio.wait_for(sessions.get(), 30)
                assert event.resumed
            await asyncio.wait_for(_until(lambda: a.is_ready), 30)
            for i in range(20, 30):
                await a.send(message(to=jb + "/b", body=str(i)))
            await asyncio.wait_for(_until(lambda: len(received) >= 30), 30)
            await asyncio.sleep(0.3)
            await a.close()
        assert received == [str(i) for i in range(30)]
    run(main())


async def _until(predicate):
    while not predicate():
        await asyncio.sleep(0.02)
