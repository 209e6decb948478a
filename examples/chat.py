"""A terminal chat client on the asyncio client: type commands, read messages as they come.

    XMPP_JID=juliet@example.com XMPP_PASSWORD=secret python examples/chat.py

Login options: ``examples/options.py`` (command line or XMPP_* variables).  Once online it
prints incoming messages, contacts coming and going, and subscription requests; ``/help``
lists the commands.  A lost connection is resumed or replaced (``reconnect=True``).  A line that is not a command goes to the current chat partner
(``/to JID``).  Input is read line by line from stdin (a thread), so it also works from a
pipe: ``printf '/msg romeo@example.com hi\\n/quit\\n' | python examples/chat.py``.
"""
from __future__ import annotations

import asyncio
import signal
import sys
import threading
from typing import Optional

import options
from fastxmpp.aio import Client
from fastxmpp.errors import XMPPError
from fastxmpp.events import Event
from fastxmpp.im import (ContactChanged, ContactOffline, ContactOnline, ContactUnsubscribed,
                         PresenceErrorReceived, RosterItemAdded, RosterItemRemoved,
                         Message, ResourcePresence, SubscriptionApproved, SubscriptionRequested,
                         SubscriptionRevoked)
from fastxmpp.jid import JID, InvalidJID

HELP = """commands:
  /who                   the roster, and who is online (best resource, show, status)
  /to JID                talk to JID: lines that are not commands go there
  /msg JID TEXT          send TEXT to JID
  /add JID [NAME]        add JID to the roster and ask to see its presence
  /remove JID            remove JID from the roster (ends both subscriptions)
  /accept JID            let JID see your presence (answers its request)
  /deny JID              refuse JID's request
  /status [SHOW] [TEXT]  your presence: SHOW is online, chat, away, xa or dnd
  /quit                  leave"""
SHOWS = {"online": None, "chat": "chat", "away": "away", "xa": "xa", "dnd": "dnd"}


class UsageError(Exception):
    pass


def say(text: str) -> None:
    print(text, flush=True)


def parse_jid(text: str) -> JID:
    if not text:
        raise UsageError("a JID is needed, e.g. romeo@example.com")
    try:
        return JID(text)
    except InvalidJID as exc:
        raise UsageError(f"invalid JID {text!r}: {exc}") from None


def describe(presence: Optional[ResourcePresence]) -> str:
    """'away: in a meeting' for a ResourcePresence (None: offline)."""
    if presence is None:
        return "offline"
    state = presence.show or "available"
    return f"{state}: {presence.status}" if presence.status else state


class Chat:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.partner: Optional[JID] = None
        client.messages.on_message(self.received)
        client.presence.on_event(self.event)
        client.subscriptions.on_event(self.event)
        client.roster.on_event(self.event)

    def received(self, msg: Message) -> None:
        if msg.type == "error":
            say(f"! {msg.sender} could not take a message: {msg.error}")
        elif msg.body is not None:
            say(f"<{msg.sender}> {msg.body}")

    def event(self, ev: Event) -> None:
        jid = getattr(ev, "jid", None)
        if jid is not None and jid == self.client.jid.bare:
            return  # the server shows us our own presence too
        if isinstance(ev, ContactOnline):
            say(f"* {ev.jid} is online ({describe(ev.presence)})")
        elif isinstance(ev, ContactChanged):
            say(f"* {ev.jid} is now {describe(ev.best)}")
        elif isinstance(ev, ContactOffline) and ev.presence is not None:
            say(f"* {ev.jid} is offline")
        elif isinstance(ev, PresenceErrorReceived):
            say(f"! presence error from {ev.jid}: {ev.error}")
        elif isinstance(ev, SubscriptionRequested):
            note = f" ({ev.status})" if ev.status else ""
            say(f"* {ev.jid} asks to see your presence{note}: /accept {ev.jid} or /deny {ev.jid}")
        elif isinstance(ev, SubscriptionApproved):
            say(f"* {ev.jid} accepted: you will see its presence")
        elif isinstance(ev, SubscriptionRevoked):
            say(f"* {ev.jid} refused or cancelled your subscription")
        elif isinstance(ev, ContactUnsubscribed):
            say(f"* {ev.jid} no longer sees your presence")
        elif isinstance(ev, RosterItemAdded):
            say(f"* roster: added {ev.item.jid}")
        elif isinstance(ev, RosterItemRemoved):
            say(f"* roster: removed {ev.item.jid}")

    def who(self) -> None:
        roster, presence = self.client.roster, self.client.presence
        say(f"roster ({len(roster)}):")
        for jid, item in sorted(roster.items(), key=lambda pair: str(pair[0])):
            name = f"{item.name} <{jid}>" if item.name else str(jid)
            pending = ", asked" if item.ask else ""
            say(f"  {name}  {describe(presence.best(jid))}  [{item.subscription}{pending}]")

    async def command(self, line: str) -> bool:
        """Run one input line; False when it is time to leave."""
        line = line.strip()
        if not line:
            return True
        if not line.startswith("/"):
            if self.partner is None:
                raise UsageError("no chat partner: /to JID first, or /msg JID TEXT")
            await self.client.messages.send(self.partner, line)
            return True
        cmd, _, rest = line.partition(" ")
        arg, _, text = rest.strip().partition(" ")
        text = text.strip()
        client = self.client
        if cmd == "/quit":
            return False
        elif cmd == "/help":
            say(HELP)
        elif cmd == "/who":
            self.who()
        elif cmd == "/to":
            self.partner = parse_jid(arg)
            say(f"* talking to {self.partner}")
        elif cmd == "/msg":
            jid = parse_jid(arg)
            if not text:
                raise UsageError("usage: /msg JID TEXT")
            await client.messages.send(jid, text)
        elif cmd == "/add":
            jid = parse_jid(arg)
            await client.roster.add(jid, name=text or None)
            await client.subscriptions.subscribe(jid)
            say(f"* asked {jid} to see its presence")
        elif cmd == "/remove":
            await client.roster.remove(parse_jid(arg))
        elif cmd == "/accept":
            jid = parse_jid(arg)
            await client.subscriptions.approve(jid)
            say(f"* {jid} may see your presence")
        elif cmd == "/deny":
            jid = parse_jid(arg)
            await client.subscriptions.deny(jid)
            say(f"* refused {jid}")
        elif cmd == "/status":
            show = arg.lower() if arg.lower() in SHOWS else "online"
            status = text if arg.lower() in SHOWS else rest.strip()
            await client.presence.available(show=SHOWS[show], status=status or None)
            say(f"* you are {show}" + (f": {status}" if status else ""))
        else:
            raise UsageError(f"unknown command {cmd}; /help lists them")
        return True


def read_lines(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[Optional[str]]) -> None:
    """stdin, a line at a time, into the queue (None at the end)."""
    for line in sys.stdin:
        loop.call_soon_threadsafe(lines.put_nowait, line)
    loop.call_soon_threadsafe(lines.put_nowait, None)


async def main() -> int:
    args = options.parser("A terminal chat client.").parse_args()
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[Optional[str]] = asyncio.Queue()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lines.put_nowait, None)
    threading.Thread(target=read_lines, args=(loop, lines), daemon=True).start()
    client = Client(**options.client_options(args), reconnect=True)
    try:
        await client.connect()
    except (XMPPError, OSError) as exc:
        say(f"! could not connect: {exc}")
        return 1
    # from now on a lost connection is resumed (XEP-0198) or replaced by a new session
    client.on_disconnected = lambda exc: say("! connection lost; reconnecting")
    client.on_session_started = lambda ev: say("* reconnected" + (" (resumed)" if ev.resumed else ""))
    try:
        chat = Chat(client)
        await client.presence.available()  # fetches the roster first
        say(f"online as {client.bound_jid}, {len(client.roster)} contacts; /help lists the commands")
        while True:
            line = await lines.get()
            try:
                if line is None or not await chat.command(line):
                    break
            except (UsageError, ValueError, XMPPError) as exc:
                say(f"! {exc}")
    finally:
        client.on_disconnected = None  # leaving is not losing the connection
        await client.close()
    say("bye")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
