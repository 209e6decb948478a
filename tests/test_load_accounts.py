"""``python -m fastxmpp load --accounts FILE.csv`` and ``--register-rate`` (issue 16)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from load_cli import ROOT, run_load, run_locust

from fastxmpp.load.accounts import Account, AccountsFileError, read_accounts
from fastxmpp.load.cli import config_from_args, parse_args
from fastxmpp.load.runner import LoadConfig, LoadRunner, Target


def _csv(tmp_path, text, name="accounts.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_reads_accounts_with_or_without_a_header(tmp_path):
    path = _csv(tmp_path, "jid,password\nalice@example.net,pw1\n\n bob@Example.NET , pw2\n")
    assert read_accounts(path) == [Account("alice", "example.net", "pw1"),
                                   Account("bob", "example.net", "pw2")]
    assert [a.jid for a in read_accounts(path)] == ["alice@example.net", "bob@example.net"]
    path = _csv(tmp_path, "carol@x.test,secret\n", "plain.csv")
    assert read_accounts(path, needed=1) == [Account("carol", "x.test", "secret")]
    assert Account("load1", "", "pw").jid == "load1"  # a generated account, at no domain


@pytest.mark.parametrize("text,needed,words,line", [
    ("a@x.test,pw\nbad@@jid,pw\n", 0, "bad JID", 2),
    ("a@x.test/res,pw\n", 0, "user@domain", 1),
    ("x.test,pw\n", 0, "user@domain", 1),
    ("a@x.test,pw,extra\n", 0, "3 fields", 1),
    ("a@x.test\n", 0, "1 fields", 1),
    ("a@x.test,\n", 0, "empty password", 1),
    ("a@x.test,pw\nA@x.test,pw2\n", 0, "twice", 2),
    ("jid,password\na@x.test,pw\n", 2, "1 accounts for --users 2", None),
])
def test_bad_files_raise_a_typed_error_naming_the_line(tmp_path, text, needed, words, line):
    path = _csv(tmp_path, text)
    with pytest.raises(AccountsFileError) as info:
        read_accounts(path, needed)
    assert words in str(info.value) and info.value.line == line and info.value.path == path
    assert isinstance(info.value, ValueError)


def test_missing_file(tmp_path):
    with pytest.raises(AccountsFileError, match="no such file"):
        read_accounts(str(tmp_path / "nope.csv"))


def test_a_bad_file_is_a_usage_error(tmp_path, capsys):
    """Read for the accounts' domain or, with --domain, when parse_args() validates the
    config it built: either way argparse's error and exit status 2."""
    nope = str(tmp_path / "nope.csv")
    few = _csv(tmp_path, "u1@acc.test,p1\n")
    for argv, words in ((["--accounts", nope], "no such file"),
                        (["--accounts", nope, "--domain", "acc.test"], "no such file"),
                        (["--accounts", few, "--users", "2", "--scenario", "login"], "1 accounts for --users 2"),
                        (["--accounts", few, "--users", "2", "--domain", "acc.test"], "1 accounts for --users 2")):
        with pytest.raises(SystemExit) as info:
            parse_args(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "error:" in err and words in err, (argv, err)


def test_cli_options_and_the_accounts_domain(tmp_path):
    path = _csv(tmp_path, "u1@acc.test,p1\nu2@acc.test,p2\n")
    args = parse_args(["--accounts", path, "--users", "2", "--register-rate", "5"])
    assert args.domain == "acc.test" and args.accounts == path and args.register_rate == 5.0
    with pytest.raises(SystemExit) as info:  # too few accounts
        parse_args(["--accounts", path, "--users", "3"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        parse_args(["--register-rate", "-1"])
    assert info.value.code == 2
    with pytest.raises(ValueError):
        LoadConfig(register_rate=float("inf")).validate()


def test_each_process_takes_its_block_of_the_file(tmp_path):
    path = _csv(tmp_path, "".join(f"user{i}@acc.test,pw{i}\n" for i in range(10)))
    config = LoadConfig(users=4, accounts_file=path, scenario="login")
    config.validate()
    runner = LoadRunner(config, Target(host="127.0.0.1", port=1, domain="acc.test"), first_user=6)
    assert [(u.number, u.username, u.jid, u.password) for u in runner.users] == [
        (6 + i, f"user{6 + i}", f"user{6 + i}@acc.test", f"pw{6 + i}") for i in range(4)]
    plain = LoadRunner(LoadConfig(users=2, scenario="login"), Target(host="127.0.0.1", port=1, domain="d.test"))
    assert [(u.username, u.jid, u.password) for u in plain.users] == [
        ("load1", "load1@d.test", "load-test-pw"), ("load2", "load2@d.test", "load-test-pw")]
    with pytest.raises(AccountsFileError):
        LoadRunner(LoadConfig(users=4, accounts_file=path), Target(host="127.0.0.1", port=1, domain="acc.test"),
                   first_user=8)


@pytest.fixture
def opened(monkeypatch):
    """The files fastxmpp.load.accounts opens from now on, in order (each opened for real)."""
    import fastxmpp.load.accounts as accounts_module

    files = []

    def spy(file, *args, **kwargs):
        files.append(file)
        return open(file, *args, **kwargs)

    monkeypatch.setattr(accounts_module, "open", spy, raising=False)
    return files


def test_a_workers_run_reads_the_file_once(tmp_path, opened):
    """parse_args() reads --accounts once for the whole run: run() and the two worker
    processes take the accounts from it (the file is gone by then; before, each of them read
    it again).  Against a closed port: every login fails, no worker does."""
    from fastxmpp.load.cli import run

    path = _csv(tmp_path, "".join(f"w{i}@acc.test,pw{i}\n" for i in range(4)))
    args = parse_args(["--accounts", path, "--users", "4", "--scenario", "login", "--workers", "2",
                       "--server", "127.0.0.1:1", "--quiet", "--login-timeout", "10", "--duration", "60"])
    assert opened == [path] and args.domain == "acc.test"
    os.unlink(path)  # run() or a worker that read it again would fail
    code, report = run(args)
    assert opened == [path] and code == 1
    assert report["workers"] == 2 and report["workers_failed"] == []
    assert report["errors"] == {"login:ConnectionLost": 4}
    assert report["login"]["ok"] == 0 and report["login"]["failed"] == 4


def test_one_process_run_reads_the_file_once(tmp_path, opened):
    """parse_args() builds the run's LoadConfig once and reads --accounts for it, once;
    config_from_args() and run() take that config while the options still describe it, and
    a config for changed options takes the accounts already read.  Against a closed port,
    in this process (--workers 1)."""
    from fastxmpp.load.cli import run

    path = _csv(tmp_path, "".join(f"o{i}@acc.test,pw{i}\n" for i in range(4)))
    expected = [Account(f"o{i}", "acc.test", f"pw{i}") for i in range(4)]
    args = parse_args(["--accounts", path, "--users", "4", "--scenario", "login", "--workers", "1",
                       "--server", "127.0.0.1:1", "--quiet", "--login-timeout", "10", "--duration", "60"])
    assert opened == [path] and args.domain == "acc.test"
    config = config_from_args(args)
    assert config is config_from_args(args) and config.accounts() == expected
    args.users = 2  # other options: another config, with the same accounts
    other = config_from_args(args)
    assert other is not config and other.users == 2 and config.users == 4
    assert other.accounts() == expected[:2] and other.accounts(2) == expected[2:]
    assert opened == [path]
    args.users = 4
    assert config_from_args(args) is config
    os.unlink(path)  # run() reading it again would fail
    code, report = run(args)
    assert opened == [path] and code == 1
    assert report["errors"] == {"login:ConnectionLost": 4}
    assert report["login"]["ok"] == 0 and report["login"]["failed"] == 4


@pytest.mark.prosody
@pytest.mark.parametrize("workers", ["1", "2"])
def test_chat_run_with_accounts_from_a_file(tmp_path, workers):
    """The private Prosody gets the file's accounts (their own passwords); with two workers
    every account is used once: no conflicts, nothing lost."""
    path = _csv(tmp_path, "jid,password\n" + "".join(f"csv{i}@localhost,secret-{i}\n" for i in range(1, 9)))
    data, _ = run_load(tmp_path, ["--accounts", path, "--users", "8", "--messages", "5", "--rate", "20",
                                  "--workers", workers, "--duration", "60"])
    msgs = data["messages"]
    assert data["ok"] is True and data["login"]["ok"] == 8 and data["errors"] == {}
    assert (msgs["sent"], msgs["received"], msgs["lost"], msgs["duplicated"]) == (40, 40, 0, 0)


@pytest.mark.prosody
def test_register_rate_against_a_given_server_reports_failures_by_kind(tmp_path):
    from fastxmpp.testing.prosody import ProsodyServer, prosody_binary

    if prosody_binary() is None:
        pytest.skip("prosody is not installed; run scripts/install-system-deps")
    with ProsodyServer(tmp_path / "srv", domain="reg.test") as server:
        path = _csv(tmp_path, "".join(f"r{i}@reg.test,pw-{i}\n" for i in range(1, 7)))
        common = ["--server", f"{server.host}:{server.port}", "--ca-file", str(server.ca_file),
                  "--accounts", path, "--users", "6", "--register-rate", "20", "--duration", "60"]
        data, _ = run_load(tmp_path, common + ["--scenario", "chat", "--messages", "3", "--rate", "20",
                                               "--workers", "2"])
        assert data["config"]["register_rate"] == 20.0 and data["config"]["accounts_file"] == path
        assert data["registration"] == {"created": 6} and data["login"]["ok"] == 6
        assert data["messages"]["received"] == 18 and data["ok"] is True
        assert server.user_exists("r6")
        data, _ = run_load(tmp_path, common + ["--scenario", "login", "--workers", "1"])
        assert data["registration"] == {"existed": 6} and data["login"]["ok"] == 6

        # an account on a domain the server does not serve: its registration fails, by kind
        bad = _csv(tmp_path, "r1@reg.test,pw-1\nzz@elsewhere.test,pw\n", "bad.csv")
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        report = tmp_path / "bad.json"
        proc = subprocess.run(
            [sys.executable, "-m", "fastxmpp", "load", "--quiet", "--report", str(report), "--server",
             f"{server.host}:{server.port}", "--domain", "reg.test", "--ca-file", str(server.ca_file),
             "--accounts", bad, "--users", "2", "--register-rate", "10", "--scenario", "login",
             "--workers", "1", "--duration", "60", "--login-timeout", "10"],
            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
        import json

        data = json.loads(report.read_text())
        report.unlink()
        assert proc.returncode == 1
        reg = data["registration"]
        assert reg["existed"] == 1 and reg["failed"] == 1
        assert [k for k in reg if k.startswith("failed:")] != [] and sum(
            v for k, v in reg.items() if k.startswith("failed:")) == 1


@pytest.mark.prosody
def test_locust_master_and_two_workers_take_distinct_accounts_of_the_file(prosody, tmp_path):
    """``XMPPUser.accounts_file``, through ``XMPP_ACCOUNTS_FILE`` of examples/locustfile.py:
    each Locust user takes the file's account of its user number, unique over the workers
    (each account has its own password: a user that took another's account would fail to
    log in, two that took the same would conflict)."""
    import importlib.util

    if importlib.util.find_spec("locust") is None:  # never imported here: it patches with gevent
        pytest.skip("locust is not installed (pip install locust)")
    users = 6
    prefix = "lcsv%d_" % os.getpid()
    prosody.create_users([(f"{prefix}{n}", f"pw-{n}") for n in range(1, users + 1)])
    accounts = _csv(tmp_path, "jid,password\n" + "".join(
        f"{prefix}{n}@{prosody.domain},pw-{n}\n" for n in range(1, users + 1)))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               XMPP_ACCOUNTS_FILE=accounts, XMPP_CA_FILE=str(prosody.ca_file))
    env.pop("XMPP_DOMAIN", None)
    master, out, logs, stats, failures = run_locust(
        os.path.join(ROOT, "examples", "locustfile.py"), f"xmpp://{prosody.host}:{prosody.port}",
        env, users, "8s", tmp_path)
    out = out[-2000:] + logs[-2000:]
    assert failures == [], out
    assert int(stats["login"]["Request Count"]) == users, out[-3000:]
    assert int(stats["Aggregated"]["Failure Count"]) == 0, out[-3000:]
    assert int(stats["Aggregated"]["Request Count"]) > users, out[-3000:]  # the tasks too
    assert master.returncode == 0, out[-3000:]
