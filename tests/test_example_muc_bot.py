"""examples/muc_bot.py run as a user runs it (a subprocess) against a private Prosody of this
module (restarted by the test), with two other occupants on the blocking client: it greets,
answers !ping, !roll and !seen (in the room and in private), and rejoins after the restart."""
from __future__ import annotations

import re
import time

import pytest

from fastxmpp import sync
from fastxmpp.xep.muc import RoomMessage, RoomNotFound

from test_examples import TIMEOUT, login_env, run_example

pytestmark = pytest.mark.prosody


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from fastxmpp.testing.prosody import ProsodyServer, prosody_binary

    if prosody_binary() is None:
        pytest.skip("prosody is not installed; run scripts/install-system-deps")
    srv = ProsodyServer(tmp_path_factory.mktemp("prosody-muc-bot"), muc=True)
    srv.start()
    yield srv
    srv.stop()


def connect(server, jid):
    client = sync.Client(jid, "pw", host=server.host, port=server.port, ca_file=str(server.ca_file),
                         keepalive_interval=None)
    client.connect()
    return client


def wait(clients, condition, what):
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        for client in clients:
            client.process(timeout=0.05)


def said(client, pattern, *, private=None):
    """The bodies of the room messages ``client`` received from the bot matching ``pattern``."""
    return [e for e in client.test_seen if isinstance(e, RoomMessage) and e.nick == "bot" and e.body
            and re.search(pattern, e.body) and (private is None or e.private == private)]


def occupant(server, name, room, nick):
    client = connect(server, server.create_user(name, "pw") + "/test")
    client.test_seen = []
    client.muc.on_event(client.test_seen.append)
    deadline = time.monotonic() + TIMEOUT
    while True:  # right after a restart the bot's re-created room may still be locked
        try:
            return client, client.muc.join(room, nick)
        except RoomNotFound:
            assert time.monotonic() < deadline, "the room stayed locked"
            client.process(timeout=0.2)


def test_muc_bot_greets_answers_and_rejoins_after_a_restart(server):
    room_jid = f"lobby@{server.muc_domain}"
    bot = server.create_user("mucbot", "pw") + "/bot"
    with run_example("muc_bot.py", room_jid, "bot", "--verbose", env=login_env(server, bot, "pw")) as (proc, screen, _):
        screen.expect(r"muc bot in " + re.escape(room_jid) + " as bot")
        alice, ra = occupant(server, "alice", room_jid, "alice")
        assert "bot" in ra.occupants and ra.occupants["bot"].affiliation == "owner"
        wait([alice], lambda: said(alice, r"^Welcome, alice!$"), "the greeting")
        ra.send("!ping")
        wait([alice], lambda: said(alice, r"^alice: pong$"), "the pong")
        ra.send("!roll 2d6")
        wait([alice], lambda: said(alice, r"^alice rolled 2d6"), "the roll")
        dice = re.match(r"alice rolled 2d6: (\d+) \+ (\d+) = (\d+)$", said(alice, "rolled")[0].body)
        assert dice and 1 <= int(dice[1]) <= 6 and 1 <= int(dice[2]) <= 6 and int(dice[3]) == int(dice[1]) + int(dice[2])
        ra.send("!roll 0d1")
        wait([alice], lambda: said(alice, r"usage: !roll NdM"), "the roll usage")

        carol, rc = occupant(server, "carol", room_jid, "carol")
        wait([alice, carol], lambda: said(alice, r"^Welcome, carol!$") and said(carol, r"^Welcome, carol!$"),
             "carol's greeting")
        ra.send("!seen carol")
        wait([alice, carol], lambda: said(alice, r"^carol is here$"), "seen: here")
        rc.leave()
        carol.close()
        ra.send("!seen carol")
        wait([alice], lambda: said(alice, r"^carol was last seen \d+s ago$"), "seen: gone")
        ra.send("!seen nobody")
        wait([alice], lambda: said(alice, r"^I have not seen nobody$"), "seen: never")
        ra.send_private("bot", "!ping")
        wait([alice], lambda: said(alice, r"^alice: pong$", private=True), "the private pong")
        alice.close()

        server.restart()  # the room was not persistent: the bot's rejoin creates it again
        screen.expect(r"rejoined " + re.escape(room_jid) + " as bot")
        dave, rd = occupant(server, "dave", room_jid, "dave")
        assert rd.occupants["bot"].affiliation == "owner"
        wait([dave], lambda: said(dave, r"^Welcome, dave!$"), "the greeting after the restart")
        rd.send("!ping")
        wait([dave], lambda: said(dave, r"^dave: pong$"), "the pong after the restart")
        dave.close()
        assert proc.poll() is None  # still running
