"""The typed API (``py.typed``, ``.pyi`` stubs for the compiled twins) checks out.

mypy finds no error in the package, and ``mypy.stubtest`` finds each compiled
module's run-time names and signatures as its stub declares them, so a change
to a ``.pyx`` that leaves its ``.pyi`` behind fails here.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import load

pytest.importorskip("mypy", reason="mypy is in the test extras (pip install -e '.[test]')")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPILED = ["fastxmpp._tokenizer_c", "fastxmpp._element_c", "fastxmpp._serializer_c",
            "fastxmpp._stanza_c", "fastxmpp._presence_c"]


def run(args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_mypy_finds_no_error_in_the_package(tmp_path):
    done = run(["mypy", "--cache-dir", str(tmp_path), "-p", "fastxmpp"])
    assert done.returncode == 0, done.stdout + done.stderr


# Every part of the package is strict-clean and stays so (a new sub-package is added here).
STRICT = ("fastxmpp/*.py", "fastxmpp/im/*.py", "fastxmpp/testing/*.py", "fastxmpp/xep/*.py",
          "fastxmpp/aio/*.py", "fastxmpp/sync/*.py", "fastxmpp/load/*.py")
NOT_YET_STRICT: set = set()  # files matched above that are not clean yet


def test_mypy_strict_on_every_module(tmp_path):
    files = sorted({path.relative_to(ROOT).as_posix() for pattern in STRICT
                    for path in Path(ROOT).glob(pattern)} - NOT_YET_STRICT)
    assert {"fastxmpp/stream.py", "fastxmpp/aio/client.py", "fastxmpp/_client_base.py",
            "fastxmpp/xep/disco.py", "fastxmpp/sync/xep.py", "fastxmpp/load/runner.py"} <= set(files)
    packages = {path.parent.relative_to(ROOT).as_posix() for path in Path(ROOT, "fastxmpp").rglob("*.py")
                if "__pycache__" not in path.parts}
    assert packages <= {os.path.dirname(pattern) for pattern in STRICT}, "a package is left out of STRICT"
    done = run(["mypy", "--strict", "--follow-imports=silent", "--cache-dir", str(tmp_path), *files])
    assert done.returncode == 0, done.stdout + done.stderr


def test_compiled_modules_match_their_stubs():
    load("c", "tokenizer")   # skips when the compiled twins are not in use
    allowlist = os.path.join(ROOT, "tests", "stubtest_allowlist.txt")
    # PEP 800's @disjoint_base is left out of the stubs: type checkers older than it
    # would not find it in typing_extensions
    done = run(["mypy.stubtest", "--ignore-disjoint-bases", "--allowlist", allowlist, *COMPILED])
    assert done.returncode == 0, done.stdout + done.stderr
