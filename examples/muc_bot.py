"""A multi-user chat bot on the asyncio client: it joins a room, greets whoever comes in, and
answers ``!ping``, ``!roll 2d6`` and ``!seen NICK``.

    XMPP_JID=bot@example.com XMPP_PASSWORD=secret python examples/muc_bot.py room@conference.example.com bot
    python examples/muc_bot.py --jid bot@localhost --host 127.0.0.1 --ca-file ca.pem \\
        lobby@conference.localhost bot

Login options: ``examples/options.py`` (command line or XMPP_* variables).  When the
connection is lost (a server restart, say) the client reconnects; a session that could not
be resumed makes ``client.muc`` rejoin the room with the history since the last message
seen (and create it again if the restart forgot it).  Stops on SIGINT/SIGTERM.
"""
from __future__ import annotations

import asyncio
import logging
import random
import re
import signal
import time
from typing import Dict, Optional

import options
from fastxmpp.aio import Client
from fastxmpp.xep.muc import OccupantJoined, OccupantLeft, RoomEvent, RoomJoined, RoomMessage

DICE = re.compile(r"^(\d{1,3})d(\d{1,4})$")


def roll(spec: str, rng: random.Random) -> str:
    """``2d6`` -> "2d6: 3 + 5 = 8"; anything else says how to ask."""
    match = DICE.match(spec.strip().lower())
    if not match or not 1 <= int(match.group(1)) <= 100 or not 2 <= int(match.group(2)) <= 1000:
        return "usage: !roll NdM (1-100 dice of 2-1000 sides), e.g. !roll 2d6"
    dice = [rng.randint(1, int(match.group(2))) for _ in range(int(match.group(1)))]
    return f"{spec.strip()}: {' + '.join(map(str, dice))} = {sum(dice)}"


def ago(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


async def main() -> None:
    p = options.parser("A multi-user chat bot (asyncio client): !ping, !roll NdM, !seen NICK.")
    p.add_argument("room", help="the room to join, e.g. lobby@conference.example.com")
    p.add_argument("nick", help="the bot's nickname in the room")
    p.add_argument("--verbose", action="store_true", help="log what the client does")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    rng = random.Random()
    last_seen: Dict[str, float] = {}  # nick -> when it last spoke or left

    def answer(nick: str, text: str) -> Optional[str]:
        command, _, rest = text.strip().partition(" ")
        if command == "!ping":
            return f"{nick}: pong"
        if command == "!roll":
            return f"{nick} rolled {roll(rest or '1d6', rng)}"
        if command == "!seen":
            who = rest.strip()
            if not who:
                return "usage: !seen NICK"
            if who in room.occupants:
                return f"{who} is here"
            if who in last_seen:
                return f"{who} was last seen {ago(time.time() - last_seen[who])}"
            return f"I have not seen {who}"
        return None

    async with Client(**options.client_options(args), reconnect=True) as client:
        @client.muc.on_event
        async def on_event(event: RoomEvent) -> None:
            logging.info("%s in %s (%s)", type(event).__name__, event.room.jid, getattr(event, "reason", ""))
            if isinstance(event, RoomJoined) and event.rejoined:
                print(f"rejoined {event.room.jid} as {event.room.nick}", flush=True)
            elif isinstance(event, OccupantJoined) and event.renamed_from is None:
                await event.room.send(f"Welcome, {event.occupant.nick}!")
            elif isinstance(event, OccupantLeft):
                last_seen[event.occupant.nick] = time.time()
            elif isinstance(event, RoomMessage) and event.nick and not event.from_me and not event.delayed:
                last_seen[event.nick] = time.time()
                reply = answer(event.nick, event.body or "")
                if reply is None:
                    return
                if event.private:
                    await event.room.send_private(event.nick, reply)
                else:
                    await event.room.send(reply)

        room = await client.muc.join(args.room, args.nick)
        print(f"muc bot in {room.jid} as {room.nick}", flush=True)
        await stop.wait()
        if room.joined:
            await room.leave()
    print("stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
