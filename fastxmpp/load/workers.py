"""``--workers N``: one load run spread over N processes, merged exactly.

The parent (``python -m fastxmpp load``) starts the server once (or uses
``--server``), splits the users into N disjoint contiguous blocks (on even
boundaries, so that the chat and presence pairs stay inside one process;
account names stay ``load1``..``loadN`` overall) and starts N processes with
the ``spawn`` context of :mod:`multiprocessing`.  Each runs a
:class:`~fastxmpp.load.runner.LoadRunner` over its block in its own asyncio
loop (uvloop when it is installed, unless ``--no-uvloop``), sends its counters
over its own pipe to the parent once a second (the parent prints the progress
of all of them), and at the end its report plus its two latency histograms
(:meth:`~fastxmpp.load.histogram.Histogram.to_dict`).

:func:`merge_reports` adds them up exactly: counters summed, histograms added
bucket by bucket and the latency summaries computed from the sums (never an
average of percentiles), CPU summed, the time series merged with
:func:`~fastxmpp.load.timeseries.merge_timeseries`.

SIGINT: each worker closes its streams and sends its partial report; the
parent forwards SIGINT to the workers (for a ``kill -INT`` of the parent
alone) and still prints the merged report.  A worker that dies without a
report is counted as the error ``worker:died (exit N)``, listed in the report's
``workers_failed`` (with its last progress), stops the others and fails the run.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection as mp_connection
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import asdict
from typing import Any, Dict, List, Optional, Sequence, Set, TextIO, Tuple, cast

from .accounts import Account
from .histogram import Histogram
from .hdr import decode_histogram
from .scenarios import load_scenario
from .runner import (LOGIN_PHASES, LoadConfig, LoadRunner, Target, _fmt_us, _server_cpu_seconds, _server_rss_kib,
                     server_memory,
                     error_kinds_dict, run_loop)
from .timeseries import merge_histogram_fields, merge_timeseries

__all__ = ["split_users", "merge_reports", "run_workers", "worker_count"]


def worker_count(requested: int) -> int:
    """``--workers 0`` is one per core."""
    return requested if requested > 0 else (os.cpu_count() or 1)


def split_users(users: int, workers: int, scenario: str, *, unit: Optional[int] = None) -> List[Tuple[int, int]]:
    """``(first, count)`` blocks, disjoint and contiguous, covering ``users``.

    Blocks start on multiples of ``unit`` and hold at least ``unit`` users, so no group
    spans two processes; ``unit`` defaults to the scenario's
    :meth:`~fastxmpp.load.scenarios.Scenario.group_size` (2 for the paired scenarios chat,
    presence and iq: an odd user out joins the last block's ring of three; a room for muc).
    Fewer blocks than ``workers`` when there are too few users.
    """
    if unit is None:
        unit = load_scenario(scenario).group
    unit = max(1, unit)
    units = users // unit
    n = max(1, min(workers, units))
    blocks = []
    first = 0
    for i in range(n):
        count = (units // n + (1 if i < units % n else 0)) * unit
        if i == n - 1:
            count = users - first
        blocks.append((first, count))
        first += count
    return blocks


# --------------------------------------------------------------------------- worker side

def _worker_main(index: int, config: Dict[str, Any], target: Dict[str, Any], first: int,
                 out: Any, use_uvloop: bool, accounts: Optional[List[Account]] = None) -> None:
    """Entry point of a worker process (spawned: everything it gets is picklable).  ``out``
    is the write end of this worker's own pipe to the parent (no lock shared with the other
    workers, so a worker killed in the middle of a message cannot block them).  ``accounts``:
    with ``--accounts``, this worker's block of the file, which the parent read (the worker
    does not read it again)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # until the loop's handler is installed
    try:
        cfg = LoadConfig(**config)
        cfg.quiet = True
        if accounts is not None:
            cfg.use_accounts(accounts, first)
        runner = LoadRunner(cfg, Target(**target), first_user=first)
        run_loop(_worker_async(index, runner, out), use_uvloop=use_uvloop)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        try:
            out.send(("error", index, f"{type(exc).__name__}: {exc}"))
        except OSError:
            pass
    finally:  # the loop restored the default handler: a late SIGINT must not break the exit
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        out.close()


def _counters(runner: LoadRunner) -> Dict[str, Any]:
    return {"phase": runner.phase, "login_ok": runner.login_ok, "login_failed": runner.login_failed,
            "sent": runner.sent, "received": runner.received, "errors": sum(runner.errors.values()),
            "latency": runner.latency.to_dict() if runner.latency.count else None}


async def _worker_async(index: int, runner: LoadRunner, out: Any) -> None:
    async def progress() -> None:
        # every second, and at once when the phase changes (the parent samples the server's
        # memory while every worker holds its sessions, which may be a short window)
        loop = asyncio.get_running_loop()
        phase, sent_at = runner.phase, loop.time()
        while True:
            await asyncio.sleep(0.05)
            now = loop.time()
            if runner.phase != phase or now - sent_at >= 1.0:
                phase, sent_at = runner.phase, now
                out.send(("progress", index, _counters(runner)))

    task = asyncio.ensure_future(progress())
    try:
        report = await runner.run_async(handle_sigint=True)
    finally:
        task.cancel()
    out.send(("result", index, {
        "report": report,
        "login_hist": runner.login_latency.to_dict(),
        "latency_hist": runner.latency.to_dict(),
        "traffic_started": runner.traffic_started,
        "traffic_ended": runner.traffic_ended,
    }))


# --------------------------------------------------------------------------- merging

def _add_dicts(dicts: Sequence[Optional[Dict[str, Any]]]) -> Optional[Dict[str, Any]]:
    present = [d for d in dicts if d]
    if not present:
        return None
    total: "Counter[str]" = Counter()
    for d in present:
        total.update(d)
    return dict(total)


def merge_reports(results: Sequence[Dict[str, Any]], config: LoadConfig, target: Target, *,
                  duration_seconds: float, server_cpu: Optional[float] = None,
                  errors: Optional[Dict[str, int]] = None) -> Dict[str, Any]:
    """One report from the workers' results (``{"report", "login_hist", "latency_hist",
    "traffic_started", "traffic_ended"}`` each), exactly as one process would have made it."""
    reports = [r["report"] for r in results]
    login_hist, latency = Histogram(), Histogram()
    for r in results:
        login_hist.merge(Histogram.from_dict(r["login_hist"]))
        latency.merge(Histogram.from_dict(r["latency_hist"]))
    starts = [r["traffic_started"] for r in results if r.get("traffic_started") is not None]
    ends = [r["traffic_ended"] for r in results if r.get("traffic_ended") is not None]
    traffic_seconds = max(max(ends) - min(starts), 1e-9) if starts and ends else 1e-9

    def total(section: str, key: str) -> Any:
        return sum(rep[section][key] for rep in reports)

    login_errors = _add_dicts([rep["login"]["errors"] for rep in reports]) or {}
    messages_first: Dict[str, str] = {}
    for rep in reports:
        for k, v in (rep["login"].get("error_messages") or {}).items():
            messages_first.setdefault(k, v)
    all_errors: "Counter[str]" = Counter()
    for rep in reports:
        all_errors.update(rep.get("errors") or {})
    all_errors.update(errors or {})
    kinds: "Counter[Tuple[str, str]]" = Counter()
    for rep in reports:
        for kind, details in (rep.get("error_kinds") or {}).items():
            kinds.update({(kind, d): n for d, n in details.items()})
    for name, n in (errors or {}).items():
        kinds[("other", name)] += n
    histograms = merge_histogram_fields([rep.get("histograms") or {} for rep in reports])

    def summary(name: str) -> Dict[str, Optional[float]]:
        return (decode_histogram(histograms[name]) if name in histograms else Histogram()).summary(scale=1000.0)

    arrival: Dict[str, Any] = {"model": "closed", "concurrency": config.concurrency}
    if config.phases:
        arrived = sum((rep.get("arrival") or {}).get("arrived", 0) for rep in reports)
        arrival = {"model": "open", "distribution": config.arrival,
                   "phases": [list(p) for p in config.phases], "arrived": arrived,
                   "not_arrived": config.users - arrived, "corrected_login_ms": summary("login_corrected")}
    received = total("messages", "received")
    lost, duplicated, unexpected = (total("messages", k) for k in ("lost", "duplicated", "unexpected"))
    login_failed = total("login", "failed")
    cpu_traffic = sum(rep["cpu"]["client_traffic_seconds"] for rep in reports)
    interrupted = any(rep.get("interrupted") for rep in reports)
    ok = (not errors and not interrupted and len(reports) > 0 and login_failed == 0 and lost == 0
          and duplicated == 0 and unexpected == 0)
    kind = reports[0]["messages"]["kind"] if reports else None
    report: Dict[str, Any] = {
        "ok": ok,
        "scenario": config.scenario,
        "config": dict(asdict(config), password="***"),
        "target": {"host": target.host, "port": target.port, "domain": target.domain,
                   "local_server": target.local},
        "users": config.users,
        "workers": len(results) + sum((errors or {}).values()),
        "event_loop": ",".join(sorted({str(rep.get("event_loop")) for rep in reports})) or None,
        "registration": _add_dicts([rep.get("registration") for rep in reports]),
        "login": {
            "ok": total("login", "ok"),
            "failed": login_failed,
            "errors": login_errors,
            "error_messages": messages_first,
            "latency_ms": login_hist.summary(scale=1000.0),
            "phases_ms": {p: summary("login_" + p) for p in LOGIN_PHASES},
        },
        "arrival": arrival,
        # the workers hold their sessions at the same time: their peaks add up
        "sessions": {"peak": sum((rep.get("sessions") or {}).get("peak", 0) for rep in reports),
                     "hold_seconds": config.hold if config.scenario == "idle" else None},
        "messages": {
            "kind": kind,
            "expected": total("messages", "expected"),
            "sent": total("messages", "sent"),
            "awaited": sum(rep["messages"].get("awaited", rep["messages"]["sent"]) for rep in reports),
            "received": received,
            "lost": lost,
            "duplicated": duplicated,
            "unexpected": unexpected,
            "not_sent": total("messages", "not_sent"),
            "senders": total("messages", "senders"),
            "skipped_slots": total("messages", "skipped_slots"),
            "throughput_per_second": received / traffic_seconds if received else 0.0,
            "latency_ms": latency.summary(scale=1000.0),
        },
        "duration_seconds": duration_seconds,
        "traffic_seconds": traffic_seconds,
        "setup_seconds": max((rep.get("setup_seconds") or 0.0 for rep in reports), default=0.0),
        "stopped_by_duration_cap": any(rep.get("stopped_by_duration_cap") for rep in reports),
        "cpu": {
            "client_seconds": sum(rep["cpu"]["client_seconds"] for rep in reports),
            "client_traffic_seconds": cpu_traffic,
            "client_us_per_message": (cpu_traffic / received * 1e6) if received else None,
            "server_seconds": server_cpu,
        },
        "scram_cache": _add_dicts([rep.get("scram_cache") for rep in reports]) or {"hits": 0, "misses": 0},
        "tls_sessions": _add_dicts([rep.get("tls_sessions") for rep in reports]),
        "errors": dict(sorted(all_errors.items())),
        "error_kinds": error_kinds_dict(kinds),
        "scenario_stats": _merge_stats([rep.get("scenario_stats") or {} for rep in reports]),
        "timeseries": merge_timeseries([rep.get("timeseries") or {} for rep in reports]),
        "histograms": histograms,
        "scenario_latency_ms": {name.partition(":")[2]: summary(name) for name in sorted(histograms)
                                if name.startswith("scenario:")},
    }
    if interrupted:
        report["interrupted"] = True
    return report


def _merge_stats(stats: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """The workers' ``scenario_stats``: numbers summed, other values taken from the first."""
    out: Dict[str, Any] = {}
    for d in stats:
        for k, v in d.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k in out:
                out[k] += v
            else:
                out.setdefault(k, v)
    return out


# --------------------------------------------------------------------------- parent side

def _progress_line(elapsed: float, counters: Dict[int, Dict[str, Any]], users: int, workers: int,
                   rate: float) -> str:
    c = list(counters.values())
    hist = Histogram()
    for x in c:
        if x.get("latency"):
            hist.merge(Histogram.from_dict(x["latency"]))
    p50, p99 = hist.percentiles((50.0, 99.0))
    phases = sorted({x["phase"] for x in c}) or ["start"]
    return (f"[{elapsed:6.1f}s] {'/'.join(phases):<8} {workers} workers"
            f"  logged in {sum(x['login_ok'] for x in c)}/{users} ({sum(x['login_failed'] for x in c)} failed)"
            f"  sent {sum(x['sent'] for x in c)}  recv {sum(x['received'] for x in c)}  {rate:,.0f}/s"
            f"  lat p50 {_fmt_us(p50)} p99 {_fmt_us(p99)}  errors {sum(x['errors'] for x in c)}")


def run_workers(config: LoadConfig, target: Target, workers: int, *,
                progress_stream: Optional[TextIO] = None, use_uvloop: bool = True) -> Dict[str, Any]:
    """Run ``config`` over ``workers`` processes against ``target``; the merged report.

    Each worker runs a :class:`~fastxmpp.load.runner.LoadRunner` over its block of the users
    (:func:`split_users`) on its own event loop (uvloop when ``use_uvloop`` and it is
    installed) and talks to the parent over its own pipe.  With a ``progress_stream`` the
    parent says which process runs which users and prints the progress of all of them.
    SIGINT to the parent (Ctrl-C) stops every worker, which close their streams and send their
    partial reports: the merged report is marked ``interrupted``.  A worker that dies stops
    the others the same way; the report names it (``workers_failed``, with its last
    progress) and is not ``ok``.
    """
    config.validate()
    # the file is read once, here (validate() did); each worker gets its block of it
    accounts = config.accounts() if config.accounts_file is not None else None
    blocks = split_users(config.users, workers, config.scenario,
                         unit=config.scenario_class().group_size(config))
    ctx = multiprocessing.get_context("spawn")
    worker_target = dict(asdict(target), server_pid=None)  # the parent measures the server
    procs = []
    conns: Dict[mp_connection.Connection, int] = {}
    started = time.monotonic()
    server_cpu0 = _server_cpu_seconds(target.server_pid)
    measure_rss = config.scenario_class().measure_server_memory
    rss_before = _server_rss_kib(target.server_pid) if measure_rss else None
    rss_held: Optional[int] = None

    def say(text: str) -> None:
        if progress_stream is not None:
            progress_stream.write(text + "\n")
            progress_stream.flush()

    for i, (first, count) in enumerate(blocks):
        # the open model's arrival rate is shared out like the users
        cfg = dict(asdict(config), users=count, total_rate=config.total_rate * count / config.users,
                   register_rate=config.register_rate * count / config.users,
                   phases=[(rate * count / config.users, seconds) for rate, seconds in config.phases])
        recv, send = ctx.Pipe(duplex=False)
        block = None if accounts is None else accounts[first:first + count]
        p = ctx.Process(target=_worker_main, args=(i, cfg, worker_target, first, send, use_uvloop, block),
                        name=f"fastxmpp-load-{i}", daemon=True)
        p.start()
        send.close()  # the worker holds the only write end: its exit is EOF here
        procs.append(p)
        conns[recv] = i
        say(f"worker {i}: pid {p.pid}, users {first + 1}..{first + count}")
    results: Dict[int, Dict[str, Any]] = {}
    failed: Dict[int, str] = {}
    counters: Dict[int, Dict[str, Any]] = {}
    # generous: every phase of a worker is bounded by the duration cap, the drain and closing
    deadline = started + config.duration + config.drain + config.login_timeout + 120.0
    interval = 1.0 if progress_stream is not None and progress_stream.isatty() else 5.0
    next_progress = started + interval
    last = (started, 0)
    interrupted_at: Optional[float] = None
    forwarded = 0.0

    def pending() -> List[int]:
        return [i for i in range(len(procs)) if i not in results and i not in failed]

    def forward_sigint() -> None:
        for i in pending():  # the terminal sent them SIGINT too; kill -INT of the parent did not
            pid = procs[i].pid
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGINT)
                except OSError:
                    pass

    def handle(msg: Tuple[str, int, Any]) -> None:
        what, i, payload = msg
        if what == "progress":
            counters[i] = payload
        elif what == "result":
            results[i] = payload
            rep = payload["report"]
            counters[i] = {"phase": "done", "login_ok": rep["login"]["ok"],
                           "login_failed": rep["login"]["failed"],
                           "sent": rep["messages"]["sent"], "received": rep["messages"]["received"],
                           "errors": sum(rep["errors"].values()), "latency": payload["latency_hist"]}
        else:
            failed[i] = str(payload)

    def progress(now: float) -> None:
        nonlocal last
        received = sum(x["received"] for x in counters.values())
        rate = (received - last[1]) / (now - last[0]) if now > last[0] else 0.0
        last = (now, received)
        say(_progress_line(now - started, counters, config.users, len(procs) - len(failed), rate))

    # SIGINT sets a flag (a KeyboardInterrupt inside recv() could lose a worker's result)
    sigint: List[int] = []
    reported: Set[int] = set()
    previous: Any = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda signum, frame: sigint.append(signum))
    try:
        while pending():
            for ready in mp_connection.wait(list(conns), timeout=0.2):
                conn = cast(mp_connection.Connection, ready)
                i = conns[conn]
                try:
                    handle(conn.recv())
                except (EOFError, OSError):  # the worker has exited (or was killed)
                    del conns[conn]
                    conn.close()
                    if i not in results and i not in failed:
                        procs[i].join(timeout=5.0)
                        failed[i] = f"died (exit {procs[i].exitcode})"
            now = time.monotonic()
            dead = [i for i in failed if i not in reported]
            for i in dead:
                reported.add(i)
                say(f"error: worker {i} (users {blocks[i][0] + 1}..{sum(blocks[i])}): {failed[i]}")
            if dead and interrupted_at is None and pending():  # the run has failed: stop the others
                interrupted_at = forwarded = now
                say("stopping the other workers")
                forward_sigint()
            if now > deadline or (interrupted_at is not None and now > interrupted_at + 30.0):
                for i in pending():
                    failed[i] = "timeout"
                    procs[i].terminate()
            if sigint and interrupted_at is None:
                interrupted_at = forwarded = now
                say("interrupted: closing the streams")
                forward_sigint()
            elif interrupted_at is not None and now > forwarded + 2.0:
                forwarded = now  # again, for a worker that was still starting
                forward_sigint()
            if rss_before is not None and len(counters) == len(procs) and all(
                    c.get("phase") == "traffic" for c in counters.values()):  # every session held
                rss = _server_rss_kib(target.server_pid)
                if rss is not None:
                    rss_held = max(rss, rss_held or 0)
            if now >= next_progress:
                next_progress = now + interval
                progress(now)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        for conn in conns:
            conn.close()
    progress(time.monotonic())
    for p in procs:
        p.join(timeout=10.0)
        if p.is_alive():
            p.terminate()
            p.join(timeout=5.0)
    server_cpu1 = _server_cpu_seconds(target.server_pid)
    server_cpu = None if server_cpu0 is None or server_cpu1 is None else server_cpu1 - server_cpu0
    errors: Dict[str, int] = Counter(f"worker:{reason.split(':')[0]}" for reason in failed.values())
    report = merge_reports([results[i] for i in sorted(results)], config, target,
                           duration_seconds=time.monotonic() - started, server_cpu=server_cpu,
                           errors=dict(errors))
    report["workers"] = len(procs)
    report["server_memory"] = server_memory(rss_before, rss_held, report["sessions"]["peak"])
    report["workers_failed"] = [
        {"worker": i, "users": [blocks[i][0] + 1, sum(blocks[i])], "reason": reason,
         "last_progress": {k: v for k, v in counters.get(i, {}).items() if k != "latency"} or None}
        for i, reason in sorted(failed.items())]
    if sigint:
        report["interrupted"] = True
        report["ok"] = False
    else:  # the others were stopped because a worker died: a failure (exit 1), not an interrupt
        report.pop("interrupted", None)
    return report
