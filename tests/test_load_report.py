"""The load test's time series, HTML report (opened in headless Chromium) and --hdr-log.

Chromium (Debian's ``chromium``) and matplotlib are installed by scripts/install-system-deps
and the ``[test]`` extra; as with Prosody (tests/conftest.py), a missing one skips the
test outside CI and fails it under CI.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

import fastxmpp
from fastxmpp.load.hdr import decode_histogram, encode_histogram
from fastxmpp.load.histogram import Histogram
from fastxmpp.load.timeseries import (TimeSeries, interval_log_from_report, merge_histogram_fields,
                                      merge_timeseries)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastxmpp.__file__)))


def _need(what: str, found: bool, how: str) -> None:
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is not installed ({how})")
        pytest.skip(f"{what} is not installed; {how}")


def _need_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        _need("matplotlib", False, "pip install -e '.[test]'")


def _chromium() -> str:
    exe = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
    _need("chromium", exe is not None, "scripts/install-system-deps installs it")
    assert exe is not None
    return exe


# ------------------------------------------------------------------ time series
class FakeRun:
    """The counters and histograms a runner exposes, driven by hand."""

    def __init__(self):
        self.login_ok = self.login_failed = self.sent = self.received = 0
        self.errors = {}
        self.login_latency = Histogram()
        self.latency = Histogram()


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def _sampled_run(t0: float, seconds: int, seed: int):
    """A FakeRun sampled once a second: (series, every latency value recorded, per second)."""
    import random

    rnd = random.Random(seed)
    run = FakeRun()
    clock = Clock(t0)
    series = TimeSeries.for_runner(run, clock=clock)
    series.begin()
    per_second = []
    for s in range(seconds):
        values = [int(rnd.expovariate(1 / 2000)) for _ in range(rnd.randrange(0, 300))]
        for v in values:
            run.latency.record(v)
        run.sent += len(values) + 1
        run.received += len(values)
        if s == 0:
            for _ in range(5):
                run.login_ok += 1
                run.login_latency.record(rnd.randrange(10_000, 90_000))
        if s == 2:
            run.errors["send:ConnectionLost"] = 2
        clock.t = t0 + s + 1
        series.sample()
        per_second.append(values)
    return series, run, per_second


def test_time_series_keeps_exact_interval_counts():
    series, run, per_second = _sampled_run(1_700_000_000.0, 4, seed=1)
    d = series.to_dict()
    assert d["start"] == 1_700_000_000.0 and len(d["samples"]) == 4
    for sample, values in zip(d["samples"], per_second):
        assert sample["end"] - sample["start"] == 1.0
        assert sample["counters"]["received"] == len(values)
        assert sample["counters"]["sent"] == len(values) + 1
        expect = Histogram()
        for v in values:
            expect.record(v)
        got = decode_histogram(sample["histograms"]["latency"]["hdr"])
        assert got.to_dict()["buckets"] == expect.to_dict()["buckets"]
        assert sample["histograms"]["latency"]["count"] == len(values)
    assert [s["counters"]["logins"] for s in d["samples"]] == [5, 0, 0, 0]
    assert [s["counters"]["errors"] for s in d["samples"]] == [0, 0, 2, 0]
    assert d["samples"][2]["counters"]["error:send:ConnectionLost"] == 2
    fields = series.report_fields()
    assert decode_histogram(fields["histograms"]["latency"]).to_dict()["buckets"] == \
        run.latency.to_dict()["buckets"]


def test_merged_series_of_two_workers_add_up_exactly():
    a, run_a, _ = _sampled_run(1_700_000_000.0, 3, seed=2)
    b, run_b, _ = _sampled_run(1_700_000_000.0, 3, seed=3)
    merged = merge_timeseries([a.to_dict(), b.to_dict()])
    assert len(merged["samples"]) == 3
    for m, sa, sb in zip(merged["samples"], a.samples, b.samples):
        assert m["counters"]["received"] == sa["counters"]["received"] + sb["counters"]["received"]
        both = decode_histogram(sa["histograms"]["latency"]["hdr"]).merge(
            decode_histogram(sb["histograms"]["latency"]["hdr"]))
        assert decode_histogram(m["histograms"]["latency"]["hdr"]).to_dict()["buckets"] == \
            both.to_dict()["buckets"]
        assert m["histograms"]["latency"]["p99"] == both.summary(scale=1000.0)["p99"]
    whole = merge_histogram_fields([a.report_fields()["histograms"], b.report_fields()["histograms"]])
    assert decode_histogram(whole["latency"]).to_dict()["buckets"] == \
        (run_a.latency + run_b.latency).to_dict()["buckets"]


def test_run_samples_until_cancelled_and_takes_a_last_sample():
    run = FakeRun()
    series = TimeSeries.for_runner(run, interval=0.05)

    async def main():
        task = asyncio.ensure_future(series.run())
        await asyncio.sleep(0.01)
        run.received += 3
        run.latency.record(1234)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert sum(s["counters"]["received"] for s in series.samples) == 3
    assert sum(s["histograms"]["latency"]["count"] for s in series.samples) == 1


def test_interval_log_from_report_without_series_uses_whole_histograms():
    h = Histogram()
    for v in (100, 200, 300):
        h.record(v)
    text = interval_log_from_report({"duration_seconds": 2.0, "histograms": {"latency": encode_histogram(h)}})
    # Interval_Max: the top of the max's bucket (the encoding keeps counts, not the exact max)
    assert text is not None and "\nTag=latency,0.000,2.000,0.301,HISTF" in text
    assert interval_log_from_report({}) is None


# ------------------------------------------------------------------ HTML report
def _report_with_series():
    series, run, _ = _sampled_run(1_700_000_000.0, 5, seed=4)
    report = {
        "ok": True, "scenario": "chat", "users": 10,
        "target": {"host": "127.0.0.1", "port": 5222, "domain": "localhost", "local_server": True},
        "config": {"messages": 100, "rate": 10.0},
        "registration": None,
        "login": {"ok": run.login_ok, "failed": 0, "errors": {},
                  "latency_ms": run.login_latency.summary(scale=1000.0)},
        "messages": {"kind": "message", "expected": run.sent, "sent": run.sent, "received": run.received,
                     "lost": 0, "duplicated": 0, "unexpected": 0, "not_sent": 0, "senders": 10,
                     "throughput_per_second": run.received / 5.0,
                     "latency_ms": run.latency.summary(scale=1000.0)},
        "duration_seconds": 5.5, "traffic_seconds": 5.0, "stopped_by_duration_cap": False,
        "cpu": {"client_seconds": 0.5, "client_traffic_seconds": 0.4, "client_us_per_message": 80.0,
                "server_seconds": 0.7},
        "scram_cache": {"hits": 0, "misses": 10}, "tls_sessions": None,
        "errors": {"send:ConnectionLost": 2},
    }
    report.update(series.report_fields())
    return report


def test_html_is_self_contained_with_every_plot():
    _need_matplotlib()
    from fastxmpp.load.html import render_html

    page = render_html(_report_with_series())
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<figure><svg") == 5  # sessions, rate, errors, latency over time, distribution
    # nothing fetched from elsewhere: no src=, no link, hrefs only to data: and fragments
    assert "src=" not in page and "<link" not in page
    assert all(h.startswith(("data:", "#")) for h in re.findall(r'href="([^"]*)"', page))
    assert "fastxmpp load report" in page and "send:ConnectionLost" in page
    assert "HISTF" in page  # the JSON (and the hlog link) carry the histograms
    assert render_html(_report_with_series()) == page  # deterministic


def test_html_without_time_series_still_has_the_distribution():
    _need_matplotlib()
    from fastxmpp.load.html import render_html

    report = _report_with_series()
    del report["timeseries"], report["histograms"]
    page = render_html(report)
    assert "no time series" in page and page.count("<figure><svg") == 1


def _chromium_run(args, tmp_dir, timeout=120):
    profile = os.path.join(tmp_dir, "profile")
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, cwd=tmp_dir)


def test_html_renders_in_headless_chromium():
    _need_matplotlib()
    _chromium()
    from fastxmpp.load.html import write_html

    with tempfile.TemporaryDirectory(prefix="fastxmpp-html-") as tmp:
        path = os.path.join(tmp, "report.html")
        write_html(_report_with_series(), path)
        url = "file://" + path
        dom = _chromium_run(["--dump-dom", url], tmp)
        text = dom.stdout.decode("utf-8", "replace")
        m = re.search(r'data-plots-rendered="(\d+)"', text)
        assert m, f"page script did not run: exit {dom.returncode}\n{dom.stderr.decode()[-2000:]}"
        assert int(m.group(1)) == 5, "a plot has no size or no marks once laid out"
        shot = os.path.join(tmp, "shot.png")
        done = _chromium_run(["--window-size=1000,2600", "--hide-scrollbars", f"--screenshot={shot}", url], tmp)
        assert os.path.exists(shot), done.stderr.decode()[-2000:]
        from matplotlib.image import imread

        pixels = imread(shot)[..., :3]
        dark = (pixels.mean(axis=2) < 0.5).mean()  # text and lines
        coloured = (pixels.max(axis=2) - pixels.min(axis=2) > 0.3).mean()  # the plots' lines
        assert dark > 0.002 and coloured > 0.0005, (dark, coloured)


# ------------------------------------------------------------------ real runs
def _prosody_or_skip():
    from fastxmpp.testing.prosody import prosody_binary

    _need("prosody", prosody_binary() is not None, "scripts/install-system-deps installs it")


@pytest.mark.prosody
def test_cli_writes_html_and_hdr_log(tmp_path):
    _prosody_or_skip()
    _need_matplotlib()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    html, hlog, report = tmp_path / "r.html", tmp_path / "r.hlog", tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fastxmpp", "load", "--users", "4", "--messages", "30", "--rate", "20",
         "--duration", "60", "--quiet", "--report", str(report), "--html", str(html), "--hdr-log", str(hlog)],
        cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    data = json.loads(report.read_text())
    samples = data["timeseries"]["samples"]
    assert sum(s["counters"]["received"] for s in samples) == data["messages"]["received"] == 120
    assert sum(s["counters"]["logins"] for s in samples) == 4
    assert decode_histogram(data["histograms"]["latency"]).count == 120
    page = html.read_text()
    assert page.count("<figure><svg") == 6 and "OK" in page and "Login phases" in page
    from hdrh.histogram import HdrHistogram
    from hdrh.log import HistogramLogReader

    reader = HistogramLogReader(str(hlog), HdrHistogram(1, 1 << 40, 2))
    total = {"login": 0, "latency": 0, "login_tcp": 0, "login_tls": 0, "login_sasl": 0, "login_bind": 0}
    try:
        while True:
            h = reader.get_next_interval_histogram()
            if h is None:
                break
            total[h.get_tag()] += h.get_total_count()
    finally:
        reader.close()
    assert total == {"login": 4, "latency": 120, "login_tcp": 4, "login_tls": 4, "login_sasl": 4,
                     "login_bind": 4}


@pytest.mark.prosody
def test_plain_run_does_not_import_matplotlib(tmp_path):
    _prosody_or_skip()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = ("import sys\nfrom fastxmpp.load import cli\n"
            "rc = cli.main(['--users', '2', '--messages', '5', '--rate', '0', '--quiet'])\n"
            "print('MPL', 'matplotlib' in sys.modules, rc)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert "MPL False 0" in proc.stdout.decode(), proc.stdout.decode() + proc.stderr.decode()
