"""The twins agree on every input: the fuzz corpus replayed, and a bounded seeded fuzz pass.

``fuzz_tokenizer.py`` holds the generator and the comparison; ``tests/README.md`` says how
to run it for longer.  Every finding is a file in ``corpus/tokenizer/``: both twins must
give the same tokens, the same ``paused``/``in_stanza``/``compact()``/``close()`` answers and
the same error (class, condition, message, and the tokens completed before it).
"""
from __future__ import annotations

import os

import pytest

import fuzz_tokenizer as fuzz
from conftest import load


def pair():
    return load("c", "tokenizer").Tokenizer, load("py", "tokenizer").Tokenizer


def explain(case, diff):
    return "twins disagree on\n%s\ncompiled: %r\npython:   %r" % (fuzz.case_to_json(case), *diff)


@pytest.mark.parametrize("name", fuzz.corpus_files())
def test_corpus(name):
    with open(os.path.join(fuzz.CORPUS, name)) as f:
        case = fuzz.case_from_json(f.read())
    twins = pair()
    got = fuzz.outcome(twins[0], case)
    assert got[1] is None or got[1][0] != "CRASH", got
    diff = fuzz.differ(case, twins)
    assert diff is None, explain(case, diff)


def test_corpus_is_small_and_readable():
    names = fuzz.corpus_files()
    assert len(names) >= 5
    for name in names:
        with open(os.path.join(fuzz.CORPUS, name)) as f:
            text = f.read()
        assert len(text) < 4096, name
        assert fuzz.case_to_json(fuzz.case_from_json(text), fuzz.json.loads(text)["note"]) == text, name


# The bounded pass: a fixed number of generated cases per seed, the same on every run (about
# 40 s on the 2-core test machine for the lot; no timing is asserted).
BOUNDED = 400_000


@pytest.mark.parametrize("seed", range(4))
def test_bounded_fuzz(seed):
    twins = pair()
    findings = []

    def keep(case, diff):
        if len(findings) < 1:
            small = fuzz.shrink(case, twins)
            findings.append(explain(small, fuzz.differ(small, twins)))

    assert fuzz.run_seeded(seed, BOUNDED // 4, keep, twins) == 0, findings[0]
