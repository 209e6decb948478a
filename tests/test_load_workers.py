"""``python -m fastxmpp load --workers N``: splitting, exact merging, real runs (issue 16)."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from fastxmpp.load.cli import parse_args
from fastxmpp.load.hdr import decode_histogram, encode_histogram
from fastxmpp.load.histogram import Histogram
from fastxmpp.load.runner import LoadConfig, LoadRunner, Target
from fastxmpp.load.workers import merge_reports, split_users, worker_count

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_workers_option_defaults_to_one_per_core_on_uvloop():
    args = parse_args([])
    assert args.workers == 0 and args.uvloop is True
    args = parse_args(["--workers", "3", "--no-uvloop"])
    assert args.workers == 3 and args.uvloop is False
    assert worker_count(0) == (os.cpu_count() or 1) and worker_count(4) == 4


@pytest.mark.parametrize("users,workers,scenario", [
    (20, 2, "chat"), (21, 2, "chat"), (7, 3, "presence"), (3, 4, "chat"), (10, 3, "login"),
    (1, 4, "login"), (100, 8, "chat"),
])
def test_split_users_disjoint_contiguous_pairs_inside_a_block(users, workers, scenario):
    blocks = split_users(users, workers, scenario)
    assert 1 <= len(blocks) <= workers
    first = 0
    for start, count in blocks:
        assert start == first and count >= 1
        if scenario != "login":
            assert start % 2 == 0 and count >= 2
        first += count
    assert first == users


def _partial(users, first, login_values, latency_values, errors=()):
    config = LoadConfig(users=users, messages=len(latency_values) // users, rate=0)
    runner = LoadRunner(config, Target(host="127.0.0.1", port=1, domain="localhost"), first_user=first)
    for v in login_values:
        runner.login_latency.record(v)
    for v in latency_values:
        runner.latency.record(v)
    runner.login_ok = len(login_values)
    runner.sent = runner.received = len(latency_values)
    runner.senders = users
    runner.errors.update(errors)
    runner.traffic_started, runner.traffic_ended = 100.0 + first, 102.0 + first
    report = runner.report(0.5, 0.25, None)
    report["histograms"] = {"login": encode_histogram(runner.login_latency),
                            "latency": encode_histogram(runner.latency)}
    return {"report": report, "login_hist": runner.login_latency.to_dict(),
            "latency_hist": runner.latency.to_dict(),
            "traffic_started": runner.traffic_started, "traffic_ended": runner.traffic_ended}


def test_merge_equals_recording_everything_in_one():
    a_login, b_login = [1000, 2500, 99000, 7], [150000, 3, 42000, 42000]
    a_lat = [5 * i + 17 for i in range(400)]
    b_lat = [1_000_000 + 977 * i for i in range(400)]  # a very different distribution
    a = _partial(4, 0, a_login, a_lat, {"send:Boom": 1})
    b = _partial(4, 4, b_login, b_lat, {"send:Boom": 2, "x": 1})
    assert [u.jid for u in LoadRunner(LoadConfig(users=2), Target("h", 1, "d"), first_user=4).users] \
        == ["load5@d", "load6@d"]
    config = LoadConfig(users=8, messages=100, rate=0)
    target = Target(host="127.0.0.1", port=1, domain="localhost")
    merged = merge_reports([a, b], config, target, duration_seconds=3.0, server_cpu=1.5)

    one_login, one_lat = Histogram(), Histogram()
    one_login.record_many(a_login + b_login)
    one_lat.record_many(a_lat + b_lat)
    assert merged["login"]["latency_ms"] == one_login.summary(scale=1000.0)
    assert merged["messages"]["latency_ms"] == one_lat.summary(scale=1000.0)
    assert decode_histogram(merged["histograms"]["latency"]).count == 800
    assert decode_histogram(merged["histograms"]["login"]).count == 8
    assert merged["login"]["ok"] == 8 and merged["users"] == 8
    msgs = merged["messages"]
    assert (msgs["sent"], msgs["received"], msgs["lost"], msgs["duplicated"]) == (800, 800, 0, 0)
    assert msgs["expected"] == 800 and msgs["senders"] == 8
    assert merged["traffic_seconds"] == pytest.approx(6.0)  # first start to last end
    assert msgs["throughput_per_second"] == pytest.approx(800 / 6.0)
    assert merged["cpu"]["client_seconds"] == pytest.approx(1.0)
    assert merged["cpu"]["client_traffic_seconds"] == pytest.approx(0.5)
    assert merged["cpu"]["server_seconds"] == 1.5
    assert merged["errors"] == {"send:Boom": 3, "x": 1}
    assert merged["ok"] is True and merged["config"]["users"] == 8

    # a worker that died fails the run
    failed = merge_reports([a], config, target, duration_seconds=1.0, errors={"worker:died (exit -9)": 1})
    assert failed["ok"] is False and failed["errors"]["worker:died (exit -9)"] == 1


# ---------------------------------------------------------------------- real runs

def _prosody_or_skip():
    from fastxmpp.testing.prosody import prosody_binary

    if prosody_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("prosody is not installed (scripts/install-system-deps installs it)")
        pytest.skip("prosody is not installed; run scripts/install-system-deps")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run(args, tmp_path, timeout=120):
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fastxmpp", "load", *args, "--report", str(report)],
        cwd=str(tmp_path), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert report.exists(), f"no report; exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    data = json.loads(report.read_text())
    report.unlink()
    return proc.returncode, data, out, err


@pytest.mark.prosody
def test_two_workers_chat_run_against_private_prosody(tmp_path):
    _prosody_or_skip()
    code, report, out, err = _run(["--workers", "2", "--users", "20", "--messages", "50",
                                   "--rate", "0", "--duration", "60"], tmp_path)
    assert code == 0, out + err
    assert report["workers"] == 2 and report["ok"] is True
    assert report["login"]["ok"] == 20 and report["login"]["failed"] == 0
    msgs = report["messages"]
    assert (msgs["sent"], msgs["received"], msgs["lost"], msgs["duplicated"]) == (1000, 1000, 0, 0)
    assert msgs["unexpected"] == 0 and report["errors"] == {}
    assert "lost 0, duplicated 0" in out and "OK" in out
    assert "workers" in err and "logged in" in err  # the parent's progress covers the workers


@pytest.mark.prosody
def test_two_workers_report_histograms_count_every_message(tmp_path):
    _prosody_or_skip()
    code, report, out, err = _run(["--workers", "2", "--users", "6", "--messages", "30",
                                   "--rate", "50", "--quiet"], tmp_path)
    assert code == 0, out + err
    assert err == ""
    msgs = report["messages"]
    assert msgs["received"] == 180
    assert msgs["latency_ms"]["count"] == 180 and report["login"]["latency_ms"]["count"] == 6
    assert decode_histogram(report["histograms"]["latency"]).count == 180
    assert decode_histogram(report["histograms"]["login"]).count == 6
    samples = report["timeseries"]["samples"]
    assert sum(s["counters"].get("received", 0) for s in samples) == 180
    assert sum(s["histograms"]["latency"]["count"] for s in samples) == 180
    assert report["cpu"]["client_seconds"] > 0


def _wait_for_traffic(proc, users=4):
    """Read the parent's progress lines until every user logged in and messages arrive."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline().decode()
        if not line:
            break
        m = re.search(r"logged in (\d+)/\d+ .*recv (\d+)", line)
        if m and int(m.group(1)) == users and int(m.group(2)) > 0:
            return
    pytest.fail("the run never reached its traffic phase")


def _start_long_run(tmp_path, workers):
    """A run that would last minutes (4 users, 1,000 messages each at 2/s): the tests stop it."""
    return subprocess.Popen(
        [sys.executable, "-m", "fastxmpp", "load", "--workers", str(workers), "--users", "4",
         "--messages", "1000", "--rate", "2", "--duration", "120",
         "--report", str(tmp_path / "report.json")],
        cwd=str(tmp_path), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc, tmp_path):
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    report = tmp_path / "report.json"
    assert report.exists(), out.decode() + err.decode()
    data = json.loads(report.read_text())
    report.unlink()
    return proc.returncode, data, out.decode(), err.decode()


@pytest.mark.prosody
@pytest.mark.parametrize("workers", [2, 1])
def test_sigint_to_the_parent_still_prints_the_partial_report(tmp_path, workers):
    _prosody_or_skip()
    proc = _start_long_run(tmp_path, workers)
    _wait_for_traffic(proc)
    proc.send_signal(signal.SIGINT)  # the parent only: it forwards it to the workers
    code, data, out, err = _finish(proc, tmp_path)
    assert code == 130, out + err
    assert "fastxmpp load report" in out and "FAILED (interrupted)" in out
    assert data["interrupted"] is True and data["ok"] is False and data["workers"] == workers
    assert data["login"]["ok"] == 4
    msgs = data["messages"]
    assert msgs["duplicated"] == 0 and 0 < msgs["received"] <= msgs["sent"] < 4000


@pytest.mark.prosody
def test_a_killed_worker_fails_the_run_and_the_report_says_so(tmp_path):
    """SIGKILL one of two workers in the traffic phase: the parent notices, stops the other
    (which closes its streams and reports), prints the report with what it got, exit 1."""
    _prosody_or_skip()
    proc = _start_long_run(tmp_path, 2)
    pids = {}
    deadline = time.monotonic() + 60
    while len(pids) < 2 and time.monotonic() < deadline:
        line = proc.stderr.readline().decode()
        if not line:
            break
        m = re.match(r"worker (\d+): pid (\d+), users", line)
        if m:
            pids[int(m.group(1))] = int(m.group(2))
    assert sorted(pids) == [0, 1], "the parent did not name its workers"
    _wait_for_traffic(proc)
    os.kill(pids[1], signal.SIGKILL)
    code, data, out, err = _finish(proc, tmp_path)
    assert code == 1, out + err
    assert data["ok"] is False and "interrupted" not in data and data["workers"] == 2
    (dead,) = data["workers_failed"]
    assert dead["worker"] == 1 and dead["users"] == [3, 4]
    assert dead["reason"] == f"died (exit {-signal.SIGKILL})"
    assert dead["last_progress"]["login_ok"] == 2
    assert data["errors"][f"worker:died (exit {-signal.SIGKILL})"] == 1
    assert data["login"]["ok"] == 2  # the survivor's users, counted exactly
    msgs = data["messages"]
    assert msgs["duplicated"] == 0 and 0 < msgs["received"] <= msgs["sent"]
    assert "worker 1 (users 3..4) FAILED: died" in out and "FAILED" in out
    assert "worker 1 (users 3..4): died" in err
