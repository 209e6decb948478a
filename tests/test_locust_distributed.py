"""Locust's distributed mode: a master and two workers run the example locustfile against the
test Prosody.  The master gives each worker its own slot of the account numbers, so the
workers never log in as the same user (before, Prosody answered ``conflict`` to a quarter
of the requests) and 20 users use exactly the accounts 1..20 (issue 16)."""
from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys

import pytest

import fastxmpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastxmpp.__file__)))
LOCUSTFILE = os.path.join(ROOT, "examples", "locustfile.py")
USERS = 20

pytestmark = pytest.mark.prosody


def _locust_or_skip() -> None:
    # find_spec, not import: importing locust monkey-patches socket, ssl and threading with
    # gevent for the whole test process, and the tests after this one would run on gevent
    if importlib.util.find_spec("locust") is None:
        if os.environ.get("CI"):
            pytest.fail("locust is not installed (it is in the [test] extra)")
        pytest.skip("locust is not installed (pip install locust)")


def _stats_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_master_and_two_workers_use_distinct_accounts(prosody, tmp_path):
    _locust_or_skip()
    from fastxmpp.testing.prosody import find_free_port

    prefix = "lcd%d_" % os.getpid()
    prosody.create_users([f"{prefix}{n}" for n in range(1, USERS + 1)], password="load-test-pw")
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(XMPP_DOMAIN=prosody.domain, XMPP_CA_FILE=str(prosody.ca_file), XMPP_USER_PREFIX=prefix,
               XMPP_PASSWORD="load-test-pw")
    env.pop("XMPP_INSECURE", None)
    port = find_free_port("127.0.0.1")
    host = f"xmpp://{prosody.host}:{prosody.port}"
    locust = [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--host", host, "--loglevel", "WARNING"]
    csv_prefix = tmp_path / "run"
    procs = []
    try:
        master = subprocess.Popen(
            locust + ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                      "--expect-workers", "2", "--headless", "-u", str(USERS), "-r", str(USERS),
                      "--run-time", "15s", "--csv", str(csv_prefix)],
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
    detail = f"master:\n{out[-4000:]}\nworkers:\n{logs[-4000:]}"
    stats = {row["Name"]: row for row in _stats_rows(f"{csv_prefix}_stats.csv")}
    total = stats["Aggregated"]
    assert int(total["Failure Count"]) == 0, detail
    assert int(total["Request Count"]) > USERS, detail
    assert int(stats["login"]["Request Count"]) == USERS, detail  # one login per user, none refused
    assert int(stats["login"]["Failure Count"]) == 0, detail
    assert int(stats["message:echo"]["Request Count"]) > 0, detail
    assert int(stats["iq:ping"]["Request Count"]) > 0, detail
    assert _stats_rows(f"{csv_prefix}_failures.csv") == [], detail
    assert "Conflict" not in logs and "conflict" not in out, detail
    assert master.returncode == 0, detail
