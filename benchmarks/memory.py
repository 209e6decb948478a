"""Bytes of traced memory per parsed stanza, all parsed stanzas kept alive.

    python benchmarks/memory.py

For each implementation: start tracemalloc, parse the whole corpus (the
chunks already exist), keep the returned list of top-level elements, collect
garbage, and divide the growth of traced memory by the stanza count.  The
parser itself is gone by then, so what remains is the parsed stanzas (plus the
list holding them, 8 bytes a stanza).  Numbers are reported, never asserted.
"""
from __future__ import annotations

import gc
import sys
import tracemalloc
from typing import Dict

import corpus
import impls

MEMORY_PARSERS = ["fastxmpp compiled", "fastxmpp compiled, all read", "fastxmpp pure-Python", "ET.XMLPullParser",
                  "slixmpp data_received"]


def measure(name: str, chunks, n: int) -> float:
    fn = impls.PARSERS[name]
    fn(chunks[:8])  # import/initialise lazily-built state outside the measurement
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = fn(chunks)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(kept) == n, (name, len(kept), n)
    del kept
    return (after - before) / n


def run(names=MEMORY_PARSERS) -> Dict[str, float]:
    chunks, n = corpus.corpus()
    return {name: measure(name, chunks, n) for name in names}


if __name__ == "__main__":
    chunks, n = corpus.corpus()
    print(f"corpus: {sum(map(len, chunks))} bytes, {n} stanzas; Python {sys.version.split()[0]}")
    res = run()
    ref = res["ET.XMLPullParser"]
    print(f"{'implementation':28s} {'bytes/stanza':>13s} {'vs ET':>7s}")
    for name, b in res.items():
        print(f"{name:28s} {b:13.0f} {b / ref:7.2f}")
