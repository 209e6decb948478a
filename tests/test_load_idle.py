"""The ``idle`` scenario of ``python -m fastxmpp load`` (issue 16): sessions held open."""
import json
import os
import subprocess
import sys

import pytest

from fastxmpp.load import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_idle_options():
    config = cli.config_from_args(cli.parse_args(["--scenario", "idle", "--hold", "2.5", "--users", "1"]))
    assert (config.scenario, config.hold, config.users) == ("idle", 2.5, 1)
    config.validate()


@pytest.mark.prosody
@pytest.mark.parametrize("workers", ["1", "2"])
def test_idle_holds_every_session_and_reports_the_peak(tmp_path, workers):
    from fastxmpp.testing.prosody import prosody_binary

    if prosody_binary() is None:
        pytest.skip("prosody is not installed; run scripts/install-system-deps")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fastxmpp", "load", "--scenario", "idle", "--users", "8", "--hold", "1",
         "--workers", workers, "--duration", "60", "--quiet", "--report", str(report)],
        cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    out = proc.stdout.decode()
    assert proc.returncode == 0, out + proc.stderr.decode()
    data = json.loads(report.read_text())
    report.unlink()
    assert data["scenario"] == "idle" and data["ok"] is True and data["login"]["ok"] == 8
    assert data["sessions"] == {"peak": 8, "hold_seconds": 1.0}
    assert data["messages"]["expected"] == 0 and data["errors"] == {}
    assert "8 open at once at the most" in out
    # the private Prosody is local: its RSS before the logins and with the 8 sessions held
    memory = data["server_memory"]
    assert memory["sessions"] == 8 and memory["rss_before_kib"] > 0 and memory["rss_held_kib"] > 0
    assert memory["per_session_kib"] == (memory["rss_held_kib"] - memory["rss_before_kib"]) / 8
    assert "KiB per session" in out


def test_server_memory_fields():
    from fastxmpp.load.runner import server_memory

    assert server_memory(None, 100, 3) is None and server_memory(100, None, 3) is None
    assert server_memory(1000, 1600, 3) == {"rss_before_kib": 1000, "rss_held_kib": 1600, "sessions": 3,
                                            "per_session_kib": 200.0}
    assert server_memory(1000, 1600, 0)["per_session_kib"] is None
