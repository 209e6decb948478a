"""Smoke tests of benchmarks/muc_bench.py and benchmarks/mam_bench.py: each runs with tiny
counts against a private Prosody and every delivery / archived message is counted.  No
timing is asserted."""
from __future__ import annotations

import asyncio
import gc
import os
import sys
from typing import Any, Iterator, List

import pytest

from fastxmpp.testing.prosody import prosody_binary

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(prosody_binary() is None, reason="prosody is not installed"),
]


@pytest.fixture(scope="module")
def bench() -> Iterator[Any]:
    sys.path.insert(0, BENCH)
    try:
        import mam_bench
        import muc_bench

        yield muc_bench, mam_bench
    finally:
        sys.path.remove(BENCH)


def _libs(muc_bench: Any, libs: List[str]) -> List[str]:
    return [lib for lib in libs if lib != "slixmpp" or muc_bench.slixmpp_available()]


def _run(coro: Any) -> Any:
    async def main() -> Any:
        try:
            return await coro
        finally:
            gc.collect()  # slixmpp's streams, while their loop still runs
            await asyncio.sleep(0)
    return asyncio.run(main())


def test_muc_bench_counts_every_delivery(bench: Any, tmp_path: Any) -> None:
    muc_bench, _ = bench
    libs = _libs(muc_bench, list(muc_bench.LIBS))
    users = [u for lib in libs for u in muc_bench.occupant_names(lib, 5)] + ["creator"]
    server = muc_bench.start_server(str(tmp_path), users, muc=True)
    try:
        results = _run(muc_bench.run(server, 5, 10, 2, libs, timeout=30, log=lambda line: None))
    finally:
        server.stop()
    assert set(results) == set(libs)
    for rounds in results.values():
        assert [r["count"] for r in rounds] == [50, 50]
    assert any("per delivery" in line for line in muc_bench.summary(results, 50, "delivery"))


def test_mam_bench_reads_the_whole_archive_in_order(bench: Any, tmp_path: Any) -> None:
    muc_bench, mam_bench = bench
    libs = _libs(muc_bench, list(mam_bench.LIBS))
    server = muc_bench.start_server(str(tmp_path), ["alice", "bob"], modules=("mam",))
    try:
        results = _run(mam_bench.run(server, 30, 10, 2, libs, log=lambda line: None))
    finally:
        server.stop()
    assert set(results) == set(libs)
    for rounds in results.values():
        assert [r["count"] for r in rounds] == [30, 30]
