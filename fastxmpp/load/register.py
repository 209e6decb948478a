"""In-band registration (XEP-0077) of test accounts, over a blocking socket.

The client core negotiates straight to SASL, so registration uses its own tiny
negotiation: stream header, STARTTLS, a new stream header, then
``<iq type='set'><query xmlns='jabber:iq:register'><username/><password/></query></iq>``
before authenticating.  It reuses the core's tokenizer and serializer; the load
runner calls it from a thread pool.
"""
from __future__ import annotations

import socket
import ssl
import time
from typing import List, Optional

from ..element import Element
from ..errors import StreamError
from ..serializer import serialize
from ..stanza_errors import from_element
from ..tokenizer import StreamEnd, StreamHeader, Tokenizer

__all__ = ["register_account", "RegistrationError", "NS_REGISTER"]

NS_REGISTER = "jabber:iq:register"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
_FEATURES = "{http://etherx.jabber.org/streams}features"
_STREAM_ERROR = "{http://etherx.jabber.org/streams}error"


class RegistrationError(ConnectionError):
    """Registration could not be carried out (no TLS, no XEP-0077, stream closed...)."""


class _Conn:
    def __init__(self, sock: socket.socket, domain: str, deadline: float) -> None:
        self.sock = sock
        self.domain = domain
        self.deadline = deadline
        self.tokens = Tokenizer()
        self.queue: List[object] = []

    def open_stream(self) -> Element:
        self.sock.sendall(
            ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
             "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>"
             % self.domain).encode("utf-8"))
        while True:
            token = self.next()
            if isinstance(token, StreamHeader):
                continue
            if isinstance(token, Element) and token.tag == _FEATURES:
                return token
            raise RegistrationError(f"expected stream features, got {token!r}")

    def send(self, el: Element) -> None:
        self.sock.sendall(serialize(el))

    def next(self) -> object:
        while not self.queue:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("registration timed out")
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:
                raise RegistrationError("the server closed the connection")
            self.queue.extend(self.tokens.feed(data))
        token = self.queue.pop(0)
        if isinstance(token, StreamEnd):
            raise RegistrationError("the server closed the stream")
        if isinstance(token, Element) and token.tag == _STREAM_ERROR:
            cond = token[0].localname if len(token) else "undefined-condition"
            raise RegistrationError(f"stream error: {cond}")
        return token


def register_account(
    host: str,
    port: int,
    domain: str,
    username: str,
    password: str,
    *,
    ssl_context: Optional[ssl.SSLContext] = None,
    timeout: float = 30.0,
) -> bool:
    """Register ``username@domain``; True if created, False if it already existed.

    STARTTLS is used whenever the server offers it (and required when
    ``ssl_context`` is given).  Raises :class:`RegistrationError`, a
    :class:`~fastxmpp.stanza_errors.StanzaError` (e.g. ``NotAllowed``) or
    ``OSError``/``TimeoutError``.
    """
    deadline = time.monotonic() + timeout
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        conn = _Conn(sock, domain, deadline)
        features = conn.open_stream()
        if features.find("{%s}starttls" % NS_TLS) is not None:
            conn.send(Element("{%s}starttls" % NS_TLS))
            reply = conn.next()
            if not (isinstance(reply, Element) and reply.tag == "{%s}proceed" % NS_TLS):
                raise RegistrationError(f"STARTTLS refused: {reply!r}")
            ctx = ssl_context or ssl.create_default_context()
            sock = conn.sock = ctx.wrap_socket(sock, server_hostname=domain)
            conn.queue.clear()  # nothing may follow <proceed/> in the clear
            conn.tokens = Tokenizer()
            features = conn.open_stream()
        elif ssl_context is not None:
            raise RegistrationError("the server does not offer STARTTLS")
        if features.find("{http://jabber.org/features/iq-register}register") is None:
            raise RegistrationError("the server does not offer in-band registration (XEP-0077)")
        iq = Element("{jabber:client}iq", {"type": "set", "id": "reg1"})
        query = iq.subelement("{%s}query" % NS_REGISTER)
        query.subelement("{%s}username" % NS_REGISTER, text=username)
        query.subelement("{%s}password" % NS_REGISTER, text=password)
        conn.send(iq)
        while True:
            token = conn.next()
            if isinstance(token, Element) and token.tag == "{jabber:client}iq" and token.get("id") == "reg1":
                break
        if token.get("type") == "result":
            created = True
        else:
            err = from_element(token)
            if err.condition != "conflict":
                raise err
            created = False
        try:
            sock.sendall(b"</stream:stream>")
        except OSError:
            pass
        return created
    except StreamError as exc:
        raise RegistrationError(f"bad XML from the server: {exc}") from exc
    finally:
        try:
            sock.close()
        except OSError:
            pass
