"""``python -m fastxmpp --version`` and the version's single source of truth."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import fastxmpp
from fastxmpp import _accel

ROOT = Path(__file__).resolve().parent.parent


def test_version_matches_pyproject():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^version = "([^"]+)"', text, re.M).group(1) == fastxmpp.__version__


def test_version_command_names_version_twins_python_and_expat():
    proc = subprocess.run([sys.executable, "-m", "fastxmpp", "--version"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    twins = "compiled twins" if _accel.USE_EXTENSIONS else "pure-Python twins"
    assert proc.stdout.startswith(f"fastxmpp {fastxmpp.__version__} ({twins}; ")
    assert re.search(r"expat \d+\.\d+\.\d+\)$", proc.stdout.strip())


def test_changelog_has_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in text
    assert f"## [{fastxmpp.__version__}]" in text
