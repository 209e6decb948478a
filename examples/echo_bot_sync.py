"""The echo bot of ``echo_bot.py`` on the blocking client (no asyncio, no threads).

    XMPP_JID=bot@example.com XMPP_PASSWORD=secret python examples/echo_bot_sync.py

Same options and behaviour: approves subscriptions, goes online, replies keeping the
message's type and thread, reconnects when the connection is lost, stops on SIGINT/SIGTERM
or after ``--max-messages`` replies.
"""
from __future__ import annotations

import signal
from typing import List, Union

import options
from fastxmpp.im import Message
from fastxmpp.sync import Client, ConnectionLost


def main() -> None:
    p = options.parser("Echo chat messages back (blocking client).")
    p.add_argument("--accept", choices=["accept-all", "accept-roster"], default="accept-all")
    p.add_argument("--max-messages", type=int, default=0, help="stop after N replies (0: never)")
    args = p.parse_args()
    stopping: List[Union[int, str]] = []  # a signal number, or "max"
    replies = 0
    for sig in (signal.SIGINT, signal.SIGTERM):  # a flag: the loop below stops between reads
        signal.signal(sig, lambda signum, frame: stopping.append(signum))

    with Client(**options.client_options(args)) as client:
        client.subscriptions.policy = args.accept

        @client.messages.on_message(types=("chat", "normal"))
        def echo(msg: Message) -> None:
            nonlocal replies
            if msg.body is None or stopping:  # chat states, receipts... have no body
                return
            client.messages.reply(msg, msg.body)
            replies += 1
            if replies == args.max_messages:
                stopping.append("max")

        client.presence.available(status="I repeat what you say")
        print(f"echo bot online as {client.bound_jid}", flush=True)
        while not stopping:
            try:
                client.process(timeout=1.0)
            except ConnectionLost:  # resumed (XEP-0198), or a fresh session with presence restored
                client.reconnect()
    print(f"stopped after {replies} replies", flush=True)


if __name__ == "__main__":
    main()
