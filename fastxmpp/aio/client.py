"""The asyncio client: one ClientStream (sans-IO core) driven over an asyncio transport."""
from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import ssl
import threading
from typing import (
    TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, Tuple, Union, cast)

from .. import errors, events
from ..connect import Endpoint, connect_failure, explicit_endpoint
from ..element import Element
from .._client_base import _AUTHENTICATED, _CONNECTED, _SECURED, ClientBase, Feature
from ..handlers import KIND_START, iq_reply
from ..jid import JID
from ..sasl import channel_bindings_from_ssl
from ..sm import SMState
from ..stanza_errors import from_element
from ..stream import ClientStream
from ..tlsconfig import server_hostname_for
from . import im as _im

if TYPE_CHECKING:  # the feature classes, imported on first access only (see Feature)
    from .blocking import Blocking
    from .caps import Caps
    from .carbons import Carbons
    from .chatstates import ChatStates
    from .im import Messages, Presence, Roster, Subscriptions
    from .mam import MAM
    from .muc import MUC
    from .receipts import Receipts
    from .register import Registration
    from .xep import Disco, Pinger, SoftwareVersion

__all__ = ["Client", "ConnectionLost"]

log = logging.getLogger("fastxmpp.aio")


class ConnectionLost(errors.XMPPError, ConnectionError):
    """The connection ended before the operation finished."""


_READ_SIZE = 256 * 1024  # what one recv() may take, as asyncio's own transports do
_TLS_RECORD = 16384  # the most plaintext one TLS record carries
_FLUSH_EVERY = 32  # stanzas queued without a flush before send() writes at once
_KIND_OF_TAG = {"{jabber:client}" + kind: kind for kind in ("message", "presence", "iq")}
_read_buffers = threading.local()
_HOLD_QUEUES = 1  # a stanzas() queue is full
_HOLD_HANDLERS = 2  # max_pending_handlers coroutine handlers are running


def _read_buffer() -> memoryview:
    """This thread's receive buffer, shared by its connections: a read is consumed at once."""
    view = getattr(_read_buffers, "view", None)
    if view is None:
        view = _read_buffers.view = memoryview(bytearray(_READ_SIZE))
    return view


class _Protocol(asyncio.BufferedProtocol):
    """Feeds transport bytes into the client's stream; tracks write flow control.

    TLS runs here, on ``ssl.SSLObject`` over two memory BIOs, instead of
    through ``loop.start_tls()``: asyncio's SSL transport allocates a 256 KiB
    buffer per connection, which dominates the memory of an idle session.
    Reads go into one buffer per thread (``recv_into``), not a fresh 256 KiB
    ``bytes`` per ``recv()``.
    """

    __slots__ = ("client", "transport", "paused", "_drained", "lost", "tls", "_incoming", "_outgoing",
                 "_handshake", "_buffer", "reading_paused", "loop")

    def __init__(self, client: "Client") -> None:
        self.client = client
        self.transport: Optional[asyncio.Transport] = None
        self.paused = False  # the transport's write buffer is above its high-water mark
        self.reading_paused = False  # the client holds reading (back-pressure)
        self._drained: Optional[asyncio.Future[Any]] = None
        # kept: on Python < 3.12 asyncio.get_running_loop() makes a getpid() system call,
        # and the read and send paths need the loop once per read or flush
        self.loop = loop = asyncio.get_running_loop()
        self.lost = loop.create_future()
        self.tls: Optional[ssl.SSLObject] = None
        self._incoming: Optional[ssl.MemoryBIO] = None
        self._outgoing: Optional[ssl.MemoryBIO] = None
        self._handshake: Optional[asyncio.Future[Any]] = None
        self._buffer = _read_buffer()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream connection's

    # -- TLS ---------------------------------------------------------------------------------
    def start_tls(self, context: ssl.SSLContext, server_hostname: str,
                  session: Optional[ssl.SSLSession] = None) -> asyncio.Future[Any]:
        """Start the TLS handshake (resuming ``session`` if given); every byte received
        from now on is TLS."""
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._incoming, self._outgoing, server_side=False,
                                    server_hostname=server_hostname)
        if session is not None:
            try:
                self.tls.session = session
            except ValueError as exc:  # made by another context: a full handshake
                log.debug("not resuming a TLS session: %s", exc)
        self._handshake = self.loop.create_future()
        self._do_handshake()
        return self._handshake

    def _do_handshake(self) -> None:
        assert self.tls is not None and self._handshake is not None
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            self._send_tls()
            return
        except (ssl.SSLError, OSError) as exc:
            self._send_tls()
            if not self._handshake.done():
                self._handshake.set_exception(exc)
            return
        self._send_tls()
        if not self._handshake.done():
            self._handshake.set_result(None)
        self._handshake = None  # its awaiter holds it; the connection need not
        self._read_tls()

    def _send_tls(self) -> None:
        data = self._outgoing.read()  # type: ignore[union-attr]  # set with self.tls, which is set here
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _read_tls(self) -> None:
        tls, incoming = self.tls, self._incoming
        assert tls is not None and incoming is not None
        chunks = []
        closed = False
        # one record per read; checking what is buffered first saves the SSLWantReadError
        while incoming.pending or tls.pending():
            try:
                chunk = tls.read(_TLS_RECORD)
            except ssl.SSLWantReadError:
                break  # a partial record: the rest comes with the next read
            except ssl.SSLZeroReturnError:
                closed = True
                break
            except ssl.SSLError as exc:
                self.client._failed(exc)
                if self.transport is not None:
                    self.transport.abort()
                return
            if not chunk:
                # close_notify (read() gives b"" for it): the server will send nothing
                # more, whether or not it closes TCP; what came before it is still handled
                closed = True
                break
            chunks.append(chunk)
        if self._outgoing.pending:  # type: ignore[union-attr]  # set with self.tls
            self._send_tls()  # post-handshake messages (tickets, key updates)
        if chunks:
            self.client._data_received(self, chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if closed and self.transport is not None:
            self.client._tls_closed(self)
            self.transport.abort()  # connection_lost() follows: a loss like any other

    # -- asyncio callbacks ---------------------------------------------------------------------
    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        data = self._buffer[:nbytes]
        if self.tls is None:
            self.client._data_received(self, bytes(data))
            return
        self._incoming.write(data)  # type: ignore[union-attr]  # set with self.tls (not None here)
        if self._handshake is not None and not self._handshake.done():
            self._do_handshake()
        else:
            self._read_tls()

    def write(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self.tls is None:
            self.transport.write(data)
        else:
            self.tls.write(data)
            self._send_tls()

    def eof_received(self) -> Optional[bool]:
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.resume_writing()
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(ConnectionLost(f"connection lost during TLS handshake: {exc!r}"))
        if not self.lost.done():
            self.lost.set_result(exc)
        self.client._connection_lost(self, exc)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        waiter, self._drained = self._drained, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_writable(self) -> None:
        """Wait until the transport takes writes again (or the connection is gone)."""
        while self.paused:
            if self._drained is None:
                self._drained = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drained)


class Client(ClientBase):
    """An XMPP client session over asyncio.

    ``async with Client(jid, password, ...) as client:`` connects, negotiates
    (STARTTLS or Direct TLS, SASL, bind, stream management) and is ready;
    leaving the block closes the stream cleanly.

    ``scram_max_iterations`` caps the PBKDF2 iteration count a server may ask for in
    SCRAM (default 10,000,000, about 3 s of CPU; more fails with
    ``SASLError("mechanism-too-weak")``).  Counts above 100,000 are derived in a
    thread (the default executor), so the event loop keeps running meanwhile.
    """

    # slots keep an idle session small; "__dict__" still takes any other attribute
    __slots__ = (
        "reconnect", "keepalive", "write_buffer_limit", "max_pending_handlers",
        "_protocol", "_ready", "_iqs", "_queues", "_overflow", "_unflushed",
        "_flush_scheduled", "_tasks", "_last_rx", "_keepalive_task", "_reconnect_task",
        "on_resume_failed", "on_session_started", "on_disconnected", "_read_holds", "_resume",
        "__dict__", "__weakref__")
    _im_module = _im

    # ClientBase's features, each made on first access, with this client's classes
    roster: Feature[Roster] = ClientBase.roster.typed()
    presence: Feature[Presence] = ClientBase.presence.typed()
    subscriptions: Feature[Subscriptions] = ClientBase.subscriptions.typed()
    messages: Feature[Messages] = ClientBase.messages.typed()
    disco: Feature[Disco] = ClientBase.disco.typed()
    pinger: Feature[Pinger] = ClientBase.pinger.typed()
    software_version: Feature[SoftwareVersion] = ClientBase.software_version.typed()
    caps: Feature[Caps] = ClientBase.caps.typed()
    receipts: Feature[Receipts] = ClientBase.receipts.typed()
    chat_states: Feature[ChatStates] = ClientBase.chat_states.typed()
    carbons: Feature[Carbons] = ClientBase.carbons.typed()
    blocking: Feature[Blocking] = ClientBase.blocking.typed()
    registration: Feature[Registration] = ClientBase.registration.typed()
    muc: Feature[MUC] = ClientBase.muc.typed()
    mam: Feature[MAM] = ClientBase.mam.typed()

    def __init__(
        self,
        jid: Union[str, JID],
        password: Optional[str] = None,
        *,
        reconnect: bool = False,
        keepalive: Optional[float] = 60.0,
        write_buffer_limit: int = 1 << 20,
        max_pending_handlers: int = 1000,
        **options: Any,
    ) -> None:
        """``options``: those of :class:`~fastxmpp._client_base.ClientBase`, shared with the
        blocking client (host, port, TLS, SASL, timeouts...)."""
        super().__init__(jid, password, **options)
        self.reconnect = reconnect
        self.keepalive = keepalive
        self.write_buffer_limit = write_buffer_limit
        self._protocol: Optional[_Protocol] = None
        self._ready: Optional[asyncio.Future[Any]] = None
        self._iqs: Dict[str, asyncio.Future[Any]] = {}
        self._queues: List[asyncio.Queue[Any]] = []
        self._overflow: List[Tuple[asyncio.Queue[Any], Any]] = []
        self._read_holds = 0  # why reading is held: _HOLD_QUEUES | _HOLD_HANDLERS
        #: Coroutine handlers (tasks) in flight at most: at this count the client stops
        #: reading from the socket until half of them finished, so that TCP pushes back
        #: on a server that sends faster than the handlers keep up.
        self.max_pending_handlers = max(1, max_pending_handlers)
        self._resume: Optional[SMState] = None  # what the next reconnection resumes
        self._unflushed = 0
        self._flush_scheduled = False
        self._tasks: Dict[asyncio.Future[Any], None] = {}  # running handler tasks (smaller than a set)
        self._last_rx = 0.0
        self._keepalive_task: Optional[asyncio.Task[Any]] = None
        self._reconnect_task: Optional[asyncio.Task[Any]] = None
        self.on_resume_failed: Optional[Callable[[List[Element]], Any]] = None
        self.on_session_started: Optional[Callable[[events.SessionStarted], Any]] = None
        self.on_disconnected: Optional[Callable[[Optional[BaseException]], Any]] = None

    # -- lifecycle -----------------------------------------------------------------------------
    async def __aenter__(self) -> "Client":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def connect(self, *, resume: Optional[SMState] = None) -> None:
        """Connect, negotiate and wait until the session is ready (or raise why not).

        Returns only with a session that is still up (:attr:`is_ready`).  Each endpoint gets
        ``connect_timeout`` seconds.  Network failures and timeouts move on to the next
        endpoint and finally raise :class:`ConnectionLost`; SASL failures
        (:class:`~fastxmpp.errors.SASLError`) and stream errors
        (:class:`~fastxmpp.errors.StreamError`) are raised at once.  The session listeners
        and ``on_session_started`` run before connect() returns (a coroutine handler only
        starts): when one of them ends the session (:meth:`abort`), connect() raises
        :class:`ConnectionLost` at once, which becomes :attr:`error`; the session stays
        resumable (``connect(resume=client.stream.sm_state())``), and with ``reconnect=True``
        a new connection follows, as after any loss of a session that was up.
        """
        self._closing = False
        self.__dict__.pop("_dispatch", None)  # close() made it drop stanzas
        failures: List[Tuple[Endpoint, BaseException]] = []
        for endpoint in await self._endpoints():
            try:
                await asyncio.wait_for(self._connect_to(endpoint, resume), self.connect_timeout)
            except (OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
                log.info("connecting to %s:%s failed: %r", endpoint.host, endpoint.port, exc)
                failures.append((endpoint, exc))
                self._abort_transport()
                continue
            self._raise_unless_ready(self._alive(), ConnectionLost)  # a handler may have ended it
            self.backoff.reset()
            return
        raise ConnectionLost(connect_failure(self.jid.domain, failures, self.connect_timeout)) \
            from (failures[-1][1] if failures else None)

    async def _endpoints(self) -> List[Endpoint]:
        if self.host is not None:
            return [explicit_endpoint(self.host, self.port or (5223 if self.direct_tls else 5222),
                                      direct_tls=self.direct_tls)]
        from .dns import resolve_endpoints

        return await resolve_endpoints(self.jid.domain, nameservers=self.nameservers, port=self.dns_port)

    async def _connect_to(self, endpoint: Endpoint, resume: Optional[SMState]) -> None:
        loop = asyncio.get_running_loop()
        self.stream = ClientStream(
            self.jid, self.password, tls_active=endpoint.direct_tls, require_tls=self.require_tls,
            allow_plain_unencrypted=self.allow_plain_unencrypted, mechanisms=self.mechanisms,
            sasl_cache=self.sasl_cache, stream_management=self.stream_management, resume=resume,
            on_stanza=self._dispatch, scram_max_iterations=self.scram_max_iterations)
        self._ready = loop.create_future()
        self._endpoint, self._tls_key = endpoint, None
        self._login_begin()
        host = endpoint.host
        if self.nameservers is not None and self.host is None:
            from .dns import resolve_addresses

            host = (await resolve_addresses(host, nameservers=self.nameservers, port=self.dns_port))[0]
        transport, protocol = await loop.create_connection(lambda: _Protocol(self), host, endpoint.port)
        self._protocol = protocol  # its connection_made() got this same transport
        transport.set_write_buffer_limits(high=self.write_buffer_limit)
        self._login_mark(_CONNECTED)
        if endpoint.direct_tls:
            await self._tls_handshake(protocol, self.jid.domain)
            self._login_mark(_SECURED)
            self.stream.channel_bindings = channel_bindings_from_ssl(protocol.tls)
        self._last_rx = loop.time()
        self.stream.start()
        self._flush(protocol)
        try:
            await self._ready
        except BaseException:
            self._abort_transport()
            raise
        self._ready = None
        self._keep_tls_session(protocol)
        if self.keepalive and (self._keepalive_task is None or self._keepalive_task.done()):
            self._keepalive_task = loop.create_task(self._keepalive_loop())

    async def close(self) -> None:
        """Close the stream cleanly (RFC 6120 closing handshake) and the connection.

        Returns within ``close_timeout`` seconds whatever the server does: when its
        ``</stream:stream>`` has not come by then, the connection is dropped.  Stanzas
        that arrive after close() started are not handled (not passed to handlers or
        to :meth:`stanzas`): they are counted in :attr:`dropped_at_close`.  IQ
        responses still complete their :meth:`iq` calls; handler tasks already
        running are not waited for.
        """
        self._closing = True
        self._dispatch = self._drop_stanza  # type: ignore[method-assign]  # per-instance switch, on purpose
        if self.stream is not None:
            self.stream.on_stanza = self._drop_stanza
        for task in (self._keepalive_task, self._reconnect_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        protocol = self._protocol
        if protocol is None or protocol.transport is None:
            return
        self._read_holds = 0
        self._release_reading(0)  # read the server's answer, whatever held reading
        if self.stream is not None and self.stream.state not in ("closed", "idle"):
            self.stream.close()
            self._flush(protocol)
            try:
                await asyncio.wait_for(asyncio.shield(protocol.lost), self.close_timeout)
            except asyncio.TimeoutError:
                log.info("no </stream:stream> from the server within %gs: dropping the connection",
                         self.close_timeout)
        self._abort_transport()

    def abort(self) -> None:
        """Drop the connection at once, without ``</stream:stream>``.

        This counts as a connection loss: pending :meth:`iq` calls fail with
        :class:`ConnectionLost`, the stream management state is kept, and with
        ``reconnect=True`` a new connection resumes the session.  Load and fault
        tests use it; :meth:`close` is the clean way out.
        """
        self._abort_transport()

    def _drop_stanza(self, stanza: Element) -> None:
        self.dropped_at_close += 1

    @property
    def is_ready(self) -> bool:
        """Whether the session is up: connected, negotiated and bound, so stanzas can be sent.
        False at once after :meth:`abort` (the transport is closing), not one loop iteration
        later when the loss is reported."""
        return self._alive()

    @property
    def tls_resumed(self) -> bool:
        """Whether this connection's TLS handshake resumed an earlier session."""
        protocol = self._protocol
        return bool(protocol is not None and protocol.tls is not None and protocol.tls.session_reused)

    # -- IM (RFC 6121, fastxmpp.im): each created, with its handlers, on first use -------------
    async def send(self, stanza: Element) -> None:
        """Send a stanza; waits while the transport's write buffer is above its limit."""
        protocol, stream = self._protocol, self.stream
        if protocol is None or stream is None or stream.state != "ready" or protocol.paused:
            await self._require_ready().wait_writable()
            self._require_ready()
            stream = self.stream
        stream.send(stanza)  # type: ignore[union-attr]  # ready: _require_ready() checked it
        # _schedule_flush(), inlined: this runs once per stanza sent
        unflushed = self._unflushed + 1
        if unflushed >= _FLUSH_EVERY:
            self._flush(self._protocol)  # type: ignore[arg-type]  # connected: a stanza was just queued
        else:
            self._unflushed = unflushed
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._protocol.loop.call_soon(self._deferred_flush)  # type: ignore[union-attr]  # ready

    def send_nowait(self, stanza: Element) -> None:
        """Send without waiting for buffer space (the caller handles flow control)."""
        self._require_ready()
        self.stream.send(stanza)  # type: ignore[union-attr]  # _require_ready() checked it
        self._schedule_flush()

    async def iq(self, stanza: Element, *, timeout: Optional[float] = None) -> Element:
        """Send an IQ get/set and return its result; an error response raises a StanzaError."""
        protocol = self._require_ready()
        if protocol.paused:
            await protocol.wait_writable()
        stream = self.stream
        assert stream is not None
        iq_id = stream.send_iq(stanza)
        future = asyncio.get_running_loop().create_future()
        self._iqs[iq_id] = future
        self._flush(protocol)
        wait = timeout or self.iq_timeout
        try:
            response: Element = await asyncio.wait_for(future, wait)
        except asyncio.TimeoutError:
            raise asyncio.TimeoutError(f"no response to iq {iq_id!r} within {wait:g}s") from None
        finally:
            self._iqs.pop(iq_id, None)
            stream.cancel_iq(iq_id)
        if response.get("type") == "error":
            raise from_element(response)
        return response

    def _schedule_flush(self) -> None:
        """Write queued stanzas once per loop iteration (one TLS record and one syscall for
        a burst), or at once when many are queued, so a sender that never yields stays bounded."""
        self._unflushed += 1
        if self._unflushed >= _FLUSH_EVERY:
            self._flush(self._protocol)  # type: ignore[arg-type]  # connected: a stanza was just queued
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._protocol.loop.call_soon(self._deferred_flush)  # type: ignore[union-attr]  # a stanza was just queued

    def _deferred_flush(self) -> None:
        self._flush_scheduled = False
        if self._protocol is not None:
            self._flush(self._protocol)

    def _require_ready(self) -> _Protocol:
        protocol = self._protocol
        if protocol is None or self.stream is None or self.stream.state != "ready":
            raise ConnectionLost("not connected") from self.error
        return protocol

    # -- receiving -------------------------------------------------------------------------------

    async def stanzas(self, maxsize: int = 0) -> AsyncIterator[Element]:
        """Iterate over every received stanza (messages, presences, IQ requests).

        With ``maxsize`` > 0 a slow consumer applies back-pressure: the client
        stops reading from the socket while the queue is full (nothing is dropped).
        """
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self._queues.append(queue)
        try:
            while True:
                item = await queue.get()
                if self._overflow:
                    self._drain_overflow()
                if item is None:
                    return
                yield item
        finally:
            self._queues.remove(queue)
            self._drain_overflow()

    def _end_queues(self) -> None:
        """Tell every stanza iterator that no more stanzas will come."""
        for queue in self._queues:
            if self._overflow or queue.full():
                self._overflow.append((queue, None))
            else:
                queue.put_nowait(None)

    def _drain_overflow(self) -> None:
        """Move held-back stanzas into queues with room; resume reading when all fit."""
        while self._overflow:
            queue, item = self._overflow[0]
            if queue in self._queues and queue.full():
                return
            self._overflow.pop(0)
            if queue in self._queues:
                queue.put_nowait(item)
        self._release_reading(_HOLD_QUEUES)

    def _hold_reading(self, why: int) -> None:
        """Stop reading from the socket (TCP then pushes back on the server)."""
        self._read_holds |= why
        protocol = self._protocol
        if protocol is not None and not protocol.reading_paused and protocol.transport is not None:
            protocol.reading_paused = True
            protocol.transport.pause_reading()

    def _release_reading(self, why: int) -> None:
        """Read again once nothing else holds reading."""
        self._read_holds &= ~why
        protocol = self._protocol
        if not self._read_holds and protocol is not None and protocol.reading_paused \
                and protocol.transport is not None:
            protocol.reading_paused = False
            protocol.transport.resume_reading()

    # -- protocol callbacks ---------------------------------------------------------------------
    def _data_received(self, protocol: _Protocol, data: bytes) -> None:
        stream = self.stream
        if protocol is not self._protocol or stream is None:
            return
        try:
            stream.receive_data(data)
        except errors.XMPPError as exc:
            self._handle_events(stream.events())
            self._flush(protocol)
            self._failed(exc)
            return
        if not stream.in_stanza:
            # a sign of life is a read that ends between stanzas (a whole stanza, an SM
            # ack, a whitespace ping), not any byte: a server that drips bytes inside a
            # stanza is dead to the keepalive
            self._last_rx = protocol.loop.time()
        self._handle_events(stream.events())
        self._flush(protocol)

    def _flush(self, protocol: _Protocol) -> None:
        stream = self.stream
        if stream is None or protocol.transport is None:
            return
        self._unflushed = 0
        data = stream.data_to_send()
        if data:
            protocol.write(data)
        if stream.state == "closed" and not protocol.transport.is_closing():
            protocol.transport.close()

    def _handle_events(self, evs: List[events.Event]) -> None:
        for event in evs:
            if isinstance(event, events.StanzaReceived):
                self._dispatch(event.stanza)
            elif isinstance(event, events.IQResponseReceived):
                future = self._iqs.get(event.id)
                if future is not None and not future.done():
                    future.set_result(event.stanza)
            elif isinstance(event, events.TLSRequested):
                self._start_tls(event.server_hostname)
            elif isinstance(event, events.KeyDerivationRequested):
                self._derive_key(event.derivation)
            elif isinstance(event, events.SessionStarted):
                self._login_done(event)
                self.bound_jid = event.jid
                self._resume = None  # the stream holds the session's state now
                if self._ready is not None and not self._ready.done():
                    self._ready.set_result(event)
                for listener in self._session_listeners or ():
                    self._call(listener, event)
                if self.on_session_started is not None:
                    self._call(self.on_session_started, event)
            elif isinstance(event, events.Authenticated):
                self._login_mark(_AUTHENTICATED)
            elif isinstance(event, events.ResumeFailed):
                log.warning("stream resumption failed (%s); %d unacked stanzas handed back",
                            event.condition, len(event.unacked))
                if self.on_resume_failed is not None:
                    self._call(self.on_resume_failed, list(event.unacked))
            elif isinstance(event, events.StreamErrorReceived):
                self._failed(event.error)
            elif isinstance(event, events.StreamClosed):
                if not event.clean or not self._closing:
                    self._failed(ConnectionLost("the server closed the stream"))

    def _dispatch(self, stanza: Element) -> None:
        tag = stanza.tag
        kind = _KIND_OF_TAG.get(tag) or tag[KIND_START:]
        handlers = self._handlers.get(kind, ())
        if self._queues:  # a stanzas() consumer: most sessions have none
            for queue in self._queues:
                if self._overflow or queue.full():
                    self._overflow.append((queue, stanza))
                    if not self._read_holds & _HOLD_QUEUES:
                        self._hold_reading(_HOLD_QUEUES)
                else:
                    queue.put_nowait(stanza)
        if kind == "iq" and stanza.get("type") in ("get", "set"):
            self._dispatch_request(stanza, handlers)
            return
        for fn in handlers:
            # _call(), inlined: this runs once per stanza and handler
            try:
                result = fn(stanza)
            except Exception:
                log.exception("handler %r failed", fn)
                continue
            if result is not None and inspect.isawaitable(result):
                self._spawn(result)

    def _dispatch_request(self, request: Element, handlers: Any) -> None:
        """An IQ get/set: its payload's handler, or every on_iq handler; then the reply
        (:func:`~fastxmpp.handlers.iq_reply`) once the coroutines among them are done."""
        route = self._iq_route(request)
        if route is None and not handlers and self._queues:
            return  # a stanzas() consumer has it, and answers it
        results: List[Any] = []
        pending: List[Awaitable[Any]] = []
        for fn in (route,) if route is not None else handlers:
            try:
                result = fn(request)
            except Exception as exc:
                log.exception("handler %r failed", fn)
                result = exc
            if result is not None and inspect.isawaitable(result):
                pending.append(result)
            else:
                results.append(result)
        if pending:
            self._spawn(self._reply_when_done(request, results, pending, route is not None))
        else:
            self._send_reply(iq_reply(request, results, route is not None))

    async def _reply_when_done(self, request: Element, results: List[Any], pending: List[Awaitable[Any]],
                               routed: bool) -> None:
        for awaitable in pending:
            try:
                results.append(await awaitable)
            except Exception as exc:
                log.exception("IQ handler failed")
                results.append(exc)
        self._send_reply(iq_reply(request, results, routed))

    def _send_reply(self, reply: Optional[Element]) -> None:
        if reply is not None and self._protocol is not None and self.is_ready:
            self.send_nowait(reply)

    def _call(self, fn: Callable[[Any], Any], arg: Any) -> None:
        try:
            result = fn(arg)
        except Exception:
            log.exception("handler %r failed", fn)
            return
        if result is not None and inspect.isawaitable(result):
            self._spawn(result)

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        tasks = self._tasks
        tasks[task] = None
        task.add_done_callback(self._task_done)
        if len(tasks) >= self.max_pending_handlers:
            self._hold_reading(_HOLD_HANDLERS)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        tasks = self._tasks
        tasks.pop(task, None)
        if self._read_holds & _HOLD_HANDLERS and len(tasks) <= self.max_pending_handlers // 2:
            self._release_reading(_HOLD_HANDLERS)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def _derive_key(self, derivation: Any) -> None:
        """SCRAM waits for a long PBKDF2: run it in a thread (it releases the GIL), the loop goes on."""
        future = asyncio.get_running_loop().run_in_executor(None, derivation.run)
        future.add_done_callback(functools.partial(self._key_derived, self._protocol))

    def _key_derived(self, protocol: Optional[_Protocol], future: asyncio.Future[Any]) -> None:
        stream = self.stream
        if protocol is None or protocol is not self._protocol or stream is None or future.cancelled():
            return  # that connection is gone
        try:
            stream.key_derived(future.result())
        except Exception as exc:  # noqa: BLE001 - the login fails with it
            self._failed(exc)
            self._abort_transport()
            return
        self._flush(protocol)

    def _start_tls(self, hostname: str) -> None:
        """<proceed/> arrived: hand every following byte to TLS at once, restart when done."""
        protocol = self._protocol
        assert protocol is not None
        handshake = self._tls_handshake(protocol, hostname)
        handshake.add_done_callback(functools.partial(self._tls_done, protocol))

    def _tls_handshake(self, protocol: _Protocol, hostname: str) -> asyncio.Future[Any]:
        """Start TLS on ``protocol``, resuming a pooled session when there is one."""
        name = server_hostname_for(hostname)
        session = None
        cache, endpoint = self.tls_session_cache, self._endpoint
        if cache is not None and endpoint is not None:
            session = cache.take(self.ssl_context, name, endpoint.host, endpoint.port)
            self._tls_key = (name, endpoint.host, endpoint.port, session is not None)
        return protocol.start_tls(self.ssl_context, name, session)

    def _keep_tls_session(self, protocol: _Protocol) -> None:
        """Logged in: give this connection's newest TLS session to the pool."""
        cache, key = self.tls_session_cache, self._tls_key
        if cache is not None and key is not None and protocol.tls is not None:
            cache.put(protocol.tls, *key)

    def _tls_done(self, protocol: _Protocol, handshake: asyncio.Future[Any]) -> None:
        stream = self.stream
        assert stream is not None
        if handshake.cancelled():
            return
        exc = handshake.exception()
        if exc is not None:  # ssl.SSLError, OSError or ConnectionLost
            self._failed(exc)
            self._abort_transport()
            return
        self._login_mark(_SECURED)
        try:
            stream.tls_established(channel_bindings_from_ssl(protocol.tls))
        except errors.XMPPError as err:
            self._failed(err)
        self._flush(protocol)

    def _tls_closed(self, protocol: _Protocol) -> None:
        """close_notify: the end of the stream, an error unless the stream had ended."""
        stream = self.stream
        if protocol is self._protocol and stream is not None and stream.state != "closed":
            self._failed(ConnectionLost("the server ended TLS (close_notify)"))

    def _failed(self, exc: BaseException) -> None:
        if self.error is None or not self.is_ready:
            self.error = exc
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(exc)
        for future in self._iqs.values():
            if not future.done():
                future.set_exception(ConnectionLost(str(exc)))

    def _connection_lost(self, protocol: _Protocol, exc: Optional[BaseException]) -> None:
        if protocol is not self._protocol:
            return
        stream = self.stream
        resume, lost_stanzas = stream.connection_lost() if stream is not None else (None, [])
        if stream is not None:
            stream.events()
        lost = ConnectionLost(f"connection lost: {exc!r}" if exc else "connection closed")
        self._failed(lost if self.error is None else self.error)
        if self.on_disconnected is not None:
            self._call(self.on_disconnected, exc)
        if self._closing:
            self._end_queues()
            return
        if lost_stanzas:  # the session cannot be resumed: never drop stanzas silently
            log.warning("connection lost before stream management was confirmed; "
                        "%d unacked stanzas handed back", len(lost_stanzas))
            if self.on_resume_failed is not None:
                self._call(self.on_resume_failed, lost_stanzas)
        if stream is not None:
            self._resume = resume
        # every loss of a session that was up leads to a new attempt, whatever the
        # reconnect loop is doing: a running loop sees the loss once connect() returns
        if self.reconnect and self.bound_jid is not None and \
                (self._reconnect_task is None or self._reconnect_task.done()):
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect_loop())

    def _alive(self) -> bool:
        protocol, stream = self._protocol, self.stream
        return protocol is not None and not protocol.lost.done() and stream is not None \
            and stream.state == "ready" \
            and protocol.transport is not None and not protocol.transport.is_closing()  # not abort()ed

    def _abort_transport(self) -> None:
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None:
            protocol.transport.abort()

    async def _reconnect_loop(self) -> None:
        """Connect again until a session is up and still alive (resuming ``_resume``,
        which each loss updates); a loss while connect() runs is seen when it returns."""
        while not self._closing and not self._alive():
            delay = self.backoff.next_delay()
            if self.max_reconnect_attempts is not None and self.backoff.attempts > self.max_reconnect_attempts:
                log.error("giving up reconnecting after %d attempts", self.backoff.attempts - 1)
                self._end_queues()
                return
            log.info("reconnecting in %.2fs (attempt %d)", delay, self.backoff.attempts)
            await asyncio.sleep(delay)
            if self._closing:
                return
            try:
                self.error = None
                await self.connect(resume=self._resume)
            except errors.SASLError as exc:
                log.error("reconnect failed, not trying again: %r", exc)
                self.error = exc
                self._end_queues()
                return
            except Exception as exc:  # noqa: BLE001 - every failure leads to a new attempt
                log.info("reconnect failed: %r", exc)

    async def _keepalive_loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.keepalive
        while not self._closing:
            await asyncio.sleep(self.keepalive)
            protocol, stream = self._protocol, self.stream
            if protocol is None or stream is None or stream.state != "ready":
                continue
            if loop.time() - self._last_rx > self.keepalive + self.dead_timeout:
                log.warning("no data from the server for %.0fs: connection is dead",
                            loop.time() - self._last_rx)
                self._abort_transport()
                continue
            # a session that had a burst of traffic gives its parser memory back
            stream.compact()
            if stream.sm.active:
                stream.request_ack()
            else:
                ping = Element("{jabber:client}iq", {"type": "get", "to": self.jid.domain})
                ping.subelement("{urn:xmpp:ping}ping")
                stream.send_iq(ping)
            self._flush(protocol)

