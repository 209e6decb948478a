"""The blocking client: one ClientStream (sans-IO core) driven over a plain socket.

No background threads: every byte is read inside a call the application
makes (:meth:`Client.connect`, :meth:`Client.process`, :meth:`Client.recv`,
:meth:`Client.iq`...), with per-call socket timeouts.  Under gevent
(``gevent.monkey.patch_all()``, and so under Locust) :mod:`socket`, :mod:`ssl`
and :func:`time.sleep` become cooperative, so each greenlet can own a client.

A client is not thread-safe: use it from one thread (or one greenlet) at a time.
Handlers run inside the call that read their stanza; they may call
:meth:`Client.send` and even :meth:`Client.iq`.

::

    with Client("juliet@example.com/balcony", "secret") as client:
        client.send(message(to="romeo@example.net", body="hi"))
        reply = client.recv(timeout=10)
"""
from __future__ import annotations

import logging
import socket
import ssl
import time
from collections import deque
from typing import (
    TYPE_CHECKING, Any, Callable, Deque, Dict, Iterator, List, Optional, Set, Tuple, Union, cast)

from .. import errors, events
from ..connect import Endpoint, connect_failure, explicit_endpoint
from ..element import Element
from .._client_base import _AUTHENTICATED, _CONNECTED, _SECURED, ClientBase, Feature
from ..handlers import iq_reply
from ..jid import JID, JIDLike
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

log = logging.getLogger("fastxmpp.sync")

NS_CLIENT = "jabber:client"
NS_PING = "urn:xmpp:ping"
RECV_SIZE = 65536
#: Reads :meth:`Client.process` makes, without waiting, after its first one (4 MiB at most).
_DRAIN_READS = 64

_TIMEOUTS = (socket.timeout, BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
_CLOSED_BY_CLIENT = "connection closed by the client (close() was called)"


class ConnectionLost(errors.XMPPError, ConnectionError):
    """The connection ended before the operation finished."""


class Client(ClientBase):
    """An XMPP client session over a blocking socket.

    ``with Client(jid, password, ...) as client:`` connects, negotiates
    (STARTTLS or Direct TLS, SASL, bind, stream management) and is ready;
    leaving the block closes the stream cleanly.

    Received stanzas go to the handlers registered for their kind
    (:meth:`on_message`, :meth:`on_presence`, :meth:`on_iq`); a stanza of a
    kind without handlers is queued for :meth:`recv`, except an IQ get/set,
    which is answered with ``service-unavailable`` (RFC 6120 8.4).

    ``scram_max_iterations`` caps the PBKDF2 iteration count a server may ask for in
    SCRAM (default 10,000,000; more fails with ``SASLError("mechanism-too-weak")``).
    """

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
        keepalive_interval: Optional[float] = 60.0,
        send_timeout: Optional[float] = 30.0,
        max_queued: Optional[int] = None,
        **options: Any,
    ) -> None:
        """``options``: those of :class:`~fastxmpp._client_base.ClientBase`, shared with the
        asyncio client (host, port, TLS, SASL, timeouts...)."""
        super().__init__(jid, password, **options)
        self.keepalive_interval = keepalive_interval
        self.send_timeout = send_timeout
        #: SASL mechanism of the last successful authentication.
        self.mechanism: Optional[str] = None
        #: Unacknowledged stanzas of a session that could not be resumed (when
        #: no ``on_resume_failed`` callback takes them).
        self.resume_failed_stanzas: List[Element] = []
        self.on_resume_failed: Optional[Callable[[List[Element]], Any]] = None
        self.on_session_started: Optional[Callable[[events.SessionStarted], Any]] = None
        self.on_stanzas_acked: Optional[Callable[[List[Element]], Any]] = None
        self._sock: Optional[socket.socket] = None
        self._session: Optional[events.SessionStarted] = None
        self._queue: Deque[Element] = deque()
        self._max_queued = max_queued
        self._iq_waiting: Set[str] = set()
        self._iq_results: Dict[str, Element] = {}
        self._dispatched = 0
        self._last_rx = 0.0
        self._probe_at: Optional[float] = None
        self._tls = False

    def __repr__(self) -> str:
        state = self.stream.state if self.stream is not None else "idle"
        return f"<fastxmpp.sync.Client {self.bound_jid or self.jid} {state}>"

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> "Client":
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def connect(self, *, resume: Optional[SMState] = None) -> events.SessionStarted:
        """Connect, negotiate and return the session's event once it is ready (or raise why not).

        Returns only a session that is still up: :attr:`is_ready` is True and :attr:`error`
        None.  Each endpoint gets ``connect_timeout`` seconds.  Network failures move on to
        the next endpoint and finally raise :class:`ConnectionLost`; SASL failures
        (:class:`~fastxmpp.errors.SASLError`) and stream errors
        (:class:`~fastxmpp.errors.StreamError`) are raised at once.  The session listeners
        and ``on_session_started`` run inside connect(): when one of them ends the session
        (:meth:`abort`, :meth:`close`), connect() raises :class:`ConnectionLost` at once (it
        becomes :attr:`error` after abort(); the session stays resumable with
        :meth:`reconnect`).
        """
        self._closing = False
        self.__dict__.pop("_dispatch", None)  # close() made it drop stanzas
        self._abort()
        failures: List[Tuple[Endpoint, BaseException]] = []
        for endpoint in self._endpoints():
            try:
                session = self._connect_to(endpoint, resume)
            except OSError as exc:  # includes socket.timeout, ssl.SSLError, ConnectionLost
                log.info("connecting to %s:%s failed: %r", endpoint.host, endpoint.port, exc)
                failures.append((endpoint, exc))
                self._abort()
                continue
            except BaseException:
                self._abort()
                raise
            self._raise_unless_ready(self.is_ready, ConnectionLost)  # a handler may have ended it
            self.backoff.reset()
            self.error = None
            return session
        raise ConnectionLost(connect_failure(self.jid.domain, failures, self.connect_timeout)) \
            from (failures[-1][1] if failures else None)

    def _endpoints(self) -> List[Endpoint]:
        if self.host is not None:
            return [explicit_endpoint(self.host, self.port or (5223 if self.direct_tls else 5222),
                                      direct_tls=self.direct_tls)]
        from .dns import resolve_endpoints

        return resolve_endpoints(self.jid.domain, nameservers=self.nameservers, port=self.dns_port)

    def _connect_to(self, endpoint: Endpoint, resume: Optional[SMState]) -> events.SessionStarted:
        deadline = time.monotonic() + self.connect_timeout
        stream = self.stream = ClientStream(
            self.jid, self.password, tls_active=endpoint.direct_tls, require_tls=self.require_tls,
            allow_plain_unencrypted=self.allow_plain_unencrypted, mechanisms=self.mechanisms,
            sasl_cache=self.sasl_cache, stream_management=self.stream_management, resume=resume,
            scram_max_iterations=self.scram_max_iterations)
        self._session = None
        self._tls = False
        self._login_begin()
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=self.connect_timeout)
        self._sock = sock
        self._login_mark(_CONNECTED)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - not TCP (tests may hand us something else)
            pass
        self._tls_key = None
        self._endpoint = endpoint
        if endpoint.direct_tls:
            sock.settimeout(_remaining(deadline))
            tls = self._wrap_tls(sock, self.jid.domain)
            stream.channel_bindings = channel_bindings_from_ssl(tls)
        self._last_rx = time.monotonic()
        self._probe_at = None
        stream.start()
        self._flush()
        # ready once bound (or resumed) and, when we asked for stream management, once the
        # server answered <enable/>: sm_state() is then usable from the start
        while self._session is None or (stream.sm.enabled and not stream.sm.active):
            if not self._read_some(deadline):
                raise socket.timeout(f"stream negotiation with {endpoint.host}:{endpoint.port}"
                                     f" timed out after {self.connect_timeout:g}s")
        self._keep_tls_session()
        return self._session

    def close(self) -> None:
        """Close the stream cleanly (RFC 6120 closing handshake) and the connection.

        Returns within ``close_timeout`` seconds whatever the server does: when its
        ``</stream:stream>`` has not come by then, the connection is dropped.  Stanzas
        that arrive after close() started are not handled (no handler, no
        :meth:`recv`): they are counted in :attr:`dropped_at_close`.  Never raises
        for network errors.
        """
        self._closing = True
        self._dispatch = self._drop_stanza  # type: ignore[method-assign]  # per-instance switch, on purpose
        stream = self.stream
        if self._sock is None:
            return
        try:
            if stream is not None and stream.state not in ("closed", "idle"):
                deadline = time.monotonic() + self.close_timeout
                stream.close()
                self._flush()
                while stream.state != "closed" and self._sock is not None and time.monotonic() < deadline:
                    self._read_some(deadline)
        except (errors.XMPPError, OSError) as exc:
            log.debug("error while closing: %r", exc)
        finally:
            self._abort()

    def abort(self) -> None:
        """Drop the connection at once, without ``</stream:stream>``.

        This counts as a connection loss: the next call that reads or sends raises
        :class:`ConnectionLost`, and the stream management state is kept, so
        :meth:`reconnect` resumes the session.  Load and fault tests use it;
        :meth:`close` is the clean way out.
        """
        stream = self.stream
        if stream is not None and self._sock is not None:
            stream.receive_eof()
            stream.events()
            self.error = ConnectionLost("connection aborted by the application (abort())")
        self._abort()

    def _drop_stanza(self, stanza: Element) -> None:
        self.dropped_at_close += 1

    def reconnect(self, *, max_attempts: Optional[int] = None) -> events.SessionStarted:
        """Drop the current connection and connect again, resuming the session (XEP-0198).

        Waits a :class:`~fastxmpp.backoff.Backoff` delay before each attempt.  When the
        session cannot be resumed, a fresh one is negotiated and the stanzas the server
        never acknowledged go to ``on_resume_failed`` (or ``resume_failed_stanzas``).
        Gives up after ``max_attempts`` (default ``max_reconnect_attempts``, None:
        never) with :class:`ConnectionLost`; a SASL failure is raised at once.
        """
        limit = max_attempts if max_attempts is not None else self.max_reconnect_attempts
        resume = self._after_loss()
        self._abort()
        last: Optional[BaseException] = None
        while True:
            delay = self.backoff.next_delay()
            if limit is not None and self.backoff.attempts > limit:
                raise ConnectionLost(f"gave up reconnecting after {limit} attempts: {last!r}") from last
            log.info("reconnecting in %.2fs (attempt %d)", delay, self.backoff.attempts)
            time.sleep(delay)
            try:
                return self.connect(resume=resume)
            except errors.SASLError:
                raise
            except (errors.XMPPError, OSError) as exc:
                log.info("reconnect failed: %r", exc)
                last = exc
                # the attempt may have got anywhere (resumed, failed to resume, bound a
                # fresh session) before it broke: its stream says what to resume now
                resume = self._after_loss()

    def _after_loss(self) -> Optional[SMState]:
        """What the next connection resumes; stanzas no resumption can deliver are handed back."""
        stream = self.stream
        if stream is None:
            return None
        resume, lost = stream.connection_lost()
        stream.events()
        if lost:
            self._hand_back(lost, "not-resumable")
        return resume

    @property
    def is_ready(self) -> bool:
        """Whether the session is up: connected, negotiated and bound, so stanzas can be sent."""
        return self._sock is not None and self.stream is not None and self.stream.state == "ready"

    @property
    def tls_resumed(self) -> bool:
        """Whether this connection's TLS handshake resumed an earlier session."""
        sock = self._sock
        # _tls: sock is what _wrap_tls() made (an ssl.SSLSocket, or gevent's, not a subclass)
        return bool(self._tls and sock is not None and cast(ssl.SSLSocket, sock).session_reused)

    # -- sending ---------------------------------------------------------------------------------
    def send(self, stanza: Element) -> None:
        """Send a stanza (blocks until the kernel took it).

        With stream management, a stanza whose write fails with :class:`ConnectionLost`
        is still in the unacknowledged queue and is retransmitted by :meth:`reconnect`.
        """
        stream = self._require_ready()
        stream.send(stanza)
        self._flush()

    def iq(self, stanza: Element, *, timeout: Optional[float] = None) -> Element:
        """Send an IQ get/set and return its result; an error response raises a StanzaError.

        Other stanzas arriving meanwhile are dispatched as usual.  No response within
        ``timeout`` (default ``iq_timeout``) seconds raises :class:`TimeoutError`.
        """
        stream = self._require_ready()
        iq_id = stream.send_iq(stanza)
        self._iq_waiting.add(iq_id)
        wait = timeout or self.iq_timeout
        try:
            self._flush()
            deadline = time.monotonic() + wait
            while iq_id not in self._iq_results:
                if not self._read_some(deadline):
                    raise TimeoutError(f"no response to iq {iq_id!r} within {wait:g}s")
            response = self._iq_results.pop(iq_id)
        finally:
            self._iq_waiting.discard(iq_id)
            self._iq_results.pop(iq_id, None)
            stream.cancel_iq(iq_id)
        if response.get("type") == "error":
            raise from_element(response)
        return response

    def ping(self, to: Optional[JIDLike] = None, *, timeout: Optional[float] = None) -> Element:
        """XEP-0199 ping (``to`` defaults to our server)."""
        iq = Element("{jabber:client}iq", {"type": "get", "to": str(to) if to is not None else self.jid.domain})
        iq.subelement("{%s}ping" % NS_PING)
        return self.iq(iq, timeout=timeout)

    def request_ack(self) -> None:
        """Send an XEP-0198 ``<r/>`` (no-op without stream management)."""
        stream = self._require_ready()
        stream.request_ack()
        self._flush()

    def wait_for_acks(self, timeout: Optional[float] = None) -> None:
        """Request an ack and read until the server acknowledged every stanza sent so far."""
        stream = self._require_ready()
        if not stream.sm.enabled:
            return
        wait = timeout or self.iq_timeout
        deadline = time.monotonic() + wait
        if stream.sm.state.unacked:
            stream.request_ack()
            self._flush()
        while stream.sm.state.unacked:
            if not self._read_some(deadline):
                raise TimeoutError(f"stanzas still unacknowledged after {wait:g}s")

    def keepalive(self) -> None:
        """Send a whitespace keepalive (RFC 6120 4.6.1) now."""
        stream = self._require_ready()
        stream.keepalive()
        self._flush()

    def sm_state(self) -> Optional[SMState]:
        """Stream management state to resume from (None when the session is not resumable)."""
        return self.stream.sm_state() if self.stream is not None else None

    def _require_ready(self) -> ClientStream:
        stream = self.stream
        if self._sock is None or stream is None or stream.state != "ready":
            raise ConnectionLost("not connected") from self.error
        return stream

    # -- receiving -------------------------------------------------------------------------------

    def process(self, timeout: Optional[float] = None) -> int:
        """Wait for data (at most ``timeout`` seconds, None: until data comes), then
        dispatch every stanza already received: the first read, and whatever more the
        TLS layer and the kernel hold, read without waiting (at most ``_DRAIN_READS``
        reads, so that a flood cannot keep one call going).  Returns how many stanzas
        were dispatched."""
        before = self._dispatched
        if self._read_some(None if timeout is None else time.monotonic() + timeout):
            for _ in range(_DRAIN_READS):
                if self._sock is None or not self._read_some(0.0):  # a deadline in the past: read without waiting
                    break
        return self._dispatched - before

    def recv(self, timeout: Optional[float] = None) -> Optional[Element]:
        """The next queued stanza, reading as needed; None after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._queue:
            if not self._read_some(deadline):
                return None
        return self._queue.popleft()

    def stanzas(self) -> Iterator[Element]:
        """Iterate over queued stanzas as they come; ends when :meth:`close` was called."""
        while True:
            try:
                stanza = self.recv()
            except ConnectionLost:
                if self._closing and not self._queue:
                    return
                raise
            if stanza is not None:
                yield stanza

    # -- the read loop ----------------------------------------------------------------------------
    def _read_some(self, deadline: Optional[float]) -> bool:
        """Read and process one chunk; False when ``deadline`` passed first."""
        while True:
            sock = self._sock
            if sock is None:
                raise ConnectionLost(_CLOSED_BY_CLIENT if self._closing else "not connected") from self.error
            if self._tls and _tls_gone(sock):
                self._lost(None)
            now = time.monotonic()
            timeout = None if deadline is None else max(0.0, deadline - now)
            check = self._next_keepalive_check()
            if check is not None:
                wait = max(0.0, check - now)
                timeout = wait if timeout is None else min(timeout, wait)
            try:
                sock.settimeout(timeout)
                data = sock.recv(RECV_SIZE)
            except _TIMEOUTS:
                now = time.monotonic()
                if check is not None and now >= check:
                    self._keepalive_check(now)
                if deadline is not None and now >= deadline:
                    return False
                continue
            except OSError as exc:
                self._lost(exc)
            if not data:
                self._lost(None)
            self._feed(data)
            if check is not None:  # data that keeps coming without a whole stanza
                check = self._next_keepalive_check()
                now = time.monotonic()
                if check is not None and now >= check:
                    self._keepalive_check(now)
            return True

    def _feed(self, data: bytes) -> None:
        stream = self.stream
        assert stream is not None
        failure: Optional[BaseException] = None
        try:
            stream.receive_data(data)
        except errors.XMPPError as exc:
            failure = exc
        if not stream.in_stanza:
            # a sign of life is a read that ends between stanzas (a whole stanza, an SM
            # ack, a whitespace ping), not any byte: a server that drips bytes inside a
            # stanza is dead to the keepalive
            self._last_rx = time.monotonic()
            self._probe_at = None
        err = self._handle_events(stream.events())
        if failure is None:
            failure = err
        if failure is not None:
            try:
                self._flush()
            except ConnectionLost:
                pass
            self._fail(failure)
        self._flush()

    def _flush(self) -> None:
        stream, sock = self.stream, self._sock
        if stream is None or sock is None:
            return
        data = stream.data_to_send()
        if not data:
            return
        if self._tls and _tls_gone(sock):
            self._lost(None)
        try:
            sock.settimeout(self.send_timeout)
            sock.sendall(data)
        except OSError as exc:  # a timed-out sendall may have written part: the stream is broken
            self._lost(exc)

    def _handle_events(self, evs: List[events.Event]) -> Optional[BaseException]:
        failure: Optional[BaseException] = None
        for event in evs:
            if isinstance(event, events.StanzaReceived):
                self._dispatch(event.stanza)
            elif isinstance(event, events.IQResponseReceived):
                if event.id in self._iq_waiting:
                    self._iq_results[event.id] = event.stanza
                else:
                    log.debug("dropping the response to iq %r: nobody waits for it", event.id)
            elif isinstance(event, events.TLSRequested):
                try:
                    self._starttls(event.server_hostname)
                except errors.XMPPError as exc:
                    failure = failure or exc
            elif isinstance(event, events.KeyDerivationRequested):  # no event loop to keep free
                cast(ClientStream, self.stream).key_derived(event.derivation.run())
            elif isinstance(event, events.Authenticated):
                self.mechanism = event.mechanism
                self._login_mark(_AUTHENTICATED)
            elif isinstance(event, events.SessionStarted):
                self._login_done(event)
                self.bound_jid = event.jid
                self._session = event
                for listener in self._session_listeners or ():
                    self._call(listener, event)
                if self.on_session_started is not None:
                    self._call(self.on_session_started, event)
            elif isinstance(event, events.StanzasAcked):
                if self.on_stanzas_acked is not None:
                    self._call(self.on_stanzas_acked, list(event.stanzas))
            elif isinstance(event, events.ResumeFailed):
                self._hand_back(list(event.unacked), event.condition)
            elif isinstance(event, events.StreamErrorReceived):
                failure = event.error
            elif isinstance(event, events.StreamClosed):
                if not self._closing and failure is None:
                    failure = ConnectionLost("the server closed the stream")
        return failure

    def _starttls(self, hostname: str) -> None:
        # Nothing may be read from the plain socket after <proceed/>: the core holds back
        # whatever followed it in the same read, and tls_established() refuses it.
        stream, sock = self.stream, self._sock
        assert stream is not None and sock is not None
        self._flush()
        sock.settimeout(self.connect_timeout)
        tls = self._wrap_tls(sock, hostname)
        stream.tls_established(channel_bindings_from_ssl(tls))
        self._flush()

    def _wrap_tls(self, sock: socket.socket, hostname: str) -> ssl.SSLSocket:
        """The TLS handshake on ``sock``, resuming a pooled session when there is one."""
        name = server_hostname_for(hostname)
        tls = self.ssl_context.wrap_socket(sock, server_hostname=name, do_handshake_on_connect=False)
        self._sock = tls
        cache = self.tls_session_cache
        if cache is not None:
            endpoint = self._endpoint
            assert endpoint is not None
            session = cache.take(self.ssl_context, name, endpoint.host, endpoint.port)
            self._tls_key = (name, endpoint.host, endpoint.port, session is not None)
            if session is not None:
                try:
                    tls.session = session
                except ValueError as exc:  # made by another context: a full handshake
                    log.debug("not resuming a TLS session: %s", exc)
        tls.do_handshake()
        self._login_mark(_SECURED)
        self._tls = True
        return tls

    def _keep_tls_session(self) -> None:
        """Logged in: give this connection's newest TLS session to the pool."""
        cache, key, sock = self.tls_session_cache, self._tls_key, self._sock
        if cache is not None and key is not None and self._tls and sock is not None:
            cache.put(sock, *key)

    def _dispatch(self, stanza: Element) -> None:
        self._dispatched += 1
        kind = stanza.tag[len(NS_CLIENT) + 2:]
        handlers = self._handlers.get(kind)
        if kind == "iq" and stanza.get("type") in ("get", "set"):
            self._dispatch_request(stanza, handlers or ())
        elif handlers:
            for fn in list(handlers):
                self._call(fn, stanza)
        else:
            if self._max_queued is not None and len(self._queue) >= self._max_queued:
                log.warning("receive queue full (%d): dropping the oldest stanza", self._max_queued)
                self._queue.popleft()
            self._queue.append(stanza)

    def _dispatch_request(self, request: Element, handlers: Any) -> None:
        """An IQ get/set: its payload's handler, or every on_iq handler, then the reply
        (:func:`~fastxmpp.handlers.iq_reply`)."""
        route = self._iq_route(request)
        results: List[Any] = []
        for fn in (route,) if route is not None else list(handlers):
            try:
                results.append(fn(request))
            except Exception as exc:
                log.exception("handler %r failed", fn)
                results.append(exc)
        reply = iq_reply(request, results, route is not None)
        if reply is not None and self.is_ready:
            self.send(reply)

    def _hand_back(self, stanzas: List[Element], condition: Optional[str]) -> None:
        log.warning("stream resumption failed (%s); %d unacked stanzas handed back",
                    condition, len(stanzas))
        if self.on_resume_failed is not None:
            self._call(self.on_resume_failed, stanzas)
        else:
            self.resume_failed_stanzas.extend(stanzas)

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("handler %r failed", fn)

    # -- keepalive / dead connection detection ------------------------------------------------
    def _next_keepalive_check(self) -> Optional[float]:
        interval = self.keepalive_interval
        stream = self.stream
        if not interval or stream is None or stream.state != "ready":
            return None
        if self._probe_at is not None:
            return self._probe_at + self.dead_timeout
        return self._last_rx + interval

    def _keepalive_check(self, now: float) -> None:
        stream = self.stream
        if stream is None or stream.state != "ready":
            return
        if self._probe_at is not None:
            log.warning("no data from the server for %.0fs: connection is dead", now - self._last_rx)
            self._lost(socket.timeout("keepalive: the server did not answer"))
        self._probe_at = now
        stream.compact()   # quiet for a whole interval: give the parser memory back
        if stream.sm.active:
            stream.request_ack()
        else:
            ping = Element("{jabber:client}iq", {"type": "get", "to": self.jid.domain})
            ping.subelement("{%s}ping" % NS_PING)
            stream.send_iq(ping)
        self._flush()

    # -- failures -------------------------------------------------------------------------------
    def _lost(self, exc: Optional[BaseException]) -> None:
        if self._closing:  # after our own close(), whatever the socket says: we closed it
            lost = ConnectionLost(_CLOSED_BY_CLIENT)
        else:
            lost = ConnectionLost(f"connection lost: {exc!r}" if exc else "connection closed by the server")
        if exc is not None:
            lost.__cause__ = exc
        self._fail(lost)

    def _fail(self, exc: BaseException) -> None:
        """The connection is over: remember why, drop the socket, raise ``exc``."""
        stream = self.stream
        if stream is not None:
            stream.receive_eof()
            stream.events()
        if not self._closing:
            self.error = exc
        self._abort()
        raise exc

    def _abort(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:  # pragma: no cover
                pass


def _tls_gone(sock: socket.socket) -> bool:
    # ssl.SSLSocket.shutdown() (and gevent's) drops the TLS object: recv() and send() then
    # go straight to the TCP socket and would hand us ciphertext, or send plaintext.
    return getattr(sock, "_sslobj", None) is None


def _remaining(deadline: float) -> float:
    return max(0.001, deadline - time.monotonic())
