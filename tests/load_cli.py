"""Shared by the load tests: run ``python -m fastxmpp load`` against a private Prosody."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Tuple

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_load(tmp_path: Any, args: List[str]) -> Tuple[Dict[str, Any], str]:
    """Run the load command in ``tmp_path`` with ``args`` (plus ``--quiet --report``); assert
    exit 0 and return the JSON report and the text report.  Skips without prosody."""
    from fastxmpp.testing.prosody import prosody_binary

    if prosody_binary() is None:
        pytest.skip("prosody is not installed; run scripts/install-system-deps")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "fastxmpp", "load", "--quiet", "--report", str(report)] + args,
                          cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=180)
    out = proc.stdout.decode()
    try:
        assert proc.returncode == 0, out + proc.stderr.decode()
        data: Dict[str, Any] = json.loads(report.read_text())
    finally:
        if report.exists():
            report.unlink()
    return data, out


def run_locust(locustfile: str, host: str, env: Dict[str, str], users: int, run_time: str,
               tmp_path: Any) -> Tuple[Any, str, str, Dict[str, Dict[str, str]], List[Dict[str, str]]]:
    """Run Locust headless in ``tmp_path``: a master and two workers (subprocesses: locust is
    never imported here), ``users`` users spawned at once for ``run_time``.  Returns the
    master process (exited), its output, the workers' logs, the stats rows by name and the
    failure rows."""
    import csv

    from fastxmpp.testing.prosody import find_free_port

    port = find_free_port("127.0.0.1")
    locust = [sys.executable, "-m", "locust", "-f", locustfile, "--host", host, "--loglevel", "WARNING"]
    csv_prefix = tmp_path / "run"
    procs: List[Any] = []
    try:
        master = subprocess.Popen(
            locust + ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                      "--expect-workers", "2", "--headless", "-u", str(users), "-r", str(users),
                      "--run-time", run_time, "--csv", str(csv_prefix)],
            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs.append(master)
        for i in range(2):
            log = open(tmp_path / f"worker{i}.log", "wb")
            procs.append(subprocess.Popen(
                locust + ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                cwd=str(tmp_path), env=env, stdout=log, stderr=subprocess.STDOUT))
            log.close()
        out = master.communicate(timeout=180)[0].decode(errors="replace")
        for worker in procs[1:]:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    logs = "\n".join((tmp_path / f"worker{i}.log").read_text(errors="replace") for i in range(2))

    def rows(path: str) -> List[Dict[str, str]]:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))

    stats = {row["Name"]: row for row in rows(f"{csv_prefix}_stats.csv")}
    return master, out, logs, stats, rows(f"{csv_prefix}_failures.csv")
