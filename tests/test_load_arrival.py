"""Open-model arrival for ``python -m fastxmpp load`` (issue 16): ``--phase RATE:SECONDS``,
``--arrival poisson|constant``, the login time from the intended arrival."""
import json
import os
import subprocess
import sys

import pytest

from fastxmpp.load import cli
from fastxmpp.load.hdr import decode_histogram
from fastxmpp.load.runner import LoadConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_phase_options():
    args = cli.parse_args(["--phase", "10:5", "--phase", "2.5:0.5", "--arrival", "constant"])
    config = cli.config_from_args(args)
    assert config.phases == [(10.0, 5.0), (2.5, 0.5)] and config.arrival == "constant"
    assert cli.config_from_args(cli.parse_args([])).phases == []  # the closed model
    assert cli.parse_args([]).arrival == "poisson"


@pytest.mark.parametrize("bad", ["10", "0:5", "5:0", "x:1", "-1:2", "inf:1"])
def test_bad_phase_exits_2(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(["--phase", bad])
    assert exc.value.code == 2
    assert "RATE:SECONDS" in capsys.readouterr().err


def test_config_validates_phases():
    with pytest.raises(ValueError):
        LoadConfig(phases=[(0.0, 1.0)]).validate()
    with pytest.raises(ValueError):
        LoadConfig(arrival="burst").validate()


def _prosody_or_skip():
    from fastxmpp.testing.prosody import prosody_binary

    if prosody_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("prosody is not installed (scripts/install-system-deps installs it)")
        pytest.skip("prosody is not installed; run scripts/install-system-deps")


def _run(args, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "fastxmpp", "load", *args, "--quiet", "--report", str(report)],
                          cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=120)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert report.exists(), out + err
    data = json.loads(report.read_text())
    report.unlink()
    return proc.returncode, data, out, err


@pytest.mark.prosody
@pytest.mark.parametrize("workers", ["1", "2"])
def test_open_model_every_user_arrives_and_is_timed_from_its_arrival(tmp_path, workers):
    _prosody_or_skip()
    code, data, out, err = _run(["--users", "6", "--messages", "5", "--rate", "0", "--workers", workers,
                                 "--phase", "50:30", "--duration", "60"], tmp_path)
    assert code == 0, out + err
    arrival = data["arrival"]
    assert arrival["model"] == "open" and arrival["distribution"] == "poisson"
    assert (arrival["arrived"], arrival["not_arrived"]) == (6, 0)
    assert arrival["corrected_login_ms"]["count"] == 6
    assert decode_histogram(data["histograms"]["login_corrected"]).count == 6
    assert data["login"]["ok"] == 6 and data["messages"]["received"] == 30
    assert "open model, poisson: 50/s for 30 s; 6 arrived, 0 not" in out and "from arrival" in out


@pytest.mark.prosody
def test_constant_arrival_stops_at_the_end_of_the_phases(tmp_path):
    """4/s for 0.5 s, constant: arrivals at 0.25 s and 0.5 s, so 2 of the 4 users log in."""
    _prosody_or_skip()
    code, data, out, err = _run(["--users", "4", "--scenario", "login", "--workers", "1",
                                 "--phase", "4:0.5", "--arrival", "constant", "--duration", "60"], tmp_path)
    assert code == 0, out + err
    assert (data["arrival"]["arrived"], data["arrival"]["not_arrived"]) == (2, 2)
    assert data["login"]["ok"] == 2 and data["login"]["failed"] == 0
    assert data["arrival"]["corrected_login_ms"]["count"] == 2
