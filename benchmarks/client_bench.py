#!/usr/bin/env python
"""Client CPU and memory: fastxmpp vs slixmpp (and aioxmpp) against one private Prosody.

    python benchmarks/client_bench.py [--logins 200 --inflight 50 --messages 10000
                                       --idle 500 --rounds 3
                                       --libs fastxmpp,fastxmpp-nosm,slixmpp,aioxmpp]

The parent starts one Prosody (``iteration_count=10000``, like Prosody's
default), creates the accounts, then runs every (library, task) in its OWN
subprocess so that ``time.process_time()`` and the resident set size belong
to that library alone.  Libraries are interleaved and the order rotates each
round; the table shows min / median over the rounds.  ``fastxmpp-nosm`` is
fastxmpp without stream management (XEP-0198), as slixmpp runs here (no
``xep_0198`` plugin): the like-for-like row; ``fastxmpp`` has it on, its default
(aioxmpp too).  Tasks:

* ``logins``: N logins (TCP + STARTTLS + SCRAM-SHA-1 + bind, up to the
  library's "session ready" signal), ``--inflight`` at a time, every session
  kept open until all N are in; client CPU seconds of that phase / N.  One
  warm-up login (imports, first TLS handshake) is done before and not counted.
* ``logins-cache`` (fastxmpp only): the same with a shared ``ScramKeyCache``:
  a cold round (fills the cache), all closed, then a warm round of the same
  accounts (RFC 5802 key reuse: no PBKDF2).
* ``logins-resume`` (fastxmpp only): a shared ``TLSSessionCache`` too.  A fill
  round (its later logins already resume), then a ``tls`` round with a fresh
  ``ScramKeyCache`` (every TLS session resumed, PBKDF2 runs), then a warm
  round (every TLS session resumed, no PBKDF2).  The caches' counters are
  recorded per round to prove it.  The parent's Prosody allows TLS tickets
  (``tls_tickets=True``); clients that do not resume are unaffected.
* ``messages``: two sessions of one process; A sends M chat messages to B's
  full JID, B counts them in a handler; client CPU from the first send until
  B has all M (both sessions' work, message construction included).
* ``idle``: RSS (``/proc/self/status`` VmRSS) after K more connected, idle
  sessions minus RSS before them (one session already open), / K.

The PBKDF2 the server's iteration count demands (``hashlib.pbkdf2_hmac('sha1',
..., 10000)``) is measured in the parent each round.  No timing is asserted
anywhere; ``benchmarks/test_client.py`` runs a small version for correctness.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PASSWORD = "bench-password-1"
ITERATIONS = 10000
LIBS = ("fastxmpp", "fastxmpp-nosm", "slixmpp", "aioxmpp")
RESULT_PREFIX = "RESULT "


# --------------------------------------------------------------------------- parent side

def prosody_class():
    """The private-Prosody launcher of fastxmpp.testing.prosody."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from fastxmpp.testing.prosody import ProsodyServer, prosody_binary

    return ProsodyServer, prosody_binary


def account_names(logins: int, idle: int) -> Dict[str, List[str]]:
    return {
        "logins": [f"login{i}" for i in range(logins)],
        "idle": [f"idle{i}" for i in range(idle)],
        "messages": ["msga", "msgb"],
        "warm": ["warm"],
    }


def start_server(workdir: str, logins: int, idle: int):
    ProsodyServer, _ = prosody_class()
    # tickets on: Prosody sends two TLS 1.3 tickets per connection either way, and only
    # clients that offer one (logins-resume) do anything different
    server = ProsodyServer(workdir, iteration_count=ITERATIONS, tls_tickets=True)
    server.start()
    names = [n for group in account_names(logins, idle).values() for n in group]
    server.create_users(names, password=PASSWORD)
    return server


def pbkdf2_ms(repeat: int = 40) -> float:
    """CPU ms of one PBKDF2-HMAC-SHA1 at the server's iteration count (hashlib)."""
    salt = b"0f4c2b1e-5a7d-4c1b-9e2f-3a6b8d9c0e1f"  # Prosody salts are UUID strings
    t0 = time.process_time()
    for _ in range(repeat):
        hashlib.pbkdf2_hmac("sha1", PASSWORD.encode(), salt, ITERATIONS)
    return (time.process_time() - t0) * 1000 / repeat


def run_worker(lib: str, task: str, cfg: Dict[str, Any], timeout: float = 900) -> Dict[str, Any]:
    """Run one (library, task) in a fresh interpreter; returns its result dict."""
    payload = dict(cfg, lib=lib, task=task)
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    try:
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(payload)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"worker timed out after {timeout:.0f}s"}
    for line in reversed(proc.stdout.decode(errors="replace").splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    tail = proc.stderr.decode(errors="replace").strip().splitlines()[-8:]
    return {"error": f"worker exited {proc.returncode}: " + " | ".join(tail)}


def tasks_for(lib: str) -> List[str]:
    if lib == "fastxmpp":
        return ["logins", "logins-cache", "logins-resume", "messages", "idle"]
    return ["logins", "messages", "idle"]


def available(lib: str) -> bool:
    return lib.startswith("fastxmpp") or importlib.util.find_spec(lib) is not None


def run_benchmark(args: argparse.Namespace, log=print) -> Dict[str, Any]:
    """Start Prosody, run all rounds, return {"pbkdf2_ms": [...], "results": {lib: {task: [..]}}}."""
    libs = [lib for lib in args.libs.split(",") if lib]
    workdir = tempfile.mkdtemp(prefix="client-bench-")
    server = start_server(workdir, args.logins, args.idle)
    names = account_names(args.logins, args.idle)
    cfg = {
        "host": server.host, "port": server.port, "domain": server.domain,
        "ca_file": str(server.ca_file), "password": PASSWORD,
        "names": names, "inflight": args.inflight, "messages": args.messages,
    }
    out: Dict[str, Any] = {"pbkdf2_ms": [], "results": {lib: {} for lib in libs},
                           "skipped": {}, "config": vars(args)}
    only = set(args.tasks.split(",")) if args.tasks else None
    try:
        for rnd in range(args.rounds):
            out["pbkdf2_ms"].append(pbkdf2_ms())
            order = libs[rnd % len(libs):] + libs[:rnd % len(libs)]
            for lib in order:
                if lib in out["skipped"]:
                    continue
                if not available(lib):
                    out["skipped"][lib] = f"{lib} is not installed"
                    continue
                for task in tasks_for(lib):
                    if only and task not in only:
                        continue
                    res = run_worker(lib, task, dict(cfg, tag=f"{lib[:4]}{rnd}{task[:4]}"))
                    log(f"round {rnd + 1} {lib:9} {task:13} {_brief(res)}")
                    if "error" in res and task == "logins" and rnd == 0 and not res.get("ok"):
                        out["skipped"][lib] = res["error"]
                        break
                    out["results"][lib].setdefault(task, []).append(res)
                    if getattr(args, "json", ""):
                        with open(args.json, "w") as fh:   # partial results survive an interrupted run
                            json.dump(out, fh, indent=1)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def _brief(res: Dict[str, Any]) -> str:
    if "error" in res and "cpu_s" not in res:
        return "ERROR " + res["error"][:300]
    return json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in res.items()
                       if k not in ("failures",)})[:300]


# --------------------------------------------------------------------------- report

def _vals(results: Dict[str, Any], lib: str, task: str, fn) -> List[float]:
    vals = []
    for res in results.get(lib, {}).get(task, []):
        try:
            vals.append(fn(res))
        except (KeyError, TypeError, ZeroDivisionError):
            pass
    return vals


def summarize(out: Dict[str, Any]) -> Dict[str, Dict[str, Optional[List[float]]]]:
    """{lib: {metric: [min, median]}} for the table."""
    results = out["results"]
    pb = out["pbkdf2_ms"]
    pb_med = statistics.median(pb) if pb else 0.0
    metrics: Dict[str, Dict[str, Optional[List[float]]]] = {}

    def mm(vals: List[float]) -> Optional[List[float]]:
        return [min(vals), statistics.median(vals)] if vals else None

    for lib in results:
        m: Dict[str, Optional[List[float]]] = {}
        m["login_ms"] = mm(_vals(results, lib, "logins", lambda r: r["cpu_s"] * 1000 / r["ok"]))
        m["login_cache_cold_ms"] = mm(_vals(results, lib, "logins-cache", lambda r: r["cold_cpu_s"] * 1000 / r["ok"]))
        m["login_warm_ms"] = mm(_vals(results, lib, "logins-cache", lambda r: r["warm_cpu_s"] * 1000 / r["warm_ok"]))
        m["login_minus_pbkdf2_ms"] = [v - pb_med for v in m["login_ms"]] if m["login_ms"] else None
        # paired with the PBKDF2 timed in the same worker right after its logins
        m["login_beyond_own_pbkdf2_ms"] = mm(_vals(
            results, lib, "logins", lambda r: r["cpu_s"] * 1000 / r["ok"] - r["pbkdf2_ms"]))
        m["login_warm_over_own_pbkdf2"] = mm(_vals(
            results, lib, "logins-cache", lambda r: r["warm_cpu_s"] * 1000 / r["warm_ok"] / r["pbkdf2_ms"]))
        m["login_resume_tls_ms"] = mm(_vals(results, lib, "logins-resume", lambda r: r["tls_cpu_s"] * 1000 / r["tls_ok"]))
        m["login_resume_tls_minus_pbkdf2_ms"] = (
            [v - pb_med for v in m["login_resume_tls_ms"]] if m["login_resume_tls_ms"] else None)
        m["login_resume_warm_ms"] = mm(_vals(results, lib, "logins-resume", lambda r: r["warm_cpu_s"] * 1000 / r["warm_ok"]))
        m["msg_s_per_10k"] = mm(_vals(results, lib, "messages", lambda r: r["cpu_s"] * 10000 / r["received"]))
        m["idle_kib"] = mm(_vals(results, lib, "idle", lambda r: r["kib_per_session"]))
        metrics[lib] = m
    return metrics


def format_table(out: Dict[str, Any]) -> str:
    metrics = summarize(out)
    pb = out["pbkdf2_ms"]
    cfg = out["config"]
    lines = []
    if pb:
        lines.append(f"PBKDF2-HMAC-SHA1 x{ITERATIONS} (hashlib), CPU ms: min {min(pb):.2f} / median {statistics.median(pb):.2f}")
    lines.append(f"logins={cfg['logins']} inflight={cfg['inflight']} messages={cfg['messages']} "
                 f"idle={cfg['idle']} rounds={cfg['rounds']}; cells are min / median")
    rows = [
        ("CPU ms/login (cold)", "login_ms", "{:.2f}"),
        ("CPU ms/login, cache cold round", "login_cache_cold_ms", "{:.2f}"),
        ("CPU ms/login, warm (key reuse)", "login_warm_ms", "{:.2f}"),
        ("CPU ms/login minus PBKDF2", "login_minus_pbkdf2_ms", "{:.2f}"),
        ("  minus its own worker's PBKDF2", "login_beyond_own_pbkdf2_ms", "{:.2f}"),
        ("warm login / own worker's PBKDF2", "login_warm_over_own_pbkdf2", "{:.2f}"),
        ("CPU ms/login, TLS resumed", "login_resume_tls_ms", "{:.2f}"),
        ("  the same minus PBKDF2", "login_resume_tls_minus_pbkdf2_ms", "{:.2f}"),
        ("CPU ms/login, TLS resumed + warm", "login_resume_warm_ms", "{:.2f}"),
        ("CPU s per 10,000 messages", "msg_s_per_10k", "{:.3f}"),
        ("KiB per idle session", "idle_kib", "{:.1f}"),
    ]
    libs = list(metrics)
    width = 34
    col = 22
    lines.append("".ljust(width) + "".join(lib.rjust(col) for lib in libs))
    for label, key, fmt in rows:
        cells = []
        for lib in libs:
            v = metrics[lib].get(key)
            cells.append(("-" if v is None else f"{fmt.format(v[0])} / {fmt.format(v[1])}").rjust(col))
        if any(c.strip() != "-" for c in cells):
            lines.append(label.ljust(width) + "".join(cells))
    base = metrics.get("slixmpp", {})
    if base:
        lines.append("")
        lines.append("ratios vs slixmpp (slixmpp median / library median; >1 = better than slixmpp)")
        for label, key, _ in rows:
            if "pbkdf2" in key:
                continue
            b = base.get(key) or base.get("login_ms") if key.startswith("login_") else base.get(key)
            cells = []
            for lib in libs:
                v = metrics[lib].get(key)
                cells.append(("-" if (v is None or not b or v[1] <= 0) else f"{b[1] / v[1]:.1f}x").rjust(col))
            if any(c.strip() != "-" for c in cells):
                lines.append(label.ljust(width) + "".join(cells))
    if "fastxmpp" in metrics and pb:
        f = metrics["fastxmpp"]
        pbm = statistics.median(pb)
        lines.append("")
        lines.append("fastxmpp targets (medians):")

        def verdict(ok: Optional[bool]) -> str:
            return "n/a" if ok is None else ("MET" if ok else "MISSED")
        lm = f.get("login_minus_pbkdf2_ms")
        lines.append(f"  login CPU beyond PBKDF2 <= 1.5 ms: "
                     f"{'-' if lm is None else f'{lm[1]:.2f} ms'} {verdict(None if lm is None else lm[1] <= 1.5)}")
        lo = f.get("login_beyond_own_pbkdf2_ms")
        lines.append(f"    paired with each worker's own PBKDF2: "
                     f"{'-' if lo is None else f'{lo[1]:.2f} ms'} {verdict(None if lo is None else lo[1] <= 1.5)}")
        lw = f.get("login_warm_ms")
        lines.append(f"  warm login (key reuse) < PBKDF2 ({pbm:.2f} ms): "
                     f"{'-' if lw is None else f'{lw[1]:.2f} ms'} {verdict(None if lw is None else lw[1] < pbm)}")
        lr = f.get("login_warm_over_own_pbkdf2")
        lines.append(f"    paired, warm login / the worker's own PBKDF2: "
                     f"{'-' if lr is None else f'{lr[1]:.2f}x'} {verdict(None if lr is None else lr[1] < 1)}")
        ms = f.get("msg_s_per_10k")
        lines.append(f"  <= 0.2 s per 10,000 messages: "
                     f"{'-' if ms is None else f'{ms[1]:.3f} s'} {verdict(None if ms is None else ms[1] <= 0.2)}")
        ik = f.get("idle_kib")
        lines.append(f"  <= 40 KiB per idle session: "
                     f"{'-' if ik is None else f'{ik[1]:.1f} KiB'} {verdict(None if ik is None else ik[1] <= 40)}")
    for lib, why in out.get("skipped", {}).items():
        lines.append(f"skipped {lib}: {why}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- worker side

def rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class FastxmppAdapter:
    def __init__(self, cfg: Dict[str, Any], cache: Any = None, tls_cache: Any = None,
                 **options: Any) -> None:
        """``options``: more keyword arguments for each ``fastxmpp.aio.Client``."""
        from fastxmpp.aio import Client
        from fastxmpp.stanza import message
        from fastxmpp.tlsconfig import make_client_context

        self.Client, self.message, self.cfg, self.cache = Client, message, cfg, cache
        self.tls_cache, self.options = tls_cache, options
        self.ctx = make_client_context(ca_file=cfg["ca_file"])  # one shared ssl.SSLContext

    async def login(self, name: str, resource_: str) -> Any:
        cfg = self.cfg
        c = self.Client(f"{name}@{cfg['domain']}/{resource_}", cfg["password"], host=cfg["host"],
                        port=cfg["port"], ssl_context=self.ctx, keepalive=None,
                        sasl_cache=self.cache, tls_session_cache=self.tls_cache,
                        mechanisms=["SCRAM-SHA-1"], **self.options)
        await c.connect()
        return c

    def mechanism(self, c: Any) -> str:
        return c.stream.mechanism

    async def close(self, c: Any) -> None:
        await c.close()

    def full_jid(self, c: Any) -> str:
        return str(c.bound_jid)

    def on_chat(self, c: Any, fn) -> None:
        def handler(stanza: Any) -> None:
            if stanza.get("type") == "chat":
                fn()
        c.add_handler("message", handler)

    async def send_chats(self, a: Any, to: str, start: int, n: int) -> None:
        message = self.message
        for i in range(start, start + n):
            await a.send(message(to=to, body=f"message {i}"))


class SlixmppAdapter:
    def __init__(self, cfg: Dict[str, Any]) -> None:
        import ssl

        import slixmpp

        self.slixmpp, self.cfg = slixmpp, cfg
        self.ctx = ssl.create_default_context(cafile=cfg["ca_file"])  # one shared ssl.SSLContext

    async def login(self, name: str, resource_: str) -> Any:
        cfg = self.cfg
        x = self.slixmpp.ClientXMPP(f"{name}@{cfg['domain']}/{resource_}", cfg["password"],
                                    sasl_mech="SCRAM-SHA-1")
        x.ssl_context = self.ctx
        x.enable_direct_tls = False   # the port speaks STARTTLS; don't try Direct TLS first
        x.enable_plaintext = False
        fut = asyncio.get_running_loop().create_future()

        def done(_: Any = None) -> None:
            if not fut.done():
                fut.set_result(True)

        def failed(what: Any = None) -> None:
            if not fut.done():
                fut.set_exception(RuntimeError(f"slixmpp login failed: {what!r}"))

        x.add_event_handler("session_start", done)
        x.add_event_handler("failed_auth", failed)
        x.add_event_handler("connection_failed", failed)
        x.connect(cfg["host"], cfg["port"])
        try:
            await fut
        except BaseException:
            x.abort()
            raise
        return x

    def mechanism(self, x: Any) -> str:
        mech = getattr(x.plugin["feature_mechanisms"], "mech", None)
        return getattr(mech, "name", "?") if mech is not None else "?"

    async def close(self, x: Any) -> None:
        fut = x.disconnect(wait=1.0)
        if fut is not None:
            await fut

    def full_jid(self, x: Any) -> str:
        return x.boundjid.full

    def on_chat(self, x: Any, fn) -> None:
        def handler(msg: Any) -> None:
            if msg["type"] == "chat":
                fn()
        x.add_event_handler("message", handler)

    async def send_chats(self, a: Any, to: str, start: int, n: int) -> None:
        for i in range(start, start + n):
            a.send_message(mto=to, mbody=f"message {i}", mtype="chat")


class AioxmppAdapter:
    def __init__(self, cfg: Dict[str, Any]) -> None:
        import aioxmpp
        import aioxmpp.connector
        import aioxmpp.dispatcher

        self.aioxmpp, self.cfg = aioxmpp, cfg
        # aioxmpp uses pyOpenSSL, not ssl.SSLContext, and its security layer mutates the
        # context for each connection (verify callback, ALPN), which pyOpenSSL >= 24 refuses
        # once the context has made a Connection ("Context has already been used to create
        # a Connection, it cannot be mutated again"): so one OpenSSL.SSL.Context per
        # connection, from aioxmpp's own factory.  no_verify: the PKIX verifier needs
        # more setup, and skipping verification only makes aioxmpp cheaper.
        self.shared_context = False
        self.security = aioxmpp.make_security_layer(cfg["password"], no_verify=True)

    async def login(self, name: str, resource_: str) -> Any:
        aioxmpp, cfg = self.aioxmpp, self.cfg
        client = aioxmpp.Client(
            aioxmpp.JID.fromstr(f"{name}@{cfg['domain']}/{resource_}"), self.security,
            override_peer=[(cfg["host"], cfg["port"], aioxmpp.connector.STARTTLSConnector())])
        cm = client.connected()
        await cm.__aenter__()
        client._bench_cm = cm
        return client

    def mechanism(self, c: Any) -> str:
        return "?"

    async def close(self, c: Any) -> None:
        await c._bench_cm.__aexit__(None, None, None)

    def full_jid(self, c: Any) -> str:
        return str(c.local_jid)

    def on_chat(self, c: Any, fn) -> None:
        aioxmpp = self.aioxmpp
        disp = c.summon(aioxmpp.dispatcher.SimpleMessageDispatcher)
        disp.register_callback(aioxmpp.MessageType.CHAT, None, lambda msg: fn())

    async def send_chats(self, a: Any, to: str, start: int, n: int) -> None:
        aioxmpp = self.aioxmpp
        jid = aioxmpp.JID.fromstr(to)
        for i in range(start, start + n):
            msg = aioxmpp.Message(to=jid, type_=aioxmpp.MessageType.CHAT)
            msg.body[None] = f"message {i}"
            a.enqueue(msg)   # send() would wait for each stanza to be written; enqueue pipelines


def make_adapter(lib: str, cfg: Dict[str, Any], cache: Any = None, tls_cache: Any = None) -> Any:
    if lib == "fastxmpp":
        return FastxmppAdapter(cfg, cache, tls_cache)
    if lib == "fastxmpp-nosm":  # as slixmpp runs here: no XEP-0198
        return FastxmppAdapter(cfg, cache, tls_cache, stream_management=False)
    if lib == "slixmpp":
        return SlixmppAdapter(cfg)
    if lib == "aioxmpp":
        return AioxmppAdapter(cfg)
    raise ValueError(lib)


async def login_many(adapter: Any, names: List[str], tag: str, inflight: int,
                     failures: List[str]) -> List[Any]:
    sem = asyncio.Semaphore(inflight)
    sessions: List[Any] = []

    async def one(name: str) -> None:
        async with sem:
            try:
                sessions.append(await asyncio.wait_for(adapter.login(name, tag), 120))
            except Exception as exc:  # noqa: BLE001 - reported, counted as not logged in
                failures.append(f"{name}: {exc!r}")
    await asyncio.gather(*(one(n) for n in names))
    return sessions


async def close_many(adapter: Any, sessions: List[Any], inflight: int = 100) -> None:
    sem = asyncio.Semaphore(inflight)

    async def one(s: Any) -> None:
        async with sem:
            try:
                await asyncio.wait_for(adapter.close(s), 10)
            except Exception:  # noqa: BLE001 - teardown only, not measured
                pass
    await asyncio.gather(*(one(s) for s in sessions))


async def task_logins(lib: str, cfg: Dict[str, Any], with_cache: bool) -> Dict[str, Any]:
    cache = None
    if with_cache:
        from fastxmpp.sasl import ScramKeyCache
        cache = ScramKeyCache(maxsize=4096)
    adapter = make_adapter(lib, cfg, cache)
    names = cfg["names"]["logins"]
    failures: List[str] = []
    warm = await adapter.login(cfg["names"]["warm"][0], cfg["tag"] + "w")   # imports, first handshake
    mech = adapter.mechanism(warm)
    await adapter.close(warm)
    res: Dict[str, Any] = {"n": len(names), "mechanism": mech}
    rounds = ("cold", "warm") if with_cache else ("cold",)
    for rnd in rounds:
        cpu, wall, sessions = await timed_round(adapter, names, cfg["tag"] + rnd[0], cfg["inflight"], failures)
        if with_cache:
            res[f"{rnd}_cpu_s"], res[f"{rnd}_wall_s"] = cpu, wall
            res["ok" if rnd == "cold" else "warm_ok"] = len(sessions)
            res[f"{rnd}_cache"] = repr(cache)
        else:
            res["cpu_s"], res["wall_s"], res["ok"] = cpu, wall, len(sessions)
    # the reference, timed in this process right after its logins: the machine's speed
    # drifts within minutes, so the parent's PBKDF2 of another moment pairs badly
    res["pbkdf2_ms"] = pbkdf2_ms(20)
    return _with_failures(res, failures)


async def timed_round(adapter: Any, names: List[str], tag: str, inflight: int,
                      failures: List[str]) -> Any:
    """Log ``names`` in (CPU and wall time of that alone), close them; (cpu, wall, sessions)."""
    gc.collect()
    t0, w0 = time.process_time(), time.perf_counter()
    sessions = await login_many(adapter, names, tag, inflight, failures)
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    await close_many(adapter, sessions)
    await asyncio.sleep(0.2)
    return cpu, wall, sessions


def _with_failures(res: Dict[str, Any], failures: List[str]) -> Dict[str, Any]:
    if failures:
        res["failures"] = failures[:5]
        res["error"] = f"{len(failures)} logins failed, e.g. {failures[0]}"
    return res


async def task_logins_resume(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """Rounds ``fill``, ``tls`` (fresh SCRAM key cache) and ``warm``, one TLSSessionCache."""
    from fastxmpp.sasl import ScramKeyCache
    from fastxmpp.tlssessions import TLSSessionCache

    tls_cache = TLSSessionCache(maxsize=8192, per_key=8192)
    adapter = make_adapter("fastxmpp", cfg, ScramKeyCache(maxsize=4096), tls_cache)
    names = cfg["names"]["logins"]
    failures: List[str] = []
    warm = await adapter.login(cfg["names"]["warm"][0], cfg["tag"] + "w")   # imports, first handshake
    await adapter.close(warm)
    res: Dict[str, Any] = {"n": len(names), "mechanism": adapter.mechanism(warm)}
    for rnd in ("fill", "tls", "warm"):
        if rnd == "tls":
            adapter.cache = ScramKeyCache(maxsize=4096)   # keys forgotten: PBKDF2 runs again
        tls0, scram0 = tls_cache.counters(), (adapter.cache.hits, adapter.cache.misses)
        cpu, wall, sessions = await timed_round(adapter, names, cfg["tag"] + rnd[0], cfg["inflight"], failures)
        tls1 = tls_cache.counters()
        res[f"{rnd}_cpu_s"], res[f"{rnd}_wall_s"], res[f"{rnd}_ok"] = cpu, wall, len(sessions)
        res[f"{rnd}_tls"] = {k: tls1[k] - tls0[k] for k in ("hits", "misses", "resumed")}
        res[f"{rnd}_scram"] = {"hits": adapter.cache.hits - scram0[0], "misses": adapter.cache.misses - scram0[1]}
    return _with_failures(res, failures)


async def task_messages(lib: str, cfg: Dict[str, Any]) -> Dict[str, Any]:
    adapter = make_adapter(lib, cfg)
    n = cfg["messages"]
    a_name, b_name = cfg["names"]["messages"]
    a = await adapter.login(a_name, cfg["tag"] + "a")
    b = await adapter.login(b_name, cfg["tag"] + "b")
    loop = asyncio.get_running_loop()
    state = {"count": 0, "target": 0}
    done: Dict[str, asyncio.Future] = {"f": loop.create_future()}

    def received() -> None:
        state["count"] += 1
        if state["count"] >= state["target"] and not done["f"].done():
            done["f"].set_result(None)
    adapter.on_chat(b, received)
    to = adapter.full_jid(b)
    # warm-up, not counted
    warm_n = max(1, min(200, n // 10))
    state["target"] = warm_n
    await adapter.send_chats(a, to, 0, warm_n)
    await asyncio.wait_for(done["f"], 60)
    await asyncio.sleep(0.3)
    state["count"], state["target"], done["f"] = 0, n, loop.create_future()
    gc.collect()
    t0, w0 = time.process_time(), time.perf_counter()
    await adapter.send_chats(a, to, warm_n, n)
    res: Dict[str, Any] = {"n": n}
    try:
        await asyncio.wait_for(done["f"], max(120.0, n / 50))
    except asyncio.TimeoutError:
        res["error"] = f"only {state['count']} of {n} messages received"
    res["cpu_s"], res["wall_s"] = time.process_time() - t0, time.perf_counter() - w0
    res["received"] = state["count"]
    await close_many(adapter, [a, b])
    return res


async def task_idle(lib: str, cfg: Dict[str, Any]) -> Dict[str, Any]:
    adapter = make_adapter(lib, cfg)
    names = cfg["names"]["idle"]
    first = await adapter.login(cfg["names"]["warm"][0], cfg["tag"] + "w")
    await asyncio.sleep(0.5)
    gc.collect()
    before = rss_kib()
    failures: List[str] = []
    sessions = await login_many(adapter, names, cfg["tag"], cfg["inflight"], failures)
    await asyncio.sleep(1.0)   # let handshakes' leftovers and pending callbacks settle
    gc.collect()
    after = rss_kib()
    res: Dict[str, Any] = {"n": len(names), "ok": len(sessions), "rss_before_kib": before,
                           "rss_after_kib": after,
                           "kib_per_session": (after - before) / max(1, len(sessions))}
    if failures:
        res["failures"] = failures[:5]
        res["error"] = f"{len(failures)} logins failed, e.g. {failures[0]}"
    await close_many(adapter, sessions + [first])
    return res


def worker_main(payload: str) -> None:
    cfg = json.loads(payload)
    raise_nofile()
    lib, task = cfg["lib"], cfg["task"]
    if task == "logins":
        coro = task_logins(lib, cfg, with_cache=False)
    elif task == "logins-cache":
        coro = task_logins(lib, cfg, with_cache=True)
    elif task == "logins-resume":
        coro = task_logins_resume(cfg)
    elif task == "messages":
        coro = task_messages(lib, cfg)
    elif task == "idle":
        coro = task_idle(lib, cfg)
    else:
        raise SystemExit(f"unknown task {task}")
    try:
        res = asyncio.run(asyncio.wait_for(coro, 800))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        res = {"error": f"{type(exc).__name__}: {exc}"}
    res["lib"], res["task"] = lib, task
    sys.stdout.write(RESULT_PREFIX + json.dumps(res) + "\n")
    sys.stdout.flush()
    os._exit(0)   # skip interpreter teardown of hundreds of transports


# --------------------------------------------------------------------------- CLI

def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--logins", type=int, default=200)
    p.add_argument("--inflight", type=int, default=50)
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--idle", type=int, default=500)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--libs", default=",".join(LIBS), help="comma-separated subset of " + ",".join(LIBS))
    p.add_argument("--tasks", default="", help="comma-separated subset of logins,logins-cache,logins-resume,messages,idle")
    p.add_argument("--json", default="", help="also write the raw results to this file")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        worker_main(args.worker)
        return 0
    _, prosody_binary = prosody_class()
    if prosody_binary() is None:
        print("prosody is not installed (scripts/install-system-deps)", file=sys.stderr)
        return 2
    raise_nofile()
    out = run_benchmark(args, log=lambda s: print(s, file=sys.stderr, flush=True))
    out["date"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
    out["python"] = sys.version.split()[0]
    out["versions"] = {}
    for lib in ("slixmpp", "aioxmpp"):
        try:
            out["versions"][lib] = __import__(lib).__version__
        except Exception:  # noqa: BLE001
            pass
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    print(format_table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
