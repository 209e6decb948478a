"""A scripted XMPP server for the tests: Direct TLS (certificates from ``trustme``), SASL
PLAIN, bind, then whatever misbehaviour a test asks for (a flood, a half stanza and a TLS
close_notify, never answering ``</stream:stream>``...).

Real TLS and a real socket on loopback: only the server's side of the protocol is a
script, because no real server misbehaves on demand.  One connection per server.
"""
from __future__ import annotations

import re
import socket
import ssl
import threading
from typing import Callable, List, Optional

import trustme

DOMAIN = "example.com"
JID = "user@example.com/r"
_CA = trustme.CA()
_CERT = _CA.issue_cert(DOMAIN)

HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='%s' version='1.0'>" % DOMAIN)
FEATURES_SASL = ("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                 "<mechanism>PLAIN</mechanism></mechanisms></stream:features>")
FEATURES_BIND = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"


def message_bytes(i: int) -> bytes:
    return ("<message from='peer@example.com/x' to='%s' type='chat' id='m%d'><body>%d</body></message>"
            % (JID, i, i)).encode()


class HostileServer:
    """Serves one client: negotiates, then runs ``script(server)`` in its thread.

    ``with HostileServer(script) as srv:`` then connect a client with ``srv.client_options()``.
    Leaving the block closes the sockets (a script blocked in ``sendall`` ends with it)
    and joins the thread.
    """

    def __init__(self, script: Callable[["HostileServer"], None]) -> None:
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sock: Optional[ssl.SSLSocket] = None
        self.buffer = b""
        self.sent = 0  # messages sent by flood()
        self.error: Optional[BaseException] = None
        self.stop = threading.Event()
        self._ca_file = _CA.cert_pem.tempfile()
        self._ca_path = self._ca_file.__enter__()
        self.thread = threading.Thread(target=self._run, daemon=True)

    # -- for the test ----------------------------------------------------------------------------
    def client_options(self) -> dict:
        return dict(host="127.0.0.1", port=self.port, direct_tls=True, ca_file=self._ca_path)

    def __enter__(self) -> "HostileServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for sock in (self.sock, self.listener):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        self.thread.join(30)
        self._ca_file.__exit__(None, None, None)

    # -- for the script --------------------------------------------------------------------------
    def read_until(self, pattern: bytes) -> bytes:
        """Read until ``pattern`` (a regex) matches; returns the match, consumes up to it."""
        assert self.sock is not None
        regex = re.compile(pattern, re.S)
        while True:
            match = regex.search(self.buffer)
            if match:
                self.buffer = self.buffer[match.end():]
                return match.group(0)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("client closed")
            self.buffer += data

    def send(self, data: bytes) -> None:
        assert self.sock is not None
        self.sock.sendall(data)

    def flood(self, count: Optional[int], batch: int = 200) -> None:
        """Send numbered chat messages as fast as the socket takes them (None: forever)."""
        while (count is None or self.sent < count) and not self.stop.is_set():
            n = batch if count is None else min(batch, count - self.sent)
            self.send(b"".join(message_bytes(self.sent + i) for i in range(n)))
            self.sent += n

    def answer_iqs(self, ids: List[str]) -> None:
        """Read one IQ request and remember its id."""
        request = self.read_until(rb"<iq[^>]*>")
        ids.append(re.search(rb"id=['\"]([^'\"]+)", request).group(1).decode())

    # -- negotiation ---------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            _CERT.configure_cert(context)
            self.sock = context.wrap_socket(conn, server_side=True)
            self.read_until(rb"<stream:stream[^>]*>")
            self.send((HEADER + FEATURES_SASL).encode())
            self.read_until(rb"</auth>|<auth[^>]*/>")
            self.send(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            self.read_until(rb"<stream:stream[^>]*>")
            self.send((HEADER + FEATURES_BIND).encode())
            request = self.read_until(rb"<iq.*?</iq>")
            iq_id = re.search(rb"id=['\"]([^'\"]+)", request).group(1).decode()
            self.send(("<iq type='result' id='%s'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                       "<jid>%s</jid></bind></iq>" % (iq_id, JID)).encode())
            self.script(self)
        except (OSError, ConnectionError, ValueError) as exc:
            if not self.stop.is_set():
                self.error = exc


def close_notify_after_half_a_stanza(answer_first_iq: bool = False) -> Callable[[HostileServer], None]:
    """Half a stanza, then TLS close_notify; TCP stays open until the test ends."""
    def script(server: HostileServer) -> None:
        if answer_first_iq:
            server.read_until(rb"<iq[^>]*>")  # an IQ the client waits for: never answered
        server.send(b"<message from='peer@example.com/x'><bo")
        assert server.sock is not None
        # the first SSL_shutdown() sends close_notify; unwrap() then waits for the client's
        # own, which need not come: give up on that after a moment, TCP stays up
        server.sock.settimeout(1.0)
        try:
            server.sock.unwrap()
        except (OSError, ValueError):
            pass
        server.stop.wait(60)
    return script


def flood_and_ignore_close(count: Optional[int] = None) -> Callable[[HostileServer], None]:
    """Flood messages (None: until the test ends) and never answer </stream:stream>."""
    def script(server: HostileServer) -> None:
        server.flood(count)
        server.stop.wait(60)
    return script


def never_answer() -> Callable[[HostileServer], None]:
    def script(server: HostileServer) -> None:
        server.stop.wait(60)
    return script


def drip_inside_a_stanza(interval: float = 0.05) -> Callable[[HostileServer], None]:
    """Open a stanza, then send one byte of its text every ``interval`` seconds, forever."""
    def script(server: HostileServer) -> None:
        server.send(b"<message from='peer@example.com/x'><body>")
        while not server.stop.wait(interval):
            server.send(b"a")
    return script
