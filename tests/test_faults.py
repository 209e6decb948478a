"""Fault injection: connections cut at every moment, and not one message lost or duplicated.

A *sender* client talks to the test Prosody through :class:`FaultProxy`, which cuts its
connections at seeded random moments: after k bytes from the server (during the TLS
handshake, SASL, bind or resume, or later in the traffic), after k bytes from the client,
or after a delay.  The sender also cuts its own connection with ``abort()`` inside its
handlers: in ``on_session_started`` (always right after the first resumptions, the moment
of issue 13 part 5, then at random) and in ``on_message``.  It sends numbered messages to a
*receiver* client connected directly, which counts each number and echoes it back; the
sender counts the echoes.  At the end a marker message goes both ways: anything sent before
it has arrived once it has (Prosody keeps the order of a session's stanzas).

Pass: every number arrived exactly once, both ways (``lost`` and ``duplicated`` empty), and
the sender never stayed down.

Why a duplicate is a failure here, not bad luck.  The receiver does not deduplicate.  With
stream management a stanza is sent again only (a) by resumption, for the stanzas the server
had not acknowledged -- the server's ``h`` in ``<resumed/>`` says exactly which it got, so
nothing is sent twice -- or (b) by this sender, for the stanzas ``on_resume_failed`` /
``resume_failed_stanzas`` hand back when a session could not be resumed.  Only (b) can
duplicate: the server may have received a stanza whose ack was lost.  Prosody keeps a
broken session for ``smacks_hibernation_time`` (60 s here), far longer than these runs'
reconnect delays, so a resumption fails only if the client does not try it, tries it
wrongly, or lets the session go; a client-side ``abort()`` keeps the SM state too.  And
since a session is ready only once ``<enabled/>`` came back, no stanza is sent in a session
that cannot be resumed.  So with Prosody a duplicate, like a loss, is a client bug; the
summary says how many stanzas were handed back and resent, to tell (b) apart.

That premise needs one fix on the server side, which ``fastxmpp.testing.ProsodyServer`` loads
by default (:data:`fastxmpp.testing.prosody.SMACKS_PARSER_FIX`): Prosody 0.12's mod_smacks
moves a resumed session onto the new connection but leaves its ``session.data`` -- mod_c2s's
closure over the XML parser of the connection the session *started* on -- in place, so what a
client sends after a resumption is fed to that old parser.  When a connection of the session
died while that parser held part of a stanza (Prosody reads TLS plaintext 8 KiB at a time, so a
busy server that falls behind often stops mid-stanza), the next resumed stream is glued onto
the fragment: everything the client sends becomes children of a stanza that never ends (no ack,
the sender waits for ever) or a ``not-well-formed`` stream error that ends the session, so the
next resumption fails with ``item-not-found`` and what the server had queued for the client is
sent to offline storage.  Neither is something a client can prevent or repair;
``test_resumed_stream_is_parsed_afresh`` pins it down without load (and
tests/test_prosody_fixture.py shows the stock server's failure).

``FASTXMPP_FAULT_CUTS`` (cuts per client, default 100) and ``FASTXMPP_FAULT_SEED`` size the
run; ``scripts/fault-run`` runs 1,000 cuts per client and prints the counts.
"""
from __future__ import annotations

import asyncio
import collections
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Iterator, List, Optional, Tuple

import pytest

from fastxmpp import errors, sync
from fastxmpp.aio import Client as AioClient
from fastxmpp.backoff import Backoff
from fastxmpp.stanza import message
from fastxmpp.testing.faultproxy import Cut, FaultProxy, RandomCuts

pytestmark = pytest.mark.prosody

CUTS = int(os.environ.get("FASTXMPP_FAULT_CUTS", "100"))
SEED = int(os.environ.get("FASTXMPP_FAULT_SEED", "13"))
MIN_MESSAGES = 200
PACE = 0.002            # seconds between two messages
STUCK = 20.0            # a sender down this long (backoff is at most 0.2 s) has stopped reconnecting
END_WAIT = 30.0         # for the end marker to go both ways once the cuts stopped
FORCED_RESUMED_ABORTS = 3   # the first resumed sessions are cut inside on_session_started
P_ABORT_RESUMED = 0.2   # then: abort() in on_session_started of a resumed session
P_ABORT_FRESH = 0.2     # abort() in on_session_started of a fresh session (not the first)
P_ABORT_MESSAGE = 0.01  # abort() in on_message, per echo
BODY = "{jabber:client}body"


@pytest.fixture(scope="module")
def prosody(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A private Prosody for these tests, so that their cuts and hibernating sessions stay
    off the shared one (overrides conftest's ``prosody``, so ``account`` makes its users
    here); like every ProsodyServer it has SMACKS_PARSER_FIX."""
    from fastxmpp.testing.prosody import ProsodyServer, prosody_binary

    if prosody_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("prosody is not installed (scripts/install-system-deps installs it)")
        pytest.skip("prosody is not installed; run scripts/install-system-deps")
    server = ProsodyServer(tmp_path_factory.mktemp("prosody-faults"), modules=("mam",))
    assert server.smacks_parser_fix  # the default; test_resumed_stream_is_parsed_afresh needs it
    server.start()
    yield server
    server.stop()


class Stuck(Exception):
    """The sender stayed down (its reconnection stopped) or the end marker never came back."""


@dataclass
class Outcome:
    """What one run did and saw; ``summary()`` is what scripts/fault-run prints."""

    client: str
    seed: int
    target: int
    sent: int = 0
    received: collections.Counter = field(default_factory=collections.Counter)
    echoes: collections.Counter = field(default_factory=collections.Counter)
    fresh: int = 0
    resumed: int = 0
    aborts: collections.Counter = field(default_factory=collections.Counter)
    proxy_cuts: collections.Counter = field(default_factory=collections.Counter)
    handed_back: int = 0
    resent: int = 0
    stuck: Optional[str] = None
    notes: Deque[str] = field(default_factory=lambda: collections.deque(maxlen=30))
    seconds: float = 0.0

    @property
    def cuts(self) -> int:
        return sum(self.aborts.values()) + sum(self.proxy_cuts.values())

    def lost(self) -> List[int]:
        return [n for n in range(self.sent) if not self.received[n]]

    def duplicated(self) -> List[int]:
        return sorted(n for n, count in self.received.items() if count > 1)

    def echoes_lost(self) -> List[int]:
        return [n for n in range(self.sent) if self.received[n] and not self.echoes[n]]

    def echoes_duplicated(self) -> List[int]:
        return sorted(n for n, count in self.echoes.items() if count > self.received[n])

    def ok(self) -> bool:
        return not (self.stuck or self.lost() or self.duplicated() or self.echoes_lost()
                    or self.echoes_duplicated())

    def note(self, text: str) -> None:
        self.notes.append("%7.3f %s" % (time.monotonic(), text))

    def summary(self) -> str:
        def show(items: List[int]) -> str:
            return "%d%s" % (len(items), " %s" % items[:10] if items else "")
        lines = [
            "%s seed=%d: %d cuts (proxy %s; abort() %s) in %.1fs; sessions %d fresh, %d resumed"
            % (self.client, self.seed, self.cuts, dict(self.proxy_cuts), dict(self.aborts),
               self.seconds, self.fresh, self.resumed),
            "  sent %d: lost %s, duplicated %s; echoes lost %s, duplicated %s;"
            " handed back %d, resent %d"
            % (self.sent, show(self.lost()), show(self.duplicated()), show(self.echoes_lost()),
               show(self.echoes_duplicated()), self.handed_back, self.resent),
        ]
        if self.stuck:
            lines.append("  STUCK: " + self.stuck)
        if not self.ok():
            lines.append("  the last events (monotonic seconds):")
            lines += ["    " + n for n in self.notes]
        return "\n".join(lines)


class Cutter:
    """Decides the cuts of one run: the proxy's plan per connection and the handler aborts,
    until ``target`` cuts happened (then nothing more is cut)."""

    def __init__(self, outcome: Outcome, proxy_plan: Callable[[int], Optional[Cut]]) -> None:
        self.outcome = outcome
        self.rng = random.Random("%d/handlers" % outcome.seed)
        self.proxy_plan = proxy_plan
        self.proxy: Optional[FaultProxy] = None
        self.closed = False
        self.resend: Deque[Any] = collections.deque()  # handed back by on_resume_failed
        self.echoed_end = threading.Event()
        self.end_sent = False
        self.lock = threading.Lock()  # the plan runs in the proxy's thread for the sync client

    @property
    def open(self) -> bool:
        return not self.closed and self.outcome.cuts < self.outcome.target

    def plan(self, index: int) -> Optional[Cut]:
        with self.lock:
            if index == 0 or not self.open:  # the first connection: see run_aio_sender()
                return None
            return self.proxy_plan(index)

    def collect(self) -> None:
        """Take the proxy's cuts into the outcome."""
        proxy = self.proxy
        if proxy is not None:
            with self.lock:
                while sum(self.outcome.proxy_cuts.values()) < len(proxy.cuts):
                    record = proxy.cuts[sum(self.outcome.proxy_cuts.values())]
                    self.outcome.proxy_cuts[record.reason] += 1
                    self.outcome.note("proxy cut connection %d (%s) after %d bytes up, %d down"
                                      % (record.connection, record.reason, record.bytes_up,
                                         record.bytes_down))

    def on_session_started(self, event: Any) -> bool:
        """Whether to abort() inside on_session_started for this session."""
        out = self.outcome
        if event.resumed:
            out.resumed += 1
        else:
            out.fresh += 1
        out.note("session started: resumed=%s resumable=%s" % (event.resumed, event.resumable))
        self.collect()
        if not self.open:
            return False
        if event.resumed:
            hit = out.resumed <= FORCED_RESUMED_ABORTS or self.rng.random() < P_ABORT_RESUMED
        else:
            hit = out.fresh > 1 and self.rng.random() < P_ABORT_FRESH
        if hit:
            out.aborts["on_session_started"] += 1
            out.note("abort() in on_session_started")
        return hit

    def on_echo(self) -> bool:
        if self.open and self.rng.random() < P_ABORT_MESSAGE:
            self.outcome.aborts["on_message"] += 1
            self.outcome.note("abort() in on_message")
            return True
        return False

    def attach(self, client: Any) -> None:
        """Install the sender's handlers on ``client`` (either driver)."""
        outcome, resend, echoed_end = self.outcome, self.resend, self.echoed_end

        def on_session_started(event: Any) -> None:
            if self.on_session_started(event):
                client.abort()

        def on_resume_failed(stanzas: List[Any]) -> None:
            outcome.handed_back += len(stanzas)
            outcome.note("resumption failed: %d stanzas handed back" % len(stanzas))
            resend.extend(stanzas)

        def on_message(stanza: Any) -> None:
            body = stanza.findtext(BODY)
            if body == "end":
                echoed_end.set()
            elif body is not None:
                outcome.echoes[int(body)] += 1
                if self.on_echo():
                    client.abort()

        client.on_session_started = on_session_started
        client.on_resume_failed = on_resume_failed
        client.on_message(on_message)

    def next_stanza(self, to: str) -> Tuple[Optional[Any], Callable[[], None]]:
        """What the sender sends next, and what to call once it is queued: first what a
        failed resumption handed back, then the next number while cutting, then the end
        marker once (None: nothing left to send)."""
        outcome = self.outcome
        if self.resend:
            def resent() -> None:
                self.resend.popleft()
                outcome.resent += 1
            return self.resend[0], resent
        if not self.closed:
            def counted() -> None:
                outcome.sent += 1
            return message(to=to, body=str(outcome.sent)), counted
        if not self.end_sent:
            def ended() -> None:
                self.end_sent = True
            return message(to=to, body="end"), ended
        return None, lambda: None

    def finish(self) -> None:
        """No more cuts, but one of the connection open now (it may have a plan), so that
        the last connection is clean; then the end marker goes out."""
        self.closed = True
        if self.proxy is not None:
            self.proxy.cut_all()
        self.collect()

    @property
    def cutting(self) -> bool:
        return self.open or self.outcome.sent < MIN_MESSAGES

    def done(self, receiver_ended: threading.Event) -> bool:
        return self.echoed_end.is_set() and receiver_ended.is_set()


def make_outcome(client: str, cuts: int = CUTS, seed: int = SEED) -> Outcome:
    return Outcome(client=client, seed=seed, target=cuts)


def proxy_plan(seed: int) -> RandomCuts:
    # the server sends about 3.4 kB to negotiate a session (most of it the TLS handshake and
    # the certificate chain) and the client about 1.7 kB: cuts by bytes fall inside the
    # negotiation about half of the time, and into the traffic otherwise
    return RandomCuts(seed=seed, max_bytes=7000, max_seconds=0.3)


# -- the receiver: a direct connection, no cuts, in a thread of its own ----------------------

class Receiver:
    """An asyncio client on a loop in its own thread: counts the numbers it gets into
    ``outcome.received`` and echoes each one back; ``ended`` is set by the end marker."""

    def __init__(self, prosody: Any, jid: str, password: str, outcome: Outcome) -> None:
        self.prosody, self.jid, self.password, self.outcome = prosody, jid, password, outcome
        self.ended = threading.Event()
        self._ready = threading.Event()
        self._stop: Optional[asyncio.Event] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._main, name="fault-receiver", daemon=True)

    def __enter__(self) -> "Receiver":
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError("the receiver did not connect")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        client = AioClient(self.jid, self.password, host=self.prosody.host, port=self.prosody.port,
                           ca_file=str(self.prosody.ca_file), keepalive=None)

        def on_message(stanza: Any) -> None:
            body = stanza.findtext(BODY)
            if body is None:
                return
            if body == "end":
                self.ended.set()
            else:
                self.outcome.received[int(body)] += 1
            client.send_nowait(message(to=stanza.get("from"), body=body))

        client.on_message(on_message)
        try:
            await client.connect()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await client.close()


# -- the asyncio sender ---------------------------------------------------------------------

def _describe_aio(client: AioClient) -> str:
    task = getattr(client, "_reconnect_task", None)
    if task is None:
        task_state = "none"
    elif not task.done():
        task_state = "running"
    elif task.cancelled():
        task_state = "cancelled"
    else:
        task_state = "finished (%r)" % (task.exception(),)
    stream = client.stream
    return ("is_ready=%s, error=%r, reconnect task %s, stream state %s, sm_state %s"
            % (client.is_ready, client.error, task_state, stream.state if stream else None,
               "yes" if stream is not None and stream.sm_state() is not None else "no"))


async def run_aio_sender(prosody: Any, jid: str, password: str, to: str, outcome: Outcome,
                         plan: Callable[[int], Optional[Cut]], receiver_ended: threading.Event) -> None:
    began = time.monotonic()
    cutter = Cutter(outcome, plan)
    proxy = cutter.proxy = await FaultProxy(prosody.host, prosody.port, plan=cutter.plan).start()
    loop = asyncio.get_running_loop()
    client = AioClient(jid, password, host=proxy.host, port=proxy.port, ca_file=str(prosody.ca_file),
                       reconnect=True, keepalive=None, connect_timeout=10)
    client.backoff = Backoff(initial=0.01, maximum=0.2, rng=random.Random(outcome.seed))
    cutter.attach(client)

    async def wait_ready() -> None:
        deadline = loop.time() + STUCK
        while not client.is_ready:
            if loop.time() > deadline:
                cutter.collect()
                raise Stuck("not ready %.0fs after the last cut: %s" % (STUCK, _describe_aio(client)))
            await asyncio.sleep(0.01)

    async def send(stanza: Any) -> bool:
        try:
            await client.send(stanza)  # returns once the stanza is in the SM queue
            return True
        except (ConnectionError, errors.XMPPError) as exc:
            outcome.note("send failed: %r" % (exc,))
            return False

    try:
        try:
            await client.connect()  # the first connection is never cut by the plan
            while cutter.cutting:
                await wait_ready()
                stanza, queued = cutter.next_stanza(to)
                if await send(stanza):
                    queued()
                await asyncio.sleep(PACE)
                cutter.collect()
            cutter.finish()
            deadline = loop.time() + END_WAIT
            while not cutter.done(receiver_ended):
                if loop.time() > deadline:
                    raise Stuck("the end marker did not go both ways within %.0fs (sent: %s; %s)"
                                % (END_WAIT, cutter.end_sent, _describe_aio(client)))
                await wait_ready()
                stanza, queued = cutter.next_stanza(to)
                if stanza is None:
                    await asyncio.sleep(0.02)
                elif await send(stanza):
                    queued()
        except Stuck as exc:
            outcome.stuck = str(exc)
        finally:
            cutter.collect()
            outcome.seconds = time.monotonic() - began
            await client.close()
    finally:
        await proxy.close()


def run_aio(prosody: Any, account: Callable[[], Any], outcome: Outcome,
            plan: Optional[Callable[[int], Optional[Cut]]] = None) -> Outcome:
    (ja, pa), (jb, pb) = account(), account()
    with Receiver(prosody, jb + "/r", pb, outcome) as receiver:
        asyncio.run(run_aio_sender(prosody, ja + "/s", pa, jb + "/r", outcome,
                                   plan or proxy_plan(outcome.seed), receiver.ended))
    return outcome


# -- the blocking sender --------------------------------------------------------------------

def _describe_sync(client: sync.Client) -> str:
    stream = client.stream
    return ("is_ready=%s, error=%r, stream state %s, sm_state %s"
            % (client.is_ready, client.error, stream.state if stream else None,
               "yes" if stream is not None and stream.sm_state() is not None else "no"))


def run_sync_sender(prosody: Any, jid: str, password: str, to: str, outcome: Outcome,
                    plan: Callable[[int], Optional[Cut]], receiver_ended: threading.Event) -> None:
    began = time.monotonic()
    cutter = Cutter(outcome, plan)
    proxy = FaultProxy(prosody.host, prosody.port, plan=cutter.plan)
    cutter.proxy = proxy
    with proxy.running():
        client = sync.Client(jid, password, host=proxy.host, port=proxy.port,
                             ca_file=str(prosody.ca_file), keepalive_interval=None,
                             connect_timeout=10, max_reconnect_attempts=200)
        client.backoff = Backoff(initial=0.01, maximum=0.2, rng=random.Random(outcome.seed))

        cutter.attach(client)

        def ensure_ready() -> None:
            deadline = time.monotonic() + STUCK
            while not client.is_ready:
                if time.monotonic() > deadline:
                    cutter.collect()
                    raise Stuck("not ready %.0fs after the last cut: %s"
                                % (STUCK, _describe_sync(client)))
                try:
                    client.reconnect()
                except errors.SASLError:
                    raise
                except (ConnectionError, errors.XMPPError) as exc:
                    outcome.note("reconnect raised %r" % (exc,))

        def send(stanza: Any) -> bool:
            """True when the stanza is in the SM queue (sent, or retransmitted on resumption)."""
            queued = client.is_ready  # then send() queues it before anything can fail
            try:
                client.send(stanza)
            except (ConnectionError, errors.XMPPError) as exc:
                outcome.note("send raised %r (queued: %s)" % (exc, queued))
            return queued

        def pump(timeout: float) -> None:
            try:
                client.process(timeout)
            except (ConnectionError, errors.XMPPError) as exc:
                outcome.note("process raised %r" % (exc,))

        try:
            client.connect()
            while cutter.cutting:
                ensure_ready()
                stanza, queued = cutter.next_stanza(to)
                if send(stanza):
                    queued()
                pump(PACE)
                cutter.collect()
            cutter.finish()
            deadline = time.monotonic() + END_WAIT
            while not cutter.done(receiver_ended):
                if time.monotonic() > deadline:
                    raise Stuck("the end marker did not go both ways within %.0fs (sent: %s; %s)"
                                % (END_WAIT, cutter.end_sent, _describe_sync(client)))
                ensure_ready()
                stanza, queued = cutter.next_stanza(to)
                if stanza is None:
                    pump(0.02)
                elif send(stanza):
                    queued()
        except Stuck as exc:
            outcome.stuck = str(exc)
        finally:
            cutter.collect()
            outcome.seconds = time.monotonic() - began
            client.close()


def run_sync(prosody: Any, account: Callable[[], Any], outcome: Outcome,
             plan: Optional[Callable[[int], Optional[Cut]]] = None) -> Outcome:
    (ja, pa), (jb, pb) = account(), account()
    with Receiver(prosody, jb + "/r", pb, outcome) as receiver:
        run_sync_sender(prosody, ja + "/s", pa, jb + "/r", outcome,
                        plan or proxy_plan(outcome.seed), receiver.ended)
    return outcome


RUNNERS = {"aio": run_aio, "sync": run_sync}


# -- the tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["aio", "sync"])
def test_random_cuts_lose_and_duplicate_nothing(prosody, account, kind):
    outcome = RUNNERS[kind](prosody, account, make_outcome(kind))
    print(outcome.summary())
    assert outcome.ok(), outcome.summary()
    assert outcome.cuts >= CUTS and outcome.resumed >= FORCED_RESUMED_ABORTS


@pytest.mark.parametrize("kind", ["aio", "sync"])
def test_cut_right_after_each_resumption_is_reconnected(prosody, account, kind):
    """The moment of issue 13 part 5: abort() inside on_session_started of resumed sessions,
    over and over; the proxy cuts only the first connection, at once (and abort() in
    on_message cuts at random as in every run)."""
    outcome = make_outcome(kind, cuts=8)
    outcome = RUNNERS[kind](prosody, account, outcome,
                            plan=lambda index: Cut(after_bytes=0) if index == 1 else None)
    print(outcome.summary())
    assert outcome.ok(), outcome.summary()
    assert outcome.resumed >= FORCED_RESUMED_ABORTS


def test_outcome_counts_losses_and_duplicates():
    """The harness' own arithmetic: a run that lost and duplicated is not ok."""
    outcome = make_outcome("unit")
    outcome.sent = 4
    outcome.received.update([0, 1, 1, 3])
    outcome.echoes.update([0, 1, 1, 1])
    assert outcome.lost() == [2] and outcome.duplicated() == [1]
    assert outcome.echoes_lost() == [3] and outcome.echoes_duplicated() == [1]
    assert not outcome.ok()
    assert "lost 1 [2]" in outcome.summary()


# -- SessionStarted.resumable on the first session (issue 13 part 5) ----------------------------

def test_first_session_is_resumable_aio(prosody, account):
    jid, pw = account()

    async def main():
        sessions: asyncio.Queue = asyncio.Queue()
        async with FaultProxy(prosody.host, prosody.port) as proxy:
            c = AioClient(jid + "/r", pw, host=proxy.host, port=proxy.port,
                          ca_file=str(prosody.ca_file), keepalive=None, reconnect=True)
            c.backoff = Backoff(initial=0.01, maximum=0.1)
            c.on_session_started = sessions.put_nowait
            await c.connect()
            first = sessions.get_nowait()  # emitted before connect() returned
            assert (first.resumed, first.sm_enabled, first.resumable) == (False, True, True)
            assert c.stream.sm_state() is not None
            proxy.cut_all()
            second = await asyncio.wait_for(sessions.get(), 30)
            assert (second.resumed, second.sm_enabled, second.resumable) == (True, True, True)
            await c.close()
    asyncio.run(asyncio.wait_for(main(), 60))


def test_first_session_is_resumable_sync(prosody, account):
    jid, pw = account()
    with FaultProxy(prosody.host, prosody.port).running() as proxy:
        c = sync.Client(jid + "/r", pw, host=proxy.host, port=proxy.port,
                        ca_file=str(prosody.ca_file), keepalive_interval=None)
        c.backoff = Backoff(initial=0.01, maximum=0.1)
        sessions: List[Any] = []
        c.on_session_started = sessions.append
        first = c.connect()
        assert sessions == [first]
        assert (first.resumed, first.sm_enabled, first.resumable) == (False, True, True)
        proxy.cut_all()
        second = c.reconnect(max_attempts=20)
        assert (second.resumed, second.sm_enabled, second.resumable) == (True, True, True)
        c.close()


# -- the server's side of a resumption (ProsodyServer's SMACKS_PARSER_FIX) ----------------------

def test_resumed_stream_is_parsed_afresh(prosody: Any, account: Callable[[], Any]) -> None:
    """A connection dies while the server's parser holds half a stanza; the resumed stream is
    parsed on its own (Prosody 0.12 without SMACKS_PARSER_FIX glues it onto the fragment and
    never answers).  The fragment goes out in one write with a message and an ack request, so
    the server has read it once that ack came back."""
    jid, pw = account()
    c = sync.Client(jid + "/r", pw, host=prosody.host, port=prosody.port,
                    ca_file=str(prosody.ca_file), keepalive_interval=None)
    c.backoff = Backoff(initial=0.01, maximum=0.1)
    try:
        c.connect()
        stream, sock = c.stream, c._sock
        assert stream is not None and sock is not None
        stream.send(message(to=jid + "/r", body="whole"))
        stream.request_ack()
        sock.sendall(stream.data_to_send() + b"<message to='%s'><body>half" % jid.encode())
        c.wait_for_acks(timeout=30)  # its <r/> goes into the fragment; the first one answers
        c.abort()
        assert c.reconnect(max_attempts=20).resumed
        c.ping(timeout=30)
        c.send(message(to=jid + "/r", body="after"))
        c.wait_for_acks(timeout=30)
    finally:
        c.close()


# -- the proxy itself (no XMPP) -----------------------------------------------------------------

def test_proxy_cuts_after_exact_byte_counts_and_on_time():
    async def main():
        got_upstream = []

        async def upstream(reader, writer):
            writer.write(bytes(range(200)))  # the "server" speaks first, 200 bytes
            data = b""
            try:
                while True:
                    chunk = await reader.read(1000)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionError:
                pass
            got_upstream.append(data)
            writer.close()

        server = await asyncio.start_server(upstream, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        plans = {0: Cut(after_bytes=100), 1: Cut(after_bytes=10, direction="up"),
                 2: Cut(after_seconds=0.05)}
        async with server, FaultProxy("127.0.0.1", port, plan=plans.get) as proxy:
            async def session(send=b""):
                reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
                if send:
                    writer.write(send)
                data = b""
                try:
                    while True:
                        chunk = await asyncio.wait_for(reader.read(1000), 10)
                        if not chunk:
                            break
                        data += chunk
                except ConnectionError:
                    pass
                writer.close()
                return data

            assert await session() == bytes(range(100))      # cut in the middle of a "record"
            await session(b"x" * 50)
            for _ in range(500):
                if len(got_upstream) == 2:
                    break
                await asyncio.sleep(0.01)
            assert got_upstream == [b"", b"x" * 10]          # only 10 bytes reached the server
            # the third connection is cut by time (whatever came through by then)
            data = await session()
            assert data == bytes(range(len(data)))
            assert [(c.connection, c.reason) for c in proxy.cuts] == [
                (0, "bytes-down"), (1, "bytes-up"), (2, "time")]
            assert (proxy.cuts[0].bytes_down, proxy.cuts[1].bytes_up) == (100, 10)
            assert proxy.accepted == 3
    asyncio.run(asyncio.wait_for(main(), 60))


def test_proxy_listens_on_loopback_only_and_plans_are_seeded():
    with pytest.raises(ValueError):
        FaultProxy("127.0.0.1", 5222, host="0.0.0.0")
    a, b = RandomCuts(seed=5), RandomCuts(seed=5)
    assert [a(i) for i in range(50)] == [b(i) for i in range(50)]
    assert RandomCuts(seed=5, probability=0.0)(3) is None
    kinds = {("time" if c.after_seconds is not None else c.direction) for c in map(a, range(200))}
    assert kinds == {"up", "down", "time"}
