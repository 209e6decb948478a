"""Both clients against a scripted local server (plain TCP, one connection, a fixed script):
SCRAM with large iteration counts (the asyncio loop keeps running while the keys are
derived), the iteration cap, clear SASL errors, and the blocking client's close()."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import socket
import threading

import pytest

from fastxmpp import errors
from fastxmpp import sasl
from fastxmpp.aio import Client as AioClient
from fastxmpp.sasl import KeyDerivation, ScramKeyCache
from fastxmpp.sync import Client as SyncClient
from fastxmpp.sync import ConnectionLost

NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
HDR = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
       b" from='example.com' id='s1' version='1.0' xml:lang='en'>")
BIND_FEATURES = b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
PASSWORD = "pencil"
SALT = b"scripted-salt"
LARGE = sasl.DEFAULT_INLINE_ITERATIONS + 50_000  # above the threshold: derived outside the parser
b64 = base64.b64encode


class ScriptedServer:
    """Accepts one connection on 127.0.0.1 and plays: features with ``mechanisms``, SCRAM-SHA-1
    with ``iterations`` (verifying the client's proof), bind; then on ``</stream:stream>`` either
    answers and closes (``answer_close=True``) or stays silent until :attr:`release` is set.
    Runs in a thread with blocking sockets, so its own PBKDF2 never runs on the client's loop."""

    def __init__(self, *, iterations=4096, mechanisms=("SCRAM-SHA-1",), answer_close=True):
        self.iterations, self.mechanisms, self.answer_close = iterations, mechanisms, answer_close
        self.salted = hashlib.pbkdf2_hmac("sha1", PASSWORD.encode(), SALT, iterations)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.release = threading.Event()
        self.failures = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(30)
        self.listener.close()
        assert not self.thread.is_alive()
        assert not self.failures, self.failures

    def _run(self):
        try:
            self.listener.settimeout(30)
            conn, _ = self.listener.accept()
        except OSError as exc:
            self.failures.append(exc)
            return
        with conn:
            conn.settimeout(30)
            self.conn, self.buf = conn, b""
            try:
                self._script()
            except Exception as exc:  # reported by __exit__
                self.failures.append(exc)

    def _expect(self, pattern):
        while True:
            match = re.search(pattern, self.buf, re.S)
            if match:
                self.buf = self.buf[match.end():]
                return match
            data = self.conn.recv(65536)
            if not data:
                raise ConnectionError(f"client closed while the server waited for {pattern!r}")
            self.buf += data

    def _script(self):
        send = self.conn.sendall
        self._expect(rb"<stream:stream[^>]*>")
        mechs = "".join(f"<mechanism>{m}</mechanism>" for m in self.mechanisms)
        send(HDR + f"<stream:features><mechanisms xmlns='{NS_SASL}'>{mechs}</mechanisms></stream:features>".encode())
        match = self._expect(rb"<auth[^>]*>([^<]*)</auth>|<abort[^>]*/>|</stream:stream>")
        if match.group(1) is None:
            return  # the client gave up before authenticating
        client_first = base64.b64decode(match.group(1)).decode()
        gs2_flag, authz, bare = client_first.split(",", 2)
        nonce = dict(a.split("=", 1) for a in bare.split(","))["r"] + "srv"
        server_first = f"r={nonce},s={b64(SALT).decode()},i={self.iterations}"
        send(f"<challenge xmlns='{NS_SASL}'>{b64(server_first.encode()).decode()}</challenge>".encode())
        match = self._expect(rb"<response[^>]*>([^<]*)</response>|<abort[^>]*/>")
        if match.group(1) is None:
            return
        without_proof, _, proof = base64.b64decode(match.group(1)).decode().rpartition(",p=")
        auth = f"{bare},{server_first},{without_proof}".encode()
        stored = hashlib.sha1(hmac.digest(self.salted, b"Client Key", "sha1")).digest()
        client_key = bytes(x ^ y for x, y in zip(base64.b64decode(proof), hmac.digest(stored, auth, "sha1")))
        if hashlib.sha1(client_key).digest() != stored:
            send(f"<failure xmlns='{NS_SASL}'><not-authorized/></failure></stream:stream>".encode())
            return
        verifier = hmac.digest(hmac.digest(self.salted, b"Server Key", "sha1"), auth, "sha1")
        send(f"<success xmlns='{NS_SASL}'>{b64(b'v=' + b64(verifier)).decode()}</success>".encode())
        self._expect(rb"<stream:stream[^>]*>")
        send(HDR + BIND_FEATURES)
        iq_id = self._expect(rb"<iq[^>]*id=[\"']([^\"']+)[\"'][^>]*>.*?</iq>").group(1).decode()
        send(f"<iq type='result' id='{iq_id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
             f"<jid>juliet@example.com/r</jid></bind></iq>".encode())
        self._expect(rb"</stream:stream>")
        if self.answer_close:
            send(b"</stream:stream>")
        else:
            self.release.wait(30)


def options(server, **kw):
    return dict(host="127.0.0.1", port=server.port, require_tls=False, **kw)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


# ------------------------------------------------- large iteration counts, asyncio client


def test_aio_loop_keeps_running_while_a_large_count_is_derived(monkeypatch):
    """The derivation waits (in its thread) until the loop has ticked: were it run on the
    loop, no tick could happen and the wait would fail.  No timing is asserted."""
    in_derivation = threading.Event()
    loop_ticked = threading.Event()
    finished = threading.Event()
    derived_in = []
    real_run = KeyDerivation.run

    def gated_run(self):
        derived_in.append(threading.get_ident())
        in_derivation.set()
        assert loop_ticked.wait(20), "the event loop did not run during the key derivation"
        try:
            return real_run(self)
        finally:
            finished.set()

    monkeypatch.setattr(KeyDerivation, "run", gated_run)

    async def main():
        ticks = {"during": 0}

        async def ticker():
            while True:
                await asyncio.sleep(0.001)
                if in_derivation.is_set() and not finished.is_set():
                    ticks["during"] += 1
                    loop_ticked.set()

        tick_task = asyncio.ensure_future(ticker())
        with ScriptedServer(iterations=LARGE) as server:
            client = AioClient("juliet@example.com/r", PASSWORD, **options(server))
            await client.connect()
            assert client.is_ready and client.stream.mechanism == "SCRAM-SHA-1"
            await client.close()
        tick_task.cancel()
        return ticks["during"]

    assert run(main()) > 0
    assert len(derived_in) == 1 and derived_in[0] != threading.get_ident()  # in a thread, once


def test_aio_large_count_real_derivation_and_cache():
    cache = ScramKeyCache()

    async def main():
        for _ in range(2):  # the second login takes its keys from the cache
            with ScriptedServer(iterations=LARGE) as server:
                client = AioClient("juliet@example.com/r", PASSWORD, **options(server, sasl_cache=cache))
                await client.connect()
                assert client.is_ready
                await client.close()

    run(main())
    assert len(cache) == 1 and cache.hits == 1


def test_aio_iteration_cap_is_configurable():
    async def main():
        with ScriptedServer(iterations=LARGE) as server:
            client = AioClient("juliet@example.com/r", PASSWORD,
                               **options(server, scram_max_iterations=LARGE - 1))
            with pytest.raises(errors.SASLError) as exc:
                await client.connect()
            await client.close()
        return exc.value

    err = run(main())
    assert err.condition == "mechanism-too-weak"
    assert f"{LARGE} PBKDF2 iterations, maximum is {LARGE - 1}" in err.text


def test_aio_forced_mechanism_not_offered():
    async def main():
        with ScriptedServer(mechanisms=("SCRAM-SHA-1", "PLAIN")) as server:
            client = AioClient("juliet@example.com/r", PASSWORD, **options(server, mechanisms=["SCRAM-SHA-512"]))
            with pytest.raises(errors.MechanismNotOffered) as exc:
                await client.connect()
            await client.close()
        return exc.value

    err = run(main())
    assert "SCRAM-SHA-512" in str(err) and "it offers: SCRAM-SHA-1, PLAIN" in str(err)


# ------------------------------------------------------------------- blocking client


def test_sync_large_count_is_derived_inline(monkeypatch):
    calls = []
    real_run = KeyDerivation.run

    def counting_run(self):
        calls.append(self.iterations)
        return real_run(self)

    monkeypatch.setattr(KeyDerivation, "run", counting_run)
    with ScriptedServer(iterations=LARGE) as server:
        client = SyncClient("juliet@example.com/r", PASSWORD, **options(server))
        client.connect()
        assert client.is_ready and client.mechanism == "SCRAM-SHA-1"
        client.close()
    assert calls == [LARGE]


def test_sync_iteration_cap_is_configurable():
    with ScriptedServer(iterations=LARGE) as server:
        client = SyncClient("juliet@example.com/r", PASSWORD, **options(server, scram_max_iterations=LARGE - 1))
        with pytest.raises(errors.SASLError) as exc:
            client.connect()
    assert exc.value.condition == "mechanism-too-weak"
    assert f"maximum is {LARGE - 1}" in exc.value.text


def test_sync_forced_mechanism_not_offered():
    with ScriptedServer(mechanisms=("SCRAM-SHA-1",)) as server:
        client = SyncClient("juliet@example.com/r", PASSWORD, **options(server, mechanisms=["PLAIN"]))
        with pytest.raises(errors.MechanismNotOffered) as exc:
            client.connect()
    assert "asked for (mechanisms=): PLAIN; it offers: SCRAM-SHA-1" in str(exc.value)


# -------------------------------------------------------- the blocking client's close()


def test_sync_after_close_the_client_says_it_closed_the_connection():
    with ScriptedServer() as server:
        client = SyncClient("juliet@example.com/r", PASSWORD, **options(server))
        client.connect()
        client.close()
        with pytest.raises(ConnectionLost) as exc:
            client.process(timeout=0)
    assert "closed by the client" in str(exc.value)
    assert client.error is None


def test_sync_reader_blocked_during_close_says_the_client_closed_it():
    """A second thread is blocked reading when close() runs (the server never answers the
    closing handshake); when the server finally drops the TCP connection, that reader must
    not report "closed by the server": the client closed it.  (A client is used from one
    thread at a time; this stands for a greenlet reading while another one closes.)"""
    with ScriptedServer(answer_close=False) as server:
        client = SyncClient("juliet@example.com/r", PASSWORD,
                            **options(server, keepalive_interval=None, close_timeout=0.2))
        client.connect()
        outcome = []

        def reader():
            try:
                outcome.append(client.process(timeout=None))
            except Exception as exc:  # noqa: BLE001 - checked below
                outcome.append(exc)

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        thread.join(0.2)  # let it block in recv() (the result holds whichever way it goes)
        client.close()
        server.release.set()  # now the server closes its side
        thread.join(30)
    assert not thread.is_alive()
    [exc] = outcome
    assert isinstance(exc, ConnectionLost), exc
    assert "closed by the client" in str(exc) and "server" not in str(exc)
    assert client.error is None
