"""A TCP proxy on the loopback interface that cuts connections on purpose (fault injection).

It sits between a client and a server (the private Prosody of :mod:`fastxmpp.testing.prosody`)
and relays bytes both ways unchanged.  Each accepted connection gets a :class:`Cut` from the
proxy's ``plan`` (or none), and the proxy drops both sides of that connection at once when the
cut is due: after a number of bytes relayed in one direction, after a delay, or on request
(:meth:`FaultProxy.cut_all`).  Dropping is an abort (no FIN handshake, no
``</stream:stream>``): the client sees its connection lost and the server sees its peer vanish,
as with a broken network.

The client speaks STARTTLS through the proxy, so the proxy cannot see stanzas; cuts are placed
by byte counts and time instead.  Byte counts map onto phases well enough: the first few
kilobytes a server sends on a connection are the negotiation (stream headers, STARTTLS, the TLS
handshake, SASL, bind or resume), anything later is traffic.  A byte-count cut lands anywhere
inside a TLS record or stanza, which is the point.  For cuts at an exact protocol moment, a test
uses the client's own callbacks instead (``client.abort()`` inside ``on_session_started``) or
calls :meth:`FaultProxy.cut_all` from them.

Usage (asyncio)::

    proxy = FaultProxy(server.host, server.port, plan=RandomCuts(seed=1, max_bytes=8000))
    await proxy.start()
    client = Client(jid, pw, host=proxy.host, port=proxy.port, ca_file=server.ca_file)
    ...
    await proxy.close()
    print(proxy.cuts)            # one CutRecord per connection cut

Usage from blocking code (a thread runs the proxy's own event loop)::

    with FaultProxy(server.host, server.port, plan=...).running() as proxy:
        client = sync.Client(jid, pw, host=proxy.host, port=proxy.port, ...)
        proxy.cut_all()          # safe from any thread

Load tests can use it the same way to measure how a client population rides out
connection loss.  The proxy only listens on a loopback address.
"""
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import threading
import time
from concurrent.futures import Future as _ThreadFuture
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

__all__ = ["Cut", "CutRecord", "FaultProxy", "RandomCuts"]

_CHUNK = 64 * 1024
UP = "up"      # client -> server
DOWN = "down"  # server -> client


@dataclass(frozen=True)
class Cut:
    """When to cut one connection.

    ``after_bytes``: cut once this many bytes were relayed in ``direction`` (``"down"``:
    server to client, ``"up"``: client to server); exactly that many are relayed, the rest
    of the chunk is dropped.  ``0`` cuts as soon as anything comes in that direction.
    ``after_seconds``: cut this long after the connection was accepted.  With both, the
    first one due wins.
    """

    after_bytes: Optional[int] = None
    direction: str = DOWN
    after_seconds: Optional[float] = None

    def __post_init__(self) -> None:
        if self.direction not in (UP, DOWN):
            raise ValueError("direction must be 'up' or 'down', not %r" % (self.direction,))
        if self.after_bytes is not None and self.after_bytes < 0:
            raise ValueError("after_bytes must be >= 0")
        if self.after_seconds is not None and self.after_seconds < 0:
            raise ValueError("after_seconds must be >= 0")


@dataclass(frozen=True)
class CutRecord:
    """A connection the proxy cut: which (0-based, in accept order), why and where."""

    connection: int
    reason: str          # "bytes-up", "bytes-down", "time" or "manual"
    bytes_up: int        # relayed client -> server before the cut
    bytes_down: int      # relayed server -> client before the cut
    seconds: float       # since the connection was accepted


class RandomCuts:
    """A seeded plan: each connection is cut with probability ``probability`` at a random
    moment, by bytes down (``0..max_bytes``), bytes up (``0..max_bytes // 4``) or time
    (``0..max_seconds``), in the proportions ``weights`` (down, up, time).

    Call it with a connection index; the same seed gives the same plan for every index.
    """

    def __init__(self, *, seed: int, max_bytes: int = 8000, max_seconds: float = 0.5,
                 probability: float = 1.0, weights: Tuple[float, float, float] = (3, 1, 1)) -> None:
        self.seed = seed
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.probability = probability
        self.weights = weights

    def __call__(self, index: int) -> Optional[Cut]:
        rng = random.Random("%s/%d" % (self.seed, index))
        if rng.random() >= self.probability:
            return None
        kind = rng.choices((DOWN, UP, "time"), weights=self.weights)[0]
        if kind == "time":
            return Cut(after_seconds=rng.uniform(0, self.max_seconds))
        limit = self.max_bytes if kind == DOWN else max(1, self.max_bytes // 4)
        return Cut(after_bytes=rng.randint(0, limit), direction=kind)


class _Connection:
    __slots__ = ("index", "cut", "began", "sent", "writers", "tasks", "timer", "done", "record")

    def __init__(self, index: int, cut: Optional[Cut]) -> None:
        self.index = index
        self.cut = cut
        self.began = time.monotonic()
        self.sent: Dict[str, int] = {UP: 0, DOWN: 0}
        self.writers: List[asyncio.StreamWriter] = []
        self.tasks: List[asyncio.Task[Any]] = []
        self.timer: Optional[asyncio.TimerHandle] = None
        self.done = False
        self.record: Optional[CutRecord] = None


class FaultProxy:
    """Relay ``host:port`` (loopback, a free port by default) to ``upstream_host:upstream_port``,
    cutting connections as ``plan(index) -> Cut | None`` says (None: the connection is never cut
    by the plan).  Attributes: ``accepted`` (connections so far), ``cuts`` (a
    :class:`CutRecord` per cut), ``active`` (connections open now).
    """

    def __init__(self, upstream_host: str, upstream_port: int, *, host: str = "127.0.0.1",
                 port: int = 0, plan: Optional[Callable[[int], Optional[Cut]]] = None) -> None:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ValueError("the fault proxy listens on loopback only, not %r" % (host,))
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.port = port
        self.plan = plan
        self.accepted = 0
        self.cuts: List[CutRecord] = []
        self._conns: Dict[int, _Connection] = {}
        self._server: Optional[asyncio.AbstractServer] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def active(self) -> int:
        """How many client connections the proxy is relaying now."""
        return len(self._conns)

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> "FaultProxy":
        """Listen (in the running event loop); ``port`` is then the one bound."""
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and drop every open connection (not counted as cuts)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        tasks = []
        for conn in list(self._conns.values()):
            self._drop(conn)
            tasks += conn.tasks
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> "FaultProxy":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @contextlib.contextmanager
    def running(self) -> Iterator["FaultProxy"]:
        """Run the proxy on an event loop of its own in a daemon thread, for blocking clients."""
        started: "_ThreadFuture[Any]" = _ThreadFuture()
        loop = asyncio.new_event_loop()

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                started.set_exception(exc)
                return
            started.set_result(None)
            loop.run_forever()

        self._thread = threading.Thread(target=main, name="fastxmpp-faultproxy", daemon=True)
        self._thread.start()
        try:
            started.result(30)
            yield self
        finally:
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(self.close(), loop).result(30)
                loop.call_soon_threadsafe(loop.stop)
            self._thread.join(30)
            loop.close()
            self._thread = None

    # -- cutting on request ---------------------------------------------------------------------
    def cut_all(self) -> int:
        """Cut every open connection now (reason ``"manual"``); returns how many.

        Safe from any thread; from another thread it waits until the loop did it.
        """
        loop = self._loop
        if loop is None:
            return 0
        try:
            in_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            in_loop = False
        if in_loop or not loop.is_running():
            return self._cut_all()
        future: "_ThreadFuture[Any]" = _ThreadFuture()

        def call() -> None:
            future.set_result(self._cut_all())

        loop.call_soon_threadsafe(call)
        cut: int = future.result(30)
        return cut

    def _cut_all(self) -> int:
        conns = [c for c in self._conns.values() if not c.done]
        for conn in conns:
            self._cut(conn, "manual")
        return len(conns)

    # -- relaying ------------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.accepted
        self.accepted += 1
        cut = self.plan(index) if self.plan is not None else None
        conn = _Connection(index, cut)
        conn.writers.append(writer)
        self._conns[index] = conn
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                self._drop(conn)
                return
            conn.writers.append(up_writer)
            if conn.done:  # cut (or closed) while connecting upstream
                self._drop(conn)
                return
            if cut is not None and cut.after_seconds is not None:
                delay = max(0.0, cut.after_seconds - (time.monotonic() - conn.began))
                conn.timer = asyncio.get_running_loop().call_later(delay, self._cut, conn, "time")
            conn.tasks = [asyncio.current_task()]  # type: ignore[list-item]
            other = asyncio.ensure_future(self._pump(conn, up_reader, writer, DOWN))
            conn.tasks.append(other)
            try:
                await self._pump(conn, reader, up_writer, UP)
            finally:
                await asyncio.gather(other, return_exceptions=True)
        finally:
            self._drop(conn)

    async def _pump(self, conn: _Connection, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter, direction: str) -> None:
        cut = conn.cut
        limit = cut.after_bytes if cut is not None and cut.direction == direction else None
        try:
            while not conn.done:
                data = await reader.read(_CHUNK)
                if not data or conn.done:
                    break
                if limit is not None and conn.sent[direction] + len(data) >= limit:
                    keep = limit - conn.sent[direction]
                    if keep:
                        writer.write(data[:keep])
                        conn.sent[direction] += keep
                    self._cut(conn, "bytes-" + direction)
                    break
                writer.write(data)
                conn.sent[direction] += len(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        # one side ended (or failed): end the whole connection, as a plain relay does
        self._drop(conn)

    def _cut(self, conn: _Connection, reason: str) -> None:
        if conn.done:
            return
        conn.record = CutRecord(conn.index, reason, conn.sent[UP], conn.sent[DOWN],
                                time.monotonic() - conn.began)
        self.cuts.append(conn.record)
        self._drop(conn)

    def _drop(self, conn: _Connection) -> None:
        """Abort both sockets of ``conn`` (the bytes already written are flushed first when
        the kernel takes them at once; nothing waits)."""
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        conn.done = True
        for writer in conn.writers:
            transport = writer.transport
            if not transport.is_closing():
                # write what this chunk kept, then abort: abort() discards the write buffer
                transport.abort() if transport.get_write_buffer_size() == 0 else transport.close()
        self._conns.pop(conn.index, None)
