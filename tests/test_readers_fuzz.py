"""The compiled stanza readers agree with their Python twins: the reader fuzz corpus replayed.

``fuzz_readers.py`` holds the generator and the comparison; ``tests/README.md`` says how to
run it.  Every file of ``corpus/readers/`` is a finding of that fuzzer (or a shape kept as a
regression case), shrunk, with a note: the MUC groupchat reader (``_muc_c``) or the presence
reader (``_presence_c``) must give the same events, state and log lines as its Python twin
for the stanzas the compiled tokenizer makes of the file's bytes.  Without the extensions
the Python twin reads each file (pure tokenizer) and must not raise.
"""
from __future__ import annotations

import json
import os
import random

import pytest

import fuzz_readers as fuzz
from fastxmpp import _accel


def read(name):
    with open(os.path.join(fuzz.CORPUS, name)) as f:
        return f.read()


@pytest.mark.parametrize("name", fuzz.corpus_files())
def test_corpus(name):
    """Both twins agree (with the extensions; without, the Python twin reads it)."""
    case = fuzz.case_from_json(read(name))
    want = fuzz.outcome(case, False)
    assert want != "skipped", "the tokenizer refuses the case: it tests nothing"
    assert not fuzz.crashed(want), want
    if _accel.USE_EXTENSIONS:
        diff = fuzz.differ(case)
        assert diff is None, fuzz.explain(case, diff)


def test_corpus_is_small_and_readable():
    names = fuzz.corpus_files()
    assert names
    for name in names:
        text = read(name)
        assert len(text) < 4096, name
        assert fuzz.case_to_json(fuzz.case_from_json(text), json.loads(text)["note"]) == text, name


@pytest.mark.skipif(not _accel.USE_EXTENSIONS, reason="the compiled twins are not in use")
def test_bounded_fuzz():
    """A few thousand generated cases (fixed seed: the same inputs on every run)."""
    rng = random.Random(20261206)
    findings = []
    for _ in range(3000):
        case = fuzz.gen_case(rng)
        diff = fuzz.differ(case)
        if diff is not None:
            small = fuzz.shrink(case)
            findings.append(fuzz.explain(small, fuzz.differ(small)))
            break
    assert not findings, findings[0]
