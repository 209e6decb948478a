"""What one chat message costs the client at the least, paced and at full speed: the floor
under the load tester's message benchmark (issue 16).

    python benchmarks/paced_floor.py [--users 200] [--messages 50] [--rate 10] [--rounds 5]
                                     [--variants tcp,sslsocket,...]
                                     [--modes paced,burst,full] [--json]

A relay server (a child process, so its CPU is not counted) accepts ``--users``
connections on 127.0.0.1, with TLS on the certificate chain of the private Prosody
of the tests and of ``client_bench.py`` (made by ``fastxmpp.testing.prosody``), and
forwards whatever complete lines arrive on connection i to connection (i + 1) % N,
as a server routes a chat message to another user.  This process holds the N
connections and, paced, sends ``--messages`` lines of about 200 bytes (an XMPP-like
chat message with a 16-character body) per connection at ``--rate`` per second per
connection: on a 2 ms tick (``--tick``; the load tester's pacer uses 2 ms) it sends
every message that is due, the connections' schedules spread evenly over the interval,
and it reads whatever arrives, counting the newlines (every message must arrive).  At
10/s per connection each message is its own send(), its own TLS record and, on the
receiving connection, its own recv(), and wake-ups come often: the fixed cost per
record and per wake-up is what is measured.  Two unpaced modes
split it: ``burst`` sends every message at once, each still in its own send() and TLS
record, so only the sending side pays per message (the relay forwards what arrived
together in one write, so one read and few records carry many messages); ``full``
writes each connection's messages in one send(), so one record and one read carry
many messages, and what remains is the cost per byte.  ``ticked`` is paced like
``paced``, but the client does not wake up for every socket that becomes readable: it
sleeps through each tick and then takes whatever is ready (``select(0)``), so one wake-up
serves every message of the tick (a load tester could do this, at the price of up to one
tick of added latency; for ``asyncio``, through a selector whose ``select()`` sleeps
first; uvloop has no such hook).

Variants, each the least Python can do (no XMPP, no parsing beyond the newline):

* ``tcp``: plain TCP, ``selectors`` (epoll) and non-blocking ``sock.send``/``recv_into``;
* ``sslsocket``: TLS through a non-blocking ``ssl.SSLSocket``, ``send``/``recv_into``;
* ``sslobject``: TLS through ``ssl.SSLObject`` over two ``MemoryBIO`` on non-blocking
  sockets, in the same ``selectors`` loop (what fastxmpp's clients and asyncio do);
* ``asyncio``: the ``sslobject`` code in an ``asyncio.BufferedProtocol`` on the default
  event loop, paced by ``loop.call_at`` (what ``fastxmpp.aio``'s transport does);
* ``uvloop``: the same on uvloop, when it is installed.

TLS handshakes, connection set-up and one warm-up message per connection (which also
reads TLS 1.3's session tickets) are not counted.  Counted: the client's CPU time
(``time.thread_time()``, and user and system time from ``os.times()``) from the first
measured send until the last message has arrived, divided by the messages (each
message is one send on one connection and one receive on another, both in this
process).  The variants take turns, round by round (the order rotated each round), in
a fresh relay each time, because this machine is shared and its speed drifts; the
report gives medians and ranges over the rounds, and the TLS cost as the median of
each round's difference to ``tcp``.

Only loopback is used; the certificates live in a temporary directory removed on every
exit path; every run has a time limit (``--timeout``).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import selectors
import signal
import socket
import ssl
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, cast

try:
    import fastxmpp  # noqa: F401
except ImportError:  # run from a checkout: use the in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastxmpp.testing.prosody import ProsodyServer
from fastxmpp.tlsconfig import make_client_context

ALL_VARIANTS = ("tcp", "sslsocket", "sslobject", "asyncio", "uvloop")
MODES = ("paced", "ticked", "burst", "full")
TICK = 0.002  # seconds between two sending turns of the paced schedule (--tick)
READ_SIZE = 65536
TARGET_US = (20.0, 37.0)  # a fifth of Tsung's 100-185 us per paced message (issue 16)


def uvloop_available() -> bool:
    """Whether the ``uvloop`` variant can run here."""
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def message(i: int, n: int) -> bytes:
    """The line connection ``i`` sends, about 200 bytes: a chat message with a 16-character body."""
    line = (f'<message xmlns="jabber:client" to="user{(i + 1) % n:05d}@localhost" type="chat" '
            f'id="m{i:07d}" xml:lang="en"><body>0123456789abcdef</body>'
            f'<active xmlns="http://jabber.org/protocol/chatstates"/></message>')
    return line.encode() + b"\n"


# -- the relay (child process) ------------------------------------------------------------------

def _relay(pipe: Connection, cert: Optional[str], key: Optional[str], n: int, timeout: float) -> None:
    """Accept ``n`` connections (TLS when ``cert`` is given) and forward complete lines from
    connection i to connection (i + 1) % n until every connection is closed; then send this
    process's CPU time for the forwarding back through ``pipe``."""
    ctx: Optional[ssl.SSLContext] = None
    if cert is not None and key is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
    deadline = time.monotonic() + timeout
    listener = socket.create_server(("127.0.0.1", 0), backlog=n)
    listener.settimeout(timeout)
    pipe.send(listener.getsockname()[1])
    socks: List[socket.socket] = []
    for _ in range(n):
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(timeout)
        sock = conn if ctx is None else ctx.wrap_socket(conn, server_side=True)
        sock.setblocking(False)
        socks.append(sock)
    listener.close()
    sel = selectors.DefaultSelector()
    for i, sock in enumerate(socks):
        sel.register(sock, selectors.EVENT_READ, i)
    pending = [bytearray() for _ in range(n)]  # received, not yet a complete line
    unsent = [bytearray() for _ in range(n)]   # to send when the socket is writable again
    alive = [True] * n
    writing = [False] * n
    left = n
    cpu0 = time.process_time()

    def close(i: int) -> None:
        nonlocal left
        if alive[i]:
            alive[i] = False
            left -= 1
            sel.unregister(socks[i])
            socks[i].close()

    def flush(j: int) -> None:
        data = unsent[j]
        try:
            sent = socks[j].send(data)
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            sent = 0
        except OSError:
            close(j)
            return
        del data[:sent]
        if bool(data) != writing[j]:  # EVENT_WRITE only while something is unsent
            writing[j] = bool(data)
            sel.modify(socks[j], selectors.EVENT_READ | (selectors.EVENT_WRITE if data else 0), j)

    def forward(j: int, data: bytes) -> None:
        if not alive[j]:
            return
        if unsent[j]:
            unsent[j] += data  # flushed when the socket is writable again
            return
        unsent[j] += data
        flush(j)

    def readable(i: int) -> None:
        buf = pending[i]
        while True:  # until the socket (and, for TLS, the decrypted buffer) is empty
            try:
                data = socks[i].recv(READ_SIZE)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                break
            except OSError:
                data = b""
            if not data:
                close(i)
                return
            buf += data
        end = buf.rfind(b"\n") + 1
        if end:
            lines = bytes(buf[:end])
            del buf[:end]
            forward((i + 1) % n, lines)

    while left and time.monotonic() < deadline:
        for sel_key, events in sel.select(1.0):
            i = sel_key.data
            if events & selectors.EVENT_WRITE and alive[i]:
                flush(i)
            if events & selectors.EVENT_READ and alive[i]:
                readable(i)
    pipe.send(time.process_time() - cpu0)


# -- the measured client -------------------------------------------------------------------------

class Counters:
    """What one measured run counted (besides CPU time)."""

    __slots__ = ("selects", "reads", "blocked_sends")

    def __init__(self) -> None:
        self.selects = 0        # select() calls that found a socket readable
        self.reads = 0          # readable events handled (each one recv from the kernel)
        self.blocked_sends = 0  # sends the kernel did not take at once (finished blocking)


def _send_rest(sock: socket.socket, data: bytes, counters: Counters) -> None:
    """Finish a send the non-blocking socket did not take whole (rare: the buffers are large)."""
    counters.blocked_sends += 1
    sock.setblocking(True)
    try:
        sock.sendall(data)
    finally:
        sock.setblocking(False)


def _send(sock: socket.socket, data: bytes, counters: Counters) -> None:
    """Send ``data`` on the non-blocking ``sock`` (finishing blocking if the kernel balks)."""
    try:
        sent = sock.send(data)
    except BlockingIOError:
        sent = 0
    if sent < len(data):
        _send_rest(sock, data[sent:], counters)


def _recv(sock: socket.socket, buf: bytearray) -> int:
    """Read what the non-blocking ``sock`` has into ``buf``: the byte count (0: nothing yet)."""
    try:
        got = sock.recv_into(buf)
    except BlockingIOError:
        return 0
    if not got:
        raise ConnectionError("the relay closed a connection")
    return got


def _bio_handshake(sock: socket.socket, tls: ssl.SSLObject, incoming: ssl.MemoryBIO,
                   outgoing: ssl.MemoryBIO) -> None:
    """Run the TLS handshake of ``tls`` over the blocking ``sock``."""
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(outgoing.read())
            data = sock.recv(READ_SIZE)
            if not data:
                raise ConnectionError("the relay closed the connection during the handshake")
            incoming.write(data)
    if outgoing.pending:
        sock.sendall(outgoing.read())


class TLSPeer:
    """One ``ssl.SSLObject`` over two memory BIOs (the ``sslobject``, ``asyncio`` and
    ``uvloop`` variants)."""

    __slots__ = ("tls", "incoming", "outgoing")

    def __init__(self, ctx: ssl.SSLContext, sock: socket.socket) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        _bio_handshake(sock, self.tls, self.incoming, self.outgoing)


def _connect(port: int, n: int, variant: str, ctx: ssl.SSLContext,
             timeout: float) -> Tuple[List[socket.socket], List[TLSPeer]]:
    """Open ``n`` connections (handshakes done, sockets left non-blocking)."""
    socks: List[socket.socket] = []
    peers: List[TLSPeer] = []
    try:
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            socks.append(sock)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if variant == "sslsocket":
                sock = socks[-1] = ctx.wrap_socket(sock, server_hostname="localhost")
            elif variant != "tcp":
                peers.append(TLSPeer(ctx, sock))
            sock.setblocking(False)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks, peers


Send = Callable[[int, bytes], None]
Readable = Callable[[int], int]


def _tcp_io(socks: List[socket.socket], counters: Counters) -> Tuple[Send, Readable]:
    """send(i, data) and readable(i) -> messages received, of the ``tcp`` variant."""
    buf = bytearray(READ_SIZE)

    def send(i: int, data: bytes) -> None:
        _send(socks[i], data, counters)

    def readable(i: int) -> int:
        return buf.count(b"\n", 0, _recv(socks[i], buf))
    return send, readable


def _sslsocket_io(socks: List[ssl.SSLSocket], counters: Counters) -> Tuple[Send, Readable]:
    """send(i, data) and readable(i) -> messages received, of the ``sslsocket`` variant."""
    buf = bytearray(READ_SIZE)
    want_read = ssl.SSLWantReadError

    def send(i: int, data: bytes) -> None:
        sock = socks[i]
        try:
            sock.send(data)  # without partial writes: all of it, or an exception
        except (ssl.SSLWantWriteError, BlockingIOError):
            _send_rest(sock, data, counters)

    def readable(i: int) -> int:
        sock = socks[i]
        count = 0
        while True:
            try:
                got = sock.recv_into(buf)
            except want_read:
                return count
            if not got:
                raise ConnectionError("the relay closed a connection")
            count += buf.count(b"\n", 0, got)
            if not sock.pending():  # the rest, if any, is in the kernel: epoll says so
                return count
    return send, readable


def _read_records(tls: ssl.SSLObject, incoming: ssl.MemoryBIO, buf: bytearray) -> int:
    """Decrypt every complete record in ``incoming``; the newlines (messages) in them."""
    count = 0
    while incoming.pending or tls.pending():
        try:
            got = cast(int, tls.read(READ_SIZE, buf))  # with a buffer: the count read
        except ssl.SSLWantReadError:
            break  # a partial record: the rest comes with the next read
        count += buf.count(b"\n", 0, got)
    return count


def _sslobject_io(socks: List[socket.socket], peers: List[TLSPeer],
                  counters: Counters) -> Tuple[Send, Readable]:
    """send(i, data) and readable(i) -> messages received, of the ``sslobject`` variant."""
    buf = bytearray(READ_SIZE)
    view = memoryview(buf)

    def send(i: int, data: bytes) -> None:
        peer = peers[i]
        peer.tls.write(data)
        _send(socks[i], peer.outgoing.read(), counters)

    def readable(i: int) -> int:
        got = _recv(socks[i], buf)
        if not got:
            return 0
        peer = peers[i]
        peer.incoming.write(view[:got])
        count = _read_records(peer.tls, peer.incoming, buf)
        if peer.outgoing.pending:  # post-handshake messages (key updates)
            send(i, b"")
        return count
    return send, readable


def _selectors_io(variant: str, socks: List[socket.socket], peers: List[TLSPeer],
                  counters: Counters) -> Tuple[Send, Readable]:
    if variant == "tcp":
        return _tcp_io(socks, counters)
    if variant == "sslsocket":
        return _sslsocket_io(cast(List[ssl.SSLSocket], socks), counters)
    return _sslobject_io(socks, peers, counters)


def _run_selectors(variant: str, socks: List[socket.socket], peers: List[TLSPeer], m: int,
                   rate: float, mode: str, timeout: float, tick: float) -> Dict[str, Any]:
    n = len(socks)
    counters = Counters()
    send, readable = _selectors_io(variant, socks, peers, counters)
    lines = [message(i, n) for i in range(n)]
    sel = selectors.DefaultSelector()
    try:
        for i, sock in enumerate(socks):
            sel.register(sock, selectors.EVENT_READ, i)
        deadline = time.monotonic() + timeout

        def receive(wait: float) -> int:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{variant}: not every message arrived within {timeout:.0f} s")
            events = sel.select(wait)
            if not events:
                return 0
            counters.selects += 1
            counters.reads += len(events)
            return sum([readable(key.data) for key, _ in events])

        for i in range(n):  # warm-up, not counted
            send(i, lines[i])
        got = 0
        while got < n:
            got += receive(1.0)
        counters.reads = counters.selects = 0
        total = n * m
        interval = 1.0 / (rate * n)  # between two sends of the whole schedule
        gc.collect()
        cpu0, times0, wall0 = time.thread_time(), os.times(), time.perf_counter()
        got = 0
        j = 0
        if mode == "full":
            for i in range(n):
                send(i, lines[i] * m)
            j = total
        elif mode == "burst":
            for _ in range(m):
                for i in range(n):
                    send(i, lines[i])
            j = total
        ticked = mode == "ticked"
        start = next_tick = time.monotonic()
        while got < total:
            wait = 1.0
            if j < total:
                now = time.monotonic()
                if now >= next_tick:
                    due = min(total, int((now - start) / interval) + 1)
                    while j < due:
                        i = j % n
                        send(i, lines[i])
                        j += 1
                    while next_tick <= now:
                        next_tick += tick
                wait = max(0.0, next_tick - time.monotonic())
            elif ticked:
                wait = tick
            if ticked:  # sleep through the tick, then take whatever is ready
                time.sleep(wait)
                wait = 0.0
            got += receive(wait)
        cpu, times1, wall = time.thread_time() - cpu0, os.times(), time.perf_counter() - wall0
    finally:
        sel.close()
    return {"cpu": cpu, "user": times1.user - times0.user, "system": times1.system - times0.system,
            "wall": wall, "received": got, "reads": counters.reads, "selects": counters.selects,
            "blocked_sends": counters.blocked_sends}


class _Protocol(asyncio.BufferedProtocol):
    """One connection of the ``asyncio``/``uvloop`` variants: TLS on an ``SSLObject``."""

    def __init__(self, run: "_AioRun", peer: TLSPeer) -> None:
        self.run = run
        self.tls, self.incoming, self.outgoing = peer.tls, peer.incoming, peer.outgoing
        self.transport: Optional[asyncio.Transport] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.run.view

    def buffer_updated(self, nbytes: int) -> None:
        run, tls, incoming = self.run, self.tls, self.incoming
        incoming.write(run.view[:nbytes])
        count = _read_records(tls, incoming, run.buf)
        if self.outgoing.pending:
            self.write(b"")
        run.reads += 1
        run.received(count)

    def write(self, data: bytes) -> None:
        """Encrypt ``data`` and hand the record to the transport."""
        self.tls.write(data)
        assert self.transport is not None
        self.transport.write(self.outgoing.read())

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.run.fail(ConnectionError(f"the relay closed a connection: {exc!r}"))


class _AioRun:
    """The measured part of the ``asyncio``/``uvloop`` variants, on the running loop."""

    def __init__(self, n: int) -> None:
        self.buf = bytearray(READ_SIZE)
        self.view = memoryview(self.buf)
        self.got = 0
        self.target = n
        self.reads = 0
        self.done: Optional[asyncio.Future[None]] = None

    def wait_for(self, target: int) -> asyncio.Future[None]:
        """A future done when ``target`` messages have arrived (counted from now)."""
        self.got, self.target = 0, target
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    def received(self, count: int) -> None:
        """Count messages that arrived."""
        self.got += count
        if self.got >= self.target and self.done is not None and not self.done.done():
            self.done.set_result(None)

    def fail(self, exc: Exception) -> None:
        """End the run with ``exc`` (a connection was lost before the end)."""
        if self.done is not None and not self.done.done():
            self.done.set_exception(exc)


async def _aio_main(socks: List[socket.socket], peers: List[TLSPeer], m: int, rate: float,
                    mode: str, timeout: float, tick: float) -> Dict[str, Any]:
    loop = asyncio.get_running_loop()
    n = len(socks)
    run = _AioRun(n)
    protocols: List[_Protocol] = []
    for sock, peer in zip(socks, peers):
        proto = _Protocol(run, peer)
        await loop.create_connection(lambda p=proto: p, sock=sock)  # type: ignore[misc]
        protocols.append(proto)
    lines = [message(i, n) for i in range(n)]
    try:
        done = run.wait_for(n)  # warm-up, not counted
        for i in range(n):
            protocols[i].write(lines[i])
        await asyncio.wait_for(done, timeout)
        total = n * m
        interval = 1.0 / (rate * n)
        done = run.wait_for(total)
        run.reads = 0
        gc.collect()
        cpu0, times0, wall0 = time.thread_time(), os.times(), time.perf_counter()
        if mode in ("paced", "ticked"):
            start = next_tick = loop.time()
            j = 0

            def turn() -> None:
                nonlocal j, next_tick
                now = loop.time()
                due = min(total, int((now - start) / interval) + 1)
                while j < due:
                    i = j % n
                    protocols[i].write(lines[i])
                    j += 1
                if j < total:
                    # at least one tick on: a loop may call back a little early (uvloop's
                    # timers count whole milliseconds), which must not turn into a spin
                    next_tick += tick
                    while next_tick <= now:
                        next_tick += tick
                    loop.call_at(next_tick, turn)
            turn()
        elif mode == "burst":
            for _ in range(m):
                for i in range(n):
                    protocols[i].write(lines[i])
        else:
            for i in range(n):
                protocols[i].write(lines[i] * m)
        await asyncio.wait_for(done, timeout)
        cpu, times1, wall = time.thread_time() - cpu0, os.times(), time.perf_counter() - wall0
        return {"cpu": cpu, "user": times1.user - times0.user,
                "system": times1.system - times0.system, "wall": wall, "received": run.got,
                "reads": run.reads, "blocked_sends": 0}
    finally:
        run.done = None  # losing the connections below fails nothing
        for proto in protocols:
            if proto.transport is not None:
                proto.transport.abort()
        await asyncio.sleep(0)


class TickedSelector(selectors.BaseSelector):
    """The default selector, except that ``select()`` sleeps through the wait (at most
    ``tick`` seconds) and then polls: the ``ticked`` mode of the asyncio variant, where the
    loop wakes once per tick rather than once per socket that becomes readable."""

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self.inner = selectors.DefaultSelector()

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self.inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self.inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self.inner.modify(fileobj, events, data)

    def select(self, timeout: Optional[float] = None) -> List[Tuple[selectors.SelectorKey, int]]:
        if timeout is None or timeout > 0:
            time.sleep(self.tick if timeout is None else min(timeout, self.tick))
        return self.inner.select(0)

    def get_map(self) -> Any:
        return self.inner.get_map()

    def close(self) -> None:
        self.inner.close()


def _run_asyncio(variant: str, socks: List[socket.socket], peers: List[TLSPeer], m: int,
                 rate: float, mode: str, timeout: float, tick: float) -> Dict[str, Any]:
    if mode == "ticked":
        if variant == "uvloop":
            raise ValueError("uvloop has no selector to slow down: no ticked mode")
        loop: asyncio.AbstractEventLoop = asyncio.SelectorEventLoop(TickedSelector(tick))
    elif variant == "uvloop":
        import uvloop  # type: ignore[import-not-found,unused-ignore]
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_aio_main(socks, peers, m, rate, mode, timeout, tick))
    finally:
        loop.close()


def run_once(variant: str, mode: str, n: int, m: int, rate: float, cert: str, key: str,
             ca_file: str, timeout: float, tick: float = TICK) -> Dict[str, Any]:
    """One measured run of ``variant`` against a fresh relay: CPU seconds and counts."""
    ctx = make_client_context(ca_file=ca_file)
    here, there = multiprocessing.Pipe()
    tls = variant != "tcp"
    relay = multiprocessing.Process(
        target=_relay, daemon=True,
        args=(there, cert if tls else None, key if tls else None, n, timeout))
    relay.start()
    socks: List[socket.socket] = []
    try:
        if not here.poll(timeout):
            raise TimeoutError("the relay did not start")
        port = here.recv()
        socks, peers = _connect(port, n, variant, ctx, timeout)
        if variant in ("asyncio", "uvloop"):
            res = _run_asyncio(variant, socks, peers, m, rate, mode, timeout, tick)
        else:
            res = _run_selectors(variant, socks, peers, m, rate, mode, timeout, tick)
        for sock in socks:
            sock.close()
        socks = []
        res["relay_cpu"] = here.recv() if here.poll(timeout) else float("nan")
    finally:
        for sock in socks:
            sock.close()
        relay.join(5)
        if relay.is_alive():
            relay.terminate()
            relay.join(5)
        here.close()
        there.close()
    if res["received"] != n * m:
        raise RuntimeError(f"{variant}: {res['received']} of {n * m} messages arrived")
    return res


def measure(variants: Sequence[str], modes: Sequence[str], n: int, m: int, rate: float,
            rounds: int, timeout: float, tick: float = TICK,
            log: Callable[[str], None] = lambda line: None) -> Dict[str, Dict[str, List[Dict[str, Any]]]]:
    """Every run: ``{mode: {variant: [run, ...]}}``, the variants in turns, rotated each round."""
    results: Dict[str, Dict[str, List[Dict[str, Any]]]] = {mode: {v: [] for v in variants}
                                                          for mode in modes}
    with tempfile.TemporaryDirectory(prefix="fastxmpp-paced-floor-") as workdir:
        server = ProsodyServer(workdir)
        server.prepare()  # certificates only; Prosody itself is not started
        files = (str(server.cert_file), str(server.key_file), str(server.ca_file))
        for r in range(rounds):
            order = list(variants[r % len(variants):]) + list(variants[:r % len(variants)])
            for mode in modes:
                for variant in order:
                    if mode == "ticked" and variant == "uvloop":
                        continue  # no selector to slow down
                    res = run_once(variant, mode, n, m, rate, *files, timeout=timeout, tick=tick)
                    results[mode][variant].append(res)
                    log(f"round {r + 1}/{rounds} {mode:5s} {variant:9s} "
                        f"{res['cpu'] * 1e6 / (n * m):7.1f} us/msg  wall {res['wall']:.2f} s")
    return results


def summarize(results: Dict[str, Dict[str, List[Dict[str, Any]]]], messages: int) -> Dict[str, Any]:
    """Medians and ranges (us per message) of every mode and variant, and each TLS variant's
    cost over ``tcp`` (the median of the rounds' differences)."""
    out: Dict[str, Any] = {}
    for mode, by_variant in results.items():
        rows: Dict[str, Any] = {}
        for variant, runs in by_variant.items():
            if not runs:
                continue
            row: Dict[str, Any] = {}
            for field in ("cpu", "user", "system", "relay_cpu"):
                us = [r[field] * 1e6 / messages for r in runs]
                row[field] = {"median": statistics.median(us), "min": min(us), "max": max(us)}
            row["wall_s"] = statistics.median([r["wall"] for r in runs])
            row["reads_per_message"] = statistics.median([r["reads"] / messages for r in runs])
            row["selects_per_message"] = statistics.median(
                [r.get("selects", float("nan")) / messages for r in runs])
            row["blocked_sends"] = sum(r["blocked_sends"] for r in runs)
            tcp = by_variant.get("tcp") or []
            if variant != "tcp" and len(tcp) == len(runs):
                diffs = [(a["cpu"] - b["cpu"]) * 1e6 / messages for a, b in zip(runs, tcp)]
                row["over_tcp"] = statistics.median(diffs)
            rows[variant] = row
        out[mode] = rows
    return out


def report(summary: Dict[str, Any], args: argparse.Namespace) -> List[str]:
    """The text report."""
    lines = [f"{ssl.OPENSSL_VERSION}, Python {sys.version.split()[0]}, "
             f"{args.users} connections x {args.messages} messages of {len(message(0, 1))} bytes, "
             f"{args.rounds} rounds",
             "client CPU in us per message (each: one send + one receive), median [min-max]"]
    for mode, rows in summary.items():
        how = {"paced": f"paced at {args.rate:g}/s per connection ({args.users * args.rate:g}/s in all), "
                        f"{args.tick:g} ms tick: one send, one record, one read per message",
               "ticked": f"ticked: paced as above, but the client sleeps through each {args.tick:g} ms "
                         "tick and then takes what is ready (one wake-up per tick, not per read)",
               "burst": "burst: every message at once, one send and one record each; the relay "
                        "forwards them together, so reads carry many",
               "full": "full speed: each connection's messages in one send (at the defaults one "
                       "record); reads carry many",
               }[mode]
        lines.append("")
        lines.append(how)
        lines.append(f"{'variant':10s} {'CPU':>22s} {'user':>7s} {'system':>7s} {'over tcp':>9s} "
                     f"{'read/msg':>8s} {'epoll/msg':>9s} {'wall s':>7s} {'relay':>6s}")
        for variant, row in rows.items():
            cpu = row["cpu"]
            over = f"{row['over_tcp']:9.1f}" if "over_tcp" in row else f"{'':9s}"
            lines.append(f"{variant:10s} {cpu['median']:7.1f} [{cpu['min']:6.1f}-{cpu['max']:6.1f}] "
                         f"{row['user']['median']:7.1f} {row['system']['median']:7.1f} {over} "
                         f"{row['reads_per_message']:8.2f} {row['selects_per_message']:9.2f} "
                         f"{row['wall_s']:7.2f} "
                         f"{row['relay_cpu']['median']:6.1f}")
    lines.append("")
    lines.append(f"5x target (issue 16): {TARGET_US[0]:g}-{TARGET_US[1]:g} us per paced message")
    for mode in ("paced", "ticked"):
        rows = summary.get(mode, {})
        floor = [(rows[v]["cpu"]["median"], v) for v in ("sslobject", "sslsocket", "asyncio", "uvloop")
                 if v in rows]
        if floor:
            best, variant = min(floor)
            lines.append(f"  {mode}: the lowest TLS median is {best:.1f} us ({variant})")
    return lines


def main(argv: Optional[Sequence[str]] = None) -> None:
    """The command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=200, help="connections (default: 200)")
    ap.add_argument("--messages", type=int, default=50, help="messages per connection (default: 50)")
    ap.add_argument("--rate", type=float, default=10.0,
                    help="paced messages per second per connection (default: 10)")
    ap.add_argument("--rounds", type=int, default=5, help="runs of every variant and mode (default: 5)")
    avail = [v for v in ALL_VARIANTS if v != "uvloop" or uvloop_available()]
    ap.add_argument("--variants", default=",".join(avail),
                    help=f"comma-separated, of {', '.join(ALL_VARIANTS)} (default: {','.join(avail)})")
    ap.add_argument("--modes", default=",".join(MODES),
                    help="comma-separated, of paced, ticked, burst, full (default: all four)")
    ap.add_argument("--tick", type=float, default=TICK * 1e3,
                    help=f"milliseconds between two sending turns when paced (default: {TICK * 1e3:g})")
    ap.add_argument("--timeout", type=float, default=0.0,
                    help="seconds any one run may take (default: 60 + twice the paced time)")
    ap.add_argument("--json", action="store_true", help="print the runs and the summary as JSON")
    args = ap.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    modes = [m for m in args.modes.split(",") if m]
    bad = [v for v in variants if v not in ALL_VARIANTS] + [m for m in modes if m not in MODES]
    if bad or ("uvloop" in variants and not uvloop_available()):
        ap.error(f"unknown or unavailable: {', '.join(bad) or 'uvloop'}")
    if min(args.users, args.messages, args.rounds) < 1 or min(args.rate, args.tick) <= 0:
        ap.error("--users, --messages, --rounds, --rate and --tick must be positive")
    timeout = args.timeout or 60 + 2 * args.messages / args.rate

    def on_term(signum: int, frame: Any) -> None:
        raise SystemExit(143)  # the temporary directory and the relays go on the way out
    signal.signal(signal.SIGTERM, on_term)
    log: Callable[[str], None] = (lambda line: print(line, file=sys.stderr, flush=True)) if args.json \
        else (lambda line: print(line, flush=True))
    total = args.users * args.messages
    results = measure(variants, modes, args.users, args.messages, args.rate, args.rounds, timeout,
                      args.tick / 1e3, log)
    summary = summarize(results, total)
    if args.json:
        print(json.dumps({"users": args.users, "messages": args.messages, "rate": args.rate,
                          "rounds": args.rounds, "tick_ms": args.tick, "message_bytes": len(message(0, 1)),
                          "openssl": ssl.OPENSSL_VERSION, "python": sys.version.split()[0],
                          "summary": summary, "runs": results}, indent=1))
    else:
        print()
        print("\n".join(report(summary, args)))


if __name__ == "__main__":
    main()
