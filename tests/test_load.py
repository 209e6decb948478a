"""The load-test runner: histogram, options, and real runs of ``python -m fastxmpp load``."""
from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from fractions import Fraction

import pytest

import fastxmpp
from fastxmpp.load import cli
from fastxmpp.load.hdr import decode_histogram
from fastxmpp.load.histogram import Histogram
from fastxmpp.load.report import exit_code, format_report
from fastxmpp.load.runner import LoadConfig, pair_users

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastxmpp.__file__)))


def nearest_rank(sorted_values, p):
    """The value of rank ceil(p/100 * n), computed exactly (0.999 * 50000 is 49950.000000000007 in floats)."""
    rank = math.ceil(Fraction(str(p)) / 100 * len(sorted_values))
    return sorted_values[max(1, rank) - 1]


# ---------------------------------------------------------------------- histogram


@pytest.mark.parametrize("dist", ["lognormal", "uniform", "exponential", "bimodal"])
def test_percentiles_within_one_percent_of_sorted_data(dist):
    rng = random.Random(dist)
    gen = {
        "lognormal": lambda: rng.lognormvariate(8, 1.5),
        "uniform": lambda: rng.uniform(0, 5_000_000),
        "exponential": lambda: rng.expovariate(1 / 20000.0),
        "bimodal": lambda: rng.choice((rng.gauss(1000, 50), rng.gauss(900_000, 10_000))),
    }[dist]
    values = [max(0, int(gen())) for _ in range(50_000)]
    h = Histogram()
    h.record_many(values)
    values.sort()
    assert h.count == len(values)
    assert h.min == values[0] and h.max == values[-1]
    assert h.mean == pytest.approx(sum(values) / len(values))
    for p in (0.0, 1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0):
        exact = nearest_rank(values, p)
        got = h.percentile(p)
        assert abs(got - exact) <= max(1, 0.01 * exact), (p, exact, got)
    assert h.percentile(100.0) == values[-1]
    assert h.percentile(0.0) == values[0]


def test_small_values_are_exact():
    h = Histogram()
    values = list(range(256)) * 3
    h.record_many(values)
    values.sort()
    for p in range(1, 101):
        assert h.percentile(p) == nearest_rank(values, p)


def test_bucket_layout_is_contiguous_and_bounded():
    h = Histogram(highest_trackable=1 << 30, precision_bits=7)
    previous_high = -1
    for index in range(h.bucket_count):
        low, high = h._bounds(index)
        assert low == previous_high + 1
        assert h._index(low) == index == h._index(high)
        if low >= 128:
            assert (high - low + 1) / low <= 2 ** (1 - 7)
        previous_high = high
    assert previous_high >= 1 << 30


def test_memory_is_fixed():
    h = Histogram()
    n = h.bucket_count
    for v in (0, 1, 10**3, 10**6, 10**9, 10**12):
        h.record(v)
    assert h.bucket_count == n < 5000


def test_merge_equals_recording_everything_in_one():
    rng = random.Random(7)
    a_values = [int(rng.expovariate(1 / 5000.0)) for _ in range(10_000)]
    b_values = [int(rng.lognormvariate(10, 1)) for _ in range(10_000)]
    a, b, both = Histogram(), Histogram(), Histogram()
    a.record_many(a_values)
    b.record_many(b_values)
    both.record_many(a_values + b_values)
    summed = a + b
    assert summed == both
    assert a.count == 10_000  # + does not change the operands
    a.merge(b)
    assert a == both
    assert a.percentiles((50.0, 99.0, 99.9)) == both.percentiles((50.0, 99.0, 99.9))
    assert a.min == min(a_values + b_values) and a.max == max(a_values + b_values)
    assert Histogram().merge(Histogram()).count == 0
    with pytest.raises(ValueError):
        Histogram(precision_bits=7).merge(Histogram(precision_bits=8))


def test_empty_clamp_counts_and_round_trip():
    h = Histogram(highest_trackable=1000)
    assert h.percentile(50) is None and h.mean is None
    assert h.summary()["p99"] is None
    h.record(5, count=3)
    h.record(10**6)  # above highest_trackable: clamped into the last bucket, max stays exact
    assert h.clamped == 1 and h.max == 10**6 and h.count == 4
    assert h.percentile(100) == 10**6
    assert h.percentile(50) == 5
    assert Histogram.from_dict(json.loads(json.dumps(h.to_dict()))) == h
    summary = h.summary(scale=1000.0)
    assert set(summary) == {"count", "min", "mean", "p50", "p90", "p99", "p99.9", "max"}
    assert summary["max"] == 1000.0
    with pytest.raises(ValueError):
        h.record(-1)
    with pytest.raises(ValueError):
        h.percentile(101)


# ---------------------------------------------------------------------- options


def test_defaults():
    args = cli.parse_args([])
    assert args.server is None and args.domain == "localhost"
    config = cli.config_from_args(args)
    assert (config.users, config.concurrency, config.scenario, config.duration) == (50, 20, "chat", 60.0)
    assert config.username(0) == "load1" and config.username(49) == "load50"
    assert not args.quiet and args.report is None
    assert not args.tls_resume and config.tls_resume is False


def test_tls_resume_option():
    config = cli.config_from_args(cli.parse_args(["--tls-resume"]))
    assert config.tls_resume is True


def test_all_options():
    args = cli.parse_args([
        "--server", "xmpp.example.net:5223", "--ca-file", __file__, "--insecure", "--users", "7",
        "--password", "pw", "--user-prefix", "bot", "--register", "--concurrency", "3",
        "--scenario", "presence", "--messages", "9", "--rate", "0", "--duration", "12.5",
        "--report", "out.json", "--quiet",
    ])
    assert args.server == ("xmpp.example.net", 5223)
    assert args.domain == "xmpp.example.net"  # from the host name
    assert args.insecure and args.register and args.quiet and args.report == "out.json"
    config = cli.config_from_args(args)
    assert (config.users, config.password, config.user_prefix, config.concurrency) == (7, "pw", "bot", 3)
    assert (config.scenario, config.messages, config.rate, config.duration) == ("presence", 9, 0.0, 12.5)
    assert config.username(6) == "bot7"


@pytest.mark.parametrize("text,expected", [
    ("example.net", ("example.net", 5222)),
    ("127.0.0.1:5299", ("127.0.0.1", 5299)),
    ("[::1]:5223", ("::1", 5223)),
    ("[::1]", ("::1", 5222)),
    ("::1", ("::1", 5222)),
])
def test_parse_hostport(text, expected):
    assert cli.parse_hostport(text) == expected


@pytest.mark.parametrize("argv", [
    ["--server", "127.0.0.1:5222"],  # an IP needs --domain
    ["--server", "host:notaport"],
    ["--server", "host:70000"],
    ["--users", "0"],
    ["--users", "1"],  # chat needs a pair
    ["--scenario", "nope"],
    ["--rate", "-1"],
    ["--duration", "0"],
    ["--messages", "-5"],
    ["--ca-file", "/nonexistent/ca.pem"],
])
def test_bad_options_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.parse_args(argv)
    assert info.value.code == 2


def test_ip_server_with_domain_and_single_user_scenarios():
    args = cli.parse_args(["--server", "127.0.0.1:5222", "--domain", "Example.NET"])
    assert args.domain == "Example.NET" and args.server == ("127.0.0.1", 5222)
    assert cli.parse_args(["--users", "1", "--scenario", "login"]).users == 1
    assert cli.parse_args(["--users", "1", "--scenario", "iq"]).users == 1
    with pytest.raises(ValueError):
        LoadConfig(users=1, scenario="chat").validate()


def test_pairing():
    assert pair_users(1) == [0]
    assert pair_users(2) == [1, 0]
    assert pair_users(4) == [1, 0, 3, 2]
    assert pair_users(5) == [1, 0, 3, 4, 2]  # the odd one out makes a ring of three
    for n in range(2, 40):
        peer = pair_users(n)
        assert sorted(peer) == list(range(n))  # everyone receives from exactly one sender
        assert all(peer[i] != i for i in range(n))


def test_main_dispatch_usage():
    from fastxmpp.__main__ import main

    assert main([]) == 2
    assert main(["--help"]) == 0
    assert main(["frobnicate"]) == 2


# ---------------------------------------------------------------------- real runs

needs_prosody = pytest.mark.prosody


def _prosody_or_skip():
    from fastxmpp.testing.prosody import prosody_binary

    if prosody_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("prosody is not installed (scripts/install-system-deps installs it)")
        pytest.skip("prosody is not installed; run scripts/install-system-deps")


def run_cli(args, tmp_path, timeout=90):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fastxmpp", "load", *args, "--report", str(report), "--quiet"],
        cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
    )
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert report.exists(), f"no report; exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    return proc.returncode, json.loads(report.read_text()), out, err


def assert_latency_present(summary, count):
    assert summary["count"] == count
    for key in ("min", "mean", "p50", "p90", "p99", "p99.9", "max"):
        assert summary[key] is not None and summary[key] >= 0, key
    assert summary["min"] <= summary["p50"] <= summary["p99"] <= summary["max"]


@needs_prosody
def test_cli_chat_run_against_private_prosody(tmp_path):
    _prosody_or_skip()
    code, report, out, err = run_cli(
        ["--users", "10", "--messages", "20", "--rate", "20", "--duration", "30"], tmp_path)
    assert code == 0, out + err
    assert report["ok"] is True
    assert report["target"]["local_server"] is True
    assert report["login"] == {**report["login"], "ok": 10, "failed": 0, "errors": {}}
    msgs = report["messages"]
    assert (msgs["sent"], msgs["received"], msgs["lost"], msgs["duplicated"]) == (200, 200, 0, 0)
    assert msgs["unexpected"] == 0 and msgs["throughput_per_second"] > 0
    assert_latency_present(msgs["latency_ms"], 200)
    assert_latency_present(report["login"]["latency_ms"], 10)
    for phase in ("tcp", "tls", "sasl", "bind"):  # every login timed in its four parts
        assert_latency_present(report["login"]["phases_ms"][phase], 10)
        assert decode_histogram(report["histograms"]["login_" + phase]).count == 10
    assert "tcp connect" in out and "sasl" in out and "bind" in out
    assert report["error_kinds"] == {}
    assert report["cpu"]["client_seconds"] > 0 and report["cpu"]["client_us_per_message"] > 0
    assert report["errors"] == {}
    assert report["duration_seconds"] < 30 and not report["stopped_by_duration_cap"]
    assert report["scram_cache"]["misses"] >= 1
    assert "password" not in json.dumps(report["config"]).replace('"password": "***"', "")
    assert "lost 0, duplicated 0" in out and "OK" in out
    assert report["tls_sessions"] is None  # off unless --tls-resume


@needs_prosody
def test_cli_tls_resume_logins_resume_tls_sessions(tmp_path):
    """--tls-resume (one process, so one session pool): the private Prosody allows tickets,
    and every login that starts after another finished resumes its TLS session (two in
    flight: the first two cannot)."""
    _prosody_or_skip()
    code, report, out, err = run_cli(
        ["--users", "6", "--concurrency", "2", "--scenario", "login", "--tls-resume", "--workers", "1",
         "--duration", "30"], tmp_path)
    assert code == 0, out + err
    assert report["login"]["ok"] == 6 and report["config"]["tls_resume"] is True
    tls = report["tls_sessions"]
    assert (tls["misses"], tls["hits"], tls["resumed"]) == (2, 4, 4)
    assert "tls sessions" in out and "4 resumed" in out


@needs_prosody
def test_cli_register_presence_and_iq_against_given_server(tmp_path):
    """--server with --register (XEP-0077), then the presence and iq scenarios reuse the accounts."""
    _prosody_or_skip()
    from fastxmpp.testing.prosody import ProsodyServer

    with ProsodyServer(tmp_path / "srv", domain="load.test") as server:
        common = ["--server", f"{server.host}:{server.port}", "--domain", server.domain,
                  "--ca-file", str(server.ca_file), "--users", "5", "--duration", "30"]
        code, report, out, err = run_cli(common + ["--register", "--scenario", "presence",
                                                   "--messages", "10", "--rate", "0"], tmp_path)
        assert code == 0, out + err
        assert report["registration"] == {"created": 5}
        assert report["login"]["ok"] == 5 and report["messages"]["received"] == 50
        assert report["messages"]["lost"] == 0 and report["messages"]["duplicated"] == 0
        assert server.user_exists("load5")

        code, report, out, err = run_cli(common + ["--register", "--scenario", "iq", "--iq-target", "peer",
                                                   "--messages", "10", "--rate", "50"], tmp_path)
        assert code == 0, out + err
        assert report["registration"] == {"existed": 5}
        assert report["messages"]["sent"] == report["messages"]["received"] == 50
        assert_latency_present(report["messages"]["latency_ms"], 50)


@needs_prosody
def test_cli_reports_failed_logins_with_exit_1(tmp_path):
    _prosody_or_skip()
    from fastxmpp.testing.prosody import ProsodyServer

    with ProsodyServer(tmp_path / "srv") as server:
        server.create_user("load1", "right")
        code, report, out, err = run_cli(
            ["--server", f"{server.host}:{server.port}", "--domain", server.domain, "--ca-file",
             str(server.ca_file), "--users", "2", "--password", "wrong", "--scenario", "login",
             "--duration", "20"], tmp_path)
    assert code == 1
    assert report["ok"] is False and exit_code(report) == 1
    assert report["login"]["ok"] == 0 and report["login"]["failed"] == 2
    assert report["login"]["errors"] == {"SASLError(not-authorized)": 2}
    assert report["error_kinds"] == {"sasl-failure": {"not-authorized": 2}}
    assert report["login"]["phases_ms"]["tcp"]["count"] == 0  # failed logins are not timed
    assert "FAILED" in format_report(report)


# -- issue 16: --help says each default once, and a refused connection says why ---------------------
def test_help_states_each_default_once_and_none_for_flags():
    text = " ".join(cli.build_parser().format_help().split())
    assert "(default: None)" not in text
    assert "(default: True)" not in text and "(default: False)" not in text
    assert "default: start a private Prosody)" in text and "Prosody) (default" not in text
    assert "--users N number of users (default: 50)" in text
    assert "--body-size BYTES pad chat bodies to this many characters (default: 0)" in text


def test_refused_connection_is_reported_with_its_reason():
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run(
        [sys.executable, "-m", "fastxmpp", "load", "--server", f"127.0.0.1:{port}", "--domain", "localhost",
         "--users", "2", "--messages", "1", "--quiet"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "first ConnectionLost: could not connect to localhost" in proc.stdout
    assert "ECONNREFUSED" in proc.stdout
    assert "disconnect" in proc.stdout and "ConnectionLost: 2" in proc.stdout


def test_errors_are_counted_by_kind():
    import asyncio

    from fastxmpp.aio.client import ConnectionLost
    from fastxmpp.errors import Conflict, SASLError
    from fastxmpp.load.runner import error_kind, error_kinds_dict

    assert error_kind(Conflict("Replaced by new connection")) == ("stream-error", "conflict")
    assert error_kind(SASLError("not-authorized")) == ("sasl-failure", "not-authorized")
    assert error_kind(asyncio.TimeoutError(), "iq") == ("timeout", "iq")
    assert error_kind(ConnectionLost("not connected")) == ("disconnect", "ConnectionLost")
    assert error_kind(ConnectionResetError()) == ("disconnect", "ConnectionResetError")
    assert error_kind(None) == ("disconnect", "closed")
    assert error_kind(ValueError("x")) == ("other", "ValueError")
    counts = {("timeout", "iq"): 2, ("stream-error", "conflict"): 1, ("other", "X"): 0}
    assert error_kinds_dict(counts) == {"stream-error": {"conflict": 1}, "timeout": {"iq": 2}}


def test_login_phases_come_from_the_clients_public_timings():
    """The runner reads ``client.last_login_timings``; it wraps none of the client's methods."""
    import inspect

    from fastxmpp.events import LoginTimings
    from fastxmpp.load import runner
    from fastxmpp.load.runner import LOGIN_PHASES

    timings = LoginTimings(started=1.0, connected=1.5, secured=None, authenticated=2.0, bound=3.0)
    assert tuple(timings.phases()) == LOGIN_PHASES  # the report's names
    assert timings.phases()["tls"] == 0.0 and timings.tls is None
    source = inspect.getsource(runner)
    for private in ("_flush", "_tls_handshake", "_tls_done", "_handle_events"):
        assert private not in source
