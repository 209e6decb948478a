#!/usr/bin/env python
"""MUC fan-out: client CPU per groupchat delivery, fastxmpp vs slixmpp (xep_0045), one Prosody.

    python benchmarks/muc_bench.py [--occupants 50 --messages 500 --rounds 5]

One private Prosody (``ProsodyServer(muc=True)``) runs for the whole benchmark.  Each
library logs in ``--occupants`` accounts in this process and joins them to its own room
(fastxmpp: ``client.muc.join()``, the room created as an instant room; slixmpp: its
``xep_0045`` plugin, ``join_muc_wait()``, the first occupant submitting the empty
configuration form); no history is asked for.  Log-ins and joins are set-up and are not
measured.  Then, per round and alternating between the libraries, one occupant sends
``--messages`` groupchat messages and the benchmark waits until every occupant (the sender
too: the room echoes) has received every one of them: ``occupants * messages``
deliveries, counted exactly in the library's own groupchat handler (fastxmpp:
``client.muc.on_message``; slixmpp: the ``groupchat_message`` event of xep_0045).
``fastxmpp-nosm`` is ``fastxmpp`` without stream management (XEP-0198), as slixmpp runs
here (no ``xep_0198`` plugin): with it, Prosody asks for an ack at the end of nearly every
read and fastxmpp answers each with an ``<a/>`` (a TLS record and a ``send()``), work that
slixmpp's clients are not asked to do; without it both do the same protocol work.
``fastxmpp-raw`` is the floor under fastxmpp: the same clients without ``client.muc``
(raw join presences, a plain ``add_handler("message")`` counting groupchat bodies), i.e.
TLS, tokenizing and dispatch alone; the difference to ``fastxmpp`` is the MUC layer.

What is measured is ``time.process_time()`` of this process from the first send to the
last delivery: the client side only (Prosody is another process, its CPU is not in it):
TLS decryption, parsing, the libraries' stanza objects and MUC handling, the sending
side's building and encryption.  Wall time is shown too, but Prosody's fan-out is what
bounds it.  The table shows the medians over rounds and the median of the per-round
ratios slixmpp / fastxmpp (the two ran seconds apart).  A shortfall (a library that did
not receive every delivery within ``--timeout``) is printed, never hidden.

Run it once per twin (``FASTXMPP_NO_EXTENSIONS=1`` for the pure-Python one).
No timing is asserted anywhere.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _path in (ROOT, HERE):  # fastxmpp from this checkout; client_bench beside this file
    if _path not in sys.path:
        sys.path.insert(0, _path)

from fastxmpp import _accel  # noqa: E402
from fastxmpp.testing.prosody import ProsodyServer  # noqa: E402

PASSWORD = "bench-password"
LIBS = ("fastxmpp", "fastxmpp-nosm", "fastxmpp-raw", "slixmpp")


def slixmpp_available() -> bool:
    """Whether slixmpp imports here."""
    try:
        import slixmpp  # noqa: F401
    except ImportError:
        return False
    return True


def library_versions() -> str:
    """``fastxmpp <version> (<twin>), slixmpp <version>``, for the report's first line."""
    import fastxmpp

    out = [f"fastxmpp {getattr(fastxmpp, '__version__', '?')} "
           f"({'compiled' if _accel.USE_EXTENSIONS else 'pure-Python'} twin)"]
    if slixmpp_available():
        import slixmpp

        out.append(f"slixmpp {slixmpp.__version__}")
    return ", ".join(out) + f", Python {sys.version.split()[0]}"


def start_server(workdir: str, users: List[str], **kw: Any) -> ProsodyServer:
    """A private Prosody in ``workdir`` with ``users`` (password PASSWORD), started."""
    server = ProsodyServer(workdir, **kw)
    server.start()
    server.create_users(users, password=PASSWORD)
    return server


def adapter_config(server: ProsodyServer) -> Dict[str, Any]:
    """The settings client_bench's adapters log in with."""
    return {"domain": server.domain, "password": PASSWORD, "host": server.host, "port": server.port,
            "ca_file": str(server.ca_file)}


class Fastxmpp:
    """Log-in (client_bench's FastxmppAdapter: SCRAM-SHA-1, no keepalive) and close.

    ``stream_management=False`` leaves XEP-0198 out, as slixmpp's clients here (no
    ``xep_0198`` plugin): then neither library answers Prosody's ack requests."""

    name = "fastxmpp"

    def __init__(self, server: ProsodyServer, stream_management: bool = True) -> None:
        from client_bench import FastxmppAdapter

        self.adapter = FastxmppAdapter(adapter_config(server), stream_management=stream_management)
        self.close = self.adapter.close

    async def login(self, user: str) -> Any:
        return await self.adapter.login(user, "fastxmpp")


class Slixmpp:
    """Log-in (client_bench's SlixmppAdapter), then ``plugins`` registered, and close."""

    name = "slixmpp"

    def __init__(self, server: ProsodyServer, plugins: List[str]) -> None:
        from client_bench import SlixmppAdapter

        self.adapter, self.plugins = SlixmppAdapter(adapter_config(server)), plugins
        self.close = self.adapter.close

    async def login(self, user: str) -> Any:
        x = await asyncio.wait_for(self.adapter.login(user, "slixmpp"), 60)
        for plugin in self.plugins:
            x.register_plugin(plugin)
        return x


class Counter:
    """Deliveries so far; ``done`` is set when ``expected`` arrived."""

    def __init__(self) -> None:
        self.count = 0
        self.expected = 0
        self.done = asyncio.Event()

    def reset(self, expected: int) -> None:
        self.count, self.expected = 0, expected
        self.done.clear()

    def hit(self) -> None:
        self.count += 1
        if self.count == self.expected:
            self.done.set()


async def gather_limited(items: List[Any], fn: Callable[[Any], Any], inflight: int = 10) -> List[Any]:
    """``fn(item)`` for each item, at most ``inflight`` at a time, results in order."""
    sem = asyncio.Semaphore(inflight)

    async def one(item: Any) -> Any:
        async with sem:
            return await fn(item)
    return list(await asyncio.gather(*(one(i) for i in items)))


class FastxmppRoom:
    """``occupants`` fastxmpp clients in one room, counting groupchat deliveries."""

    def __init__(self, server: ProsodyServer, users: List[str], counter: Counter) -> None:
        self.lib, self.server, self.users, self.counter = Fastxmpp(server), server, users, counter
        self.room = f"bench-fastxmpp@{server.muc_domain}"

    async def setup(self) -> None:
        from fastxmpp.xep.muc import History

        self.clients = await gather_limited(self.users, self.lib.login)
        hit = self.counter.hit

        def on_message(event: Any) -> None:
            if event.body is not None:
                hit()
        rooms = []
        for i, c in enumerate(self.clients):
            c.muc.on_message(on_message)
            if i == 0:  # the creator first: the room is locked until it is configured
                rooms.append(await c.muc.join(self.room, f"n{i}", history=History(maxstanzas=0)))
        rooms += await gather_limited(
            list(enumerate(self.clients))[1:],
            lambda ic: ic[1].muc.join(self.room, f"n{ic[0]}", history=History(maxstanzas=0), timeout=60))
        self.sender = rooms[0]
        assert len(self.sender.occupants) >= 1

    async def send(self, tag: str, n: int) -> None:
        send = self.sender.send
        for i in range(n):
            await send(f"{tag} message {i}")

    async def close(self) -> None:
        await gather_limited(self.clients, self.lib.close)


class FastxmppNoSMRoom(FastxmppRoom):
    """:class:`FastxmppRoom` without stream management (XEP-0198), like slixmpp's clients
    here: the same protocol work on both sides (no ``<r/>`` from Prosody, no ``<a/>`` sent
    back after each read)."""

    def __init__(self, server: ProsodyServer, users: List[str], counter: Counter) -> None:
        super().__init__(server, users, counter)
        self.lib = Fastxmpp(server, stream_management=False)
        self.room = f"bench-nosm@{server.muc_domain}"


class FastxmppRawRoom(FastxmppRoom):
    """The floor under :class:`FastxmppRoom`: the same clients with no ``client.muc`` (raw
    join presences, groupchat messages counted in a plain ``add_handler("message")``):
    what transport, TLS, tokenizing and dispatch cost without the MUC layer."""

    def __init__(self, server: ProsodyServer, users: List[str], counter: Counter) -> None:
        super().__init__(server, users, counter)
        self.room = f"bench-raw@{server.muc_domain}"

    async def setup(self) -> None:
        from fastxmpp.stanza import message, presence
        from fastxmpp.xep.muc import NS_MUC, History

        # a throw-away client creates and configures the room, and leaves once the raw
        # occupants are in (a room lives while it has occupants)
        creator = await self.lib.login("creator")
        await creator.muc.join(self.room, "creator", history=History(maxstanzas=0))
        self.clients = await gather_limited(self.users, self.lib.login)
        hit = self.counter.hit

        def on_message(stanza: Any) -> None:
            if stanza.get("type") == "groupchat" and stanza.find("{jabber:client}body") is not None:
                hit()

        async def join(ic: Any) -> None:
            i, c = ic
            me = f"{self.room}/n{i}"
            joined = asyncio.get_running_loop().create_future()

            def on_presence(stanza: Any) -> None:
                if stanza.get("from") == me and not joined.done():
                    joined.set_result(stanza)
            c.add_handler("presence", on_presence)
            join = presence(to=me)
            join.subelement("{%s}x" % NS_MUC).subelement("{%s}history" % NS_MUC, {"maxstanzas": "0"})
            await c.send(join)
            await asyncio.wait_for(joined, 60)
            c.remove_handler("presence", on_presence)
            c.add_handler("message", on_message)
        await gather_limited(list(enumerate(self.clients)), join)
        await self.lib.close(creator)
        self.message, self.sender = message, self.clients[0]

    async def send(self, tag: str, n: int) -> None:
        send, message, room = self.sender.send, self.message, self.room
        for i in range(n):
            await send(message(to=room, type="groupchat", body=f"{tag} message {i}"))


class SlixmppRoom:
    """``occupants`` slixmpp clients (xep_0045) in one room, counting groupchat deliveries."""

    def __init__(self, server: ProsodyServer, users: List[str], counter: Counter) -> None:
        self.lib = Slixmpp(server, ["xep_0045", "xep_0004"])
        self.server, self.users, self.counter = server, users, counter
        self.room = f"bench-slixmpp@{server.muc_domain}"

    async def setup(self) -> None:
        from slixmpp import JID

        self.clients = await gather_limited(self.users, self.lib.login)
        hit = self.counter.hit
        room = JID(self.room)

        def on_message(msg: Any) -> None:
            if msg["body"]:
                hit()
        for c in self.clients:
            c.add_event_handler("groupchat_message", on_message)
        first = self.clients[0]
        await first.plugin["xep_0045"].join_muc_wait(room, "n0", maxstanzas=0, timeout=60)
        form = first.plugin["xep_0004"].make_form(ftype="submit")
        await first.plugin["xep_0045"].set_room_config(room, form)  # an instant room
        await gather_limited(
            list(enumerate(self.clients))[1:],
            lambda ic: ic[1].plugin["xep_0045"].join_muc_wait(room, f"n{ic[0]}", maxstanzas=0, timeout=60))

    async def send(self, tag: str, n: int) -> None:
        send_message = self.clients[0].send_message
        for i in range(n):
            send_message(mto=self.room, mbody=f"{tag} message {i}", mtype="groupchat")
        await asyncio.sleep(0)

    async def close(self) -> None:
        await gather_limited(self.clients, self.lib.close)


def occupant_names(lib: str, occupants: int) -> List[str]:
    """The accounts of ``lib``'s occupants (each library its own)."""
    return [f"{lib.replace('-', '')}{i}" for i in range(occupants)]


async def measure(room: Any, counter: Counter, tag: str, messages: int, expected: int,
                  timeout: float) -> Dict[str, float]:
    """One round: CPU and wall time from the first send to the last delivery."""
    counter.reset(expected)
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await room.send(tag, messages)
    try:
        await asyncio.wait_for(counter.done.wait(), timeout)
    except asyncio.TimeoutError:
        pass
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cpu": cpu, "wall": wall, "count": counter.count}


async def run(server: ProsodyServer, occupants: int, messages: int, rounds: int, libs: List[str],
              timeout: float = 120.0, log: Callable[[str], None] = print) -> Dict[str, List[Dict[str, float]]]:
    """Set both rooms up, run ``rounds`` alternating rounds, tear down; per library the
    list of rounds ({"cpu", "wall", "count"})."""
    classes = {"fastxmpp": FastxmppRoom, "fastxmpp-nosm": FastxmppNoSMRoom,
               "fastxmpp-raw": FastxmppRawRoom, "slixmpp": SlixmppRoom}
    counters = {lib: Counter() for lib in libs}
    rooms = {lib: classes[lib](server, occupant_names(lib, occupants), counters[lib])
             for lib in libs}
    try:
        for lib in libs:
            t = time.perf_counter()
            await rooms[lib].setup()
            log(f"{lib}: {occupants} occupants joined in {time.perf_counter() - t:.1f} s")
        await asyncio.sleep(1.0)  # let the join presences drain before the first round
        results: Dict[str, List[Dict[str, float]]] = {lib: [] for lib in libs}
        expected = occupants * messages
        for r in range(rounds):
            order = libs if r % 2 == 0 else libs[::-1]
            for lib in order:
                res = await measure(rooms[lib], counters[lib], f"r{r}", messages, expected, timeout)
                results[lib].append(res)
                short = "" if res["count"] == expected else f"  SHORTFALL: {expected - res['count']} missing"
                log(f"round {r} {lib:12s} cpu {res['cpu']:.3f} s wall {res['wall']:.2f} s "
                    f"deliveries {res['count']}/{expected}{short}")
        return results
    finally:
        for room in rooms.values():
            if hasattr(room, "clients"):
                await room.close()


def summary(results: Dict[str, List[Dict[str, float]]], expected: int, unit: str) -> List[str]:
    """Median CPU per delivered item per library and the median of per-round ratios."""
    lines = []
    for lib, rounds in results.items():
        per = [r["cpu"] / max(r["count"], 1) * 1e6 for r in rounds]
        walls = [r["wall"] for r in rounds]
        got = sum(int(r["count"]) for r in rounds)
        lines.append(f"{lib:12s} median CPU {statistics.median(per):.1f} us per {unit} "
                     f"(min {min(per):.1f}), median wall {statistics.median(walls):.2f} s, "
                     f"{got}/{expected * len(rounds)} received")
    for lib in results:
        if lib == "slixmpp" or "slixmpp" not in results:
            continue
        ratios = [(s["cpu"] / max(s["count"], 1)) / (f["cpu"] / max(f["count"], 1))
                  for s, f in zip(results["slixmpp"], results[lib])]
        lines.append(f"slixmpp / {lib} CPU per {unit}: median {statistics.median(ratios):.1f}x "
                     f"(rounds: {', '.join(f'{x:.1f}' for x in ratios)})")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--occupants", type=int, default=50)
    p.add_argument("--messages", type=int, default=500)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one round's deliveries")
    p.add_argument("--libs", default=",".join(LIBS))
    args = p.parse_args()
    libs = [lib for lib in args.libs.split(",") if lib != "slixmpp" or slixmpp_available()]
    if "slixmpp" in args.libs and "slixmpp" not in libs:
        print("slixmpp is not installed: fastxmpp alone (pip install -r benchmarks/requirements.txt)")
    print(library_versions())
    print(f"{args.occupants} occupants, {args.messages} messages, "
          f"{args.occupants * args.messages} deliveries per library per round, {args.rounds} rounds")
    users = [u for lib in libs for u in occupant_names(lib, args.occupants)] + ["creator"]
    with tempfile.TemporaryDirectory(prefix="muc-bench-") as workdir:
        server = start_server(workdir, users, muc=True)
        try:
            results = asyncio.run(run(server, args.occupants, args.messages, args.rounds, libs, args.timeout))
        finally:
            server.stop()
    for line in summary(results, args.occupants * args.messages, "delivery"):
        print(line)


if __name__ == "__main__":
    main()
