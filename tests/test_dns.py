"""SRV ordering (sans-IO) and real lookups against a private dnsmasq on loopback.

The dnsmasq tests are skipped only when dnsmasq is not installed and ``CI`` is
unset; under CI a missing dnsmasq fails them.
"""
from __future__ import annotations

import asyncio
import collections
import os
import random
import shutil
import socket
import subprocess
import time

import dns.message
import dns.query
import pytest

from fastxmpp import connect
from fastxmpp.aio import dns as aio_dns
from fastxmpp.connect import (
    DNSError,
    DNSTimeout,
    Endpoint,
    ServiceNotAvailable,
    SRVRecord,
    endpoints_for,
    explicit_endpoint,
    srv_order,
)
from fastxmpp.sync import dns as sync_dns

# -- the sans-IO part ------------------------------------------------------------


def rec(target, port=5222, priority=10, weight=0):
    return SRVRecord(priority, weight, port, target)


def test_priority_ascending():
    records = [rec("c", priority=30), rec("a", priority=10), rec("b", priority=20)]
    for seed in range(20):
        assert [r.target for r in srv_order(records, rng=random.Random(seed))] == ["a", "b", "c"]


def test_order_is_a_permutation_and_deterministic():
    records = [rec(f"h{i}", priority=i % 3, weight=(i * 7) % 5) for i in range(12)]
    first = srv_order(records, rng=random.Random(99))
    assert sorted(first, key=records.index) == records
    assert srv_order(records, rng=random.Random(99)) == first
    assert [r.priority for r in first] == sorted(r.priority for r in records)


def test_weights_decide_first_pick():
    records = [rec("heavy", weight=75), rec("light", weight=25), rec("zero", weight=0)]
    rng = random.Random(2024)
    firsts = collections.Counter(srv_order(records, rng=rng)[0].target for _ in range(5000))
    # RFC 2782: draw in [0, 100] inclusive; weight 0 wins only on 0 -> 1/101
    assert abs(firsts["heavy"] / 5000 - 75 / 101) < 0.025
    assert abs(firsts["light"] / 5000 - 25 / 101) < 0.025
    assert 0 < firsts["zero"] < 5000 * 0.03


def test_all_zero_weights_are_shuffled():
    records = [rec(name) for name in "abcd"]
    rng = random.Random(7)
    firsts = collections.Counter(srv_order(records, rng=rng)[0].target for _ in range(4000))
    assert set(firsts) == set("abcd")
    assert all(800 < n < 1200 for n in firsts.values())


def test_negative_weight_refused():
    with pytest.raises(ValueError):
        srv_order([rec("a", weight=-1)])


def test_default_rng_works():
    assert len(srv_order([rec("a", weight=3), rec("b", weight=1)])) == 2


def test_endpoints_merge_by_priority():
    eps = endpoints_for(
        "d.test",
        [rec("tls.d.test", 5223, priority=5)],
        [rec("plain.d.test", 5222, priority=10)],
    )
    assert eps == [Endpoint("tls.d.test", 5223, True), Endpoint("plain.d.test", 5222, False)]
    # the server operator decides: a better STARTTLS priority wins
    eps = endpoints_for(
        "d.test",
        [rec("tls.d.test", 5223, priority=20)],
        [rec("plain.d.test", 5222, priority=10)],
    )
    assert eps == [Endpoint("plain.d.test", 5222, False), Endpoint("tls.d.test", 5223, True)]


def test_endpoints_tie_is_a_weighted_draw():
    rng = random.Random(5)
    firsts = collections.Counter(
        endpoints_for("d.test", [rec("t", 5223, weight=30)], [rec("p", 5222, weight=10)], rng=rng)[0].direct_tls
        for _ in range(4000)
    )
    assert abs(firsts[True] / 4000 - 30 / 41) < 0.03


def test_endpoints_dot_target():
    dot = [SRVRecord(0, 0, 0, ".")]
    assert endpoints_for("d.test", dot, [rec("p.d.test")]) == [Endpoint("p.d.test", 5222, False)]
    assert endpoints_for("d.test", [rec("t.d.test", 5223)], dot) == [Endpoint("t.d.test", 5223, True)]
    with pytest.raises(ServiceNotAvailable) as info:
        endpoints_for("d.test", dot, dot)
    assert "d.test" in str(info.value) and isinstance(info.value, DNSError)
    # XEP-0368 5: a "." for Direct TLS forbids the A/AAAA fallback
    with pytest.raises(ServiceNotAvailable):
        endpoints_for("d.test", dot, [])
    with pytest.raises(ServiceNotAvailable):
        endpoints_for("d.test", [], dot)


def test_endpoints_dot_among_real_records_is_ignored():
    records = [SRVRecord(0, 0, 0, "."), rec("p.d.test")]
    assert endpoints_for("d.test", [], records) == [Endpoint("p.d.test", 5222, False)]


def test_endpoints_fallback_and_dedupe():
    assert endpoints_for("D.Test.", [], []) == [Endpoint("d.test", 5222, False)]
    assert endpoints_for("[::1]", [], []) == [Endpoint("::1", 5222, False)]
    eps = endpoints_for("d.test", [], [rec("P.d.test."), rec("p.d.test", priority=20)])
    assert eps == [Endpoint("p.d.test", 5222, False)]


def test_explicit_endpoint():
    assert explicit_endpoint("h.test", 5223, direct_tls=True) == Endpoint("h.test", 5223, True)
    assert explicit_endpoint("[::1]", 5222) == Endpoint("::1", 5222, False)
    for bad in (0, 65536, "5222", True):
        with pytest.raises(ValueError):
            explicit_endpoint("h.test", bad)
    with pytest.raises(ValueError):
        explicit_endpoint("", 5222)


def test_domains():
    assert connect.ascii_domain("bücher.test") == "xn--bcher-kva.test"
    assert connect.ascii_domain("Example.TEST.") == "example.test"
    assert connect.srv_names("bücher.test") == (
        "_xmpps-client._tcp.xn--bcher-kva.test.",
        "_xmpp-client._tcp.xn--bcher-kva.test.",
    )
    with pytest.raises(ValueError):
        connect.ascii_domain("")


def test_errors_are_oserrors():
    assert issubclass(DNSError, OSError)
    assert issubclass(DNSTimeout, DNSError) and issubclass(DNSTimeout, TimeoutError)


def _xep_modules():
    """Every module of fastxmpp/xep/ (each XEP's sans-IO module), found on disk so that a new
    one is guarded without editing this list."""
    import pathlib

    import fastxmpp.xep

    folder = pathlib.Path(fastxmpp.xep.__file__).parent
    return sorted("xep." + p.stem for p in folder.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("module", ["connect", "backoff", "im.events", "im.roster", "im.store", "im.presence",
                                    "im.subscriptions", "im.messages", "im.session", "xep", *_xep_modules()])
def test_core_modules_are_sans_io(module):
    """The sans-IO modules import no network, event loop or DNS machinery."""
    import ast
    import importlib

    path = importlib.import_module(f"fastxmpp.{module}").__file__
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"asyncio", "socket", "ssl", "threading", "dns", "selectors", "time"}


# -- a real server ------------------------------------------------------------------

#: (SRV owner, target, port, priority, weight); a missing target publishes ".".
SRV_DATA = [
    ("_xmpp-client._tcp.example.test", "xmpp1.example.test", 5222, 10, 60),
    ("_xmpp-client._tcp.order.test", "c.order.test", 5222, 30, 0),
    ("_xmpp-client._tcp.order.test", "a.order.test", 5222, 10, 0),
    ("_xmpp-client._tcp.order.test", "b.order.test", 5223, 20, 0),
    ("_xmpp-client._tcp.weights.test", "heavy.weights.test", 5222, 10, 75),
    ("_xmpp-client._tcp.weights.test", "light.weights.test", 5222, 10, 25),
    ("_xmpp-client._tcp.weights.test", "zero.weights.test", 5222, 10, 0),
    ("_xmpp-client._tcp.weights.test", "backup.weights.test", 5222, 20, 100),
    ("_xmpps-client._tcp.mixed.test", "tls.mixed.test", 5223, 5, 0),
    ("_xmpp-client._tcp.mixed.test", "plain.mixed.test", 5222, 10, 0),
    ("_xmpps-client._tcp.nodirect.test", None, 0, 0, 0),
    ("_xmpp-client._tcp.nodirect.test", "xmpp.nodirect.test", 5222, 0, 0),
    ("_xmpps-client._tcp.none.test", None, 0, 0, 0),
    ("_xmpp-client._tcp.none.test", None, 0, 0, 0),
    ("_xmpps-client._tcp.xn--bcher-kva.test", "tls.xn--bcher-kva.test", 5223, 0, 0),
]


def dnsmasq_args(port):
    args = [
        DNSMASQ or "dnsmasq",
        "--no-daemon",
        "--conf-file=/dev/null",  # not the system's /etc/dnsmasq.conf
        "--pid-file=",  # no pid file
        "--no-resolv",
        "--no-hosts",
        f"--port={port}",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--user=root",
        "--group=root",
        "--local=/test/",  # answer .test alone: NXDOMAIN for unknown names
    ]
    for owner, target, tport, priority, weight in SRV_DATA:
        if target is None:
            args.append(f"--srv-host={owner}")
        else:
            args.append(f"--srv-host={owner},{target},{tport},{priority},{weight}")
    args.append("--address=/xmpp1.example.test/127.0.0.1")
    return args


DNSMASQ = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def _answers(port):
    query = dns.message.make_query("_xmpp-client._tcp.example.test.", "SRV")
    try:
        dns.query.udp(query, "127.0.0.1", port=port, timeout=0.2)
    except Exception:
        return False
    return True


@pytest.fixture(scope="module")
def dnsmasq(tmp_path_factory):
    """The port of a dnsmasq serving SRV_DATA on 127.0.0.1."""
    if DNSMASQ is None:
        if os.environ.get("CI"):
            pytest.fail("dnsmasq is not installed (required under CI: apt-get install dnsmasq)")
        pytest.skip("dnsmasq is not installed (apt-get install dnsmasq); CI must have it")
    log_path = tmp_path_factory.mktemp("dnsmasq") / "dnsmasq.log"
    for _ in range(5):
        port = free_port()
        log = open(log_path, "wb")
        proc = subprocess.Popen(dnsmasq_args(port), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline and not _answers(port):
            time.sleep(0.05)
        if proc.poll() is None and _answers(port):
            break
        _stop(proc)
        log.close()
        output = log_path.read_text(errors="replace")
        if "in use" not in output:  # anything but a lost port race is a real failure
            pytest.fail(f"dnsmasq did not start:\n{output}")
    else:
        pytest.fail(f"dnsmasq did not start:\n{log_path.read_text(errors='replace')}")
    try:
        yield port
    finally:
        _stop(proc)
        log.close()


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(params=["aio", "sync"])
def resolver(request, dnsmasq):
    """(resolve_srv, resolve_endpoints) of one driver, both called like blocking functions."""
    if request.param == "sync":
        return sync_dns.resolve_srv, sync_dns.resolve_endpoints
    return (
        lambda *a, **kw: asyncio.run(aio_dns.resolve_srv(*a, **kw)),
        lambda *a, **kw: asyncio.run(aio_dns.resolve_endpoints(*a, **kw)),
    )


def local(port, **kw):
    return dict(nameservers=["127.0.0.1"], port=port, timeout=2.0, **kw)


def test_resolve_srv(resolver, dnsmasq):
    resolve_srv, _ = resolver
    xmpps, xmpp = resolve_srv("example.test", **local(dnsmasq))
    assert xmpps == []
    assert xmpp == [SRVRecord(10, 60, 5222, "xmpp1.example.test")]


def test_resolve_order_by_priority(resolver, dnsmasq):
    _, resolve_endpoints = resolver
    eps = resolve_endpoints("order.test", **local(dnsmasq))
    assert eps == [
        Endpoint("a.order.test", 5222, False),
        Endpoint("b.order.test", 5223, False),
        Endpoint("c.order.test", 5222, False),
    ]


def test_resolve_weights(resolver, dnsmasq):
    resolve_srv, resolve_endpoints = resolver
    xmpps, xmpp = resolve_srv("weights.test", **local(dnsmasq))
    assert xmpps == [] and len(xmpp) == 4
    rng = random.Random(31337)
    draws = 4000
    firsts = collections.Counter()
    for _ in range(draws):
        eps = endpoints_for("weights.test", xmpps, xmpp, rng=rng)
        assert eps[-1].host == "backup.weights.test"  # priority 20 always last
        firsts[eps[0].host] += 1
    assert abs(firsts["heavy.weights.test"] / draws - 75 / 101) < 0.03
    assert abs(firsts["light.weights.test"] / draws - 25 / 101) < 0.03
    assert firsts["zero.weights.test"] < draws * 0.03
    # the same seed gives the same order through the resolver too
    once = resolve_endpoints("weights.test", rng=random.Random(1), **local(dnsmasq))
    assert resolve_endpoints("weights.test", rng=random.Random(1), **local(dnsmasq)) == once


def test_resolve_direct_tls(resolver, dnsmasq):
    _, resolve_endpoints = resolver
    assert resolve_endpoints("mixed.test", **local(dnsmasq)) == [
        Endpoint("tls.mixed.test", 5223, True),
        Endpoint("plain.mixed.test", 5222, False),
    ]


def test_resolve_dot_target(resolver, dnsmasq):
    resolve_srv, resolve_endpoints = resolver
    xmpps, _ = resolve_srv("nodirect.test", **local(dnsmasq))
    assert [r.target for r in xmpps] == ["."]
    assert resolve_endpoints("nodirect.test", **local(dnsmasq)) == [Endpoint("xmpp.nodirect.test", 5222, False)]
    with pytest.raises(ServiceNotAvailable, match="none.test"):
        resolve_endpoints("none.test", **local(dnsmasq))


def test_resolve_nxdomain_falls_back(resolver, dnsmasq):
    resolve_srv, resolve_endpoints = resolver
    assert resolve_srv("missing.test", **local(dnsmasq)) == ([], [])
    assert resolve_endpoints("missing.test", **local(dnsmasq)) == [Endpoint("missing.test", 5222, False)]


def test_resolve_idna(resolver, dnsmasq):
    _, resolve_endpoints = resolver
    assert resolve_endpoints("bücher.test", **local(dnsmasq)) == [Endpoint("tls.xn--bcher-kva.test", 5223, True)]


def test_resolve_refused_is_dnserror(resolver, dnsmasq):
    resolve_srv, _ = resolver
    with pytest.raises(DNSError) as info:
        resolve_srv("example.org", **local(dnsmasq))  # outside --local: REFUSED, no upstream
    assert not isinstance(info.value, DNSTimeout)


@pytest.fixture
def silent_port():
    """A UDP port on 127.0.0.1 where nothing ever answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize("driver", ["aio", "sync"])
def test_timeout(driver, silent_port):
    started = time.monotonic()
    with pytest.raises(DNSTimeout) as info:
        if driver == "aio":
            asyncio.run(aio_dns.resolve_endpoints("example.test", nameservers=["127.0.0.1"], port=silent_port, timeout=0.3))
        else:
            sync_dns.resolve_endpoints("example.test", nameservers=["127.0.0.1"], port=silent_port, timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert isinstance(info.value, DNSError) and isinstance(info.value, OSError)
    assert "timed out" in str(info.value)


def test_ip_literal_needs_no_dns(silent_port):
    kw = dict(nameservers=["127.0.0.1"], port=silent_port, timeout=0.2)
    assert sync_dns.resolve_endpoints("[::1]", **kw) == [Endpoint("::1", 5222, False)]
    assert asyncio.run(aio_dns.resolve_endpoints("127.0.0.1", **kw)) == [Endpoint("127.0.0.1", 5222, False)]
