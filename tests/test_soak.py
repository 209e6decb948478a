"""A one-minute soak (issue 13 part 8): nothing grows while two clients talk and reconnect.

The ten-minute version is ``benchmarks/soak.py``; this runs the same code for 60 s against
the session's Prosody: two asyncio clients exchange messages and IQs, each reconnects every
10 s (alternately ``abort()``, resumed, and ``close()`` then ``connect()``, fresh), and RSS,
open file descriptors and asyncio tasks are sampled every 2 s after ``gc.collect()`` and
``malloc_trim(0)``.  After a 20 s warm-up the median of the last window of samples may
exceed the median of the first by less than 1 MB of RSS and by at most 2 descriptors or
tasks (a sample may fall inside a reconnection; medians absorb it, the slack keeps a busy
machine from failing the rule while a leak per reconnection, 8 or more here, still fails it).

Marked ``soak``: scripts/test runs it once, in its first run only.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.prosody, pytest.mark.soak]

SOAK = Path(__file__).resolve().parent.parent / "benchmarks" / "soak.py"


def load_soak():
    if not SOAK.exists():  # e.g. the wheel tests, which copy tests/ alone
        pytest.skip("benchmarks/soak.py is not here")
    if "fastxmpp_soak" in sys.modules:
        return sys.modules["fastxmpp_soak"]
    spec = importlib.util.spec_from_file_location("fastxmpp_soak", SOAK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_judge_medians_and_limits():
    """The rule itself, on made-up samples: one outlier does not fail it, steady growth does."""
    soak = load_soak()
    mb = soak.MB

    def samples(rss):
        return [soak.Sample(t=2.0 * i, rss=int(r * mb), fds=10, tasks=4, messages=i, iqs=0,
                            reconnects=0) for i, r in enumerate(rss)]

    flat = [50.0] * 10 + [50.0, 60.0, 50.0] + [50.2] * 7  # one sample 10 MB up
    assert soak.judge(samples(flat), warmup=0).ok
    growing = [50.0 + 0.1 * i for i in range(20)]  # +2 MB over the run
    verdict = soak.judge(samples(growing), warmup=0)
    assert not verdict.ok and "rss   FAIL" in verdict.lines[0]
    assert not soak.judge(samples([50.0] * 4), warmup=0).ok  # too few samples to judge


def test_one_minute_soak_grows_nothing(prosody, account):
    soak = load_soak()
    accounts = [account(), account()]
    log = []
    samples, traffic = soak.run_soak(prosody, accounts, duration=60.0, sample_every=2.0,
                                     reconnect_every=10.0, rate=100.0, log=log.append)
    report = "\n".join([soak.table(samples), "traffic: %r" % (traffic,)])
    verdict = soak.judge(samples, warmup=20.0, max_rss_growth_mb=1.0, max_fd_growth=2,
                         max_task_growth=2)
    report += "\n" + "\n".join(verdict.lines)
    print(report)
    assert verdict.ok, report
    half = samples[len(samples) // 2].messages
    assert samples[-1].messages > half, "no message arrived in the second half\n" + report
    assert traffic.reconnects >= 8, report
