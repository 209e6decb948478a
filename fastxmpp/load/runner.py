"""The load-test runner: many :class:`fastxmpp.aio.Client` sessions in one event loop.

Phases: (optional) in-band registration, logins (``concurrency`` in flight),
traffic for the scenario, a bounded drain, and closing.  Every phase is
bounded: traffic stops at the ``duration`` cap, the drain after at most
``drain`` seconds, closing after a few more.

Scenarios:

``login``
    log every user in, then close.
``chat``
    users are paired (an odd user out joins the last pair, making a ring of
    three); each sends ``messages`` chat messages to its peer's full JID at
    ``rate`` messages/s (0: as fast as write flow control allows).  Every
    message carries ``<x xmlns='urn:fastxmpp:load:0' t='...' seq='...'/>``:
    ``t`` is the send time in microseconds since the Unix epoch, ``seq`` the
    message's number for that sender.  The receiver records the latency
    (receipt time minus ``t``) and checks that each ``seq`` arrives once.
``presence``
    like ``chat`` with directed ``<presence/>`` stanzas (after an initial
    presence), exercising the server's presence routing.
``idle``
    every user logs in, sends its initial presence and holds the session open for
    ``hold`` seconds with whitespace keepalives; the report gives the most sessions
    open at once (the connection ceiling when logins start failing).
``iq``
    each user sends ``messages`` pings (XEP-0199), to the server or with
    ``iq_target='peer'`` to its peer (whose client answers), and records the
    round-trip time; a timeout counts as lost.
"""
from __future__ import annotations

import asyncio
import logging
import math
import random
import signal
import ssl
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, TextIO, Tuple, TypedDict

from .. import events
from ..element import Element
from ..errors import SASLError, StreamError
from ..sasl import ScramKeyCache
from ..stanza_errors import StanzaError
from ..tlsconfig import make_client_context
from ..tlssessions import TLSSessionCache
from .histogram import Histogram
from .timeseries import TimeSeries

__all__ = ["LoadConfig", "LoadRunner", "Target", "run_load", "run_loop", "error_kind", "SCENARIOS",
           "NS_LOAD", "LOGIN_PHASES", "ERROR_KINDS"]

log = logging.getLogger("fastxmpp.load")

NS_LOAD = "urn:fastxmpp:load:0"
NS_PING = "urn:xmpp:ping"
SCENARIOS = ("login", "chat", "presence", "iq", "idle")
#: The parts of a login that are timed, in order (each from the end of the one before):
#: TCP connect, TLS (stream header, STARTTLS and the handshake), SASL (from TLS up and
#: including the key derivation), bind (resource binding, stream management enabled).
LOGIN_PHASES = ("tcp", "tls", "sasl", "bind")
#: The kinds of errors the report counts (``error_kinds``), see :func:`error_kind`.
ERROR_KINDS = ("stream-error", "sasl-failure", "stanza-error", "timeout", "disconnect", "other")

_X = "{%s}x" % NS_LOAD
_MESSAGE = "{jabber:client}message"
_PRESENCE = "{jabber:client}presence"
_IQ = "{jabber:client}iq"
_BODY = "{jabber:client}body"
_PING = "{%s}ping" % NS_PING


@dataclass
class LoadConfig:
    """What to run; the CLI fills it from its options (see ``python -m fastxmpp load --help``)."""

    users: int = 50
    password: str = "load-test-pw"
    user_prefix: str = "load"
    resource: str = "load"
    register: bool = False
    concurrency: int = 20
    scenario: str = "chat"
    messages: int = 100
    rate: float = 10.0
    body_size: int = 0
    iq_target: str = "server"
    duration: float = 60.0
    drain: float = 5.0
    iq_timeout: float = 10.0
    login_timeout: float = 30.0
    stream_management: bool = True
    tls_resume: bool = False
    quiet: bool = False
    #: Open-model arrival (``--phase RATE:SECONDS``): new sessions per second for so many
    #: seconds, phase after phase (like Tsung's phases); empty: every user at once, at most
    #: ``concurrency`` logins in flight (the closed model).
    phases: List[Tuple[float, float]] = field(default_factory=list)
    #: ``poisson`` (exponential gaps) or ``constant`` gaps between arrivals.
    arrival: str = "poisson"
    #: ``idle``: how long the sessions are held open (within the ``duration`` cap).
    hold: float = 10.0

    def validate(self) -> None:
        if self.users < 1:
            raise ValueError("--users must be at least 1")
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}")
        if self.scenario in ("chat", "presence") and self.users < 2:
            raise ValueError(f"the {self.scenario} scenario needs at least 2 users")
        if self.iq_target == "peer" and self.scenario == "iq" and self.users < 2:
            raise ValueError("--iq-target peer needs at least 2 users")
        if self.concurrency < 1:
            raise ValueError("--concurrency must be at least 1")
        if self.messages < 0:
            raise ValueError("--messages must be >= 0")
        if self.rate < 0 or not math.isfinite(self.rate):
            raise ValueError("--rate must be >= 0 (0: as fast as possible)")
        if not self.duration > 0:
            raise ValueError("--duration must be > 0")
        if self.drain < 0:
            raise ValueError("--drain must be >= 0")
        if self.iq_target not in ("server", "peer"):
            raise ValueError("--iq-target is 'server' or 'peer'")
        if not self.hold >= 0:
            raise ValueError("--hold must be >= 0")
        if self.arrival not in ("poisson", "constant"):
            raise ValueError("--arrival is 'poisson' or 'constant'")
        for rate, seconds in self.phases:
            if not (rate > 0 and seconds > 0 and math.isfinite(rate) and math.isfinite(seconds)):
                raise ValueError("a --phase is RATE:SECONDS, both > 0")

    def username(self, index: int) -> str:
        """Account name of user ``index`` (0-based): ``load1``, ``load2``..."""
        return f"{self.user_prefix}{index + 1}"


@dataclass
class Target:
    """Where to connect: host, port, XMPP domain and TLS trust."""

    host: str
    port: int
    domain: str
    ca_file: Optional[str] = None
    insecure: bool = False
    local: bool = False
    server_pid: Optional[int] = None


class _ClientOptions(TypedDict):
    """The keyword arguments :meth:`LoadRunner._make_client` gives every client."""

    host: str
    port: int
    ssl_context: ssl.SSLContext
    sasl_cache: ScramKeyCache
    tls_session_cache: Optional[TLSSessionCache]
    stream_management: bool
    keepalive: Optional[float]
    reconnect: bool
    connect_timeout: float
    iq_timeout: float


class _User:
    __slots__ = ("index", "jid", "client", "peer", "full_jid", "sent", "seen", "login_ok", "closing")

    def __init__(self, index: int, jid: str) -> None:
        self.index = index
        self.jid = jid
        self.client: Any = None
        self.peer: Optional["_User"] = None
        self.full_jid = ""
        self.sent = 0
        # per sender index: bytearray of seen seqs
        self.seen: Dict[int, bytearray] = {}
        self.login_ok = False
        self.closing = False


def error_name(exc: BaseException) -> str:
    """A short class for an error: ``SASLError(not-authorized)``, ``ConnectionLost``..."""
    name = type(exc).__name__
    condition = getattr(exc, "condition", None)
    if isinstance(exc, (SASLError, StanzaError)) or (condition and isinstance(condition, str)):
        return f"{name}({condition})"
    if isinstance(exc, asyncio.TimeoutError):
        return "Timeout"
    return name


def error_kind(exc: Optional[BaseException], where: str = "") -> "tuple[str, str]":
    """``(kind, detail)`` of an error for the report's ``error_kinds``: a stream error and
    its condition, a SASL failure and its condition, a stanza error and its condition, a
    timeout and where (``login``, ``iq``...), a disconnect and what said so, or other."""
    if exc is None:
        return "disconnect", "closed"
    if isinstance(exc, StreamError):
        return "stream-error", exc.condition
    if isinstance(exc, SASLError):
        return "sasl-failure", exc.condition
    if isinstance(exc, StanzaError):
        return "stanza-error", str(getattr(exc, "condition", None) or type(exc).__name__)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout", where or "timeout"
    if isinstance(exc, (ConnectionError, OSError, EOFError)):
        return "disconnect", error_name(exc)
    return "other", error_name(exc)


class _NoLimit:
    """``async with`` that does nothing (the open model's logins are not limited)."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: Any) -> None:
        return None


_NO_LIMIT = _NoLimit()
_IDLE_KEEPALIVE = 30.0  # seconds between whitespace keepalives of an idle session


class _LoginClock:
    """The times of one login's phases (:data:`LOGIN_PHASES`), taken by wrapping four of the
    :class:`fastxmpp.aio.Client`'s own hooks on the instance for the login only (the
    message path is untouched afterwards).  A client without those hooks is not timed."""

    _HOOKS = ("_flush", "_tls_handshake", "_tls_done", "_handle_events")
    __slots__ = ("client", "t0", "tcp", "tls", "auth", "bound")

    def __init__(self, client: Any) -> None:
        self.t0 = time.perf_counter()
        self.tcp: Optional[float] = None
        self.tls: Optional[float] = None
        self.auth: Optional[float] = None
        self.bound: Optional[float] = None
        d = getattr(client, "__dict__", None)
        if d is None or not all(callable(getattr(client, h, None)) for h in self._HOOKS):
            self.client = None
            return
        self.client = client
        flush, handshake, tls_done, handle = (getattr(client, h) for h in self._HOOKS)
        perf = time.perf_counter

        def _flush(protocol: Any) -> Any:
            if self.tcp is None:  # the first write: the stream header, on the new connection
                self.tcp = perf()
            return flush(protocol)

        def _tls_handshake(protocol: Any, hostname: str) -> Any:
            if self.tcp is None:  # direct TLS: the handshake is the first thing on it
                self.tcp = perf()
            return handshake(protocol, hostname)

        def _tls_done(protocol: Any, future: Any) -> Any:
            self.tls = perf()
            return tls_done(protocol, future)

        def _handle_events(evs: List[Any]) -> Any:
            for ev in evs:
                if isinstance(ev, events.Authenticated):
                    self.auth = perf()
                elif isinstance(ev, events.SessionStarted):
                    self.bound = perf()
            return handle(evs)

        d.update(_flush=_flush, _tls_handshake=_tls_handshake, _tls_done=_tls_done,
                 _handle_events=_handle_events)

    def finish(self) -> Optional[Dict[str, float]]:
        """Unwrap the hooks; the seconds of each phase, or None when one was not seen."""
        client, self.client = self.client, None
        if client is None:
            return None
        for hook in self._HOOKS:
            client.__dict__.pop(hook, None)
        if self.tcp is None or self.auth is None or self.bound is None:
            return None
        secured = self.tls if self.tls is not None else self.tcp
        return {"tcp": self.tcp - self.t0, "tls": secured - self.tcp, "sasl": self.auth - secured,
                "bind": self.bound - self.auth}


def pair_users(n: int) -> List[int]:
    """``peer[i]`` for ``n`` users: pairs (0,1), (2,3)...; an odd one out makes the last pair a ring of 3."""
    if n < 2:
        return list(range(n))
    peer = [0] * n
    for i in range(0, n - (n % 2), 2):
        peer[i], peer[i + 1] = i + 1, i
    if n % 2:
        a, b, c = n - 3, n - 2, n - 1
        peer[a], peer[b], peer[c] = b, c, a
    return peer


def _server_cpu_seconds(pid: Optional[int]) -> Optional[float]:
    """utime+stime of a local process (Linux /proc), or None."""
    if pid is None:
        return None
    try:
        import os

        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class Progress:
    """Live progress on a stream: one refreshed line on a TTY, else a line every few seconds."""

    def __init__(self, runner: "LoadRunner", stream: TextIO, tty: Optional[bool] = None) -> None:
        self.runner = runner
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.interval = 0.5 if self.tty else 5.0
        self._last = (time.monotonic(), 0)
        self._width = 0

    def line(self) -> str:
        r = self.runner
        now = time.monotonic()
        count = r.received
        then, before = self._last
        rate = (count - before) / (now - then) if now > then else 0.0
        self._last = (now, count)
        hist = r.latency if r.latency.count else r.login_latency
        what = "lat" if r.latency.count else "login"
        p50, p99 = hist.percentiles((50.0, 99.0))
        fmt = lambda v: "-" if v is None else _ms(v / 1000.0)  # noqa: E731
        errors = sum(r.errors.values())
        return (f"[{now - r.started:6.1f}s] {r.phase:<8} logged in {r.login_ok}/{r.config.users}"
                f" ({r.login_failed} failed)  sent {r.sent}  recv {r.received}  {rate:,.0f}/s"
                f"  {what} p50 {fmt(p50)} p99 {fmt(p99)}  errors {errors}")

    def emit(self, final: bool = False) -> None:
        text = self.line()
        if self.tty:
            pad = max(0, self._width - len(text))
            self._width = len(text)
            self.stream.write("\r" + text + " " * pad + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.interval)
                self.emit()
        except asyncio.CancelledError:
            self.emit(final=True)
            raise


def _ms(value_ms: float) -> str:
    if value_ms >= 1000:
        return f"{value_ms / 1000:.2f}s"
    if value_ms >= 100:
        return f"{value_ms:.0f}ms"
    if value_ms >= 10:
        return f"{value_ms:.1f}ms"
    return f"{value_ms:.2f}ms"


class LoadRunner:
    """Runs one load test against ``target`` and builds the report dict."""

    def __init__(self, config: LoadConfig, target: Target, *, progress_stream: Optional[TextIO] = None,
                 client_factory: Optional[Callable[..., Any]] = None, first_user: int = 0) -> None:
        config.validate()
        self.config = config
        self.target = target
        self.progress_stream = progress_stream
        self._client_factory = client_factory
        self.ssl_context: ssl.SSLContext = make_client_context(
            ca_file=target.ca_file, verify=not target.insecure)
        self.sasl_cache = ScramKeyCache(maxsize=max(1024, 2 * config.users))
        pooled = max(1024, 2 * config.concurrency)
        self.tls_cache: Optional[TLSSessionCache] = (
            TLSSessionCache(maxsize=pooled, per_key=pooled) if config.tls_resume else None)
        #: Account number offset: user i logs in as ``username(first_user + i)`` (``--workers``
        #: gives each process a block of the accounts).
        self.first_user = first_user
        self.users = [_User(i, f"{config.username(first_user + i)}@{target.domain}")
                      for i in range(config.users)]
        self.by_full_jid: Dict[str, _User] = {}
        self.login_latency = Histogram()
        #: Open model: login time from each user's intended arrival, so a client that fell
        #: behind its schedule shows it (corrected for coordinated omission).
        self.login_corrected = Histogram()
        self.arrived = 0
        #: Sessions open now, and the most open at once.
        self.open_sessions = 0
        self.peak_sessions = 0
        #: One histogram (microseconds) per part of the login, :data:`LOGIN_PHASES`.
        self.login_phases: Dict[str, Histogram] = {p: Histogram() for p in LOGIN_PHASES}
        self.latency = Histogram()
        #: Errors by kind (:data:`ERROR_KINDS`) and detail: ``{("timeout", "iq"): 3}``.
        self.error_kinds: Counter = Counter()
        self.login_ok = 0
        self.login_failed = 0
        self.login_errors: Counter = Counter()
        #: The first message of each kind of login error (what a refused connection says).
        self.login_error_messages: Dict[str, str] = {}
        self.errors: Counter = Counter()
        self.sent = 0
        self.received = 0  # unique, well-formed receipts
        self.duplicates = 0
        self.unexpected = 0
        self.iq_lost = 0
        self.phase = "init"
        self.started = time.monotonic()
        self.traffic_started: Optional[float] = None
        self.traffic_ended: Optional[float] = None
        self.capped = False
        self.registered: Dict[str, int] = {}
        self._deadline = 0.0
        self._stop: Optional[asyncio.Event] = None
        self._all_received: Optional[asyncio.Event] = None
        self._sending_done = False
        self.senders = 0
        self.interrupted = False
        self._main_task: Optional[asyncio.Future] = None
        self._cpu_traffic = 0.0

    def interrupt(self) -> None:
        """Stop the run early (e.g. on SIGINT): the current phase is cancelled, the streams are
        closed and :meth:`run_async` still returns the (partial) report, marked ``interrupted``."""
        self.interrupted = True
        if self._main_task is not None and not self._main_task.done():
            self._main_task.cancel()

    # -- entry point -------------------------------------------------------------------------
    def run(self, *, use_uvloop: bool = False, handle_sigint: bool = False) -> Dict[str, Any]:
        """Run the whole test (blocking) and return the report dict (see :func:`run_loop`
        and :meth:`run_async` for the options)."""
        return run_loop(self.run_async(handle_sigint=handle_sigint), use_uvloop=use_uvloop)

    async def run_async(self, *, handle_sigint: bool = False) -> Dict[str, Any]:
        """Run the whole test in the running loop; the report dict.

        ``handle_sigint``: SIGINT (Ctrl-C) calls :meth:`interrupt` while the run lasts (in
        the main thread, where the loop supports it), so the streams are closed and the
        partial report is still returned."""
        loop = asyncio.get_running_loop()
        sigint = False
        if handle_sigint and threading.current_thread() is threading.main_thread():
            try:
                loop.add_signal_handler(signal.SIGINT, self.interrupt)
                sigint = True
            except (NotImplementedError, RuntimeError):  # not on Windows
                pass
        try:
            return await self._run()
        finally:
            if sigint:
                loop.remove_signal_handler(signal.SIGINT)

    async def _run(self) -> Dict[str, Any]:
        cfg = self.config
        self.started = time.monotonic()
        self._deadline = self.started + cfg.duration
        self._stop = asyncio.Event()
        self._all_received = asyncio.Event()
        cpu0 = time.process_time()
        server_cpu0 = _server_cpu_seconds(self.target.server_pid)
        progress_task = None
        if self.progress_stream is not None and not cfg.quiet:
            progress_task = asyncio.ensure_future(Progress(self, self.progress_stream).run())
        series = TimeSeries.for_runner(self)  # per-second counters and histograms (polled)
        series_task = asyncio.ensure_future(series.run())
        try:
            self._main_task = asyncio.ensure_future(self._phases())
            if self.interrupted:
                self._main_task.cancel()
            try:
                await self._main_task
            except asyncio.CancelledError:
                if not self.interrupted:
                    raise
        finally:
            self.phase = "closing"
            await self._close_all()
            self.phase = "done"
            for task in (progress_task, series_task):
                if task is not None:
                    task.cancel()
                    try:
                        await task
                    except asyncio.CancelledError:
                        pass
        cpu = time.process_time() - cpu0
        server_cpu1 = _server_cpu_seconds(self.target.server_pid)
        server_cpu = None if server_cpu0 is None or server_cpu1 is None else server_cpu1 - server_cpu0
        report = self.report(cpu, self._cpu_traffic, server_cpu)
        report.update(series.report_fields())
        if self.interrupted:
            report["interrupted"] = True
            report["ok"] = False
        return report

    async def _phases(self) -> None:
        cfg = self.config
        if cfg.register:
            self.phase = "register"
            await self._register_all()
        self.phase = "login"
        await self._login_all()
        self.phase = "traffic"
        cpu1 = time.process_time()
        try:
            await self._traffic()
        finally:
            self._cpu_traffic = time.process_time() - cpu1

    def count_error(self, where: str, exc: Optional[BaseException], name: Optional[str] = None) -> None:
        """Count one error: in ``errors`` as ``where:name`` and in ``error_kinds`` by kind."""
        self.errors[f"{where}:{name or error_name(exc) if exc is not None else name or 'closed'}"] += 1
        self.error_kinds[error_kind(exc, where)] += 1

    # -- registration ------------------------------------------------------------------------
    async def _register_all(self) -> None:
        from .register import register_account

        cfg, target = self.config, self.target
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(cfg.concurrency)
        outcome: Counter = Counter()

        async def one(user: _User) -> None:
            async with sem:
                timeout = max(0.1, min(cfg.login_timeout, self._deadline - loop.time()))
                try:
                    created = await asyncio.wait_for(loop.run_in_executor(
                        None, lambda: register_account(
                            target.host, target.port, target.domain, cfg.username(self.first_user + user.index),
                            cfg.password, ssl_context=self.ssl_context, timeout=timeout)), timeout + 1)
                    outcome["created" if created else "existed"] += 1
                except Exception as exc:  # noqa: BLE001 - every failure is counted by class
                    outcome["failed"] += 1
                    self.count_error("register", exc)

        await asyncio.gather(*(one(u) for u in self.users))
        self.registered = dict(outcome)

    # -- logins ------------------------------------------------------------------------------
    def _make_client(self, user: _User) -> Any:
        cfg, target = self.config, self.target
        kwargs = _ClientOptions(host=target.host, port=target.port, ssl_context=self.ssl_context,
                                sasl_cache=self.sasl_cache, tls_session_cache=self.tls_cache,
                                stream_management=cfg.stream_management,
                                keepalive=_IDLE_KEEPALIVE if cfg.scenario == "idle" else None, reconnect=False, connect_timeout=cfg.login_timeout,
                                iq_timeout=cfg.iq_timeout)
        jid = f"{user.jid}/{cfg.resource}"
        if self._client_factory is not None:
            return self._client_factory(jid, cfg.password, **kwargs)
        from ..aio import Client

        return Client(jid, cfg.password, **kwargs)

    async def _login_all(self) -> None:
        if self.config.phases:
            await self._arrive_open()
        else:
            sem = asyncio.Semaphore(self.config.concurrency)
            await asyncio.gather(*(self._login(u, sem) for u in self.users))
        peer = pair_users(len(self.users))
        for user in self.users:
            if user.login_ok:
                self.by_full_jid[user.full_jid] = user
            user.peer = self.users[peer[user.index]]

    async def _arrive_open(self) -> None:
        """The open model: users log in at the phases' arrival times, not waiting for each
        other; a user's login time is also measured from its intended arrival."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        rng = random.Random()
        users = iter(self.users)
        tasks: List[asyncio.Future] = []
        t = loop.time()
        try:
            for rate, seconds in cfg.phases:
                end = t + seconds
                while True:
                    t_next = t + (rng.expovariate(rate) if cfg.arrival == "poisson" else 1.0 / rate)
                    if t_next > end or t_next > self._deadline:
                        break
                    user = next(users, None)
                    if user is None:
                        return
                    t = t_next
                    delay = t - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    self.arrived += 1
                    tasks.append(asyncio.ensure_future(self._login(user, None, intended=t)))
                t = end
        finally:
            if tasks:
                await asyncio.gather(*tasks)

    async def _login(self, user: _User, sem: Optional[asyncio.Semaphore],
                     intended: Optional[float] = None) -> None:
        async with (sem if sem is not None else _NO_LIMIT):
            loop = asyncio.get_running_loop()
            remaining = self._deadline - loop.time()
            if remaining <= 0:
                self.login_failed += 1
                self.login_errors["NotAttempted(duration cap)"] += 1
                self.capped = True
                return
            client = self._make_client(user)
            user.client = client
            t0 = time.perf_counter()
            clock = _LoginClock(client)
            try:
                await asyncio.wait_for(client.connect(), min(self.config.login_timeout, remaining))
            except Exception as exc:  # noqa: BLE001 - every failure is counted by class
                clock.finish()
                self.login_failed += 1
                self.login_errors[error_name(exc)] += 1
                self.login_error_messages.setdefault(error_name(exc), str(exc) or repr(exc))
                self.count_error("login", exc)
                log.debug("login of %s failed: %r", user.jid, exc)
                try:
                    client._abort_transport()
                except Exception:  # noqa: BLE001
                    pass
                return
            self.login_latency.record(int((time.perf_counter() - t0) * 1e6))
            if intended is not None:
                self.login_corrected.record(max(0, int((loop.time() - intended) * 1e6)))
            phases = clock.finish()
            if phases is not None:
                for name, seconds in phases.items():
                    self.login_phases[name].record(max(0, int(seconds * 1e6)))
            self.login_ok += 1
            self.open_sessions += 1
            self.peak_sessions = max(self.peak_sessions, self.open_sessions)
            user.login_ok = True
            user.full_jid = str(client.bound_jid)
            client.on_disconnected = lambda exc, u=user: self._disconnected(u, exc)

    def _disconnected(self, user: _User, exc: Optional[BaseException]) -> None:
        if user.login_ok:
            self.open_sessions -= 1
        if not user.closing:
            err = user.client.error if user.client is not None else None
            self.count_error("disconnected", err if err is not None else exc)

    # -- traffic -----------------------------------------------------------------------------
    async def _traffic(self) -> None:
        cfg = self.config
        live = [u for u in self.users if u.login_ok]
        self.traffic_started = time.monotonic()
        try:
            if cfg.scenario == "idle" and live:
                await self._hold(live)
                return
            if cfg.scenario == "login" or cfg.messages == 0 or not live:
                return
            if cfg.scenario in ("chat", "presence"):
                kind = "message" if cfg.scenario == "chat" else "presence"
                for user in live:
                    user.client.add_handler(kind, lambda st, u=user: self._on_stanza(u, st))
                if kind == "presence":
                    for user in live:  # initial presence, so the session is "available"
                        user.client.send_nowait(Element(_PRESENCE))
                senders = [self._send_loop(u) for u in live if u.peer is not None and u.peer.login_ok]
                skipped = sum(1 for u in live if u.peer is None or not u.peer.login_ok)
                if skipped:
                    self.errors["traffic:PeerNotLoggedIn"] += skipped
            else:
                if cfg.iq_target == "peer":
                    for user in live:
                        user.client.add_iq_handler(_PING, _answer_ping, types=("get",))
                senders = [self._iq_loop(u) for u in live
                           if cfg.iq_target == "server" or (u.peer is not None and u.peer.login_ok)]
            self.senders = len(senders)
            await self._run_until_deadline(senders)
            self._sending_done = True
            if cfg.scenario != "iq":
                await self._drain()
        finally:
            self.traffic_ended = time.monotonic()

    async def _hold(self, live: List[_User]) -> None:
        for user in live:  # available: the server keeps presence state for each session
            user.client.send_nowait(Element(_PRESENCE))
        hold = min(self.config.hold, max(0.0, self._deadline - time.monotonic()))
        if hold < self.config.hold:
            self.capped = True
        await asyncio.sleep(hold)

    async def _run_until_deadline(self, coros: List[Any]) -> None:
        tasks = [asyncio.ensure_future(c) for c in coros]
        if not tasks:
            return
        timeout = max(0.0, self._deadline - time.monotonic())
        try:
            done, pending = await asyncio.wait(tasks, timeout=timeout)
        except asyncio.CancelledError:  # interrupted: stop the senders too
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=5.0)
            raise
        if pending:
            self.capped = True
            assert self._stop is not None
            self._stop.set()
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=5.0)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                self.count_error("traffic", task.exception())

    async def _drain(self) -> None:
        assert self._all_received is not None
        if self.received >= self.sent:
            return
        try:
            await asyncio.wait_for(self._all_received.wait(), self.config.drain)
        except asyncio.TimeoutError:
            pass

    def _payload_stanza(self, user: _User, seq: int, kind: str) -> Element:
        peer = user.peer
        assert peer is not None
        if kind == "message":
            el = Element(_MESSAGE, {"to": peer.full_jid, "type": "chat", "id": f"l{user.index}-{seq}"})
            body = f"load {seq}"
            if self.config.body_size > len(body):
                body += " " + "x" * (self.config.body_size - len(body) - 1)
            el.subelement(_BODY, text=body)
        else:
            el = Element(_PRESENCE, {"to": peer.full_jid, "id": f"l{user.index}-{seq}"})
        el.subelement(_X, {"t": str(time.time_ns() // 1000), "seq": str(seq)})
        return el

    async def _send_loop(self, user: _User) -> None:
        cfg = self.config
        kind = "message" if cfg.scenario == "chat" else "presence"
        client = user.client
        interval = 1.0 / cfg.rate if cfg.rate > 0 else 0.0
        loop = asyncio.get_running_loop()
        next_at = loop.time() + random.uniform(0.0, interval)  # spread the senders over one period
        for seq in range(cfg.messages):
            if interval:
                delay = next_at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at += interval
            elif seq % 16 == 15:
                await asyncio.sleep(0)  # let the others (and the receivers) run
            try:
                await client.send(self._payload_stanza(user, seq, kind))
            except Exception as exc:  # noqa: BLE001
                self.count_error("send", exc)
                return
            user.sent += 1
            self.sent += 1

    def _on_stanza(self, receiver: _User, stanza: Element) -> None:
        now = time.time_ns() // 1000
        if stanza.get("type") == "error":  # the server bounced one of ours
            err = stanza.find("{jabber:client}error")
            cond = err[0].localname if err is not None and len(err) else "unknown"
            self.errors[f"bounced:{stanza.tag.rsplit('}', 1)[1]}({cond})"] += 1
            self.error_kinds[("stanza-error", cond)] += 1
            return
        x = stanza.find(_X)
        if x is None:  # e.g. the server reflecting our own initial presence
            return
        try:
            t = int(x.get("t"))
            seq = int(x.get("seq"))
        except (TypeError, ValueError):
            self.unexpected += 1
            return
        sender = self.by_full_jid.get(stanza.get("from", ""))
        if sender is None or sender.peer is not receiver or not 0 <= seq < self.config.messages:
            self.unexpected += 1
            return
        seen = receiver.seen.get(sender.index)
        if seen is None:
            seen = receiver.seen[sender.index] = bytearray(self.config.messages)
        if seen[seq]:
            self.duplicates += 1
            return
        seen[seq] = 1
        self.received += 1
        self.latency.record(max(0, now - t))
        if self._sending_done and self.received >= self.sent and self._all_received is not None:
            self._all_received.set()

    async def _iq_loop(self, user: _User) -> None:
        cfg = self.config
        client = user.client
        to = user.peer.full_jid if cfg.iq_target == "peer" and user.peer is not None else self.target.domain
        interval = 1.0 / cfg.rate if cfg.rate > 0 else 0.0
        loop = asyncio.get_running_loop()
        pending: List[asyncio.Future] = []

        async def one() -> None:
            ping = Element(_IQ, {"type": "get", "to": to})
            ping.subelement(_PING)
            self.sent += 1
            user.sent += 1
            t0 = time.perf_counter()
            try:
                await client.iq(ping, timeout=cfg.iq_timeout)
            except asyncio.TimeoutError:
                self.iq_lost += 1
                self.count_error("iq", asyncio.TimeoutError(), "Timeout")
                return
            except asyncio.CancelledError:
                self.iq_lost += 1
                raise
            except Exception as exc:  # noqa: BLE001
                self.iq_lost += 1
                self.count_error("iq", exc)
                return
            self.latency.record(int((time.perf_counter() - t0) * 1e6))
            self.received += 1

        next_at = loop.time() + random.uniform(0.0, interval)
        try:
            for _ in range(cfg.messages):
                if not client.is_ready:
                    self.errors["iq:NotConnected"] += 1
                    return
                if interval:
                    delay = next_at - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_at += interval
                    pending.append(asyncio.ensure_future(one()))
                else:
                    await one()  # one round trip in flight per user
            if pending:
                await asyncio.gather(*pending)
        finally:
            for fut in pending:
                fut.cancel()

    # -- closing -----------------------------------------------------------------------------
    async def _close_all(self) -> None:
        clients = [u for u in self.users if u.client is not None]
        for user in clients:
            user.closing = True

        async def close(user: _User) -> None:
            try:
                await asyncio.wait_for(user.client.close(), 5.0)
            except Exception:  # noqa: BLE001 - best effort
                try:
                    user.client._abort_transport()
                except Exception:  # noqa: BLE001
                    pass

        if clients:
            await asyncio.wait([asyncio.ensure_future(close(u)) for u in clients], timeout=10.0)

    # -- report ------------------------------------------------------------------------------
    def report(self, cpu: float, cpu_traffic: float, server_cpu: Optional[float]) -> Dict[str, Any]:
        cfg = self.config
        started = self.traffic_started or time.monotonic()
        ended = self.traffic_ended or started
        traffic_seconds = max(ended - started, 1e-9)
        if cfg.scenario == "iq":
            lost, duplicated = self.iq_lost, 0
        else:
            lost, duplicated = max(0, self.sent - self.received), self.duplicates
        expected = 0 if cfg.scenario in ("login", "idle") else cfg.messages * cfg.users
        messages = {
            "kind": {"chat": "message", "presence": "presence", "iq": "iq", "login": None,
                     "idle": None}[cfg.scenario],
            "expected": expected,
            "sent": self.sent,
            "received": self.received,
            "lost": lost,
            "duplicated": duplicated,
            "unexpected": self.unexpected,
            "not_sent": max(0, expected - self.sent),
            "senders": self.senders,
            "throughput_per_second": self.received / traffic_seconds if self.received else 0.0,
            "latency_ms": self.latency.summary(scale=1000.0),
        }
        login_failed = self.login_failed
        ok = login_failed == 0 and lost == 0 and duplicated == 0 and self.unexpected == 0
        return {
            "ok": ok,
            "scenario": cfg.scenario,
            "config": dict(asdict(cfg), password="***"),
            "target": {"host": self.target.host, "port": self.target.port, "domain": self.target.domain,
                       "local_server": self.target.local},
            "users": cfg.users,
            "workers": 1,
            "registration": self.registered or None,
            "login": {
                "ok": self.login_ok,
                "failed": login_failed,
                "errors": dict(self.login_errors),
                "error_messages": dict(self.login_error_messages),
                "latency_ms": self.login_latency.summary(scale=1000.0),
                "phases_ms": {p: h.summary(scale=1000.0) for p, h in self.login_phases.items()},
            },
            "sessions": {"peak": self.peak_sessions, "hold_seconds": cfg.hold if cfg.scenario == "idle" else None},
            "arrival": ({"model": "open", "distribution": cfg.arrival, "phases": [list(p) for p in cfg.phases],
                         "arrived": self.arrived, "not_arrived": cfg.users - self.arrived,
                         "corrected_login_ms": self.login_corrected.summary(scale=1000.0)}
                        if cfg.phases else {"model": "closed", "concurrency": cfg.concurrency}),
            "messages": messages,
            "duration_seconds": time.monotonic() - self.started,
            "traffic_seconds": traffic_seconds,
            "stopped_by_duration_cap": self.capped,
            "cpu": {
                "client_seconds": cpu,
                "client_traffic_seconds": cpu_traffic,
                "client_us_per_message": (cpu_traffic / self.received * 1e6) if self.received else None,
                "server_seconds": server_cpu,
            },
            "scram_cache": {"hits": self.sasl_cache.hits, "misses": self.sasl_cache.misses},
            "tls_sessions": self.tls_cache.counters() if self.tls_cache is not None else None,
            "errors": dict(sorted(self.errors.items())),
            "error_kinds": error_kinds_dict(self.error_kinds),
        }


def run_load(config: LoadConfig, target: Target, *, progress_stream: Optional[TextIO] = None) -> Dict[str, Any]:
    """Run a load test (blocking) and return its report dict."""
    return LoadRunner(config, target, progress_stream=progress_stream).run()


def error_kinds_dict(counts: "Counter[tuple[str, str]]") -> Dict[str, Dict[str, int]]:
    """``{(kind, detail): n}`` as the report's ``error_kinds``: ``{kind: {detail: n}}``, the
    kinds in :data:`ERROR_KINDS` order, only those seen."""
    out: Dict[str, Dict[str, int]] = {}
    for kind in ERROR_KINDS:
        details = {d: n for (k, d), n in sorted(counts.items()) if k == kind and n}
        if details:
            out[kind] = details
    return out


def run_loop(main: Any, *, use_uvloop: bool = True) -> Any:
    """``asyncio.run(main)``, on a uvloop event loop when ``use_uvloop`` and uvloop is
    installed (without touching the global event loop policy)."""
    factory = None
    if use_uvloop:
        try:
            import uvloop  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            pass
        else:
            factory = uvloop.new_event_loop
    if factory is None:
        return asyncio.run(main)
    loop = factory()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _answer_ping(request: Element) -> Element:
    """A peer's XEP-0199 ping answered (the client fills in id and to; other requests get
    service-unavailable from the client)."""
    return Element(_IQ, {"type": "result"})
