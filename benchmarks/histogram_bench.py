"""Recording cost: fastxmpp's ``Histogram.record`` against the ``hdrhistogram`` package.

Issue 16 asks to record with HdrHistogram (the ``hdrhistogram`` package, module ``hdrh``)
unless its recording path is slower than ``fastxmpp/load/histogram.py``.  This times one
``record`` per sample for the same latency-like values (log-normal microseconds, median
about 2 ms, a tail up to seconds) on both, with the same layout (``precision_bits=8`` is
HdrHistogram's 2 significant digits: 256 sub-buckets, lowest value 1), plus the export of
the result to HdrHistogram's compressed form (ours: :mod:`fastxmpp.load.hdr`; theirs:
``encode()``).

    python benchmarks/histogram_bench.py [--samples 200000] [--repeat 5]
    python benchmarks/histogram_bench.py --load-run [--users 20 --messages 500 --repeat 3]

``--load-run`` measures the same in real ``python -m fastxmpp load`` chat runs against a
private Prosody (in this process, so that the recorder can be swapped): the runner's
histograms record every value once more, either into a second ``Histogram`` or into an
``hdrhistogram`` one, and the extra client CPU per message of each is the in-situ cost of
one ``record`` with that library (runs interleaved, median of ``--repeat``).

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


def load_run(users: int, messages: int, repeat: int) -> Dict[str, List[float]]:
    """Client CPU (us) per received message of real chat runs, per recorder variant."""
    import tempfile

    from fastxmpp.load import runner as runner_mod
    from fastxmpp.load.histogram import Histogram
    from fastxmpp.testing.prosody import ProsodyServer
    from hdrh.histogram import HdrHistogram

    class TwiceOurs(Histogram):
        __slots__ = ("_shadow",)

        def __init__(self, *a: int) -> None:
            super().__init__(*a)
            self._shadow = Histogram()

        def record(self, value: int, count: int = 1) -> None:
            super().record(value, count)
            self._shadow.record(value, count)

    class OursAndHdr(Histogram):
        __slots__ = ("_shadow",)

        def __init__(self, *a: int) -> None:
            super().__init__(*a)
            self._shadow = HdrHistogram(1, 1 << 40, 2)

        def record(self, value: int, count: int = 1) -> None:
            super().record(value, count)
            self._shadow.record_value(value, count)

    variants = {"ours": Histogram, "ours + ours again": TwiceOurs, "ours + hdrhistogram": OursAndHdr}
    out: Dict[str, List[float]] = {name: [] for name in variants}
    config = runner_mod.LoadConfig(users=users, messages=messages, rate=0.0, quiet=True, duration=120.0)
    with tempfile.TemporaryDirectory(prefix="fastxmpp-histbench-") as workdir:
        server = ProsodyServer(workdir, log_level="warn")
        server.start()
        try:
            server.create_users([config.username(i) for i in range(users)], config.password)
            target = runner_mod.Target(host=server.host, port=server.port, domain=server.domain,
                                       ca_file=str(server.ca_file), local=True, server_pid=server.pid)
            original = runner_mod.Histogram
            try:
                for _ in range(repeat):
                    for name, cls in variants.items():
                        runner_mod.Histogram = cls  # type: ignore[misc]
                        report = runner_mod.LoadRunner(config, target).run()
                        assert report["ok"], report["errors"]
                        out[name].append(report["cpu"]["client_us_per_message"])
            finally:
                runner_mod.Histogram = original  # type: ignore[misc]
        finally:
            server.stop()
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--load-run", action="store_true", help="real chat runs against a private Prosody")
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--messages", type=int, default=500)
    args = ap.parse_args(argv)
    if args.load_run:
        import statistics

        runs = load_run(args.users, args.messages, args.repeat)
        med = {name: statistics.median(v) for name, v in runs.items()}
        print(f"python {sys.version.split()[0]}, chat, {args.users} users x {args.messages} messages, "
              f"rate 0, median of {args.repeat}: client CPU per message (us)")
        for name, v in runs.items():
            print(f"  {name:<22} {med[name]:7.1f}   ({', '.join(f'{x:.1f}' for x in v)})")
        extra_ours = med["ours + ours again"] - med["ours"]
        extra_hdr = med["ours + hdrhistogram"] - med["ours"]
        print(f"  one more record: ours {extra_ours:+.2f} us, hdrhistogram {extra_hdr:+.2f} us per message"
              f" ({extra_hdr / med['ours'] * 100:+.1f}% vs {extra_ours / med['ours'] * 100:+.1f}% of the client CPU)")
        return 0
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
