"""In-band registration (XEP-0077) of accounts, over a blocking socket.

The clients' streams go straight to authentication, so an account is registered on a
stream of its own: :class:`fastxmpp.xep.register.Registrar` (the sans-IO negotiation:
stream header, STARTTLS, a new header, the registration IQ) driven here over a socket.
The load runner calls :func:`register_account` from a thread pool; it is also the way to
create an account from an application (in an executor with asyncio).
"""
from __future__ import annotations

import socket
import ssl
import time
from typing import Optional

from ..xep.register import NS_REGISTER, Registrar, RegistrationError, UsernameTaken, check_result, register_request

__all__ = ["register_account", "RegistrationError", "NS_REGISTER"]


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
    ``OSError``/``TimeoutError``; an empty username or password raises
    :class:`~fastxmpp.xep.register.InvalidRegistrationInput`.
    """
    reg = Registrar(domain, register_request(username, password), require_tls=ssl_context is not None)
    deadline = time.monotonic() + timeout
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        reg.start()
        while reg.state != "done":
            out = reg.data_to_send()
            if out:
                sock.sendall(out)
            if reg.state == "tls":
                sock = (ssl_context or ssl.create_default_context()).wrap_socket(sock, server_hostname=domain)
                reg.tls_established()
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("registration timed out")
            sock.settimeout(remaining)
            data = sock.recv(65536)
            if not data:
                reg.receive_eof()
            reg.receive_data(data)
        assert reg.result is not None
        try:
            check_result(reg.result)
            created = True
        except UsernameTaken:
            created = False
        reg.close()
        try:
            sock.sendall(reg.data_to_send())
        except OSError:
            pass
        return created
    finally:
        try:
            sock.close()
        except OSError:
            pass
