"""Quick checks of the documentation sources (``./scripts/docs`` builds the site itself, with
warnings as errors, and scripts/test runs it once): the code the pages include from
``examples/`` still exists, every how-to page has a title, and the index takes in every page
of docs/howto/ without being edited."""
from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

pytestmark = pytest.mark.skipif(not (DOCS / "conf.py").is_file(),
                                reason="needs the source tree (running against an installed wheel)")

INCLUDE = re.compile(r"```\{literalinclude\} (\S+)\n((?::[\w-]+:.*\n)*)")


def pages():
    return sorted(DOCS.rglob("*.md"))


def test_every_literalinclude_names_an_existing_file_and_object():
    found = 0
    for page in pages():
        for match in INCLUDE.finditer(page.read_text(encoding="utf-8")):
            target = (page.parent / match.group(1)).resolve()
            assert target.is_file(), f"{page.relative_to(ROOT)} includes {match.group(1)}, which is gone"
            obj = re.search(r":pyobject: (\S+)", match.group(2))
            if obj:
                tree = ast.parse(target.read_text(encoding="utf-8"))
                names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
                assert obj.group(1) in names, f"{page.relative_to(ROOT)}: no {obj.group(1)} in {match.group(1)}"
            found += 1
    assert found >= 4


def test_every_howto_page_starts_with_a_title():
    for page in sorted((DOCS / "howto").glob("*.md")):
        first = page.read_text(encoding="utf-8").lstrip("\ufeff").split("\n", 1)[0]
        assert first.startswith("# "), f"{page.relative_to(ROOT)} must start with '# Title'"


def test_the_index_takes_in_every_howto_page():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    assert ":glob:" in index and "\nhowto/*\n" in index


def test_the_docs_script_is_executable_and_the_docs_extra_exists():
    assert os.access(ROOT / "scripts" / "docs", os.X_OK)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^docs = \[.*"sphinx.*"furo.*"myst-parser', pyproject, re.M)
