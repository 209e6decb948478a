#!/usr/bin/env python
"""IM layer CPU and memory: fastxmpp.im vs slixmpp's roster and presence handling.

    python benchmarks/im_bench.py [--contacts 5000 --presences 50000 --rounds 5]

Both libraries start from the bytes a server sends and end with their in-memory state:

* ``roster``: one roster result with ``--contacts`` items (name, subscription, one of
  ten groups).  fastxmpp: Tokenizer + ``Roster.apply_result``; slixmpp:
  ``ElementTree.fromstring`` + its ``Iq`` stanza + ``ClientXMPP._handle_roster``.
* ``presence``: a storm of ``--presences`` available presences from ``--contacts``
  contacts with three resources each (show, status, priority).  fastxmpp: Tokenizer +
  ``PresenceTracker.receive``; slixmpp: ElementTree + its ``Presence`` stanza +
  ``_handle_available`` (its roster's resource tracking).
* memory per roster item held (fastxmpp: tracemalloc from before tokenizing to after
  ``apply_result``, once the result's tree is freed).

``--floor`` adds two rows per task that do no IM work, to show what is left for it:
``tokenize`` (the Tokenizer alone) and ``read`` (the Tokenizer, then every element the IM
layer reads, with its tag, text and attributes, built and read, and nothing kept).

Each library runs in this process, alternating, ``--rounds`` times; the table shows the
median CPU (``time.process_time``).  Run it once per twin (``FASTXMPP_NO_EXTENSIONS=1``
for the pure-Python one).  No timing is asserted anywhere.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
import tracemalloc
import xml.etree.ElementTree as ET
from typing import Callable, Dict, List, cast

from fastxmpp import _accel
from fastxmpp.element import Element
from fastxmpp.im import PresenceTracker, Roster
from fastxmpp.tokenizer import Tokenizer

HEADER = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
          b" version='1.0'>")
ME = "me@example.net/bench"


def roster_xml(contacts: int) -> str:
    items = "".join(f"<item jid='contact{i}@example.net' name='Contact {i}' subscription='both'>"
                    f"<group>Group {i % 10}</group></item>" for i in range(contacts))
    return (f"<iq xmlns='jabber:client' type='result' id='r1' to='{ME}'>"
            f"<query xmlns='jabber:iq:roster' ver='1'>{items}</query></iq>")


def presence_xml(contacts: int, presences: int) -> List[str]:
    return [f"<presence xmlns='jabber:client' to='{ME}' from='contact{i % contacts}@example.net/r{i % 3}'>"
            f"<show>{('away', 'xa', 'dnd', 'chat')[i % 4]}</show><status>status {i}</status>"
            f"<priority>{i % 10}</priority></presence>" for i in range(presences)]


def stanzas(data: bytes) -> List[Element]:
    """The stanzas of ``data`` after the stream header, as the client's Tokenizer gives them."""
    tokens = Tokenizer(max_stanza_bytes=len(data) + 1024).feed(HEADER + data)
    return cast(List[Element], tokens[1:])


def fastxmpp_roster(data: bytes) -> Callable[[], None]:
    def run() -> None:
        Roster(ME).apply_result(stanzas(data)[0])
    return run


def fastxmpp_presence(data: bytes) -> Callable[[], None]:
    def run() -> None:
        tracker = PresenceTracker()
        receive = tracker.receive
        for stanza in stanzas(data):
            receive(stanza)
    return run


def tokenize_only(data: bytes) -> Callable[[], None]:
    def run() -> None:
        Tokenizer(max_stanza_bytes=len(data) + 1024).feed(HEADER + data)
    return run


def tokenize_and_read(data: bytes) -> Callable[[], None]:
    def run() -> None:
        for stanza in stanzas(data):
            stanza.get("from")
            for child in stanza:  # presence: show, status, priority; roster: the query
                child.get("jid")
                child.text
                for grandchild in child:  # roster: items
                    grandchild.get("jid")
                    for group in grandchild:
                        group.text
    return run


def slixmpp_roster(data: str) -> Callable[[], None]:
    import slixmpp
    from slixmpp.stanza import Iq

    def run() -> None:
        xmpp = slixmpp.ClientXMPP(ME, "pw")
        xmpp.boundjid = slixmpp.JID(ME)
        xmpp._handle_roster(Iq(xmpp, xml=ET.fromstring(data)))  # type: ignore[no-untyped-call]
    return run


def slixmpp_presence(data: str) -> Callable[[], None]:
    import slixmpp
    from slixmpp.stanza import Presence

    def run() -> None:
        xmpp = slixmpp.ClientXMPP(ME, "pw")
        xmpp.boundjid = slixmpp.JID(ME)
        handle = xmpp._handle_available
        for el in ET.fromstring("<s>" + data + "</s>"):
            handle(Presence(xmpp, xml=el))  # type: ignore[no-untyped-call]
    return run


def cpu(fn: Callable[[], None]) -> float:
    gc.collect()
    start = time.process_time()
    fn()
    return time.process_time() - start


def bytes_per_item(data: bytes, contacts: int) -> float:
    """Memory still held once the roster is built and the result's tree is gone, traced
    from before tokenizing: the strings the roster keeps count whichever twin made them
    (the compiled twin builds them lazily, in ``apply_result``; the pure-Python one while
    tokenizing)."""
    gc.collect()
    tracemalloc.start()
    result = stanzas(data)[0]
    roster = Roster(ME)
    roster.apply_result(result)
    del result
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(roster) == contacts
    return held / contacts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--contacts", type=int, default=5000)
    p.add_argument("--presences", type=int, default=50000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--floor", action="store_true", help="also time the Tokenizer alone, and reading the elements")
    args = p.parse_args()
    asyncio.set_event_loop(asyncio.new_event_loop())  # slixmpp's objects want one
    roster_str = roster_xml(args.contacts)
    presence_list = presence_xml(args.contacts, args.presences)
    tasks: Dict[str, Dict[str, Callable[[], None]]] = {
        "roster": {"fastxmpp": fastxmpp_roster(roster_str.encode())},
        "presence": {"fastxmpp": fastxmpp_presence("".join(presence_list).encode())},
    }
    if args.floor:
        for task, data in (("roster", roster_str.encode()), ("presence", "".join(presence_list).encode())):
            tasks[task]["tokenize"] = tokenize_only(data)
            tasks[task]["read"] = tokenize_and_read(data)
    try:
        tasks["roster"]["slixmpp"] = slixmpp_roster(roster_str)
        tasks["presence"]["slixmpp"] = slixmpp_presence("".join(presence_list))
    except ImportError:
        print("slixmpp is not installed: fastxmpp alone (pip install -r benchmarks/requirements.txt)")
    twin = "compiled" if _accel.USE_EXTENSIONS else "pure-Python"
    print(f"fastxmpp twin: {twin}; {args.contacts} contacts, {args.presences} presences, {args.rounds} rounds")
    for task, libs in tasks.items():
        times: Dict[str, List[float]] = {lib: [] for lib in libs}
        for _ in range(args.rounds):
            for lib, fn in libs.items():
                times[lib].append(cpu(fn))
        medians = {lib: statistics.median(ts) for lib, ts in times.items()}
        line = ", ".join(f"{lib} {ms * 1000:.1f} ms" for lib, ms in medians.items())
        if "slixmpp" in medians:
            line += f"; slixmpp / fastxmpp = {medians['slixmpp'] / medians['fastxmpp']:.1f}x"
            if "read" in medians:
                line += f"; slixmpp / read = {medians['slixmpp'] / medians['read']:.1f}x"
        print(f"{task:9s} CPU (median): {line}")
    print(f"roster memory: {bytes_per_item(roster_str.encode(), args.contacts):.0f} bytes per item held")


if __name__ == "__main__":
    main()
