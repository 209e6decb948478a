"""The typed API (``py.typed``, ``.pyi`` stubs for the compiled twins) checks out.

mypy finds no error in the package, and ``mypy.stubtest`` finds each compiled
module's run-time names and signatures as its stub declares them, so a change
to a ``.pyx`` that leaves its ``.pyi`` behind fails here.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import load

pytest.importorskip("mypy", reason="mypy is in the test extras (pip install -e '.[test]')")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPILED = ["fastxmpp._tokenizer_c", "fastxmpp._element_c", "fastxmpp._serializer_c",
            "fastxmpp._stanza_c"]


def run(args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_mypy_finds_no_error_in_the_package(tmp_path):
    done = run(["mypy", "--cache-dir", str(tmp_path), "-p", "fastxmpp"])
    assert done.returncode == 0, done.stdout + done.stderr


def test_compiled_modules_match_their_stubs():
    load("c", "tokenizer")   # skips when the compiled twins are not in use
    allowlist = os.path.join(ROOT, "tests", "stubtest_allowlist.txt")
    # PEP 800's @disjoint_base is left out of the stubs: type checkers older than it
    # would not find it in typing_extensions
    done = run(["mypy.stubtest", "--ignore-disjoint-bases", "--allowlist", allowlist, *COMPILED])
    assert done.returncode == 0, done.stdout + done.stderr
