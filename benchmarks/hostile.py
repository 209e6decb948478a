"""Measurements behind issue 13 parts 2 and 4, against the scripted server of the tests
(tests/hostile_server.py): a flood that coroutine handlers cannot keep up with, and
close() while the server floods and never answers </stream:stream>.

    python benchmarks/hostile.py [--messages 200000] [--handler-wait 0.2]

Prints RSS growth, the most handler tasks in flight, whether every message was handled,
and how long close(close_timeout=2) took in each client.  Times here are reports, not
assertions (the tests check the same properties without clocks).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from hostile_server import JID, HostileServer, flood_and_ignore_close  # noqa: E402

from fastxmpp import aio, sync  # noqa: E402


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def flood(messages: int, wait: float, limit: int) -> None:
    with HostileServer(flood_and_ignore_close(messages)) as srv:
        async def main() -> None:
            c = aio.Client(JID, "pw", keepalive=None, max_pending_handlers=limit, **srv.client_options())
            handled = 0
            peak_tasks = 0
            peak_rss = 0

            @c.on_message
            async def slow(stanza):  # type: ignore[no-untyped-def]
                nonlocal handled
                await asyncio.sleep(wait)
                handled += 1

            before = rss()
            await c.connect()
            while handled < messages:
                await asyncio.sleep(0.05)
                peak_tasks = max(peak_tasks, len(c._tasks))
                peak_rss = max(peak_rss, rss() - before)
            print(f"flood: {messages} messages, handlers await {wait:g}s, max_pending_handlers={limit}: "
                  f"handled {handled}, peak tasks {peak_tasks}, peak RSS growth {peak_rss / 2**20:.1f} MiB")
            await c.close()
        asyncio.run(main())


def close_under_flood(timeout: float) -> None:
    with HostileServer(flood_and_ignore_close(None)) as srv:
        async def main() -> float:
            c = aio.Client(JID, "pw", keepalive=None, close_timeout=timeout, **srv.client_options())
            c.on_message(lambda st: time.sleep(0.001))
            await c.connect()
            await asyncio.sleep(1)
            start = time.monotonic()
            await c.close()
            return time.monotonic() - start
        took = asyncio.run(main())
        print(f"aio close(close_timeout={timeout:g}) under a flood: {took:.2f}s")
    with HostileServer(flood_and_ignore_close(None)) as srv:
        c = sync.Client(JID, "pw", close_timeout=timeout, **srv.client_options())
        c.on_message(lambda st: time.sleep(0.001))
        c.connect()
        end = time.monotonic() + 1
        while time.monotonic() < end:
            c.process(timeout=0.1)
        start = time.monotonic()
        closer = threading.Thread(target=c.close)
        closer.start()
        closer.join()
        print(f"sync close(close_timeout={timeout:g}) under a flood: {time.monotonic() - start:.2f}s, "
              f"{c.dropped_at_close} stanzas dropped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--handler-wait", type=float, default=0.2)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--close-timeout", type=float, default=2.0)
    args = parser.parse_args()
    close_under_flood(args.close_timeout)
    flood(args.messages, args.handler_wait, args.limit)


if __name__ == "__main__":
    main()
