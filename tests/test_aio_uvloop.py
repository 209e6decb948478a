"""``fastxmpp.aio`` and the load runner on uvloop's event loop, against the real Prosody.

``python -m fastxmpp load`` runs on uvloop whenever it is installed, and users run
``fastxmpp.aio`` clients on it: every test of ``test_aio_client.py`` runs here again with
its ``run()`` on a uvloop loop (STARTTLS and Direct TLS, each SASL mechanism, stream
management and resumption after a cut, reconnects, keepalive, SRV, flow control and
back-pressure), and the load runner runs a chat on it, in one process and with workers.
"""
from __future__ import annotations

import asyncio
import json

import pytest

uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed (pip install 'fastxmpp[uvloop]')")

import test_aio_client  # noqa: E402
from test_aio_client import *  # noqa: E402,F401,F403  (their tests, collected again here)
from test_load import needs_prosody, run_cli  # noqa: E402

from fastxmpp.load.runner import LoadConfig, LoadRunner, Target, event_loop_name, run_loop  # noqa: E402

pytestmark = pytest.mark.prosody


@pytest.fixture(autouse=True)
def _on_uvloop(monkeypatch):
    """``test_aio_client``'s tests call its module-level ``run()``: here it runs on uvloop."""
    def run(coro):
        async def main():
            assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
            return await asyncio.wait_for(coro, 60)
        return uvloop.run(main())
    monkeypatch.setattr(test_aio_client, "run", run)


def test_run_loop_runs_on_uvloop_and_cleans_up_like_asyncio_run():
    left = []

    async def main():
        async def forever():
            try:
                await asyncio.sleep(3600)
            finally:
                left.append("cancelled")
        asyncio.ensure_future(forever())
        await asyncio.sleep(0)
        return event_loop_name()

    assert run_loop(main(), use_uvloop=True) == "uvloop"
    assert left == ["cancelled"]  # a task left running is cancelled at the end, as asyncio.run does
    assert run_loop(main(), use_uvloop=False) == "asyncio"
    assert event_loop_name() is None


def test_load_runner_chat_on_uvloop(prosody):
    users = [prosody.create_user(f"uvl{i}", "pw") for i in range(1, 7)]
    assert len(users) == 6
    config = LoadConfig(users=6, password="pw", user_prefix="uvl", messages=30, rate=50.0, quiet=True,
                        duration=60.0, scenario="chat")
    target = Target(host=prosody.host, port=prosody.port, domain=prosody.domain,
                    ca_file=str(prosody.ca_file), local=True)
    report = LoadRunner(config, target).run(use_uvloop=True)
    assert report["event_loop"] == "uvloop"
    assert report["ok"] is True, json.dumps(report["errors"])
    msgs = report["messages"]
    assert (msgs["sent"], msgs["received"], msgs["lost"], msgs["duplicated"]) == (180, 180, 0, 0)


@needs_prosody
@pytest.mark.parametrize("workers", ["1", "2"])
def test_cli_runs_on_uvloop_by_default_and_not_with_no_uvloop(tmp_path, workers):
    args = ["--users", "4", "--messages", "10", "--rate", "20", "--duration", "30", "--workers", workers]
    code, report, out, err = run_cli(args, tmp_path)
    assert code == 0, out + err
    assert report["event_loop"] == "uvloop" and "on uvloop" in out
    assert report["messages"]["received"] == 40 and report["messages"]["lost"] == 0
    code, report, out, err = run_cli(args + ["--no-uvloop"], tmp_path)
    assert code == 0, out + err
    assert report["event_loop"] == "asyncio" and "on asyncio" in out
