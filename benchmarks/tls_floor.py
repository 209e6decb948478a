"""What a TLS handshake alone costs the client here: the floor under the login benchmark.

    python benchmarks/tls_floor.py [--n 300] [--blocks]

A TLS server (Python's ``ssl``, in a child process, so its CPU is not
counted) accepts connections on 127.0.0.1 with the certificate chain that the
private Prosody of the tests and of ``client_bench.py`` uses (a P-256 CA and
leaf, made by ``fastxmpp.testing.prosody``).  The client, with the context
``client_bench.py`` uses (``fastxmpp.tlsconfig.make_client_context``: system
trust store plus the CA, chain and host name verified), opens ``--n``
connections per variant with blocking sockets; each exchanges one byte each
way and closes.  The variants take turns connection by connection (``--blocks``:
all connections of one variant, then the next), because on this VM a variant's
CPU time depends on what ran just before it.  The report is client CPU
(``time.thread_time()`` around each connection) per connection, and per
handshake after subtracting the plain-TCP variant.

No XMPP and no asyncio here: this is the cost of ``ssl`` (OpenSSL) itself,
which no client library on this interpreter can go below.

When pyOpenSSL is installed, two more variants run the same handshakes through
it, on the OpenSSL that the ``cryptography`` wheel bundles (usually newer than
the system's): the chain is verified against the same CA, the host name is
not checked (pyOpenSSL has no such check; it costs microseconds).  This shows
how much of the floor a newer OpenSSL would remove; the benchmark itself uses
``ssl.SSLContext``, as the issue prescribes.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import ssl
import sys
import tempfile
import time
from typing import Dict, Optional

try:
    import fastxmpp  # noqa: F401
except ImportError:  # run from a checkout: use the in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastxmpp.testing.prosody import ProsodyServer, find_free_port
from fastxmpp.tlsconfig import make_client_context

# tls1.3: the server sends two session tickets after the handshake, as Prosody
# 0.12 does (checked with its Direct TLS port); the client reads them with the
# first application data.  tls1.3-no-tickets: the server sends none.
VARIANTS = ("tcp", "tls1.3", "tls1.3-no-tickets", "tls1.3-resumed", "tls1.2")
PYOPENSSL_VARIANTS = ("pyopenssl-tls1.3", "pyopenssl-tls1.3-no-tickets")

try:
    from OpenSSL import SSL as _pyopenssl
except ImportError:  # optional
    _pyopenssl = None


def _variants():
    return VARIANTS + (PYOPENSSL_VARIANTS if _pyopenssl is not None else ())


def _order(variants, n: int, blocks: bool):
    """The variant of each connection, warm-ups included (the same list on both sides)."""
    if blocks:
        return [v for v in variants for _ in range(n + 1)]
    return [v for _ in range(n + 1) for v in variants]


def _serve(port: int, cert: str, key: str, ready, order) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    no_tickets = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    no_tickets.load_cert_chain(cert, key)
    no_tickets.num_tickets = 0
    listener = socket.create_server(("127.0.0.1", port), backlog=128)
    ready.set()
    for variant in order:
        server_ctx = no_tickets if variant.endswith("no-tickets") else ctx
        conn, _ = listener.accept()
        try:
            s = conn if variant == "tcp" else server_ctx.wrap_socket(conn, server_side=True)
            s.sendall(b"y")
            s.recv(1)
        except OSError:
            pass
        finally:
            conn.close()


def _one(port: int, ctx: Optional[ssl.SSLContext], session: Optional[ssl.SSLSession]):
    sock = socket.create_connection(("127.0.0.1", port))
    s = sock if ctx is None else ctx.wrap_socket(sock, server_hostname="localhost", session=session)
    s.recv(1)  # in TLS 1.3 the session ticket arrives with this read
    s.sendall(b"x")
    result = (s.session, s.session_reused) if ctx is not None else (None, False)
    s.close()
    return result


def _one_pyopenssl(port: int, ctx) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    conn = _pyopenssl.Connection(ctx, sock)
    conn.set_tlsext_host_name(b"localhost")
    conn.set_connect_state()
    conn.do_handshake()
    conn.recv(1)
    conn.sendall(b"x")
    conn.shutdown()
    sock.close()


def _pyopenssl_context(ca_file: str):
    ctx = _pyopenssl.Context(_pyopenssl.TLS_CLIENT_METHOD)
    ctx.set_verify(_pyopenssl.VERIFY_PEER)
    ctx.set_default_verify_paths()
    ctx.load_verify_locations(ca_file)
    return ctx


def measure(n: int, blocks: bool = False) -> Dict[str, float]:
    workdir = tempfile.mkdtemp(prefix="tls-floor-")
    server = ProsodyServer(workdir)
    server.prepare()  # certificates only; Prosody itself is not started
    port = find_free_port()
    ready = multiprocessing.Event()
    order = _order(_variants(), n, blocks)
    child = multiprocessing.Process(target=_serve, daemon=True,
                                    args=(port, str(server.cert_file), str(server.key_file), ready,
                                          order))
    child.start()
    ready.wait(10)
    tls13 = make_client_context(ca_file=server.ca_file)
    tls12 = make_client_context(ca_file=server.ca_file)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    pctx = _pyopenssl_context(str(server.ca_file)) if _pyopenssl is not None else None
    contexts = {"tcp": None, "tls1.2": tls12}
    cpu = {v: 0.0 for v in _variants()}
    warmed = set()   # each variant's first connection is its warm-up, not counted
    session = None
    reused = 0
    for variant in order:
        warm_up = variant not in warmed
        warmed.add(variant)
        t0 = time.thread_time()
        if variant.startswith("pyopenssl"):
            _one_pyopenssl(port, pctx)
        else:
            resumed = variant == "tls1.3-resumed"
            got, was_reused = _one(port, contexts.get(variant, tls13), session if resumed else None)
            if resumed and warm_up:
                session = got  # the warm-up's session is the one resumed
            elif resumed:
                reused += was_reused
        if not warm_up:
            cpu[variant] += time.thread_time() - t0
    child.join(10)
    out = {v: t * 1000 / n for v, t in cpu.items()}
    out["resumed connections"] = reused
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--blocks", action="store_true",
                    help="all connections of one variant, then the next (default: interleaved)")
    args = ap.parse_args()
    res = measure(args.n, args.blocks)
    how = "in blocks" if args.blocks else "interleaved"
    print(f"{ssl.OPENSSL_VERSION}, Python {sys.version.split()[0]}, {args.n} connections per variant, {how}")
    if _pyopenssl is not None:
        print(f"pyopenssl-*: {_pyopenssl.OpenSSL_version(_pyopenssl.OPENSSL_VERSION).decode()} (pyOpenSSL)")
    for variant in _variants():
        extra = "" if variant == "tcp" else f"  (TLS: {res[variant] - res['tcp']:.2f} ms)"
        print(f"{variant:27s} {res[variant]:6.2f} ms client CPU per connection{extra}")
    print(f"resumed: {res['resumed connections']:.0f} of {args.n}")


if __name__ == "__main__":
    main()
