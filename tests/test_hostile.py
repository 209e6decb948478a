"""Both clients against a scripted server that misbehaves (tests/hostile_server.py): a TLS
close_notify with TCP left open, a flood that handlers cannot keep up with, a server that
never answers </stream:stream>, an IQ never answered; and a refused connection."""
from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from fastxmpp import aio, sync
from fastxmpp.stanza import iq
from hostile_server import (
    JID, HostileServer, close_notify_after_half_a_stanza, drip_inside_a_stanza, flood_and_ignore_close,
    never_answer)


def ping():
    stanza = iq(type="get", to="example.com")
    stanza.subelement("{urn:xmpp:ping}ping")
    return stanza


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def wait_until(predicate, timeout=60.0, step=0.01):
    """Bounded wait for a condition (a generous limit, not a timing check)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached within %gs" % timeout
        time.sleep(step)


async def async_wait_until(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached within %gs" % timeout
        await asyncio.sleep(0.01)


# -- 3. close_notify is the end of the stream ----------------------------------------------------
def test_aio_close_notify_ends_the_session_and_fails_pending_iqs_at_once():
    with HostileServer(close_notify_after_half_a_stanza(answer_first_iq=True)) as srv:
        async def main():
            c = aio.Client(JID, "pw", keepalive=None, iq_timeout=120, **srv.client_options())
            lost = asyncio.get_running_loop().create_future()
            c.on_disconnected = lambda exc: lost.done() or lost.set_result(exc)
            await c.connect()
            with pytest.raises(aio.ConnectionLost) as info:
                await c.iq(ping())  # fails when close_notify comes, long before iq_timeout
            assert "close_notify" in str(info.value)
            await asyncio.wait_for(lost, 60)
            assert not c.is_ready
            with pytest.raises(aio.ConnectionLost):
                await c.iq(ping())
            await c.close()
        asyncio.run(main())


def test_sync_close_notify_ends_the_session_and_fails_the_iq():
    with HostileServer(close_notify_after_half_a_stanza(answer_first_iq=True)) as srv:
        c = sync.Client(JID, "pw", iq_timeout=120, **srv.client_options())
        c.connect()
        with pytest.raises(sync.ConnectionLost):
            c.iq(ping())
        assert not c.is_ready
        c.close()


# -- 3. the aio iq() timeout says which iq --------------------------------------------------------
def test_aio_iq_timeout_names_the_iq_and_the_wait():
    with HostileServer(never_answer()) as srv:
        async def main():
            async with aio.Client(JID, "pw", keepalive=None, **srv.client_options()) as c:
                request = ping()
                request.set("id", "ping-1")
                with pytest.raises(asyncio.TimeoutError) as info:
                    await c.iq(request, timeout=0.2)
                assert str(info.value) == "no response to iq 'ping-1' within 0.2s"
                assert c.is_ready
        asyncio.run(main())


# -- 2. a flood cannot grow the asyncio client without bound ----------------------------------------
FLOOD = 100_000


def test_aio_handlers_in_flight_are_bounded_and_reading_stops_until_they_drain():
    with HostileServer(flood_and_ignore_close(FLOOD)) as srv:
        async def main():
            c = aio.Client(JID, "pw", keepalive=None, max_pending_handlers=500, close_timeout=1,
                           **srv.client_options())
            gate = asyncio.Event()
            handled = []

            @c.on_message
            async def slow(stanza):
                await gate.wait()
                handled.append(stanza.get("id"))

            before = rss_bytes()
            await c.connect()
            # the handlers are stuck: the client must stop reading at its limit
            await async_wait_until(lambda: c._protocol.reading_paused, timeout=120)
            for _ in range(20):  # let whatever was already read be dispatched
                await asyncio.sleep(0.01)
            in_flight = len(c._tasks)
            growth = rss_bytes() - before
            # one read (256 KiB, ~2,700 of these messages) may overshoot the limit
            assert 500 <= in_flight <= 500 + 3000, in_flight
            assert growth < 30 * 1024 * 1024, growth
            gate.set()
            await async_wait_until(lambda: len(handled) == FLOOD, timeout=300)
            assert len(set(handled)) == FLOOD
            assert c.is_ready
            await c.close()
        asyncio.run(main())


# -- 4. close() returns whatever the server does ---------------------------------------------------
def test_aio_close_returns_although_the_server_floods_and_never_closes():
    with HostileServer(flood_and_ignore_close(None)) as srv:
        async def main():
            c = aio.Client(JID, "pw", keepalive=None, close_timeout=1, **srv.client_options())
            handled = []
            c.on_message(lambda st: (time.sleep(0.001), handled.append(st)))
            await c.connect()
            await async_wait_until(lambda: len(handled) > 100)
            await asyncio.wait_for(c.close(), 60)  # generous: close_timeout is 1 s
            at_close = len(handled)
            await asyncio.sleep(0.05)
            assert len(handled) == at_close  # nothing handled after close()
            assert not c.is_ready
        asyncio.run(main())


def test_sync_close_returns_although_the_server_floods_and_never_closes():
    with HostileServer(flood_and_ignore_close(None)) as srv:
        c = sync.Client(JID, "pw", close_timeout=1, **srv.client_options())
        handled = []
        c.on_message(lambda st: (time.sleep(0.001), handled.append(st)))
        c.connect()
        while len(handled) < 100:
            c.process(timeout=5)
        closer = threading.Thread(target=c.close, daemon=True)
        at_close = len(handled)
        closer.start()
        closer.join(60)  # generous: close_timeout is 1 s; the old loop never ended
        assert not closer.is_alive()
        assert len(handled) == at_close  # stanzas after close() started are not handled
        assert c.dropped_at_close > 0
        assert not c.is_ready


# -- 7. a refused connection says why --------------------------------------------------------------
def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_refused_connection_names_errno_host_and_port_in_both_clients():
    port = _refused_port()
    with pytest.raises(sync.ConnectionLost) as info:
        sync.Client(JID, "pw", host="127.0.0.1", port=port).connect()
    assert isinstance(info.value.__cause__, ConnectionRefusedError)
    assert "127.0.0.1:%d: ECONNREFUSED" % port in str(info.value)

    async def main():
        with pytest.raises(aio.ConnectionLost) as info:
            await aio.Client(JID, "pw", host="127.0.0.1", port=port, keepalive=None).connect()
        assert isinstance(info.value.__cause__, ConnectionRefusedError)
        assert "127.0.0.1:%d: ECONNREFUSED" % port in str(info.value)
    asyncio.run(main())


# -- 7. keepalive: bytes inside a stanza are no sign of life ----------------------------------------
def test_aio_keepalive_finds_a_server_that_drips_bytes_inside_a_stanza_dead():
    with HostileServer(drip_inside_a_stanza()) as srv:
        async def main():
            c = aio.Client(JID, "pw", keepalive=0.2, dead_timeout=0.4, **srv.client_options())
            lost = asyncio.get_running_loop().create_future()
            c.on_disconnected = lambda exc: lost.done() or lost.set_result(exc)
            await c.connect()
            await asyncio.wait_for(lost, 60)  # generous; the old client never noticed
            assert not c.is_ready
            await c.close()
        asyncio.run(main())


def test_sync_keepalive_finds_a_server_that_drips_bytes_inside_a_stanza_dead():
    with HostileServer(drip_inside_a_stanza()) as srv:
        c = sync.Client(JID, "pw", keepalive_interval=0.2, dead_timeout=0.4, **srv.client_options())
        c.connect()
        deadline = time.monotonic() + 60  # generous; the old client never noticed
        with pytest.raises(sync.ConnectionLost) as info:
            while time.monotonic() < deadline:
                c.process(timeout=1)
        assert "keepalive" in str(info.value)
        c.close()


# -- issue 16: one process() call dispatches everything already received ---------------------------
def test_sync_process_dispatches_every_buffered_stanza():
    """300 messages (about 30 KB, several TLS records) are in the client's socket before it
    calls process(): one call dispatches all of them, not one TLS record's worth."""
    count = 300
    sent = threading.Event()

    def script(server: HostileServer) -> None:
        server.flood(count, batch=count)  # one sendall: on loopback the bytes are then queued
        sent.set()
        server.stop.wait(60)

    with HostileServer(script) as srv:
        c = sync.Client(JID, "pw", keepalive_interval=None, **srv.client_options())
        received = []
        c.on_message(received.append)
        c.connect()
        try:
            assert sent.wait(60)
            assert c.process(timeout=60) == count
            assert [m.get("id") for m in received] == ["m%d" % i for i in range(count)]
        finally:
            c.abort()
