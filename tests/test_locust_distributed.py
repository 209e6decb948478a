"""Locust's distributed mode: a master and two workers run the example locustfile against the
test Prosody.  The master gives each worker its own slot of the account numbers, so the
workers never log in as the same user (before, Prosody answered ``conflict`` to a quarter
of the requests) and 20 users use exactly the accounts 1..20 (issue 16)."""
from __future__ import annotations

import importlib.util
import os

import pytest
from load_cli import run_locust

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


def test_master_and_two_workers_use_distinct_accounts(prosody, tmp_path):
    _locust_or_skip()
    prefix = "lcd%d_" % os.getpid()
    prosody.create_users([f"{prefix}{n}" for n in range(1, USERS + 1)], password="load-test-pw")
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(XMPP_DOMAIN=prosody.domain, XMPP_CA_FILE=str(prosody.ca_file), XMPP_USER_PREFIX=prefix,
               XMPP_PASSWORD="load-test-pw")
    env.pop("XMPP_INSECURE", None)
    master, out, logs, stats, failures = run_locust(
        LOCUSTFILE, f"xmpp://{prosody.host}:{prosody.port}", env, USERS, "15s", tmp_path)
    detail = f"master:\n{out[-4000:]}\nworkers:\n{logs[-4000:]}"
    total = stats["Aggregated"]
    assert int(total["Failure Count"]) == 0, detail
    assert int(total["Request Count"]) > USERS, detail
    assert int(stats["login"]["Request Count"]) == USERS, detail  # one login per user, none refused
    assert int(stats["login"]["Failure Count"]) == 0, detail
    assert int(stats["message:echo"]["Request Count"]) > 0, detail
    assert int(stats["iq:ping"]["Request Count"]) > 0, detail
    assert failures == [], detail
    assert "Conflict" not in logs and "conflict" not in out, detail
    assert master.returncode == 0, detail
