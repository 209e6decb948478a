"""The least a Python driver of fastxmpp's core can spend per paced chat message, against
the load tester's own cost, both on the private Prosody, same run (issue 16).

    python benchmarks/paced_lean.py [--users 200] [--messages 50] [--rate 10]
                                    [--ticks 0.002,0.01] [--rounds 3] [--json FILE]

``paced_floor.py`` measures Python's TLS and event loop with nothing of XMPP on them
(a relay, not a server).  This benchmark puts the rest back, as cheaply as Python can,
to find how much of the load tester's cost per paced message any Python driver would
still pay:

* ``loadrunner``: ``fastxmpp.load``'s ``LoadRunner`` with the ``chat`` scenario
  (``fastxmpp.aio`` clients on asyncio), exactly as ``tsung_compare.py`` runs it:
  PLAIN over STARTTLS, no stream management, Tsung's accounts.  Its CPU per message is
  the report's ``client_us_per_message`` (``process_time`` from the end of the setups
  to the end of the drain, over the messages received).
* ``lean``: the same users log in with ``fastxmpp.sync`` clients (the same
  ``ClientStream``, TLS and SASL), then a loop with no asyncio and no client object
  drives their streams: ``selectors`` (epoll), each ``ssl.SSLSocket`` non-blocking, on
  a grid of ``--ticks`` seconds it sends every message that is due (built, stamped and
  serialized as the load tester does, one ``send()`` each) and, when a socket is
  readable, reads it, feeds the stream and, for each stanza, reads the stamp, checks
  the sender's sequence and records the latency in the load tester's ``Histogram``.
  Its CPU is ``process_time`` from the first send to the last message's arrival.

Both pace every user at ``--rate`` messages/s (the users' schedules spread over one
period), on the same tick grid (the load tester's ``Pacer`` is given the tick), so
each message is its own TLS record, ``send()`` and, on the receiving side, ``recv()``.
The variants take turns round by round (order rotated); the report gives, per tick,
medians and ranges and the ratio loadrunner / lean.  Under ``perf`` (``perf record
-p PID`` during a ``lean`` run) the rest splits into the kernel, OpenSSL, expat and
the interpreter; see benchmarks/README.md.

Only loopback is used; Prosody's directory is removed on every exit path; every
run has a time limit (``--timeout``).  Nothing is asserted about time.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import selectors
import ssl
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, cast

try:
    import fastxmpp  # noqa: F401
except ImportError:  # run from a checkout: use the in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastxmpp import events
from fastxmpp.load.histogram import Histogram
from fastxmpp.load.recorder import read_stamp, stamp
from fastxmpp.stanza import Element
from fastxmpp.sync import Client
from fastxmpp.testing.prosody import ProsodyServer

PREFIX = "tsu"  # tsung_compare.py's accounts: tsuN / pwN
BODY_SIZE = 16
_MESSAGE = "{jabber:client}message"
_BODY = "{jabber:client}body"


def _body(seq: int) -> str:
    """The chat scenario's body for message ``seq`` (``Chat.build``), ``BODY_SIZE`` long."""
    body = "load " + str(seq)
    return body + " " + "x" * (BODY_SIZE - len(body) - 1) if BODY_SIZE > len(body) else body


def run_lean(server: ProsodyServer, users: int, messages: int, rate: float, tick: float,
             timeout: float) -> Dict[str, Any]:
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    clients: List[Client] = []
    try:
        for i in range(users):
            client = Client(f"{PREFIX}{i + 1}@{server.domain}/load", f"pw{i + 1}", host=server.host,
                            port=server.port, ssl_context=ctx, stream_management=False,
                            mechanisms=["PLAIN"])
            client.connect()
            clients.append(client)
        return _paced(clients, messages, rate, tick, timeout)
    finally:
        for client in clients:
            sock = client._sock  # noqa: SLF001 - the benchmark drives the client's socket itself
            try:
                if sock is not None:
                    sock.setblocking(True)
                client.close()
            except Exception:  # noqa: BLE001 - closing after a failed run
                client.abort()


def _paced(clients: List[Client], messages: int, rate: float, tick: float,
           timeout: float) -> Dict[str, Any]:
    users = len(clients)
    jids = [str(c.bound_jid) for c in clients]
    index_of = {jid: i for i, jid in enumerate(jids)}
    # the private parts of a sync client this loop drives: its TLS socket and its stream
    socks = [cast(ssl.SSLSocket, c._sock) for c in clients]  # noqa: SLF001
    streams = [c.stream for c in clients]
    selector = selectors.DefaultSelector()
    for i, sock in enumerate(socks):
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, i)
    histogram = Histogram()
    expected = [0] * users  # the next sequence number from each sender
    received = [0]
    errors = [0]

    def read(i: int) -> None:
        sock, stream = socks[i], streams[i]
        assert stream is not None
        try:
            data = sock.recv(65536)
        except ssl.SSLWantReadError:
            return
        while sock.pending():
            data += sock.recv(65536)
        stream.receive_data(data)
        now_us = time.time_ns() // 1000
        for event in stream.events():
            if type(event) is events.StanzaReceived:
                got = read_stamp(event.stanza)
                sender = index_of.get(event.stanza.get("from", ""))
                if got is None or sender is None or got[1] != expected[sender]:
                    errors[0] += 1
                    continue
                expected[sender] += 1
                histogram.record(max(0, now_us - got[0]))
                received[0] += 1

    interval = 1.0 / rate
    total = users * messages
    start = time.monotonic() + 0.05
    due = [start + random.uniform(0.0, interval) for _ in range(users)]
    sent = [0] * users
    gc.collect()
    print(f"lean: {users} users logged in, pacing (tick {tick * 1000:g} ms)", file=sys.stderr, flush=True)
    cpu0, t0 = time.process_time(), time.monotonic()
    next_tick = start
    while received[0] + errors[0] < total:
        now = time.monotonic()
        if now - t0 > timeout:
            raise TimeoutError(f"lean: {received[0]} of {total} messages after {timeout:g} s")
        if now >= next_tick:
            for i in range(users):
                n = sent[i]
                if n < messages and due[i] <= now:
                    sent[i] = n + 1
                    due[i] += interval
                    stream = streams[i]
                    el = Element(_MESSAGE, {"to": jids[(i + 1) % users], "type": "chat", "id": f"l{i}-{n}"})
                    el.subelement(_BODY, text=_body(n))
                    stream.send(stamp(el, n))  # type: ignore[union-attr]
                    socks[i].send(stream.data_to_send())  # type: ignore[union-attr]
            next_tick = (int(now / tick) + 1) * tick
        for key, _ in selector.select(max(0.0, next_tick - time.monotonic())):
            read(key.data)
    cpu = time.process_time() - cpu0
    return {"variant": "lean", "tick": tick, "messages": received[0], "errors": errors[0],
            "us_per_message": cpu / max(1, received[0]) * 1e6,
            "p50_ms": (histogram.percentile(50) or 0) / 1000.0, "p99_ms": (histogram.percentile(99) or 0) / 1000.0}


def run_loadrunner(server: ProsodyServer, users: int, messages: int, rate: float, tick: float,
                   timeout: float) -> Dict[str, Any]:
    from fastxmpp.aio import Client as AioClient
    from fastxmpp.load.runner import LoadConfig, LoadRunner, Pacer, Target

    config = LoadConfig(users=users, password="pw", user_prefix=PREFIX, messages=messages, rate=rate,
                        concurrency=20, quiet=True, duration=timeout, drain=10.0, body_size=BODY_SIZE,
                        scenario="chat", stream_management=False)
    target = Target(host=server.host, port=server.port, domain=server.domain,
                    ca_file=str(server.ca_file), local=True, server_pid=server.pid)

    class Runner(LoadRunner):
        def _make_client(self, user: Any) -> Any:  # Tsung's accounts and PLAIN, as tsung_compare.py
            return AioClient(f"{user.jid}/{self.config.resource}", f"pw{user.index + 1}",
                             host=self.target.host, port=self.target.port, ssl_context=self.ssl_context,
                             stream_management=False, keepalive=None, reconnect=False,
                             mechanisms=["PLAIN"], connect_timeout=self.config.login_timeout)

    runner = Runner(config, target)
    runner.pacer = Pacer(config.rate, config.total_rate, tick=tick)
    report = runner.run()
    lat = report["messages"]["latency_ms"]
    return {"variant": "loadrunner", "tick": tick, "messages": report["messages"]["received"],
            "errors": sum(report["errors"].values()),
            "us_per_message": report["cpu"]["client_us_per_message"],
            "p50_ms": lat.get("p50"), "p99_ms": lat.get("p99"), "ok": report["ok"]}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--messages", type=int, default=50, help="per user")
    ap.add_argument("--rate", type=float, default=10.0, help="messages/s per user")
    ap.add_argument("--ticks", default="0.002,0.01", help="pacer ticks (seconds), comma-separated")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    ap.add_argument("--variants", default="loadrunner,lean",
                    help="which to run (one alone is for profiling: perf record -p PID)")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    ticks = [float(t) for t in args.ticks.split(",")]
    known = {"loadrunner": run_loadrunner, "lean": run_lean}
    names = args.variants.split(",")
    if not names or any(n not in known for n in names):
        ap.error(f"--variants: a comma-separated list of {', '.join(known)}")
    variants = [(n, known[n]) for n in names]
    runs: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fastxmpp-lean-") as workdir:
        server = ProsodyServer(os.path.join(workdir, "prosody"), log_level="error")
        server.start()
        try:
            server.create_users([(f"{PREFIX}{i}", f"pw{i}") for i in range(1, args.users + 1)])
            for rnd in range(args.rounds):
                order = variants[rnd % len(variants):] + variants[:rnd % len(variants)]
                for tick in ticks:
                    for _name, fn in order:
                        r = fn(server, args.users, args.messages, args.rate, tick, args.timeout)
                        r["round"] = rnd
                        runs.append(r)
                        print(json.dumps(r), file=sys.stderr, flush=True)
        finally:
            server.stop()
    if len(variants) < 2:
        return 0
    summary = _summary(runs, ticks)
    print(_table(summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "runs": runs, "summary": summary}, f, indent=1)
    return 0


def _summary(runs: List[Dict[str, Any]], ticks: List[float]) -> List[Dict[str, Any]]:
    out = []
    for tick in ticks:
        row: Dict[str, Any] = {"tick": tick}
        for name in ("loadrunner", "lean"):
            vals = [r["us_per_message"] for r in runs if r["variant"] == name and r["tick"] == tick]
            row[name] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}
        ratios = []
        for rnd in sorted({r["round"] for r in runs}):
            pair = {r["variant"]: r["us_per_message"] for r in runs if r["round"] == rnd and r["tick"] == tick}
            ratios.append(pair["loadrunner"] / pair["lean"])
        row["ratio"] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
        out.append(row)
    return out


def _table(summary: List[Dict[str, Any]]) -> str:
    lines = ["| tick | loadrunner us/message | lean us/message | loadrunner / lean |", "|---|---|---|---|"]
    for row in summary:
        cells = [f"{row['tick'] * 1000:g} ms"]
        for key in ("loadrunner", "lean", "ratio"):
            v = row[key]
            fmt = "{:.2f}" if key == "ratio" else "{:.1f}"
            cells.append(f"{fmt.format(v['median'])} [{fmt.format(v['min'])}-{fmt.format(v['max'])}]")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
