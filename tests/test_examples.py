"""The programs in examples/ run as a user runs them (``sys.executable``, a subprocess)
against the private Prosody, with a test account at the other end.

The echo bots get their login from XMPP_* variables, the chat client from its command line;
the chat client is driven through a pseudo-terminal: the test types lines into it and reads
what it prints.  Every wait is bounded; a process left running is killed and its
descriptors closed whatever the test's outcome.
"""
from __future__ import annotations

import contextlib
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fastxmpp import sync
from fastxmpp.im import SubscriptionApproved, SubscriptionRevoked
from fastxmpp.jid import JID
from fastxmpp.testing.faultproxy import FaultProxy

pytestmark = pytest.mark.prosody

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BOTS = ["echo_bot.py", "echo_bot_sync.py"]
TIMEOUT = 45.0


class Screen:
    """What a process prints, read from ``fd`` by a thread; :meth:`expect` waits for a pattern."""

    def __init__(self, fd: int) -> None:
        self.fd, self.text, self.pos, self.ended = fd, "", 0, False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 4096)
            except OSError:  # EIO: the terminal's other side is closed
                data = b""
            with self.cond:
                if not data:
                    self.ended = True
                    self.cond.notify_all()
                    return
                self.text += data.decode("utf-8", "replace").replace("\r\n", "\n")
                self.cond.notify_all()

    def expect(self, pattern: str, *, pump=None) -> "re.Match[str]":
        """The first match of ``pattern`` after the previous match; ``pump()`` is called
        while waiting (to run a blocking test client)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + TIMEOUT
        while True:
            with self.cond:
                match = regex.search(self.text, self.pos)
                if match:
                    self.pos = match.end()
                    return match
                if self.ended or time.monotonic() > deadline:
                    raise AssertionError(f"waited for {pattern!r}; the program printed:\n{self.text}")
                if pump is None:
                    self.cond.wait(0.1)
            if pump is not None:
                pump()


@contextlib.contextmanager
def run_example(script, *args, env=None, terminal=False):
    """Start ``examples/script``; yields (process, screen, write(text)).  On a terminal
    (``terminal=True``) stdin, stdout and stderr are the slave side of a new pty."""
    argv = [sys.executable, str(EXAMPLES / script), *args]
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    proc = screen = master = None
    try:
        if terminal:
            master, slave = pty.openpty()
            try:
                proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=full_env)
            finally:
                os.close(slave)
            screen = Screen(master)
            yield proc, screen, lambda text: os.write(master, text.encode())
        else:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=full_env)
            screen = Screen(proc.stdout.fileno())
            yield proc, screen, None
    finally:
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait(TIMEOUT)
        if screen is not None:  # the reader sees the end (EOF, or EIO on a pty) once it exits
            screen.thread.join(TIMEOUT)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        if master is not None:
            os.close(master)


def login_env(prosody, jid, password):
    return {"XMPP_JID": jid, "XMPP_PASSWORD": password, "XMPP_HOST": prosody.host,
            "XMPP_PORT": str(prosody.port), "XMPP_CA_FILE": str(prosody.ca_file)}


@contextlib.contextmanager
def connected(prosody, jid, password):
    client = sync.Client(jid, password, host=prosody.host, port=prosody.port,
                         ca_file=str(prosody.ca_file), keepalive_interval=None)
    client.connect()
    try:
        yield client
    finally:
        client.close()


def online(client):
    """Go online, collecting the messages and subscription events that come: (messages, events)."""
    messages, events = [], []
    client.messages.on_message(messages.append)
    client.subscriptions.on_event(events.append)
    client.presence.available()
    return messages, events


def pump(client):
    return lambda: client.process(timeout=0.05)


def wait(client, condition, what):
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        client.process(timeout=0.05)


# -- the echo bots ---------------------------------------------------------------------------

@pytest.mark.parametrize("script", BOTS)
def test_echo_bot_accepts_a_subscription_and_echoes_until_max_messages(prosody, account, script):
    bot, bot_pw = account()
    user, user_pw = account()
    bot_full = bot + "/bot"
    with run_example(script, "--max-messages", "3", env=login_env(prosody, bot_full, bot_pw)) as (proc, screen, _):
        screen.expect(r"echo bot online as " + re.escape(bot_full))
        with connected(prosody, user + "/test", user_pw) as client:
            echoes, events = online(client)
            client.subscriptions.subscribe(bot)
            wait(client, lambda: client.presence.is_online(bot), "the bot's presence (it accepted)")
            assert client.roster[bot].subscription == "to"
            assert any(isinstance(e, SubscriptionApproved) for e in events)
            assert client.presence.best(bot).status == "I repeat what you say"

            client.messages.send(bot_full, None)  # no body (a chat state, say): not echoed
            client.messages.send(bot_full, "one")
            client.messages.send(bot_full, "two", thread="t-42", parent_thread="t-1")
            client.messages.send(bot_full, "three", type="normal")
            wait(client, lambda: len(echoes) >= 3, "three echoes")
            assert [(m.body, m.type, m.thread, m.parent_thread) for m in echoes] == [
                ("one", "chat", None, None), ("two", "chat", "t-42", "t-1"),
                ("three", "normal", None, None)]
            assert {m.sender for m in echoes} == {JID(bot_full)}
            assert proc.wait(TIMEOUT) == 0  # stopped by itself after 3 replies
            wait(client, lambda: not client.presence.is_online(bot), "the bot gone offline")
        screen.expect(r"stopped after 3 replies")


@pytest.mark.parametrize("script", BOTS)
def test_echo_bot_accept_roster_policy(prosody, account, script):
    bot, bot_pw = account()
    stranger, stranger_pw = account()
    friend, friend_pw = account()
    with connected(prosody, bot + "/admin", bot_pw) as admin:  # the bot's account, elsewhere
        admin.roster.add(friend, name="Friend")
    bot_full = bot + "/bot"
    args = ["--accept", "accept-roster", "--max-messages", "2"]
    with run_example(script, *args, env=login_env(prosody, bot_full, bot_pw)) as (proc, screen, _):
        screen.expect(r"echo bot online as ")
        with connected(prosody, stranger + "/s", stranger_pw) as client:
            echoes, events = online(client)
            client.subscriptions.subscribe(bot)
            client.messages.send(bot_full, "anyone there?")  # handled after the request
            wait(client, lambda: echoes, "the echo")
            # had the bot approved, the approval would have come before the echo
            assert not any(isinstance(e, SubscriptionApproved) for e in events)
            assert client.roster[bot].subscription == "none"
        with connected(prosody, friend + "/f", friend_pw) as client:
            echoes, _ = online(client)
            client.subscriptions.subscribe(bot)
            wait(client, lambda: client.presence.is_online(bot), "the bot's presence for a contact")
            client.messages.send(bot_full, "hello")
            wait(client, lambda: echoes, "the echo")
            assert echoes[0].body == "hello"
        assert proc.wait(TIMEOUT) == 0


@pytest.mark.parametrize("script", BOTS)
def test_echo_bot_reconnects_after_a_lost_connection(prosody, account, script):
    bot, bot_pw = account()
    user, user_pw = account()
    bot_full = bot + "/bot"
    with FaultProxy(prosody.host, prosody.port).running() as proxy:
        env = {**login_env(prosody, bot_full, bot_pw), "XMPP_PORT": str(proxy.port)}
        with run_example(script, "--max-messages", "2", env=env) as (proc, screen, _):
            screen.expect(r"echo bot online as ")
            with connected(prosody, user + "/test", user_pw) as client:
                echoes, _ = online(client)
                client.messages.send(bot_full, "before")
                wait(client, lambda: echoes, "the first echo")
                assert proxy.cut_all() == 1
                client.messages.send(bot_full, "after")
                wait(client, lambda: len(echoes) == 2, "the echo after the cut")
                assert [m.body for m in echoes] == ["before", "after"]
                assert proc.wait(TIMEOUT) == 0
            assert proxy.accepted >= 2 and "Traceback" not in screen.text


@pytest.mark.parametrize("script", BOTS)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_echo_bot_stops_cleanly_on_a_signal(prosody, account, script, signum):
    bot, bot_pw = account()
    with run_example(script, env=login_env(prosody, bot + "/bot", bot_pw)) as (proc, screen, _):
        screen.expect(r"echo bot online as ")
        proc.send_signal(signum)
        assert proc.wait(TIMEOUT) == 0
        screen.expect(r"stopped after 0 replies")
        assert "Traceback" not in screen.text


def test_echo_bot_without_a_login_says_so(prosody):
    env = {k: "" for k in ("XMPP_JID", "XMPP_PASSWORD")}
    with run_example("echo_bot.py", env=env) as (proc, screen, _):
        assert proc.wait(TIMEOUT) != 0
        screen.expect(r"--jid or \$XMPP_JID is required")


# -- the terminal chat client ----------------------------------------------------------------

def test_chat_client_in_a_terminal(prosody, account):
    me, me_pw = account()
    bob, bob_pw = account()
    carol, carol_pw = account()
    me_full = me + "/tty"
    argv = ["--jid", me_full, "--host", prosody.host, "--port", str(prosody.port),
            "--ca-file", str(prosody.ca_file)]
    with run_example("chat.py", *argv, env={"XMPP_PASSWORD": me_pw}, terminal=True) as (proc, screen, type_):
        screen.expect(r"online as " + re.escape(me_full) + r", 0 contacts")
        with connected(prosody, bob + "/test", bob_pw) as client:
            messages = []
            client.messages.on_message(messages.append)
            client.subscriptions.policy = "accept-all"
            client.presence.available(show="chat", status="at the test")
            b = re.escape(bob)

            # /add: our request is approved, bob comes online, /who shows him
            type_(f"/add {bob} Bob\n")
            screen.expect(rf"\* asked {b} to see its presence", pump=pump(client))
            screen.expect(rf"\* {b} is online \(chat: at the test\)", pump=pump(client))
            type_("/who\n")
            screen.expect(rf"roster \(1\):\n  Bob <{b}>  chat: at the test  \[to\]")

            # bob asks for our presence; /accept
            client.subscriptions.subscribe(me)
            screen.expect(rf"\* {b} asks to see your presence", pump=pump(client))
            type_(f"/accept {bob}\n")
            wait(client, lambda: client.presence.is_online(me), "our presence at bob")
            assert client.roster[me].subscription == "both"

            # an incoming message is printed; /msg, /to and plain lines reach bob
            client.messages.send(me_full, "hello through the pty")
            screen.expect(rf"<{b}/test> hello through the pty")
            type_(f"/msg {bob} first answer\n")
            type_(f"/to {bob}\n")
            type_("a plain line\n")
            wait(client, lambda: len(messages) >= 2, "two messages from the chat client")
            assert [(m.body, m.sender, m.type) for m in messages] == [
                ("first answer", JID(me_full), "chat"), ("a plain line", JID(me_full), "chat")]

            # /status
            type_("/status away at lunch\n")
            wait(client, lambda: getattr(client.presence.best(me), "show", None) == "away", "away at bob")
            assert client.presence.best(me).status == "at lunch"

            # bad input: a message, not a traceback, and the client goes on
            type_("/msg @@bad hi\n")
            screen.expect(r"! invalid JID '@@bad': ")
            type_("/frobnicate\n")
            screen.expect(r"! unknown command /frobnicate")
            type_("/to\n")
            screen.expect(r"! a JID is needed")

            # /deny a stranger's request; /remove bob
            with connected(prosody, carol + "/c", carol_pw) as other:
                revoked = []
                other.subscriptions.on_event(revoked.append)
                other.presence.available()
                other.subscriptions.subscribe(me)
                screen.expect(rf"\* {re.escape(carol)} asks to see your presence", pump=pump(other))
                type_(f"/deny {carol}\n")
                wait(other, lambda: any(isinstance(e, SubscriptionRevoked) for e in revoked), "the denial")
            type_(f"/remove {bob}\n")
            screen.expect(rf"\* roster: removed {b}", pump=pump(client))
            wait(client, lambda: client.roster[me].subscription == "none", "both subscriptions ended")

        type_("/quit\n")
        assert proc.wait(TIMEOUT) == 0
        screen.expect(r"bye")
        assert "Traceback" not in screen.text
        assert f"* {me} is" not in screen.text  # our own presence (the server sends it) is not news


def test_chat_client_reconnects(prosody, account):
    me, me_pw = account()
    bob, bob_pw = account()
    me_full = me + "/tty"
    with FaultProxy(prosody.host, prosody.port).running() as proxy:
        env = {**login_env(prosody, me_full, me_pw), "XMPP_PORT": str(proxy.port)}
        with run_example("chat.py", env=env, terminal=True) as (proc, screen, type_):
            screen.expect(r"online as ")
            with connected(prosody, bob + "/test", bob_pw) as client:
                messages, _ = online(client)
                assert proxy.cut_all() == 1
                screen.expect(r"! connection lost; reconnecting\n")
                screen.expect(r"\* reconnected")
                client.messages.send(me_full, "still there?")
                screen.expect(rf"<{re.escape(bob)}/test> still there\?", pump=pump(client))
                type_(f"/msg {bob} yes\n")
                wait(client, lambda: messages, "the answer")
                assert messages[0].body == "yes"
            type_("/quit\n")
            assert proc.wait(TIMEOUT) == 0
        assert "Traceback" not in screen.text


def test_chat_client_with_a_wrong_password_says_so(prosody, account):
    me, _ = account()
    with run_example("chat.py", env=login_env(prosody, me, "wrong")) as (proc, screen, _):
        assert proc.wait(TIMEOUT) == 1
        screen.expect(r"! could not connect: .*not-authorized")
        assert "Traceback" not in screen.text
