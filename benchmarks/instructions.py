"""Instructions per parsed stanza, counted by valgrind (cachegrind): a measure that
does not move with the machine's load.

Wall and CPU time on shared VMs drift by up to 2x within minutes; the count of
instructions executed does not (it ignores cache misses and branch prediction, so
it complements the timed runs of ``report.py`` rather than replacing them).

    python benchmarks/instructions.py                   # 300 chunks of 4 KiB, every parser
    python benchmarks/instructions.py --chunks 100 --only "fastxmpp pure-Python" "ET.XMLPullParser"

Each parser runs in its own interpreter under ``valgrind --tool=cachegrind``, twice:
once to import and warm up only, once to also parse the chunks; the difference is
the parse.  ``PYTHONHASHSEED=0`` keeps dict layouts the same between the two.
"""
from __future__ import annotations

import argparse
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

_REFS = re.compile(rb"I\s+refs:\s+([\d,]+)")


def _child(name: str, path: str, parse: bool) -> None:
    import impls

    with open(path, "rb") as f:
        chunks, n = pickle.load(f)
    fn = impls.PARSERS[name]
    args = (chunks, n) if name in impls.RAW else (chunks,)
    warm = (chunks[:8], n) if name in impls.RAW else (chunks[:8],)
    fn(*warm)
    if parse:
        fn(*args)


def _count(name: str, path: str, parse: bool) -> int:
    env = dict(os.environ, PYTHONHASHSEED="0")
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
           sys.executable, os.path.abspath(__file__), "--child", name, path] + (["--parse"] if parse else [])
    out = subprocess.run(cmd, env=env, capture_output=True, check=True).stderr
    match = _REFS.search(out)
    if match is None:
        raise RuntimeError(f"no instruction count from valgrind for {name}:\n{out.decode(errors='replace')}")
    return int(match.group(1).replace(b",", b""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=300)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--child", nargs=2, metavar=("NAME", "PATH"))
    ap.add_argument("--parse", action="store_true")
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], args.parse)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")

    import corpus
    import impls

    chunks, _ = corpus.corpus()
    chunks = list(chunks[: args.chunks])
    data = b"".join(chunks)
    # stanzas completed within the slice: what the handler-less ceilings report too
    n = sum(1 for tok in impls.PARSERS["fastxmpp compiled"](chunks))
    names: List[str] = args.only or [k for k in impls.PARSERS if not k.startswith("aioxmpp")]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "chunks.pickle")
        with open(path, "wb") as f:
            pickle.dump((chunks, n), f)
        counts: Dict[str, int] = {}
        for name in names:
            counts[name] = _count(name, path, True) - _count(name, path, False)
            print(f"  {name}: {counts[name] / n:,.0f} instructions/stanza", file=sys.stderr)

    print(f"## Instructions per stanza ({len(chunks)} chunks, {len(data):,} bytes, {n:,} stanzas; valgrind cachegrind)\n")
    refs = [r for r in ("pyexpat (ns, no handlers)", "ET.XMLPullParser") if r in counts]
    print("| implementation | instructions/stanza | " + " | ".join(f"vs {r} (speed)" for r in refs) + " |")
    print("|---|---:|" + "---:|" * len(refs))
    for name, count in counts.items():
        ratios = " | ".join(f"{counts[r] / count:.2f}x" for r in refs)
        print(f"| {name} | {count / n:,.0f} | {ratios} |")


if __name__ == "__main__":
    main()
