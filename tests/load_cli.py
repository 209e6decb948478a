"""Shared by the load tests: run ``python -m fastxmpp load`` against a private Prosody."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Tuple

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_load(tmp_path: Any, args: List[str]) -> Tuple[Dict[str, Any], str]:
    """Run the load command in ``tmp_path`` with ``args`` (plus ``--quiet --report``); assert
    exit 0 and return the JSON report and the text report.  Skips without prosody."""
    from fastxmpp.testing.prosody import prosody_binary

    if prosody_binary() is None:
        pytest.skip("prosody is not installed; run scripts/install-system-deps")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "fastxmpp", "load", "--quiet", "--report", str(report)] + args,
                          cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=180)
    out = proc.stdout.decode()
    try:
        assert proc.returncode == 0, out + proc.stderr.decode()
        data: Dict[str, Any] = json.loads(report.read_text())
    finally:
        if report.exists():
            report.unlink()
    return data, out
