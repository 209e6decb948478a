"""A small run of benchmarks/client_bench.py for fastxmpp: correctness only, never timing.

20 logins (plain, then with a ScramKeyCache: cold and warm rounds, then with a
TLSSessionCache too: fill, TLS-resumed and warm rounds), 1000 chat
messages between two sessions of one process, 50 idle sessions; each in its
own subprocess against one private Prosody, exactly as the benchmark does.
"""
from __future__ import annotations

import argparse

import pytest

import client_bench

pytestmark = pytest.mark.prosody

LOGINS, INFLIGHT, MESSAGES, IDLE = 20, 10, 1000, 50


@pytest.fixture(scope="module")
def bench_server(tmp_path_factory):
    _, prosody_binary = client_bench.prosody_class()
    if prosody_binary() is None:
        pytest.skip("prosody is not installed; run scripts/install-system-deps")
    server = client_bench.start_server(str(tmp_path_factory.mktemp("client-bench")), LOGINS, IDLE)
    cfg = {
        "host": server.host, "port": server.port, "domain": server.domain,
        "ca_file": str(server.ca_file), "password": client_bench.PASSWORD,
        "names": client_bench.account_names(LOGINS, IDLE), "inflight": INFLIGHT,
        "messages": MESSAGES,
    }
    yield cfg
    server.stop()


def run(cfg, task, tag):
    res = client_bench.run_worker("fastxmpp", task, dict(cfg, tag=tag), timeout=300)
    assert "error" not in res, res
    return res


def test_logins(bench_server):
    res = run(bench_server, "logins", "tl")
    assert res["ok"] == LOGINS
    assert res["mechanism"] == "SCRAM-SHA-1"


def test_logins_with_key_cache(bench_server):
    res = run(bench_server, "logins-cache", "tc")
    assert res["ok"] == LOGINS and res["warm_ok"] == LOGINS
    # the warm round reused every account's keys (the warm-up login is the extra miss)
    assert f"hits={LOGINS} misses={LOGINS + 1}" in res["warm_cache"], res["warm_cache"]


def test_logins_with_tls_resumption(bench_server):
    res = run(bench_server, "logins-resume", "tr")
    assert res["fill_ok"] == res["tls_ok"] == res["warm_ok"] == LOGINS
    # after the fill round every login resumes its TLS session
    for rnd in ("tls", "warm"):
        assert res[f"{rnd}_tls"] == {"hits": LOGINS, "misses": 0, "resumed": LOGINS}, res
    assert res["tls_scram"] == {"hits": 0, "misses": LOGINS}   # PBKDF2 for every login
    assert res["warm_scram"] == {"hits": LOGINS, "misses": 0}  # and for none


def test_messages(bench_server):
    res = run(bench_server, "messages", "tm")
    assert res["received"] == MESSAGES


def test_idle_sessions(bench_server):
    res = run(bench_server, "idle", "ti")
    assert res["ok"] == IDLE
    assert res["rss_after_kib"] > 0


def test_table_renders():
    out = {"pbkdf2_ms": [5.0], "config": vars(client_bench.parse_args([])), "skipped": {},
           "results": {
               "fastxmpp": {"logins": [{"cpu_s": 1.0, "ok": 100}],
                            "logins-cache": [{"cold_cpu_s": 1.0, "ok": 100, "warm_cpu_s": 0.2, "warm_ok": 100}],
                            "logins-resume": [{"tls_cpu_s": 0.9, "tls_ok": 100, "warm_cpu_s": 0.15,
                                               "warm_ok": 100}],
                            "messages": [{"cpu_s": 0.1, "received": 10000}],
                            "idle": [{"kib_per_session": 30.0}]},
               "slixmpp": {"logins": [{"cpu_s": 5.0, "ok": 100}],
                           "messages": [{"cpu_s": 2.0, "received": 10000}],
                           "idle": [{"kib_per_session": 350.0}]}}}
    table = client_bench.format_table(out)
    assert "ratios vs slixmpp" in table and "MET" in table
    assert "CPU ms/login, TLS resumed + warm" in table and "1.50 / 1.50" in table
    assert isinstance(client_bench.parse_args(["--rounds", "1"]), argparse.Namespace)
