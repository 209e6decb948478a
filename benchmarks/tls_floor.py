"""What a TLS handshake alone costs the client here: the floor under the login benchmark.

    python benchmarks/tls_floor.py [--n 300]

A TLS server (Python's ``ssl``, in a child process, so its CPU is not
counted) accepts connections on 127.0.0.1 with the certificate chain that the
private Prosody of the tests and of ``client_bench.py`` uses (a P-256 CA and
leaf, made by ``fastxmpp.testing.prosody``).  The client, with the context
``client_bench.py`` uses (``fastxmpp.tlsconfig.make_client_context``: system
trust store plus the CA, chain and host name verified), opens ``--n``
connections per variant with blocking sockets; each exchanges one byte each
way and closes.  The report is client CPU (``time.process_time()``) per
connection, and per handshake after subtracting the plain-TCP variant.

No XMPP and no asyncio here: this is the cost of ``ssl`` (OpenSSL) itself,
which no client library on this interpreter can go below.
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


def _serve(port: int, cert: str, key: str, ready, n: int) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    no_tickets = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    no_tickets.load_cert_chain(cert, key)
    no_tickets.num_tickets = 0
    listener = socket.create_server(("127.0.0.1", port), backlog=128)
    ready.set()
    for variant in VARIANTS:
        server_ctx = no_tickets if variant == "tls1.3-no-tickets" else ctx
        for _ in range(n + 1):
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


def measure(n: int) -> Dict[str, float]:
    workdir = tempfile.mkdtemp(prefix="tls-floor-")
    server = ProsodyServer(workdir)
    server.prepare()  # certificates only; Prosody itself is not started
    port = find_free_port()
    ready = multiprocessing.Event()
    child = multiprocessing.Process(target=_serve, daemon=True,
                                    args=(port, str(server.cert_file), str(server.key_file), ready, n))
    child.start()
    ready.wait(10)
    tls13 = make_client_context(ca_file=server.ca_file)
    tls12 = make_client_context(ca_file=server.ca_file)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    out: Dict[str, float] = {}
    for variant in VARIANTS:
        ctx = None if variant == "tcp" else tls12 if variant == "tls1.2" else tls13
        session, _ = _one(port, ctx, None)  # warm-up; its session is the one resumed
        if variant != "tls1.3-resumed":
            session = None
        reused = 0
        t0 = time.process_time()
        for _ in range(n):
            reused += _one(port, ctx, session)[1]
        out[variant] = (time.process_time() - t0) * 1000 / n
        if variant == "tls1.3-resumed":
            out["resumed connections"] = reused
    child.join(10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    res = measure(args.n)
    print(f"{ssl.OPENSSL_VERSION}, Python {sys.version.split()[0]}, {args.n} connections per variant")
    for variant in VARIANTS:
        extra = "" if variant == "tcp" else f"  (TLS: {res[variant] - res['tcp']:.2f} ms)"
        print(f"{variant:18s} {res[variant]:6.2f} ms client CPU per connection{extra}")
    print(f"resumed: {res['resumed connections']:.0f} of {args.n}")


if __name__ == "__main__":
    main()
