"""Tokenizing the corpus (10 MB server-to-client stream, 4 KiB chunks) into
top-level elements, every implementation side by side in one run.

    pytest benchmarks/test_parse.py --benchmark-only

Asserts only that each parser found every stanza, never anything about time.
See README.md for exactly which code path of each peer is driven.
"""
import pytest

import corpus
import impls

# (parser name, rounds): rounds keep the whole file at about a minute on 2 cores
# (aioxmpp needs ~40 s for one pass over the corpus).
CASES = [
    ("pyexpat (ns, no handlers)", 5),
    ("pyexpat (no ns, no handlers)", 5),
    ("fastxmpp compiled", 5),
    ("fastxmpp compiled, all read", 5),
    ("fastxmpp pure-Python", 3),
    ("ET.XMLPullParser", 3),
    ("ET.XMLPullParser, all read", 3),
    ("slixmpp data_received", 2),
    ("aioxmpp XMPPXMLProcessor", 1),
]


@pytest.fixture(scope="module")
def stream():
    return corpus.corpus()


@pytest.mark.parametrize("name,rounds", CASES, ids=[c[0] for c in CASES])
def test_parse(benchmark, stream, name, rounds):
    chunks, n = stream
    fn = impls.PARSERS[name]
    args = (chunks, n) if name in impls.RAW else (chunks,)
    benchmark.group = "parse %d stanzas (%.1f MB)" % (n, sum(map(len, chunks)) / 1e6)
    benchmark.extra_info["stanzas"] = n
    del impls.AIOXMPP_ERRORS[:]
    result = benchmark.pedantic(fn, args=args, rounds=rounds, iterations=1, warmup_rounds=0)
    got = result if isinstance(result, int) else len(result)
    assert got == n, f"{name}: {got} elements, expected {n}"
    assert not impls.AIOXMPP_ERRORS, impls.AIOXMPP_ERRORS[:3]
