"""The load-test runner: many :class:`fastxmpp.aio.Client` sessions in one event loop.

Phases: (optional) in-band registration, logins (``concurrency`` in flight),
traffic for the scenario, a bounded drain, and closing.  Every phase is
bounded: traffic stops at the ``duration`` cap, the drain after at most
``drain`` seconds, closing after a few more.

Scenarios (:mod:`fastxmpp.load.scenarios`): what each user does once logged in, a
:class:`~fastxmpp.load.scenarios.Scenario` subclass picked by name (``login``, ``chat``,
``presence``, ``iq``, ``idle``, ``muc``, ``roster``) or given as ``module:Class``.  Measured
stanzas carry ``<x xmlns='urn:fastxmpp:load:0' t='...' seq='...'/>``: ``t`` is the send
time in microseconds since the Unix epoch, ``seq`` the stanza's number for its sender; the
receiver records the latency and checks that each ``seq`` arrives once
(:class:`~fastxmpp.load.recorder.Recorder`).
"""
from __future__ import annotations

import asyncio
import heapq
import logging
import math
import random
import signal
import ssl
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import (Any, AsyncIterator, Awaitable, Callable, Dict, List, NamedTuple, Optional, TextIO, Tuple,
                    TypedDict, cast)

from .. import events
from ..sasl import ScramKeyCache
from ..tlsconfig import make_client_context
from ..tlssessions import TLSSessionCache
from .accounts import Account, check_enough, read_accounts
from .hdr import encode_histogram
from .histogram import Histogram
from .recorder import ERROR_KINDS, NS_LOAD, Recorder, error_kind, error_name
from .scenarios import BUILTINS, Scenario, User, load_scenario
from .timeseries import TimeSeries

__all__ = ["LoadConfig", "LoadRunner", "Target", "Pacer", "PACER_TICK", "run_load", "run_loop", "error_kind",
           "error_name", "SCENARIOS", "NS_LOAD", "LOGIN_PHASES", "ERROR_KINDS", "pair_users",
           "error_kinds_dict", "Progress"]

log = logging.getLogger("fastxmpp.load")

#: The built-in scenarios' names (:data:`fastxmpp.load.scenarios.BUILTINS`).
SCENARIOS = tuple(BUILTINS)
#: The parts of a login that are timed, in order (each from the end of the one before):
#: TCP connect, TLS (stream header, STARTTLS and the handshake), SASL (from TLS up and
#: including the key derivation), bind (resource binding, stream management enabled).
LOGIN_PHASES = ("tcp", "tls", "sasl", "bind")


class _AccountsRead(NamedTuple):
    """The accounts a :class:`LoadConfig` has read from its ``accounts_file`` (or was given)."""

    path: str
    first: int  # the user number of accounts[0]
    accounts: List[Account]
    whole: bool  # the whole file (else one --workers process's block)


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
    #: ``muc``: occupants per room (the rooms are ``users / room_size``).
    room_size: int = 5
    #: ``muc``: the multi-user chat service (default ``conference.DOMAIN``).
    muc_domain: Optional[str] = None
    #: ``roster``: contacts in each user's roster.
    contacts: int = 4
    #: Stanzas per second from all the users together, evenly spaced (0: no global limit);
    #: with ``--workers`` each process takes its users' share.
    total_rate: float = 0.0
    #: The closed model held for ``duration``: every user repeats its sends (``messages`` is
    #: no limit) until ``duration`` ends; the sessions stay open until then.
    loop: bool = False
    #: ``--accounts FILE.csv``: the accounts (``jid,password`` a line, see
    #: :mod:`fastxmpp.load.accounts`); user ``n`` of the run logs in as the file's ``n``-th.
    #: None: ``{user_prefix}{n + 1}@DOMAIN`` with ``password``.
    accounts_file: Optional[str] = None
    #: ``--register-rate R``: register the accounts in-band (XEP-0077) before the run, at
    #: most R per second (0: ``concurrency`` at a time, as fast as the server answers).
    register_rate: float = 0.0

    def scenario_class(self) -> "type[Scenario]":
        """The :class:`~fastxmpp.load.scenarios.Scenario` class ``scenario`` names (ValueError)."""
        return load_scenario(self.scenario)

    def validate(self) -> None:
        """Raise ValueError for a bad value (the message names the option)."""
        if self.users < 1:
            raise ValueError("--users must be at least 1")
        self.scenario_class().check(self)
        if self.concurrency < 1:
            raise ValueError("--concurrency must be at least 1")
        if self.messages < 0:
            raise ValueError("--messages must be >= 0")
        if self.rate < 0 or not math.isfinite(self.rate):
            raise ValueError("--rate must be >= 0 (0: as fast as possible)")
        if self.total_rate < 0 or not math.isfinite(self.total_rate):
            raise ValueError("--total-rate must be >= 0 (0: no global limit)")
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
        if self.register_rate < 0 or not math.isfinite(self.register_rate):
            raise ValueError("--register-rate must be >= 0 (0: no limit)")
        if self.accounts_file is not None:
            read = self._accounts_read()
            if read is None or read.whole:  # a --workers block: the parent checked the file
                self.accounts()

    def accounts(self, first: int = 0) -> "List[Account]":
        """With ``accounts_file``: the accounts of users ``first..first + users - 1``
        (:class:`~fastxmpp.load.accounts.AccountsFileError` for a bad file or too few; the
        file is read on the first call only, see :meth:`file_accounts`); without: the
        generated ones (``username(n)`` at no domain, ``password``)."""
        path = self.accounts_file
        end = first + self.users
        if path is None:
            return [Account(self.username(n), "", self.password) for n in range(first, end)]
        read = self._accounts_read()
        if read is not None and not read.whole and read.first <= first \
                and end <= read.first + len(read.accounts):
            return read.accounts[first - read.first:end - read.first]
        accounts = self.file_accounts()
        check_enough(accounts, path, end)
        return accounts[first:end]

    def file_accounts(self) -> "List[Account]":
        """Every account of ``accounts_file``, read and checked on the first call only (a run
        reads the file once; :class:`~fastxmpp.load.accounts.AccountsFileError` for a bad one)."""
        read = self._accounts_read()
        if read is None or not read.whole:
            assert self.accounts_file is not None
            read = _AccountsRead(self.accounts_file, 0, read_accounts(self.accounts_file), True)
            vars(self)["_read_accounts"] = read  # not a field: asdict() leaves it out
        return read.accounts

    def use_accounts(self, accounts: "List[Account]", first: int = 0, *, whole: bool = False) -> None:
        """Take ``accounts``, already read from ``accounts_file``, as those of users ``first..``
        (``whole``: the whole file, from :meth:`file_accounts`; else a ``--workers`` process's
        block, which the parent checked): :meth:`accounts` then reads no file."""
        if self.accounts_file is not None:
            vars(self)["_read_accounts"] = _AccountsRead(self.accounts_file, first, accounts, whole)

    def _accounts_read(self) -> "Optional[_AccountsRead]":
        read: Optional[_AccountsRead] = vars(self).get("_read_accounts")
        return read if read is not None and read.path == self.accounts_file else None

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


class _NoLimit:
    """``async with`` that does nothing (the open model's logins are not limited)."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: Any) -> None:
        return None


_NO_LIMIT = _NoLimit()


def _wake(fut: "asyncio.Future[None]") -> None:
    if not fut.done():  # not cancelled meanwhile
        fut.set_result(None)


#: The pacer's tick (seconds): the senders of one process wake together on a grid of this
#: step, every sender due in a tick released at once (see :class:`Pacer`).
PACER_TICK = 0.002


class _Schedule:
    """One sender's schedule: when its next stanza is due, and what a late release does.
    The one pacing rule, shared by :meth:`Pacer.ticks` and :meth:`Pacer.paced_calls`."""

    __slots__ = ("pacer", "interval", "due", "slot", "retried")

    def __init__(self, pacer: "Pacer", now: float) -> None:
        self.pacer = pacer
        #: Seconds between two stanzas of this sender (0: no per-sender rate).
        self.interval = interval = 1.0 / pacer.rate if pacer.rate > 0 else 0.0
        #: When its next stanza is due (its first after a random part of one period).
        self.due = now + random.uniform(0.0, interval)
        #: The ``total_rate`` slot it waits for (< 0: none).
        self.slot = -1.0
        self.retried = False

    def wait(self, now: float) -> Optional[float]:
        """Released at loop time ``now``: None to send now, else the loop time to wait
        until (then call again).  A stanza released more than :attr:`Pacer.late` after it
        was due (the loop stalled) is not sent late: its slot and every other one of this
        sender that has passed are skipped (counted in :attr:`Pacer.skipped`), and the
        sender goes on at its next slot still ahead, on its own grid."""
        pacer = self.pacer
        slot = self.slot
        if slot < 0.0:
            interval = self.interval
            if interval:
                due = self.due
                if now + 1e-6 < due:
                    return due
                if now - due > pacer.late:
                    missed = int((now - due) // interval) + 1
                    pacer.skipped += missed
                    self.due = due = due + missed * interval
                    return due
            if not pacer.total_rate:
                return None
            slot = pacer._take_slot(now)
            if slot <= now:
                return None
            self.slot, self.retried = slot, False
            return slot
        if now + 1e-6 < slot:
            return slot
        if not self.retried and now - slot > max(pacer.gap, pacer.late):
            # woke more than a slot late (the loop stalled): the other sleepers woke late
            # too, so take a new slot once rather than send in a burst with them
            pacer.skipped += 1
            self.retried = True
            self.slot = slot = pacer._take_slot(now)
            if slot > now:
                return slot
        self.slot = -1.0
        return None


class Pacer:
    """The pace of the senders: one per process, shared by its users.

    ``rate`` (``--rate``): each user's loop sends ``rate`` stanzas per second, its first
    after a random part of one period (so the users do not all send together); 0 sends as
    fast as write flow control allows, yielding to the others every 16 stanzas.

    ``total_rate`` (``--total-rate``): at most that many stanzas per second from all the
    users of this process together: each send takes the next free slot of an even
    schedule, one every ``1/total_rate`` seconds, and a slot that has passed is not made up
    later (a token bucket that holds one token).

    One timer for the whole process, not one per user per stanza: a send due at ``t`` is
    released at the first point of a grid of ``tick`` seconds (:data:`PACER_TICK`, 2 ms)
    at or after ``t``, together with every other send due in that tick, in one event-loop
    wake-up.  A send is never early; each user's schedule is kept from the times it was
    due, not when it ran, so the rates stay exact on average.  No bursts: a send released
    more than :attr:`late` (two ticks) after it was due, because the loop stalled or could
    not keep up, is not sent late and nothing is caught up: that user's slots that have
    passed are skipped and it goes on at its next slot still ahead, on its own grid (the
    users stay spread over the period); with ``total_rate`` a send woken more than a slot
    late takes a new slot once.  Every skipped slot is counted (:attr:`skipped`, the
    report's ``messages.skipped_slots``); the stanzas are not dropped, only sent later, so a
    run's counts stay exact.  The latency stamps are taken when the stanza is built, at the
    actual send.  ``sleep`` (tests) replaces the shared timer with one sleep per wait."""

    def __init__(self, rate: float, total_rate: float = 0.0, *,
                 clock: Optional[Callable[[], float]] = None,
                 sleep: Optional[Callable[[float], Awaitable[None]]] = None,
                 tick: float = PACER_TICK) -> None:
        if not tick > 0:
            raise ValueError("the pacer's tick must be > 0")
        self.rate = rate
        self.total_rate = total_rate
        #: Seconds between two slots of the ``total_rate`` schedule (0: none).
        self.gap = 1.0 / total_rate if total_rate > 0 else 0.0
        self.tick = tick
        #: How late (seconds) a release may be before its slot counts as missed.
        self.late = 2 * tick
        #: Event-loop wake-ups of the shared timer so far (each releases every send due).
        self.wakeups = 0
        #: Sends (and waits) released by the shared timer so far.
        self.released = 0
        #: Slots skipped because their release came too late (see above), never made up.
        self.skipped = 0
        self._next_slot = 0.0
        self._clock = clock  # the running loop's time() by default
        self._sleep = sleep
        #: Tick number -> the callbacks due in it; the tick numbers in a heap; the timer.
        self._due: Dict[int, List[Callable[[], None]]] = {}
        self._heap: List[int] = []
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_tick = 0
        #: The loop time of the shared timer's current (or last) wake-up.
        self.now = 0.0

    # -- the shared timer --------------------------------------------------------------------
    def call_at(self, when: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` (no arguments) in the first tick at or after loop time ``when``,
        with every other callback due then (one timer for all)."""
        n = math.ceil(when / self.tick)
        bucket = self._due.get(n)
        if bucket is None:
            self._due[n] = [callback]
            heapq.heappush(self._heap, n)
            if self._timer is None or n < self._timer_tick:
                self._arm(n)
        else:
            bucket.append(callback)

    def _arm(self, n: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_tick = n
        self._timer = asyncio.get_running_loop().call_at(n * self.tick, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self.wakeups += 1
        self.now = now = asyncio.get_running_loop().time()
        heap, due, tick = self._heap, self._due, self.tick
        while heap and heap[0] * tick <= now + 1e-9:
            callbacks = due.pop(heapq.heappop(heap))
            self.released += len(callbacks)
            for callback in callbacks:
                try:
                    callback()
                except Exception:  # noqa: BLE001 - one sender's failure must not stop the rest
                    log.exception("load: a paced send failed")
        if heap:
            self._arm(heap[0])

    async def wait_until(self, when: float) -> None:
        """Return at loop time ``when`` (within one tick; at once when it has passed)."""
        clock = self._clock or asyncio.get_running_loop().time
        now = clock()
        if when <= now:
            return
        if self._sleep is not None:
            await self._sleep(when - now)
            return
        fut: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
        self.call_at(when, lambda: _wake(fut))
        await fut

    # -- the schedule -------------------------------------------------------------------------
    def _take_slot(self, now: float) -> float:
        """The next free slot of the ``total_rate`` schedule, from ``now``."""
        slot = max(now, self._next_slot)
        self._next_slot = slot + self.gap
        return slot

    async def ticks(self, count: Optional[int], stop: Optional[asyncio.Event] = None) -> AsyncIterator[int]:
        """Yield ``0..count-1`` (without end when ``count`` is None) at the pace, ending
        early when ``stop`` is set."""
        clock = self._clock or asyncio.get_running_loop().time
        schedule = _Schedule(self, clock())
        paced = schedule.interval or self.total_rate
        seq = 0
        while count is None or seq < count:
            if stop is not None and stop.is_set():
                return
            if paced:
                when = schedule.wait(clock())
                while when is not None:
                    await self.wait_until(when)
                    if stop is not None and stop.is_set():
                        return
                    when = schedule.wait(clock())
            elif seq % 16 == 15:
                await asyncio.sleep(0)  # let the others (and the receivers) run
            yield seq
            schedule.due += schedule.interval
            seq += 1

    def paced_calls(self, count: Optional[int], send: Callable[[int], bool],
                    stop: Optional[asyncio.Event] = None) -> "asyncio.Future[int]":
        """Call ``send(seq)`` for ``seq`` = ``0..count-1`` (without end when ``count`` is
        None) at a paced ``rate`` (> 0), straight from the shared timer's tick: no task
        wakes up per stanza.  ``send`` returns False to end early; so does ``stop``.  The
        future's result is the number of calls that returned True."""
        if not self.rate > 0:
            raise ValueError("paced_calls needs a rate > 0")
        loop = asyncio.get_running_loop()
        clock = self._clock
        done: "asyncio.Future[int]" = loop.create_future()
        schedule = _Schedule(self, loop.time() if clock is None else clock())
        wait, call_at, interval = schedule.wait, self.call_at, schedule.interval
        seq = 0

        def step() -> None:
            nonlocal seq
            if done.done():
                return
            if stop is not None and stop.is_set():
                done.set_result(seq)
                return
            # run from the shared timer: its wake-up's time is now
            when = wait(self.now if clock is None else clock())
            if when is not None:
                call_at(when, step)
                return
            try:
                sent = send(seq)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting task
                done.set_exception(exc)
                return
            if not sent:
                done.set_result(seq)
                return
            seq += 1
            if count is not None and seq >= count:
                done.set_result(seq)
                return
            schedule.due += interval
            call_at(schedule.due, step)

        if count == 0:
            done.set_result(0)
        else:
            call_at(schedule.due, step)
        return done


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


def _server_rss_kib(pid: Optional[int]) -> Optional[int]:
    """The resident set size (VmRSS, KiB) of a local process (Linux /proc), or None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def server_memory(before: Optional[int], held: Optional[int], sessions: int) -> Optional[Dict[str, Any]]:
    """The report's ``server_memory``: the server's RSS before the logins and while the
    sessions were held (KiB), and the difference per session; None when not measured."""
    if before is None or held is None:
        return None
    return {"rss_before_kib": before, "rss_held_kib": held, "sessions": sessions,
            "per_session_kib": (held - before) / sessions if sessions else None}


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
        """The progress line now (the rate since the last line)."""
        r = self.runner
        now = time.monotonic()
        count = r.received
        then, before = self._last
        rate = (count - before) / (now - then) if now > then else 0.0
        self._last = (now, count)
        hist = r.latency if r.latency.count else r.login_latency
        what = "lat" if r.latency.count else "login"
        p50, p99 = hist.percentiles((50.0, 99.0))
        errors = sum(r.errors.values())
        return (f"[{now - r.started:6.1f}s] {r.phase:<8} logged in {r.login_ok}/{r.config.users}"
                f" ({r.login_failed} failed)  sent {r.sent}  recv {r.received}  {rate:,.0f}/s"
                f"  {what} p50 {_fmt_us(p50)} p99 {_fmt_us(p99)}  errors {errors}")

    def emit(self, final: bool = False) -> None:
        """Write the progress line (refreshed in place on a TTY)."""
        text = self.line()
        if self.tty:
            pad = max(0, self._width - len(text))
            self._width = len(text)
            self.stream.write("\r" + text + " " * pad + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    async def run(self) -> None:
        """Emit a line every ``interval`` until cancelled, then a last one."""
        try:
            while True:
                await asyncio.sleep(self.interval)
                self.emit()
        except asyncio.CancelledError:
            self.emit(final=True)
            raise


def _fmt_us(value_us: Optional[float]) -> str:
    """A latency in microseconds for the progress line ("-" for none)."""
    return "-" if value_us is None else _ms(value_us / 1000.0)


def _ms(value_ms: float) -> str:
    if value_ms >= 1000:
        return f"{value_ms / 1000:.2f}s"
    if value_ms >= 100:
        return f"{value_ms:.0f}ms"
    if value_ms >= 10:
        return f"{value_ms:.1f}ms"
    return f"{value_ms:.2f}ms"


class LoadRunner(Recorder):
    """Runs one load test against ``target`` and builds the report dict; the
    :class:`~fastxmpp.load.recorder.Recorder` its scenario reports to."""

    def __init__(self, config: LoadConfig, target: Target, *, progress_stream: Optional[TextIO] = None,
                 client_factory: Optional[Callable[..., Any]] = None, first_user: int = 0) -> None:
        config.validate()
        super().__init__(None if config.loop else config.messages)
        self.config = config
        self.target = target
        #: The scenario (one instance per process, shared by its users).
        self.scenario: Scenario = config.scenario_class()(config)
        self.scenario.numbers = range(first_user, first_user + config.users)
        #: The senders' pace (``--rate``).
        self.pacer = Pacer(config.rate, config.total_rate)
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
        self.users = [User(i, first_user + i, account.localpart,
                           account.jid if account.domain else f"{account.jid}@{target.domain}",
                           account.password, self)
                      for i, account in enumerate(config.accounts(first_user))]
        self.by_full_jid: Dict[str, User] = {}
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
        self.login_ok = 0
        self.login_failed = 0
        self.login_errors: "Counter[str]" = Counter()
        #: The first message of each kind of login error (what a refused connection says).
        self.login_error_messages: Dict[str, str] = {}
        self.phase = "init"
        self.started = time.monotonic()
        self.traffic_started: Optional[float] = None
        self.traffic_ended: Optional[float] = None
        self.capped = False
        self.registered: Dict[str, int] = {}
        self._deadline = 0.0
        self._stop: Optional[asyncio.Event] = None
        self.senders = 0
        self.interrupted = False
        self._main_task: "Optional[asyncio.Future[None]]" = None
        self._cpu_traffic = 0.0
        #: Seconds the scenario's setups took (joins, subscriptions...), before the traffic.
        self.setup_seconds = 0.0
        #: The server's RSS (KiB) before the logins and the most while the sessions were
        #: held (a scenario with ``measure_server_memory``, a local server's pid known).
        self.server_rss_before: Optional[int] = None
        self.server_rss_held: Optional[int] = None

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
        return cast(Dict[str, Any], run_loop(self.run_async(handle_sigint=handle_sigint), use_uvloop=use_uvloop))

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
        if self.scenario.measure_server_memory:
            self.server_rss_before = _server_rss_kib(self.target.server_pid)
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
        for name, hist in self.scenario_latency.items():  # merged over workers by name
            report["histograms"][f"scenario:{name}"] = encode_histogram(hist)
        report["scenario_latency_ms"] = {name: hist.summary(scale=1000.0)
                                         for name, hist in sorted(self.scenario_latency.items())}
        report["server_memory"] = server_memory(self.server_rss_before, self.server_rss_held, self.peak_sessions)
        if self.interrupted:
            report["interrupted"] = True
            report["ok"] = False
        return report

    async def _phases(self) -> None:
        cfg = self.config
        if cfg.register or cfg.register_rate:
            self.phase = "register"
            await self._register_all()
        self.phase = "login"
        await self._login_all()
        self.phase = "traffic"
        await self._traffic()

    @property
    def stop_event(self) -> asyncio.Event:
        """Set when the ``--duration`` cap stops the run (a scenario's ``user.stop``)."""
        if self._stop is None:
            self._stop = asyncio.Event()
        return self._stop

    async def hold(self, seconds: float) -> None:
        """Sleep ``seconds``, less when the ``--duration`` cap (or the stop signal) comes
        first; with ``--loop``, until the end of ``--duration``."""
        left = max(0.0, self._deadline - time.monotonic())
        if self.config.loop:
            seconds = left
        elif seconds > left:
            self.capped = True
        try:
            await asyncio.wait_for(self.stop_event.wait(), min(seconds, left))
        except asyncio.TimeoutError:
            pass

    # -- registration ------------------------------------------------------------------------
    async def _register_all(self) -> None:
        from .register import register_account

        cfg, target = self.config, self.target
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(cfg.concurrency)
        outcome: "Counter[str]" = Counter()
        gap = 1.0 / cfg.register_rate if cfg.register_rate > 0 else 0.0
        next_start = [loop.time()]

        async def one(user: User) -> None:
            if gap:  # --register-rate: the starts evenly spaced, one every 1/R seconds
                start = max(loop.time(), next_start[0])
                next_start[0] = start + gap
                await asyncio.sleep(start - loop.time())
            async with sem:
                timeout = max(0.1, min(cfg.login_timeout, self._deadline - time.monotonic()))
                domain = user.jid.partition("@")[2] or target.domain
                try:
                    created = await asyncio.wait_for(loop.run_in_executor(
                        None, lambda: register_account(
                            target.host, target.port, domain, user.username,
                            user.password, ssl_context=self.ssl_context, timeout=timeout)), timeout + 1)
                    outcome["created" if created else "existed"] += 1
                except Exception as exc:  # noqa: BLE001 - every failure is counted by class
                    outcome["failed"] += 1
                    outcome[f"failed:{error_name(exc)}"] += 1
                    self.count_error("register", exc)

        await asyncio.gather(*(one(u) for u in self.users))
        self.registered = dict(outcome)

    # -- logins ------------------------------------------------------------------------------
    def _make_client(self, user: User) -> Any:
        cfg, target = self.config, self.target
        kwargs = _ClientOptions(host=target.host, port=target.port, ssl_context=self.ssl_context,
                                sasl_cache=self.sasl_cache, tls_session_cache=self.tls_cache,
                                stream_management=cfg.stream_management,
                                keepalive=self.scenario.keepalive, reconnect=False,
                                connect_timeout=cfg.login_timeout,
                                iq_timeout=cfg.iq_timeout)
        jid = f"{user.jid}/{cfg.resource}"
        if self._client_factory is not None:
            return self._client_factory(jid, user.password, **kwargs)
        from ..aio import Client

        return Client(jid, user.password, **kwargs)

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
        tasks: "List[asyncio.Future[None]]" = []
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

    async def _login(self, user: User, sem: Optional[asyncio.Semaphore],
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
            try:
                await asyncio.wait_for(client.connect(), min(self.config.login_timeout, remaining))
            except Exception as exc:  # noqa: BLE001 - every failure is counted by class
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
            timings = getattr(client, "last_login_timings", None)  # a test's stand-in may have none
            if timings is not None:
                for name, seconds in timings.phases().items():
                    self.login_phases[name].record(max(0, int(seconds * 1e6)))
            self.login_ok += 1
            self.open_sessions += 1
            self.peak_sessions = max(self.peak_sessions, self.open_sessions)
            user.login_ok = True
            user.full_jid = str(client.bound_jid)
            client.on_disconnected = lambda exc, u=user: self._disconnected(u, exc)

    def _disconnected(self, user: User, exc: Optional[BaseException]) -> None:
        if user.login_ok:
            self.open_sessions -= 1
        if not user.closing:
            err = user.client.error if user.client is not None else None
            self.count_error("disconnected", err if err is not None else exc)

    # -- traffic -----------------------------------------------------------------------------
    async def _traffic(self) -> None:
        """The scenario: prepare, every setup, every run (to the cap), the drain, every
        teardown.  The traffic (its time and CPU) is from the end of the setups to the end of
        the drain; ``setup_seconds`` is the time of the setups."""
        scenario = self.scenario
        live = [u for u in self.users if u.login_ok]
        cpu1 = time.process_time()
        self.traffic_started = t0 = time.monotonic()
        try:
            if not live:
                return
            scenario.prepare(live)
            await self._run_until_deadline([scenario.setup(u) for u in live], "setup")
            self._sample_server_memory()
            self.traffic_started = time.monotonic()
            self.setup_seconds = self.traffic_started - t0
            cpu1 = time.process_time()
            if self.stop_event.is_set():
                return
            senders = [u for u in live if scenario.takes_part(u)]
            self.senders = len(senders) if scenario.kind is not None else 0
            await self._run_until_deadline([scenario.run(u) for u in senders], "traffic")
            self._sample_server_memory()
            self._sending_done = True
            self._check_drained()
            if scenario.drain:
                await self._drain()
            self.traffic_ended = time.monotonic()
            self._cpu_traffic = time.process_time() - cpu1
            teardown = [scenario.teardown(u) for u in live if u.client is not None and u.client.is_ready]
            if teardown:
                await asyncio.wait([asyncio.ensure_future(c) for c in teardown], timeout=10.0)
        finally:
            if self.traffic_ended is None:
                self.traffic_ended = time.monotonic()
                self._cpu_traffic = time.process_time() - cpu1

    def _sample_server_memory(self) -> None:
        if self.server_rss_before is not None:
            rss = _server_rss_kib(self.target.server_pid)
            if rss is not None:
                self.server_rss_held = max(rss, self.server_rss_held or 0)

    async def _run_until_deadline(self, coros: List[Any], where: str) -> None:
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
            self.stop_event.set()
            if self.config.loop and where == "traffic":  # the planned end: let the runs finish
                done2, pending = await asyncio.wait(pending, timeout=self.config.iq_timeout + 1.0)
                done |= done2
            else:
                self.capped = True
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5.0)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                self.count_error(where, task.exception())

    async def _drain(self) -> None:
        assert self._all_received is not None
        if self.received >= self.awaited:
            return
        try:
            await asyncio.wait_for(self._all_received.wait(), self.config.drain)
        except asyncio.TimeoutError:
            pass

    # -- closing -----------------------------------------------------------------------------
    async def _close_all(self) -> None:
        clients = [u for u in self.users if u.client is not None]
        for user in clients:
            user.closing = True

        async def close(user: User) -> None:
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
        """The report dict, from the counters and the CPU seconds measured by :meth:`run_async`."""
        cfg = self.config
        started = self.traffic_started or time.monotonic()
        ended = self.traffic_ended or started
        traffic_seconds = max(ended - started, 1e-9)
        lost, duplicated = self.lost, self.duplicates
        expected = self.sent if cfg.loop else self.scenario.expected(cfg.users)
        messages = {
            "kind": self.scenario.kind,
            "expected": expected,
            "sent": self.sent,
            "awaited": self.awaited,
            "received": self.received,
            "lost": lost,
            "duplicated": duplicated,
            "unexpected": self.unexpected,
            "not_sent": max(0, expected - self.sent),
            "senders": self.senders,
            # the pacer's slots missed after a stall, skipped rather than caught up in a burst
            "skipped_slots": self.pacer.skipped,
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
            "event_loop": event_loop_name(),
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
            "setup_seconds": self.setup_seconds,
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
            "scenario_stats": dict(self.scenario.report(), **self.stats),
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
    installed (``uvloop.run``: like ``asyncio.run``, it cancels the tasks left and shuts
    down async generators and the default executor, without touching the global event
    loop policy)."""
    if use_uvloop:
        try:
            import uvloop  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)


def event_loop_name() -> Optional[str]:
    """``"uvloop"`` or ``"asyncio"``: the event loop running now (None outside one)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
