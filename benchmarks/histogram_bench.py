"""Recording cost: fastxmpp's ``Histogram.record`` against the ``hdrhistogram`` package.

Issue 16 asks to record with HdrHistogram (the ``hdrhistogram`` package, module ``hdrh``)
unless its recording path is slower than ``fastxmpp/load/histogram.py``.  This times one
``record`` per sample for the same latency-like values (log-normal microseconds, median
about 2 ms, a tail up to seconds) on both, with the same layout (``precision_bits=8`` is
HdrHistogram's 2 significant digits: 256 sub-buckets, lowest value 1), plus the export of
the result to HdrHistogram's compressed form (ours: :mod:`fastxmpp.load.hdr`; theirs:
``encode()``).

    python benchmarks/histogram_bench.py [--samples 200000] [--repeat 5]

Prints the best of ``--repeat`` runs in nanoseconds per sample and the ratios; asserts
nothing about time.  The machine is shared: read the ratios, not the absolute times.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from typing import Callable, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _values(n: int, seed: int = 16) -> List[int]:
    rnd = random.Random(seed)
    return [int(rnd.lognormvariate(7.6, 1.0)) for _ in range(n)]  # e^7.6 us ~ 2 ms


def _best(fn: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(samples: int, repeat: int) -> Dict[str, float]:
    from fastxmpp.load.hdr import encode_histogram
    from fastxmpp.load.histogram import Histogram

    values = _values(samples)
    out: Dict[str, float] = {}

    def loop_only() -> None:
        f = int
        for v in values:
            f(v)

    def ours() -> None:
        h = Histogram()
        rec = h.record
        for v in values:
            rec(v)

    out["call baseline (int(v))"] = _best(loop_only, repeat)
    out["fastxmpp Histogram.record"] = _best(ours, repeat)
    try:
        from hdrh.histogram import HdrHistogram
    except ImportError:
        print("hdrhistogram is not installed (pip install hdrhistogram): only ours was timed",
              file=sys.stderr)
        HdrHistogram = None
    if HdrHistogram is not None:
        def theirs() -> None:
            h = HdrHistogram(1, 1 << 40, 2)
            rec = h.record_value
            for v in values:
                rec(v)

        out["hdrhistogram record_value"] = _best(theirs, repeat)
        ref = HdrHistogram(1, 1 << 40, 2)
        for v in values:
            ref.record_value(v)
        out["hdrhistogram encode()"] = _best(ref.encode, repeat) / 1.0
    h = Histogram()
    for v in values:
        h.record(v)
    out["fastxmpp encode_histogram()"] = _best(lambda: encode_histogram(h), repeat) / 1.0
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    res = run(args.samples, args.repeat)
    print(f"python {sys.version.split()[0]}, {args.samples:,} samples, best of {args.repeat}")
    for name, secs in res.items():
        if "encode" in name:
            print(f"  {name:<32} {secs * 1e3:9.2f} ms per histogram")
        else:
            print(f"  {name:<32} {secs / args.samples * 1e9:9.0f} ns per sample")
    ours = res["fastxmpp Histogram.record"]
    theirs = res.get("hdrhistogram record_value")
    if theirs is not None:
        print(f"  record: hdrhistogram / fastxmpp = {theirs / ours:.2f}")
        print(f"  encode: hdrhistogram / fastxmpp = "
              f"{res['hdrhistogram encode()'] / res['fastxmpp encode_histogram()']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
