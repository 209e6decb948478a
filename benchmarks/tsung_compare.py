"""fastxmpp's load tester against Tsung (issue 16): client CPU for the same chat load.

Both tools run the same chat scenario against the same private Prosody
(:class:`fastxmpp.testing.prosody.ProsodyServer`, started here once): every user
connects, does STARTTLS, authenticates with SASL PLAIN (Tsung has no SCRAM, so
fastxmpp is restricted to PLAIN too), binds a resource, sends initial presence,
then sends ``--messages`` chat messages of 16 characters to another online user
at ``--rate`` messages/s, and closes.  Tsung picks a random online user as the
destination (``destination="online"``); fastxmpp pairs users.  The server does
the same work per message either way.

What is measured, per tool, is the client's CPU (user + system) as the kernel
counts it: Tsung runs as a child process (its Erlang VM, ``getrusage`` of the
children); fastxmpp runs in this process (``LoadRunner``, ``time.process_time``)
or, for ``--workers 2``, as a child ``python -m fastxmpp load`` when that
option exists.  Fixed costs (Tsung's VM start, Python's start) are removed by
differences between runs:

- CPU per login = (CPU of a run of N logins - CPU of a run of 1 login) / (N - 1);
- CPU per 1,000 messages = (CPU of a chat run - CPU of the login run with the
  same N users) / (messages / 1000), and the system (kernel) part of it, the same
  way: system calls, TCP on loopback and wake-ups, which any client pays.

From these, the rate that would take one whole core of the client (its ceiling
on this machine), and the rates actually reached through Prosody with the
client's and the server's share of a core: the server stays the bottleneck when
its share is near 100% and the client's is well below.

    python benchmarks/tsung_compare.py [--users 200] [--messages 50] [--rate 20]

Tsung is Debian's ``tsung`` package (scripts/install-benchmark-deps).  Nothing
is asserted about time; the machine is shared: read the ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastxmpp.testing.prosody import ProsodyServer  # noqa: E402

PREFIX = "tsu"
BODY = 16
UVLOOP = False  # --uvloop: fastxmpp's runs on uvloop's event loop (and its TLS)


def _server_cpu(pid: Optional[int]) -> float:
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _system_cpu(who: int) -> float:
    """System (kernel) CPU seconds of this process or of its waited-for children: the
    part of a run's CPU that is system calls, TCP on loopback and wake-ups, which every
    client pays for the same messages whatever it is written in."""
    return resource.getrusage(who).ru_stime


# ------------------------------------------------------------------ Tsung
def tsung_config(server: ProsodyServer, users: int, messages: int, rate: float, arrival: float,
                 logdir: str) -> str:
    """A Tsung XML config: ``users`` sessions arriving at ``arrival``/s, each sending
    ``messages`` chats ``1/rate`` s apart (no chat at all when ``messages`` is 0)."""
    think = 1.0 / rate if rate > 0 else 0.0
    chat = ""
    if messages:
        pause = f'<thinktime value="{think:.3f}" random="false"/>' if think else ""
        chat = (f'<for from="1" to="{messages}" var="i">'
                f'<request><jabber type="chat" ack="no_ack" size="{BODY}" destination="online"/></request>'
                f"{pause}</for>"
                # as fastxmpp's drain: let the last messages arrive before closing
                '<thinktime value="2" random="false"/>')
    duration = max(1, int(users / arrival + 0.999))
    return f"""<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="warning" version="1.0" dumptraffic="false">
  <clients><client host="localhost" use_controller_vm="true" maxusers="{users + 10}"/></clients>
  <servers><server host="{server.host}" port="{server.port}" type="tcp"/></servers>
  <load>
    <arrivalphase phase="1" duration="{duration}" unit="second">
      <users maxnumber="{users}" arrivalrate="{arrival:g}" unit="second"/>
    </arrivalphase>
  </load>
  <options>
    <option type="ts_jabber" name="global_number" value="{users}"/>
    <option type="ts_jabber" name="userid_max" value="{users}"/>
    <option type="ts_jabber" name="domain" value="{server.domain}"/>
    <option type="ts_jabber" name="username" value="{PREFIX}"/>
    <option type="ts_jabber" name="passwd" value="pw"/>
  </options>
  <sessions>
    <session probability="100" name="chat" type="ts_jabber" bidi="true">
      <request><jabber type="connect" ack="local"/></request>
      <request><jabber type="starttls" ack="bidi_ack"/></request>
      <request><jabber type="connect" ack="local"/></request>
      <transaction name="login">
        <request><jabber type="auth_sasl" ack="local"/></request>
        <request><jabber type="connect" ack="local"/></request>
        <request><jabber type="auth_sasl_bind" ack="local"/></request>
        <request><jabber type="auth_sasl_session" ack="local"/></request>
      </transaction>
      <request><jabber type="presence:initial" ack="no_ack"/></request>
      {chat}
      <request><jabber type="close" ack="no_ack"/></request>
    </session>
  </sessions>
</tsung>
"""


def run_tsung(server: ProsodyServer, users: int, messages: int, rate: float, arrival: float,
              workdir: str, timeout: float = 600.0) -> Dict[str, Any]:
    tag = f"tsung-{users}-{messages}-{int(time.time() * 1000)}"
    cfg = os.path.join(workdir, tag + ".xml")
    logdir = os.path.join(workdir, tag)
    os.makedirs(logdir)
    with open(cfg, "w") as f:
        f.write(tsung_config(server, users, messages, rate, arrival, logdir))
    env = dict(os.environ, HOME=workdir)
    # The Erlang VM's schedulers busy-wait by default, which bills CPU for idle time:
    # switched off so that Tsung's CPU is the work it does (the fairest number for it).
    env["ERL_FLAGS"] = (env.get("ERL_FLAGS", "") + " +sbwt none +sbwtdcpu none +sbwtdio none").strip()
    cpu0, scpu0, t0 = _children_cpu(), _server_cpu(server.pid), time.monotonic()
    sys0 = _system_cpu(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(["tsung", "-f", cfg, "-l", logdir, "start"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env=env, cwd=workdir, timeout=timeout)
    wall = time.monotonic() - t0
    cpu, scpu = _children_cpu() - cpu0, _server_cpu(server.pid) - scpu0
    system = _system_cpu(resource.RUSAGE_CHILDREN) - sys0
    out = proc.stdout.decode(errors="replace")
    stats = _tsung_stats(logdir)
    return {"tool": "tsung", "users": users, "messages": users * messages, "cpu": cpu, "system_cpu": system,
            "server_cpu": scpu, "wall": wall, "exit": proc.returncode, "stats": stats, "output_tail": out[-600:]}


def _tsung_stats(logdir: str) -> Dict[str, float]:
    """Totals from tsung.log's last dump: sessions, connects, transactions, errors."""
    found: Dict[str, float] = {}
    for root, _dirs, files in os.walk(logdir):
        if "tsung.log" in files:
            with open(os.path.join(root, "tsung.log")) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3 and parts[0] == "stats:":
                        name = parts[1]
                        try:
                            # "stats: name count_in_interval total ..." or sample lines
                            found[name] = found.get(name, 0.0) + float(parts[2])
                        except ValueError:
                            pass
    return found


# ------------------------------------------------------------------ fastxmpp
def run_fastxmpp(server: ProsodyServer, users: int, messages: int, rate: float,
                 concurrency: int, verify: bool = True) -> Dict[str, Any]:
    from fastxmpp.load.runner import LoadConfig, LoadRunner, Target

    config = LoadConfig(users=users, password="pw", user_prefix=PREFIX, messages=messages, rate=rate,
                        concurrency=concurrency, quiet=True, duration=600.0, drain=10.0,
                        body_size=BODY, scenario="chat" if messages else "login")
    target = Target(host=server.host, port=server.port, domain=server.domain,
                    ca_file=str(server.ca_file), insecure=not verify, local=True, server_pid=server.pid)
    runner = LoadRunner(config, target)
    cpu0, scpu0, t0 = time.process_time(), _server_cpu(server.pid), time.monotonic()
    sys0 = _system_cpu(resource.RUSAGE_SELF)
    if UVLOOP:
        import uvloop

        report = uvloop.run(runner.run_async())
    else:
        report = runner.run()
    wall = time.monotonic() - t0
    cpu, scpu = time.process_time() - cpu0, _server_cpu(server.pid) - scpu0
    system = _system_cpu(resource.RUSAGE_SELF) - sys0
    return {"tool": "fastxmpp", "users": users, "messages": report["messages"]["received"],
            "cpu": cpu, "system_cpu": system, "server_cpu": scpu, "wall": wall, "ok": report["ok"],
            "traffic_seconds": report["traffic_seconds"], "client_traffic_cpu": report["cpu"]["client_traffic_seconds"],
            "login": report["login"], "errors": report["errors"]}


def run_fastxmpp_workers(server: ProsodyServer, users: int, messages: int, rate: float,
                         workers: int, workdir: str) -> Optional[Dict[str, Any]]:
    """``python -m fastxmpp load --workers N`` as a child (None when the option does not exist)."""
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    help_text = subprocess.run([sys.executable, "-m", "fastxmpp", "load", "--help"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode()
    if "--workers" not in help_text:
        return None
    report_path = os.path.join(workdir, f"fx-workers-{users}-{messages}.json")
    args = [sys.executable, "-m", "fastxmpp", "load", "--server", f"{server.host}:{server.port}",
            "--domain", server.domain, "--ca-file", str(server.ca_file), "--users", str(users),
            "--password", "pw", "--user-prefix", "fx", "--messages", str(messages), "--rate", str(rate),
            "--body-size", str(BODY), "--workers", str(workers), "--quiet", "--report", report_path,
            "--scenario", "chat" if messages else "login", "--no-stream-management"]
    if "--mechanisms" in help_text:
        args += ["--mechanisms", "PLAIN"]
    cpu0, scpu0, t0 = _children_cpu(), _server_cpu(server.pid), time.monotonic()
    proc = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
    wall = time.monotonic() - t0
    cpu, scpu = _children_cpu() - cpu0, _server_cpu(server.pid) - scpu0
    try:
        with open(report_path) as f:
            report = json.load(f)
    except OSError:
        return {"tool": f"fastxmpp --workers {workers}", "error": proc.stdout.decode()[-1000:]}
    return {"tool": f"fastxmpp --workers {workers}", "users": users,
            "messages": report["messages"]["received"], "cpu": cpu, "server_cpu": scpu, "wall": wall,
            "ok": report["ok"], "sasl": "PLAIN" if "--mechanisms" in help_text else "SCRAM (no --mechanisms)"}


# ------------------------------------------------------------------ comparison
def per_unit(login1: Dict[str, Any], loginN: Dict[str, Any], chat: Dict[str, Any]) -> Dict[str, float]:
    """CPU ms per login and per 1,000 messages, from three runs of one tool."""
    per_login = (loginN["cpu"] - login1["cpu"]) / max(1, loginN["users"] - login1["users"])
    per_k = (chat["cpu"] - loginN["cpu"]) / max(1e-9, chat["messages"] / 1000.0)
    sys_k = (chat["system_cpu"] - loginN["system_cpu"]) / max(1e-9, chat["messages"] / 1000.0)
    return {"cpu_ms_per_login": per_login * 1e3, "cpu_ms_per_1000_messages": per_k * 1e3,
            # of which system time: the kernel's share, which any client pays
            "system_cpu_ms_per_1000_messages": sys_k * 1e3,
            "login_ceiling_per_core": 1.0 / per_login if per_login > 0 else float("inf"),
            "message_ceiling_per_core": 1000.0 / per_k if per_k > 0 else float("inf")}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--messages", type=int, default=50, help="per user")
    ap.add_argument("--rate", type=float, default=20.0, help="messages/s per user")
    ap.add_argument("--arrival", type=float, default=100.0, help="Tsung: new sessions per second")
    ap.add_argument("--concurrency", type=int, default=20, help="fastxmpp: logins in flight")
    ap.add_argument("--peak-messages", type=int, default=0,
                    help="also a full-speed fastxmpp chat run (rate 0) with this many messages per user: "
                         "Prosody's message peak, and each tool's client share of a core there")
    ap.add_argument("--tsung-peak-rate", type=float, default=0.0,
                    help="with --peak-messages: also Tsung at this many messages/s per user")
    ap.add_argument("--workers", type=int, default=2, help="also run fastxmpp --workers N when it exists")
    ap.add_argument("--uvloop", action="store_true", help="run fastxmpp on uvloop (pip install uvloop)")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    global UVLOOP
    UVLOOP = args.uvloop
    if shutil.which("tsung") is None:
        print("tsung is not installed: scripts/install-benchmark-deps", file=sys.stderr)
        return 2
    results: Dict[str, Any] = {"args": vars(args), "runs": []}
    epmd_before = _pids("epmd")
    try:
        return _compare(args, results)
    finally:
        for pid in _pids("epmd") - epmd_before:  # Tsung's Erlang port mapper, started by these runs
            try:
                os.kill(pid, 15)
            except OSError:
                pass


def _pids(name: str) -> "set[int]":
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        out.add(int(entry))
            except OSError:
                pass
    return out


def _compare(args: argparse.Namespace, results: Dict[str, Any]) -> int:
    with tempfile.TemporaryDirectory(prefix="fastxmpp-tsung-") as workdir:
        server = ProsodyServer(os.path.join(workdir, "prosody"), log_level="error")
        server.start()
        try:
            server.create_users([(f"{PREFIX}{i}", f"pw{i}") for i in range(1, args.users + 1)])
            # Tsung's passwords are passwd + id: fastxmpp logs in as the same users with the
            # same passwords (run_fastxmpp_pw); the CLI run (--workers) has its own accounts.
            server.create_users([f"fx{i}" for i in range(1, args.users + 1)], "pw")
            runs: Dict[Tuple[str, str], Dict[str, Any]] = {}

            def fx(kind: str, users: int, messages: int, rate: float) -> Dict[str, Any]:
                r = run_fastxmpp_pw(server, users, messages, rate, args.concurrency)
                r["kind"] = kind
                results["runs"].append(r)
                print(json.dumps({k: v for k, v in r.items() if k not in ("login", "errors")}), flush=True)
                return r

            def ts(kind: str, users: int, messages: int, rate: float) -> Dict[str, Any]:
                r = run_tsung(server, users, messages, rate, args.arrival, workdir)
                r["kind"] = kind
                results["runs"].append(r)
                print(json.dumps({k: v for k, v in r.items() if k not in ("output_tail", "stats")}), flush=True)
                return r

            for name, fn in (("fastxmpp", fx), ("tsung", ts)):
                runs[(name, "login1")] = fn("login1", 2, 0, args.rate)
                runs[(name, "loginN")] = fn("loginN", args.users, 0, args.rate)
                runs[(name, "chat")] = fn("chat", args.users, args.messages, args.rate)
            summary: Dict[str, Any] = {}
            for name in ("fastxmpp", "tsung"):
                summary[name] = per_unit(runs[(name, "login1")], runs[(name, "loginN")], runs[(name, "chat")])
            if args.peak_messages:
                peak = fx("peak", args.users, args.peak_messages, 0.0)
                rate = peak["messages"] / peak["traffic_seconds"]
                fx_k = (peak["cpu"] - runs[("fastxmpp", "loginN")]["cpu"]) / (peak["messages"] / 1000.0)
                at_peak: Dict[str, Any] = {
                    "messages_per_second": rate,
                    "server_core_share": peak["server_cpu"] / peak["wall"],
                    "fastxmpp_client_core_share_measured": peak["client_traffic_cpu"] / peak["traffic_seconds"],
                    "fastxmpp_cpu_ms_per_1000_messages": fx_k * 1e3,
                }
                if args.tsung_peak_rate:
                    # Tsung offered more than Prosody's peak: its CPU per message at that load
                    tpeak = ts("peak", args.users, args.peak_messages, args.tsung_peak_rate)
                    ts_k = (tpeak["cpu"] - runs[("tsung", "loginN")]["cpu"]) / (tpeak["messages"] / 1000.0)
                    at_peak["tsung_cpu_ms_per_1000_messages"] = ts_k * 1e3
                    at_peak["tsung_client_core_share_at_that_rate"] = rate * ts_k / 1000.0
                    at_peak["ratio_tsung_over_fastxmpp"] = ts_k / fx_k if fx_k > 0 else None
                summary["at_prosody_message_peak"] = at_peak
            login = runs[("fastxmpp", "loginN")]
            summary["fastxmpp_login_run"] = {"logins_per_second": login["users"] / login["wall"],
                                             "server_core_share": login["server_cpu"] / login["wall"],
                                             "client_core_share": login["cpu"] / login["wall"]}
            summary["ratio_tsung_over_fastxmpp"] = {
                k: summary["tsung"][k] / summary["fastxmpp"][k]
                for k in ("cpu_ms_per_login", "cpu_ms_per_1000_messages") if summary["fastxmpp"][k] > 0}
            # Tsung does not verify the server's certificate: fastxmpp's logins without it too
            nv1 = run_fastxmpp_pw(server, 2, 0, args.rate, args.concurrency, verify=False)
            nvN = run_fastxmpp_pw(server, args.users, 0, args.rate, args.concurrency, verify=False)
            per_nv = (nvN["cpu"] - nv1["cpu"]) / max(1, nvN["users"] - nv1["users"])
            summary["fastxmpp_login_without_certificate_check"] = {
                "cpu_ms_per_login": per_nv * 1e3,
                "ratio_tsung_over_fastxmpp": summary["tsung"]["cpu_ms_per_login"] / (per_nv * 1e3)}
            if args.workers > 1:
                w = run_fastxmpp_workers(server, args.users, args.messages, args.rate, args.workers, workdir)
                wl = run_fastxmpp_workers(server, args.users, 0, args.rate, args.workers, workdir)
                if w is not None and wl is not None and "cpu" in w and "cpu" in wl and w["messages"]:
                    w["login_run_cpu"] = wl["cpu"]
                    w["cpu_ms_per_1000_messages"] = (w["cpu"] - wl["cpu"]) / (w["messages"] / 1000.0) * 1e3
                    w["ratio_tsung_over_fastxmpp"] = (summary["tsung"]["cpu_ms_per_1000_messages"]
                                                      / w["cpu_ms_per_1000_messages"])
                summary["workers"] = w if w is not None else "no --workers option yet"
            results["summary"] = summary
            print(json.dumps(summary, indent=2))
        finally:
            server.stop()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=str)
    return 0


def run_fastxmpp_pw(server: ProsodyServer, users: int, messages: int, rate: float,
                    concurrency: int, verify: bool = True) -> Dict[str, Any]:
    """:func:`run_fastxmpp` with Tsung's accounts (``tsuN`` / ``pwN``)."""
    import fastxmpp.load.runner as runner_mod

    original = runner_mod.LoadRunner._make_client

    def make_client(self: Any, user: Any) -> Any:
        from fastxmpp.aio import Client

        kwargs = dict(host=self.target.host, port=self.target.port, ssl_context=self.ssl_context,
                      sasl_cache=self.sasl_cache, stream_management=False, keepalive=None,
                      reconnect=False, connect_timeout=self.config.login_timeout,
                      iq_timeout=self.config.iq_timeout)
        return Client(f"{user.jid}/{self.config.resource}", f"pw{user.index + 1}",
                      mechanisms=["PLAIN"], **kwargs)

    runner_mod.LoadRunner._make_client = make_client  # type: ignore[method-assign]
    try:
        return run_fastxmpp(server, users, messages, rate, concurrency, verify)
    finally:
        runner_mod.LoadRunner._make_client = original  # type: ignore[method-assign]


if __name__ == "__main__":
    sys.exit(main())
