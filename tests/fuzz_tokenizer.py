"""Differential fuzzing of the two tokenizer twins: same tokens, same error, on any input.

A *case* is a byte stream, the points where it is split into feeds, the limits, and the
calls made between feeds (``compact()``, ``reset()``).  :func:`outcome` runs a case on one
twin and returns everything the caller can see: the tokens of each feed, ``paused``,
``in_stanza``, ``stream_open``, what ``compact()`` and ``close()`` return, and the error (class,
condition, message, the tokens in its ``events``).  The twins agree when the outcomes are equal.

Cases come from :func:`gen_case`, a grammar of XMPP-ish streams (XML declaration, BOM, stream
header with its prefixes and namespaces, stanzas nested with attributes, namespaces, text,
references, comments, PIs, DTDs, CDATA, restarts) followed by byte mutations.  Findings are
kept in ``tests/corpus/tokenizer/`` as small JSON files (:func:`save_case`) and replayed by
``tests/test_tokenizer_fuzz.py`` in the normal suite.

Run outside the suite (see tests/README.md)::

    python3 tests/fuzz_tokenizer.py --count 10000000 --seed 1 --jobs 2
    python3 tests/fuzz_tokenizer.py --atheris -- -runs=100000    # coverage-guided
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fastxmpp import errors  # noqa: E402
from fastxmpp.tokens import StreamEnd, StreamHeader  # noqa: E402

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "tokenizer")

Case = Dict[str, Any]   # {"chunks": [bytes...], "ops": {index: [op...]}, "limits": {...}}


# -- running a case ----------------------------------------------------------------------------

def canon(token: Any) -> Any:
    """A comparable picture of a token that does not depend on the twin."""
    if isinstance(token, (StreamHeader, StreamEnd)):
        return token
    return (token.tag, tuple(sorted(token.attrib.items())), token.text or "", token.tail or "",
            tuple(canon(child) for child in token))


def outcome(Tokenizer: Callable[..., Any], case: Case) -> Tuple[List[Any], Any]:
    """What the caller of one twin sees when it runs ``case``."""
    seen: List[Any] = []
    try:
        tok = Tokenizer(**case["limits"])
        ops = case["ops"]
        for i, chunk in enumerate(case["chunks"]):
            seen.append(("feed", [canon(t) for t in tok.feed(chunk)], tok.paused, tok.in_stanza,
                         tok.stream_open))
            if tok.paused:
                seen.append(("reset", [canon(t) for t in tok.reset()], tok.in_stanza))
            for op in ops.get(i, ()):
                if op == "compact":
                    seen.append(("compact", tok.compact()))
                elif op == "reset":
                    seen.append(("reset", [canon(t) for t in tok.reset()], tok.in_stanza))
        seen.append(("close", tok.close(), tok.in_stanza))
    except errors.StreamError as exc:
        return seen, (type(exc).__name__, exc.condition, str(exc), [canon(t) for t in exc.events])
    except Exception as exc:   # a crash: never an agreement
        return seen, ("CRASH", type(exc).__name__, str(exc), id(exc))
    return seen, None


def twins() -> Tuple[Any, Any]:
    from fastxmpp import _tokenizer_c, _tokenizer_py
    return _tokenizer_c.Tokenizer, _tokenizer_py.Tokenizer


def differ(case: Case, pair: Optional[Tuple[Any, Any]] = None) -> Optional[Tuple[Any, Any]]:
    """None if the twins agree on ``case``, else both outcomes (compiled, Python)."""
    compiled, python = pair or twins()
    got, want = outcome(compiled, case), outcome(python, case)
    return None if got == want else (got, want)


# -- the grammar ---------------------------------------------------------------------------------

NS_STREAMS = "http://etherx.jabber.org/streams"
TLS = "urn:ietf:params:xml:ns:xmpp-tls"
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NAMES = ["message", "iq", "presence", "body", "x", "query", "item", "a", "b", "stream:features",
         "stream:error", "p:y", "q:z", "message", "body", "\u00e9l\u00e9ment", "x-y.z_1"]
TEXTS = ["hi", "a&amp;b", "&lt;&gt;&quot;&apos;", "&#x41;&#65;", "\u00e9\u4e2d\U0001f600", " \r\n\t ",
         "]]", "x" * 40, "&#x10FFFF;", "\u200b", "\ufeff", "y" * 300]
BAD_TEXTS = ["]]>", "&#0;", "&#xD800;", "&bogus;", "&", "<", "\x01"]
VALUES = ["1", "a b", "&amp;", "&#9;", "x" * 20, "", "\u00e9", "'", "&#x3C;", "urn:x", TLS, "jabber:client"]
SPECIALS = ["<!-- c -->", "<?pi x?>", "<!DOCTYPE x>", "<![CDATA[ <a> ]]>", "<![CDATA[]]>",
            "<?xml version='1.0'?>", "<!ENTITY x 'y'>", "<!x>", "<!-", "<!--", "<?", "<![CDAT",
            "</stream:stream>", "<stream:stream>"]
PIECES = [b"<", b">", b"/", b"'", b'"', b"&", b"&amp;", b"&#0;", b"\xff", b"\xc3", b"\x00", b" ",
          b"xmlns='u'", b"xmlns:p='u'", b"xmlns=''", b"p:", b"xml:", b"=", b"]]>", b"<!--", b"<?",
          b"<!DOCTYPE", b"</stream:stream>", b"\r\n", b"\xef\xbb\xbf", b"a", b":", b"-->",
          b"<![CDATA[", b"\xf0\x9f", b"\xf0", b"\xe4\xb8", b"\xf0 ", b"\xed\xa0\x80", b"\xc0\x80",
          b"\xf4\x90\x80\x80", b"\x80", b"\xfe\xff", b"?>", b"<?xml", b"\t", b"\x01", b"\x7f"]


def _attrs(rng: random.Random, prefixes: List[str]) -> str:
    out = []
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
        r = rng.random()
        if r < 0.15:
            p = rng.choice(("p", "q", "p", "q", "xml", "xmlns", "stream", "", ""))
            out.append(f"xmlns:{p}='{rng.choice(VALUES)}'" if p else f"xmlns='{rng.choice(VALUES)}'")
            if p:
                prefixes.append(p)
        elif r < 0.25:
            out.append(f"{rng.choice(prefixes + ['xml', 'p'])}:{rng.choice(('a', 'lang', 'b'))}='{rng.choice(VALUES)}'")
        else:
            q = rng.choice("'\"")
            out.append(f"{rng.choice(('to', 'from', 'id', 'type', 'a', 'to'))}={q}{rng.choice(VALUES).replace(q, '')}{q}")
    return "".join(" " + a for a in out)


def _element(rng: random.Random, depth: int, prefixes: List[str]) -> str:
    name = rng.choice(NAMES)
    attrs = _attrs(rng, list(prefixes))
    if depth > 5 or rng.random() < 0.3:
        return f"<{name}{attrs}/>"
    body = []
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        r = rng.random()
        if r < 0.45:
            body.append(_element(rng, depth + 1, prefixes))
        elif r < 0.9:
            body.append(rng.choice(TEXTS if rng.random() < 0.95 else BAD_TEXTS))
        else:
            body.append(rng.choice(SPECIALS))
    end = name if rng.random() < 0.99 else rng.choice(NAMES)
    return f"<{name}{attrs}>{''.join(body)}</{end}>"


GOOD_HEADER = ("<stream:stream xmlns='jabber:client' xmlns:stream='%s' from='example.com' id='s1'"
               " version='1.0' xml:lang='en'>" % NS_STREAMS)


def _header(rng: random.Random) -> str:
    if rng.random() < 0.8:   # mostly a good header, so that the stanzas after it are reached
        return rng.choice(("", "<?xml version='1.0'?>", "<?xml version='1.0' encoding='UTF-8'?>\n")) + GOOD_HEADER
    parts = []
    if rng.random() < 0.1:
        parts.append("\ufeff")
    if rng.random() < 0.5:
        parts.append(rng.choice(["<?xml version='1.0'?>", "<?xml version=\"1.0\" encoding='utf8'?>",
                                 "<?xml version='1.0' encoding='latin1'?>", "<?xml version='1.0' standalone='yes'?>",
                                 "<?xml version='1.0'", "<?xml?>", " <?xml version='1.0'?>", "\n"]))
    prefix = rng.choice(["stream"] * 4 + ["s", "", "stream"])
    tag = f"{prefix}:stream" if prefix else "stream"
    decl = f"xmlns:{prefix}='{NS_STREAMS}'" if prefix else f"xmlns='{NS_STREAMS}'"
    if rng.random() < 0.1:
        decl = decl.replace("streams", "stream")
    default = rng.choice(["xmlns='jabber:client'"] * 3 + ["xmlns=''", "xmlns='jabber:server'", "", "xmlns:x='jabber:client'"])
    attrs = " ".join(a for a in (default, decl, "from='example.com'", "id='s1'", "version='1.0'",
                                 "xml:lang='en'") if a)
    parts.append(f"<{tag} {attrs}>")
    return "".join(parts)


def gen_stream(rng: random.Random) -> bytes:
    """An XMPP-ish stream: header, stanzas (some nested deep), specials, restarts, end."""
    out = [_header(rng)]
    for _ in range(rng.choice((0, 1, 2, 3, 4, 6))):
        r = rng.random()
        if r < 0.75:
            out.append(_element(rng, 1, ["stream"]))
        elif r < 0.8:
            out.append(f"<proceed xmlns='{TLS}'/>" if rng.random() < 0.5 else f"<success xmlns='{SASL}'>x</success>")
            out.append(_header(rng))
        elif r < 0.9:
            out.append(rng.choice(SPECIALS))
        else:
            out.append(rng.choice((" ", "\n", "  \r\n", "text", "&amp;")))
    if rng.random() < 0.5:
        out.append("</stream:stream>")
    return "".join(out).encode("utf-8", "surrogatepass")


def mutate(rng: random.Random, data: bytes, pieces: Sequence[bytes] = PIECES, lo: int = 0, copy_lo: int = 0,
           rounds: Callable[[random.Random], int] = lambda rng: rng.choice((0, 0, 0, 1, 1, 2, 3, 5))) -> bytes:
    """``data`` with a few byte runs deleted, inserted (from ``pieces`` or copied from
    ``copy_lo`` on) or changed at or after ``lo``."""
    buf = bytearray(data)
    for _ in range(rounds(rng)):
        i = rng.randrange(lo, len(buf) + 1)
        op = rng.random()
        if op < 0.3:
            del buf[i:i + rng.randint(1, 6)]
        elif op < 0.7:
            buf[i:i] = rng.choice(pieces)
        elif op < 0.85 and i < len(buf):
            buf[i] = rng.randrange(256)
        else:
            j = rng.randrange(copy_lo, len(buf) + 1)
            buf[i:i] = buf[j:j + rng.randint(1, 30)]
    return bytes(buf)


def split(rng: random.Random, data: bytes) -> List[bytes]:
    if len(data) < 200 and rng.random() < 0.05:
        cuts = list(range(len(data) + 1))
    else:
        cuts = sorted({rng.randrange(len(data) + 1) for _ in range(rng.choice((0, 1, 2, 3, 5, 8)))} | {0, len(data)})
    chunks = [data[a:b] for a, b in zip(cuts, cuts[1:])]
    if rng.random() < 0.05:
        chunks.insert(rng.randrange(len(chunks) + 1), b"")
    return chunks or [b""]


def gen_case(rng: random.Random) -> Case:
    data = mutate(rng, gen_stream(rng))
    chunks = split(rng, data)
    limits: Dict[str, int] = {}
    r = rng.random()
    if r < 0.15:
        limits["max_stanza_bytes"] = rng.randint(1, 40)
    elif r < 0.45:
        limits["max_stanza_bytes"] = rng.randint(40, 400)
    if rng.random() < 0.25:
        limits["max_depth"] = rng.randint(1, 4)
    ops: Dict[int, List[str]] = {}
    for i in range(len(chunks)):
        r = rng.random()
        if r < 0.2:
            ops[i] = ["compact"]
        elif r < 0.23:
            ops[i] = ["reset"]
        elif r < 0.25:
            ops[i] = ["compact", "reset"]
    return {"chunks": chunks, "ops": ops, "limits": limits}


# -- the corpus ------------------------------------------------------------------------------------

def case_to_json(case: Case, note: str = "") -> str:
    doc = {"note": note, "limits": case["limits"],
           "ops": {str(k): v for k, v in sorted(case["ops"].items())},
           "chunks": [c.decode("latin-1") for c in case["chunks"]]}
    return json.dumps(doc, ensure_ascii=True, indent=1) + "\n"


def case_from_json(text: str) -> Case:
    doc = json.loads(text)
    return {"chunks": [c.encode("latin-1") for c in doc["chunks"]],
            "ops": {int(k): v for k, v in doc.get("ops", {}).items()},
            "limits": doc.get("limits", {})}


def corpus_files() -> List[str]:
    if not os.path.isdir(CORPUS):
        return []
    return sorted(f for f in os.listdir(CORPUS) if f.endswith(".json"))


def shrink(case: Case, pair: Optional[Tuple[Any, Any]] = None) -> Case:
    """A smaller case on which the twins still disagree (greedy: drop ops, merge feeds,
    delete byte runs, drop limits)."""
    pair = pair or twins()

    def bad(c: Case) -> bool:
        return differ(c, pair) is not None

    case = {"chunks": list(case["chunks"]), "ops": dict(case["ops"]), "limits": dict(case["limits"])}
    changed = True
    while changed:
        changed = False
        for k in list(case["ops"]):
            trial = dict(case, ops={i: v for i, v in case["ops"].items() if i != k})
            if bad(trial):
                case, changed = trial, True
        for k in list(case["limits"]):
            trial = dict(case, limits={n: v for n, v in case["limits"].items() if n != k})
            if bad(trial):
                case, changed = trial, True
        i = 0
        while i + 1 < len(case["chunks"]):
            chunks = case["chunks"][:i] + [case["chunks"][i] + case["chunks"][i + 1]] + case["chunks"][i + 2:]
            ops = {(j if j <= i else j - 1): v for j, v in case["ops"].items() if j != i}
            trial = dict(case, chunks=chunks, ops=ops)
            if bad(trial):
                case, changed = trial, True
            else:
                i += 1
        for size in (16, 4, 1):
            ci = 0
            while ci < len(case["chunks"]):
                chunk = case["chunks"][ci]
                pos = 0
                while pos < len(chunk):
                    smaller = chunk[:pos] + chunk[pos + size:]
                    trial = dict(case, chunks=case["chunks"][:ci] + [smaller] + case["chunks"][ci + 1:])
                    if bad(trial):
                        case, chunk, changed = trial, smaller, True
                    else:
                        pos += size
                ci += 1
    return case


# -- drivers -----------------------------------------------------------------------------------------

def run_seeded(seed: int, count: int, on_finding: Optional[Callable[[Case, Any], None]] = None,
               pair: Optional[Tuple[Any, Any]] = None) -> int:
    """Run ``count`` generated cases from ``random.Random(seed)``; return how many disagreed."""
    rng = random.Random(seed)
    pair = pair or twins()
    found = 0
    for _ in range(count):
        case = gen_case(rng)
        diff = differ(case, pair)
        if diff is not None:
            found += 1
            if on_finding is not None:
                on_finding(case, diff)
    return found


def _main_random(args: argparse.Namespace) -> int:
    import multiprocessing

    out_dir = args.findings
    os.makedirs(out_dir, exist_ok=True)
    per_job = args.count // args.jobs
    start = time.time()
    with multiprocessing.Pool(args.jobs) as pool:
        results = pool.starmap(_job, [(args.seed + j, per_job, out_dir, args.block) for j in range(args.jobs)])
    total = sum(r[0] for r in results)
    found = sum(r[1] for r in results)
    print(json.dumps({"inputs": total, "disagreements": found, "seconds": round(time.time() - start, 1),
                      "jobs": args.jobs, "seed": args.seed, "findings": out_dir}), flush=True)
    return 1 if found else 0


def _job(seed: int, count: int, out_dir: str, block: int) -> Tuple[int, int]:
    pair = twins()
    done = found = 0
    kinds: Dict[Any, int] = {}
    start = time.time()
    while done < count:
        n = min(block, count - done)
        block_seed = seed * 1_000_003 + done

        def keep(case: Case, diff: Any) -> None:
            nonlocal found
            found += 1
            kind = (diff[0][1] and diff[0][1][0], diff[1][1] and diff[1][1][0])
            kinds[kind] = kinds.get(kind, 0) + 1
            if kinds[kind] <= 3:     # a few of each kind, shrunk
                small = shrink(case, pair)
                name = os.path.join(out_dir, f"s{seed}-{done}-{found}.json")
                with open(name, "w") as f:
                    f.write(case_to_json(small, f"seed {seed} block {block_seed}: {kind}"))

        run_seeded(block_seed, n, keep, pair)
        done += n
        print(json.dumps({"job": seed, "done": done, "found": found, "seconds": round(time.time() - start, 1)}),
              flush=True)
    return done, found


def _main_atheris(argv: Sequence[str]) -> None:
    # atheris.Setup() loads libFuzzer; with RTLD_GLOBAL its coverage hooks are there for a
    # compiled twin built by clang with -fsanitize-coverage (tests/README.md), which is
    # therefore imported after Setup()
    sys.setdlopenflags(sys.getdlopenflags() | os.RTLD_GLOBAL)
    import atheris

    with atheris.instrument_imports(include=["fastxmpp"]):
        from fastxmpp import _tokenizer_base, _tokenizer_py  # noqa: F401
    pair: List[Any] = []
    header = gen_stream(random.Random(0)).split(b">", 1)[0] + b">"

    def target(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        flags = fdp.ConsumeInt(1)
        limits: Dict[str, int] = {}
        if flags & 1:
            limits["max_stanza_bytes"] = fdp.ConsumeIntInRange(1, 400)
        if flags & 2:
            limits["max_depth"] = fdp.ConsumeIntInRange(1, 4)
        cuts = sorted({fdp.ConsumeIntInRange(0, 255) for _ in range(fdp.ConsumeIntInRange(0, 6))})
        ops = {i: ["compact"] for i in range(8) if flags & (4 << (i % 5)) and i % 2}
        body = fdp.ConsumeBytes(fdp.remaining_bytes())
        stream = (header if flags & 128 else b"") + body
        bounds = [0] + [c for c in cuts if c < len(stream)] + [len(stream)]
        case = {"chunks": [stream[a:b] for a, b in zip(bounds, bounds[1:])], "ops": ops, "limits": limits}
        diff = differ(case, (pair[0], pair[1]))
        if diff is not None:
            raise AssertionError("twins disagree:\n" + case_to_json(case) + repr(diff))

    for arg in argv:   # an empty corpus directory starts from grammar streams
        if not arg.startswith("-") and os.path.isdir(arg) and not os.listdir(arg):
            rng = random.Random(0)
            for k in range(200):
                with open(os.path.join(arg, f"seed{k}"), "wb") as f:
                    f.write(b"\x00\x00" + gen_stream(rng))
    atheris.Setup([sys.argv[0]] + list(argv), target)
    pair.extend(twins())
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--block", type=int, default=100_000, help="progress line every this many inputs")
    parser.add_argument("--findings", default=os.path.join(os.getcwd(), "fuzz-findings"))
    parser.add_argument("--replay", metavar="FILE", help="run one corpus file and print both outcomes")
    parser.add_argument("--atheris", action="store_true", help="coverage-guided; libFuzzer flags after --")
    args, rest = parser.parse_known_args()
    if args.atheris:
        _main_atheris([a for a in rest if a != "--"])
        return 0
    if args.replay:
        with open(args.replay) as f:
            case = case_from_json(f.read())
        compiled, python = twins()
        print("c: ", outcome(compiled, case))
        print("py:", outcome(python, case))
        return 0
    return _main_random(args)


if __name__ == "__main__":
    sys.exit(main())
