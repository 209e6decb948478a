"""An echo bot on the asyncio client: it answers every chat message with the same text.

    XMPP_JID=bot@example.com XMPP_PASSWORD=secret python examples/echo_bot.py
    python examples/echo_bot.py --jid bot@localhost --host 127.0.0.1 --ca-file ca.pem \\
        --accept accept-roster --max-messages 10

Login options: ``examples/options.py`` (command line or XMPP_* variables).  The bot
approves subscription requests (from anyone, or with ``--accept accept-roster`` only from
contacts in its roster), goes online, and replies with ``reply()``, which keeps the
message's type and thread.  It reconnects when the connection is lost, and stops on
SIGINT/SIGTERM, or after ``--max-messages`` replies.
"""
from __future__ import annotations

import asyncio
import signal

import options
from fastxmpp.aio import Client
from fastxmpp.im import Message


async def main() -> None:
    p = options.parser("Echo chat messages back (asyncio client).")
    p.add_argument("--accept", choices=["accept-all", "accept-roster"], default="accept-all",
                   help="which subscription requests to approve (default: accept-all)")
    p.add_argument("--max-messages", type=int, default=0, help="stop after N replies (0: never)")
    args = p.parse_args()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    replies = 0

    # reconnect=True: a lost connection is resumed (XEP-0198) or replaced, the roster
    # fetched and the presence sent again
    async with Client(**options.client_options(args), reconnect=True) as client:
        client.subscriptions.policy = args.accept

        @client.messages.on_message(types=("chat", "normal"))
        async def echo(msg: Message) -> None:
            nonlocal replies
            if msg.body is None or stop.is_set():  # chat states, receipts... have no body
                return
            await client.messages.reply(msg, msg.body)
            replies += 1
            if replies == args.max_messages:
                stop.set()

        await client.presence.available(status="I repeat what you say")
        print(f"echo bot online as {client.bound_jid}", flush=True)
        await stop.wait()
    print(f"stopped after {replies} replies", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
