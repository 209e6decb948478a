"""XEP-0077 for the blocking client: ``client.registration`` (the methods that send, each a
line or two over :mod:`fastxmpp.xep.register`) and :func:`register_account`, which creates
an account on a stream of its own, before logging in."""
from __future__ import annotations

import socket
import ssl
import time
from typing import Optional

from ..xep.register import (Registrar, RegistrationBase, RegistrationForm, cancel_request, change_password_request,
                            check_result, form_request, parse_form, register_request)

__all__ = ["Registration", "register_account"]


class Registration(RegistrationBase):
    """``client.registration``: ``fields()``, ``change_password(new)``, ``cancel()``
    (see :class:`~fastxmpp.xep.register.RegistrationBase`)."""

    def fields(self) -> RegistrationForm:
        """The server's registration form for our account (``registered`` is True)."""
        return parse_form(self.client.iq(form_request(self._server())))

    def change_password(self, new_password: str) -> None:
        """Change the account's password; the client keeps it to log in again."""
        self._changed(new_password, self.client.iq(change_password_request(self.client.jid, new_password)))

    def cancel(self) -> None:
        """Delete the account (the server then ends every session of it)."""
        with self._cancelling():
            check_result(self.client.iq(cancel_request(self._server())))


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
    """Register ``username@domain`` on the server at ``host``:``port`` over a blocking socket;
    True if created, False if it already existed.

    STARTTLS is used whenever the server offers it (and required when ``ssl_context`` is
    given).  Raises :class:`~fastxmpp.xep.register.RegistrationError`, a
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
        created = reg.created()
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
