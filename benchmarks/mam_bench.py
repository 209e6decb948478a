#!/usr/bin/env python
"""MAM paging: client CPU to page through an archive, fastxmpp vs slixmpp (xep_0313), one Prosody.

    python benchmarks/mam_bench.py [--archived 10000 --page 50 --rounds 5]

One private Prosody with mod_mam (``ProsodyServer(modules=("mam",))``).  Once, a fastxmpp
client sends ``--archived`` chat messages (bodies ``archived 0``, ``archived 1``, ...) to a
second account, so they are in the sender's archive; an archive query then confirms the
archive holds them all (not measured).  Then, per round and alternating, each library
pages through the whole archive oldest first, ``--page`` messages a page (Prosody's
default ``max_archive_query_results`` is 50): fastxmpp ``client.mam.pages(max=N)``,
reading each :class:`~fastxmpp.xep.mam.ArchivedMessage`'s body; slixmpp
``plugin["xep_0313"].iterate(rsm={"max": N})``, reading each result's forwarded body.
Measured: ``time.process_time()`` of this process (the client side only; Prosody is
another process) from the first query to the last page.  After each round the bodies
are checked: all ``--archived`` of them, in order; a shortfall is printed.

Run it once per twin (``FASTXMPP_NO_EXTENSIONS=1`` for the pure-Python one).
No timing is asserted anywhere.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from muc_bench import (Fastxmpp, Slixmpp, library_versions, slixmpp_available,  # noqa: E402
                       start_server, summary)

from fastxmpp.testing.prosody import ProsodyServer  # noqa: E402

LIBS = ("fastxmpp", "slixmpp")


async def fill_archive(server: ProsodyServer, client: Any, n: int) -> None:
    """Send ``n`` chat messages from ``client`` to bob; wait until the archive has them."""
    from fastxmpp.stanza import message

    to = f"bob@{server.domain}"
    for i in range(n):
        await client.send(message(to=to, type="chat", body=f"archived {i}"))
    page = await client.mam.query(max=1, before="", timeout=120)  # after every message above
    if page.count is not None and page.count < n:
        raise RuntimeError(f"the archive holds {page.count} messages, not {n}")


async def fastxmpp_pages(client: Any, page: int) -> List[str]:
    """Every archived body, oldest first, through ``client.mam.pages``."""
    bodies: List[str] = []
    async for p in client.mam.pages(max=page, timeout=60):
        bodies.extend(m.body for m in p)
    return bodies


async def slixmpp_pages(x: Any, page: int) -> List[str]:
    """Every archived body, oldest first, through slixmpp's xep_0313 ``iterate``."""
    bodies: List[str] = []
    async for msg in x.plugin["xep_0313"].iterate(rsm={"max": page}):
        bodies.append(msg["mam_result"]["forwarded"]["stanza"]["body"])
    return bodies


def check(bodies: List[str], n: int) -> int:
    """How many of the expected bodies arrived in order (n when all did)."""
    good = 0
    for i, body in enumerate(bodies):
        if body != f"archived {i}":
            break
        good += 1
    return good if len(bodies) == n else min(good, len(bodies))


async def run(server: ProsodyServer, archived: int, page: int, rounds: int, libs: List[str],
              log: Callable[[str], None] = print) -> Dict[str, List[Dict[str, float]]]:
    """Fill the archive once, then ``rounds`` alternating passes per library."""
    fx = Fastxmpp(server)
    clients: Dict[str, Any] = {"fastxmpp": await fx.login("alice")}
    closers = {"fastxmpp": fx.close}
    try:
        t = time.perf_counter()
        await fill_archive(server, clients["fastxmpp"], archived)
        log(f"archived {archived} messages in {time.perf_counter() - t:.1f} s")
        if "slixmpp" in libs:
            sx = Slixmpp(server, ["xep_0313"])
            clients["slixmpp"] = await sx.login("alice")
            closers["slixmpp"] = sx.close
        passes = {"fastxmpp": fastxmpp_pages, "slixmpp": slixmpp_pages}
        results: Dict[str, List[Dict[str, float]]] = {lib: [] for lib in libs}
        for r in range(rounds):
            for lib in (libs if r % 2 == 0 else libs[::-1]):
                gc.collect()
                cpu0, wall0 = time.process_time(), time.perf_counter()
                bodies = await passes[lib](clients[lib], page)
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                good = check(bodies, archived)
                results[lib].append({"cpu": cpu, "wall": wall, "count": good})
                short = "" if good == archived else f"  SHORTFALL: {len(bodies)} received, {good} in order"
                log(f"round {r} {lib:12s} cpu {cpu:.3f} s wall {wall:.2f} s messages {good}/{archived}{short}")
        return results
    finally:
        for lib, c in clients.items():
            await closers[lib](c)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archived", type=int, default=10000)
    p.add_argument("--page", type=int, default=50)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--libs", default=",".join(LIBS))
    args = p.parse_args()
    libs = [lib for lib in args.libs.split(",") if lib != "slixmpp" or slixmpp_available()]
    print(library_versions())
    print(f"{args.archived} archived messages, pages of {args.page}, {args.rounds} rounds")
    with tempfile.TemporaryDirectory(prefix="mam-bench-") as workdir:
        server = start_server(workdir, ["alice", "bob"], modules=("mam",))
        try:
            results = asyncio.run(run(server, args.archived, args.page, args.rounds, libs))
        finally:
            server.stop()
    for line in summary(results, args.archived, "message"):
        print(line)


if __name__ == "__main__":
    main()
