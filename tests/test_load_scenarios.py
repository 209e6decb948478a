"""Scenarios of ``python -m fastxmpp load`` (issue 16): the scenario API, a user's own
scenario (the one in docs/howto/load-testing.md and the README's), and the muc and roster
scenarios against the private Prosody."""
from __future__ import annotations

import os
import re

import pytest
from load_cli import run_load

from fastxmpp.load import cli
from fastxmpp.load.runner import LoadConfig
from fastxmpp.load.scenarios import BUILTINS, MUCFanout, RosterStorm, Scenario, load_scenario
from fastxmpp.load.workers import split_users

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_builtins_are_scenarios_and_load_by_name():
    assert set(BUILTINS) == {"login", "chat", "presence", "iq", "idle", "muc", "roster"}
    for name, cls in BUILTINS.items():
        assert issubclass(cls, Scenario) and cls.name == name and load_scenario(name) is cls
        assert cls.__doc__
    assert load_scenario("fastxmpp.load.scenarios:MUCFanout") is MUCFanout


@pytest.mark.parametrize("name", ["nope", "fastxmpp.load.nosuchmodule:X", "fastxmpp.load.scenarios:User",
                                  "fastxmpp.load.scenarios:Missing", ":X", "mod:"])
def test_bad_scenario_names(name, capsys):
    with pytest.raises(ValueError):
        load_scenario(name)
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(["--scenario", name])
    assert exc.value.code == 2
    assert "scenario" in capsys.readouterr().err


def test_muc_and_roster_options_and_checks():
    config = cli.config_from_args(cli.parse_args(
        ["--scenario", "muc", "--users", "6", "--room-size", "3", "--muc-domain", "rooms.example"]))
    assert (config.room_size, config.muc_domain) == (3, "rooms.example")
    assert MUCFanout.group_size(config) == 3
    config = cli.config_from_args(cli.parse_args(["--scenario", "roster", "--users", "6", "--contacts", "2"]))
    assert config.contacts == 2 and RosterStorm.group_size(config) == 3
    for bad in (LoadConfig(scenario="muc", users=2, room_size=3), LoadConfig(scenario="muc", room_size=1),
                LoadConfig(scenario="roster", users=3, contacts=3)):
        with pytest.raises(ValueError):
            bad.validate()


@pytest.mark.parametrize("users,workers,unit", [(12, 2, 3), (13, 3, 4), (7, 4, 3), (5, 2, 5)])
def test_groups_never_span_two_workers(users, workers, unit):
    blocks = split_users(users, workers, "muc", unit=unit)
    assert sum(c for _, c in blocks) == users and blocks[0][0] == 0
    for (first, count), (nxt, _) in zip(blocks, blocks[1:] + [(users, 0)]):
        assert first + count == nxt and first % unit == 0 and count >= unit


def _docs_scenario() -> str:
    with open(os.path.join(ROOT, "docs", "howto", "load-testing.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## Your own scenario"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _readme_scenario() -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"  ```python\n(.*?)  ```", text, re.S).group(1)
    return "\n".join(line[2:] for line in block.splitlines()) + "\n"


def _load(tmp_path, args):
    return run_load(tmp_path, ["--duration", "60"] + args)


def _load_own(tmp_path, source, args):
    """Run the load command with ``source`` as ``myscenario.py`` in its directory."""
    (tmp_path / "myscenario.py").write_text(source)
    try:
        return _load(tmp_path, args)
    finally:
        (tmp_path / "myscenario.py").unlink()


@pytest.mark.prosody
@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_documented_custom_scenario_runs(tmp_path, workers):
    data, out = _load_own(tmp_path, _docs_scenario(), ["--scenario", "myscenario:SelfChat", "--users", "4",
                                                       "--messages", "20", "--rate", "0", "--workers", workers])
    msgs = data["messages"]
    assert data["ok"] is True and data["scenario"] == "myscenario:SelfChat" and data["workers"] == int(workers)
    assert (msgs["kind"], msgs["expected"], msgs["sent"], msgs["received"], msgs["lost"], msgs["duplicated"]) == (
        "message", 80, 80, 80, 0, 0)
    assert msgs["latency_ms"]["count"] == 80 and "result           OK" in out


@pytest.mark.prosody
def test_the_readme_scenario_runs(tmp_path):
    data, _ = _load_own(tmp_path, _readme_scenario(), ["--scenario", "myscenario:Ping", "--users", "2",
                                                        "--messages", "5", "--rate", "0", "--workers", "1"])
    msgs = data["messages"]
    assert data["ok"] is True and (msgs["kind"], msgs["sent"], msgs["received"], msgs["lost"]) == ("iq", 10, 10, 0)


@pytest.mark.prosody
@pytest.mark.parametrize("workers", ["1", "2"])
def test_muc_fans_out_every_message_to_every_other_occupant(tmp_path, workers):
    data, out = _load(tmp_path, ["--scenario", "muc", "--users", "9", "--room-size", "3", "--messages", "10",
                                 "--rate", "0", "--workers", workers])
    msgs = data["messages"]
    assert data["ok"] is True and data["login"]["ok"] == 9
    # 9 occupants send 10 each; each message reaches the 2 others in its room
    assert (msgs["sent"], msgs["awaited"], msgs["received"], msgs["lost"], msgs["duplicated"]) == (90, 180, 180, 0, 0)
    assert data["scenario_stats"] == {"rooms": 3, "occupants": 9}
    assert msgs["latency_ms"]["count"] == 180 and data["errors"] == {}
    assert "deliveries awaited 180" in out


@pytest.mark.prosody
@pytest.mark.parametrize("workers", ["1", "2"])
def test_roster_broadcasts_reach_every_contact(tmp_path, workers):
    data, out = _load(tmp_path, ["--scenario", "roster", "--users", "6", "--contacts", "2", "--messages", "5",
                                 "--rate", "0", "--workers", workers])
    msgs = data["messages"]
    assert data["ok"] is True and data["login"]["ok"] == 6
    # two groups of 3: each presence reaches the 2 contacts
    assert (msgs["kind"], msgs["sent"], msgs["awaited"], msgs["received"], msgs["lost"], msgs["duplicated"]) == (
        "presence", 30, 60, 60, 0, 0)
    stats = data["scenario_stats"]
    assert stats["groups"] == 2 and stats["roster_pushes"] >= 6 * 2
    push = data["scenario_latency_ms"]["roster_push"]  # each request's push, timed
    assert push["count"] >= 1 and 0 <= push["min"] <= push["max"]
    assert "roster push" in out
    assert data["setup_seconds"] > 0  # the subscriptions, before the traffic
    assert data["errors"] == {}


def test_every_public_function_and_method_of_the_load_package_has_a_docstring():
    import ast
    import glob

    missing = []
    for path in sorted(glob.glob(os.path.join(ROOT, "fastxmpp", "load", "*.py"))):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())

        def walk(node, prefix=""):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    if child.name.startswith("_"):
                        continue
                    if not ast.get_docstring(child):
                        missing.append(f"{os.path.basename(path)}: {prefix}{child.name}")
                    if isinstance(child, ast.ClassDef):
                        walk(child, child.name + ".")

        walk(tree)
    assert missing == []


def test_the_load_package_is_mypy_strict_clean():
    pytest.importorskip("mypy")
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                           "--cache-dir", os.devnull, os.path.join("fastxmpp", "load")],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    assert proc.returncode == 0, proc.stdout.decode()
