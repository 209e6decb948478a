"""A soak: two asyncio clients talk for a long time; nothing may leak (issue 13 part 8).

    python benchmarks/soak.py                     # 10 minutes
    python benchmarks/soak.py --duration 120 --warmup 30 --reconnect-every 20

Starts a private Prosody (``fastxmpp.testing.prosody``) unless one is handed in (the test
suite does), connects two clients with ``reconnect=True`` and has each send the other
messages and IQs (XEP-0199 pings to the server, and to the peer, which answers them with a
routed IQ handler) at a steady rate.  Every ``--reconnect-every`` seconds (60) each client
reconnects, alternately by ``abort()`` (a connection loss: stream management resumes the
session) and by ``close()`` then ``connect()`` (a fresh session).

Every ``--sample-every`` seconds (10) it collects garbage, gives free heap pages back to the
OS (``malloc_trim(0)`` where glibc has it) and samples this process's RSS, its open file
descriptors and its asyncio tasks.  After ``--warmup`` seconds (120) the rule is: the median
of the last window of samples (a quarter of the samples after the warm-up, at least 3) minus
the median of the first window is under ``--max-rss-growth`` MB (1), and the descriptors and
tasks do not grow (medians again, so that a sample taken during a reconnection does not count).
Medians of windows rather than single samples keep the rule stable on a busy machine; the
least-squares slope is printed too, for information.  It prints a table and exits 1 when the
rule fails (2 when the traffic stopped: messages or IQs no longer answered).
"""
from __future__ import annotations

import argparse
import asyncio
import ctypes
import ctypes.util
import gc
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Tuple

from fastxmpp.aio import Client
from fastxmpp.backoff import Backoff
from fastxmpp.element import Element
from fastxmpp.stanza import iq, message

MB = 1024 * 1024
NS_PING = "urn:xmpp:ping"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _libc_malloc_trim() -> Optional[Any]:
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    return trim


_MALLOC_TRIM = _libc_malloc_trim()


def malloc_trim() -> None:
    """Give the heap's free pages back to the OS (glibc), so that RSS shows what is in use."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def rss_bytes() -> int:
    """This process's resident set size now (Linux /proc; elsewhere the peak, from getrusage)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def open_fds() -> int:
    for path in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(path))
        except OSError:
            continue
    return -1


@dataclass
class Sample:
    t: float
    rss: int
    fds: int
    tasks: int
    messages: int
    iqs: int
    reconnects: int


@dataclass
class Traffic:
    sent: int = 0
    received: int = 0
    iqs: int = 0
    iq_errors: int = 0
    reconnects: int = 0
    send_errors: int = 0


@dataclass
class Verdict:
    ok: bool
    lines: List[str] = field(default_factory=list)


def median_growth(values: List[float], window: int) -> Tuple[float, float, float]:
    """(median of the first window, median of the last window, their difference)."""
    first = statistics.median(values[:window])
    last = statistics.median(values[-window:])
    return first, last, last - first


def slope_per_minute(samples: List[Sample], attr: str) -> float:
    """Least-squares slope of ``attr`` per minute (information only)."""
    if len(samples) < 2:
        return 0.0
    xs = [s.t for s in samples]
    ys = [float(getattr(s, attr)) for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 60.0 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0


def judge(samples: List[Sample], *, warmup: float, max_rss_growth_mb: float = 1.0,
          max_fd_growth: int = 0, max_task_growth: int = 0) -> Verdict:
    """Apply the rule to the samples taken after ``warmup`` seconds."""
    after = [s for s in samples if s.t >= warmup]
    if len(after) < 6:
        return Verdict(False, ["only %d samples after the warm-up: run longer or sample more often"
                               % len(after)])
    window = max(3, len(after) // 4)
    verdict = Verdict(True)
    for attr, limit, unit, scale in (("rss", max_rss_growth_mb, "MB", MB),
                                     ("fds", max_fd_growth, "", 1), ("tasks", max_task_growth, "", 1)):
        first, last, growth = median_growth([getattr(s, attr) / scale for s in after], window)
        ok = growth < limit if attr == "rss" else growth <= limit
        verdict.ok &= ok
        verdict.lines.append(
            "%-5s %s: median of the first %d samples after %.0fs %.2f%s, of the last %d %.2f%s:"
            " growth %+.2f%s (limit %s%g%s); slope %+.3f%s/min"
            % (attr, "ok  " if ok else "FAIL", window, warmup, first, unit, window, last, unit,
               growth, unit, "<" if attr == "rss" else "<=", limit, unit,
               slope_per_minute(after, attr) / scale, unit))
    return verdict


def table(samples: List[Sample]) -> str:
    rows = ["%8s %9s %5s %6s %9s %7s %6s" % ("t (s)", "RSS (MB)", "fds", "tasks", "messages", "IQs",
                                             "recon")]
    for s in samples:
        rows.append("%8.1f %9.2f %5d %6d %9d %7d %6d"
                    % (s.t, s.rss / MB, s.fds, s.tasks, s.messages, s.iqs, s.reconnects))
    return "\n".join(rows)


def ping(to: str) -> Element:
    el = iq(type="get", to=to)
    el.subelement("{%s}ping" % NS_PING)
    return el


class Soak:
    """The two clients, their traffic and the sampler; :meth:`run` returns the samples."""

    def __init__(self, server: Any, accounts: List[Tuple[str, str]], *, duration: float,
                 sample_every: float, reconnect_every: float, rate: float,
                 log: Callable[[str], None] = print) -> None:
        self.server = server
        self.accounts = accounts
        self.duration = duration
        self.sample_every = sample_every
        self.reconnect_every = reconnect_every
        self.rate = rate  # messages per second per client
        self.log = log
        self.traffic = Traffic()
        self.samples: List[Sample] = []
        self.clients: List[Client] = []
        self._stop = False

    def _client(self, jid: str, password: str) -> Client:
        c = Client(jid, password, host=self.server.host, port=self.server.port,
                   ca_file=str(self.server.ca_file), reconnect=True, keepalive=None)
        c.backoff = Backoff(initial=0.05, maximum=1.0)
        traffic = self.traffic

        def on_message(stanza: Element) -> None:
            traffic.received += 1

        def on_ping(request: Element) -> Element:
            return iq(type="result", to=request.get("from"), id=request.get("id"))

        c.on_message(on_message)
        c.add_iq_handler("{%s}ping" % NS_PING, on_ping, types=("get",))
        return c

    async def _wait_ready(self, c: Client) -> None:
        while not c.is_ready and not self._stop:
            await asyncio.sleep(0.02)

    async def _talk(self, c: Client, peer: str) -> None:
        """Messages to the peer at ``rate`` a second, with an IQ (server ping, then peer ping)
        every 10 messages."""
        interval = 1.0 / self.rate
        n = 0
        while not self._stop:
            await self._wait_ready(c)
            try:
                await c.send(message(to=peer, body="soak %d" % n))
                self.traffic.sent += 1
                n += 1
                if n % 10 == 0:
                    target = self.server.domain if n % 20 else peer
                    await c.iq(ping(target), timeout=30)
                    self.traffic.iqs += 1
            except (ConnectionError, asyncio.TimeoutError) as exc:
                self.traffic.send_errors += 1
                if not isinstance(exc, ConnectionError):
                    self.traffic.iq_errors += 1
            except Exception:  # a stanza error from the peer while it reconnects
                self.traffic.iq_errors += 1
            await asyncio.sleep(interval)

    async def _reconnects(self) -> None:
        count = 0
        while not self._stop:
            await asyncio.sleep(self.reconnect_every)
            if self._stop:
                return
            count += 1
            for c in self.clients:
                if count % 2:
                    c.abort()  # a connection loss: the session is resumed
                else:
                    await c.close()
                    await c.connect()
                self.traffic.reconnects += 1

    def sample(self, began: float) -> Sample:
        gc.collect()
        malloc_trim()
        t = self.traffic
        s = Sample(t=time.monotonic() - began, rss=rss_bytes(), fds=open_fds(),
                   tasks=len(asyncio.all_tasks()), messages=t.received, iqs=t.iqs,
                   reconnects=t.reconnects)
        self.samples.append(s)
        return s

    async def run(self) -> List[Sample]:
        (ja, pa), (jb, pb) = self.accounts
        a, b = self._client(ja + "/soak", pa), self._client(jb + "/soak", pb)
        self.clients = [a, b]
        await a.connect()
        await b.connect()
        began = time.monotonic()
        workers = [asyncio.ensure_future(self._talk(a, jb + "/soak")),
                   asyncio.ensure_future(self._talk(b, ja + "/soak")),
                   asyncio.ensure_future(self._reconnects())]
        try:
            while True:
                s = self.sample(began)
                self.log("%8.1fs  RSS %7.2f MB  fds %4d  tasks %4d  messages %8d  IQs %6d  reconnects %d"
                         % (s.t, s.rss / MB, s.fds, s.tasks, s.messages, s.iqs, s.reconnects))
                if s.t >= self.duration:
                    break
                await asyncio.sleep(min(self.sample_every, self.duration - s.t + 0.01))
                for w in workers:
                    if w.done():  # a worker died: the run is void
                        w.result()
        finally:
            self._stop = True
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            for c in self.clients:
                await c.close()
        return self.samples


def run_soak(server: Any, accounts: List[Tuple[str, str]], **kw: Any) -> Tuple[List[Sample], Traffic]:
    soak = Soak(server, accounts, **kw)
    samples = asyncio.run(soak.run())
    return samples, soak.traffic


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    p.add_argument("--warmup", type=float, default=120.0, help="seconds not judged (default 120)")
    p.add_argument("--sample-every", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument("--reconnect-every", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--rate", type=float, default=100.0, help="messages a second per client (default 100)")
    p.add_argument("--max-rss-growth", type=float, default=1.0, help="MB (default 1)")
    args = p.parse_args(argv)

    from fastxmpp.testing.prosody import ProsodyServer

    with tempfile.TemporaryDirectory(prefix="fastxmpp-soak-") as tmp:
        with ProsodyServer(tmp) as server:
            accounts = [(server.create_user(name, "soak-pw"), "soak-pw") for name in ("soak_a", "soak_b")]
            samples, traffic = run_soak(server, accounts, duration=args.duration,
                                        sample_every=args.sample_every,
                                        reconnect_every=args.reconnect_every, rate=args.rate)
    print()
    print(table(samples))
    print()
    print("messages sent %d, received %d; IQs answered %d, failed %d; reconnects %d"
          % (traffic.sent, traffic.received, traffic.iqs, traffic.iq_errors, traffic.reconnects))
    verdict = judge(samples, warmup=args.warmup, max_rss_growth_mb=args.max_rss_growth)
    for line in verdict.lines:
        print(line)
    if samples[-1].messages <= samples[len(samples) // 2].messages:
        print("FAIL: no message arrived in the second half of the run")
        return 2
    print("PASS" if verdict.ok else "FAIL")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
