"""XEP-0077 for the asyncio client: ``client.registration`` (the methods that send, each a
line or two over :mod:`fastxmpp.xep.register`) and :func:`register_account`, which creates
an account on a stream of its own, before logging in."""
from __future__ import annotations

import asyncio
import ssl
from typing import Any, Optional

from ..xep.register import (Registrar, RegistrationBase, RegistrationError, RegistrationForm, cancel_request,
                            change_password_request, check_result, form_request, parse_form, register_request)

__all__ = ["Registration", "register_account"]


class Registration(RegistrationBase):
    """``client.registration``: ``fields()``, ``change_password(new)``, ``cancel()``
    (see :class:`~fastxmpp.xep.register.RegistrationBase`)."""

    async def fields(self) -> RegistrationForm:
        """The server's registration form for our account (``registered`` is True)."""
        return parse_form(await self.client.iq(form_request(self._server())))

    async def change_password(self, new_password: str) -> None:
        """Change the account's password; the client keeps it to log in again."""
        self._changed(new_password, await self.client.iq(change_password_request(self.client.jid, new_password)))

    async def cancel(self) -> None:
        """Delete the account (the server then ends every session of it)."""
        with self._cancelling():
            check_result(await self.client.iq(cancel_request(self._server())))


class _Driver(asyncio.Protocol):
    """Feeds a :class:`Registrar` and writes what it sends; :meth:`step` waits until it asks
    for TLS or is done."""

    def __init__(self, reg: Registrar) -> None:
        self.reg = reg
        self.transport: Any = None
        self.waiter: Optional["asyncio.Future[None]"] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def flush(self) -> None:
        out = self.reg.data_to_send()
        if out:
            self.transport.write(out)

    async def step(self) -> None:
        self.flush()
        if self.reg.state not in ("tls", "done"):
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter

    def _wake(self, exc: Optional[BaseException] = None) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    def data_received(self, data: bytes) -> None:
        try:
            self.reg.receive_data(data)
        except RegistrationError as exc:
            self._wake(exc)
            return
        self.flush()
        if self.reg.state in ("tls", "done"):
            self._wake()

    def eof_received(self) -> Optional[bool]:
        self._wake(RegistrationError("the server closed the connection"))
        return None

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._wake(exc or RegistrationError("the connection was closed"))


async def register_account(
    host: str,
    port: int,
    domain: str,
    username: str,
    password: str,
    *,
    ssl_context: Optional[ssl.SSLContext] = None,
    timeout: float = 30.0,
) -> bool:
    """Register ``username@domain`` on the server at ``host``:``port``; True if created,
    False if it already existed.  The same as :func:`fastxmpp.sync.register.register_account`
    (STARTTLS whenever offered, required with ``ssl_context``; the same errors, with
    ``asyncio.TimeoutError`` after ``timeout`` seconds), without blocking the loop."""
    reg = Registrar(domain, register_request(username, password), require_tls=ssl_context is not None)
    return await asyncio.wait_for(_register(reg, host, port, ssl_context), timeout)


async def _register(reg: Registrar, host: str, port: int, ssl_context: Optional[ssl.SSLContext]) -> bool:
    loop = asyncio.get_running_loop()
    transport, driver = await loop.create_connection(lambda: _Driver(reg), host, port)
    try:
        reg.start()
        await driver.step()
        if reg.state == "tls":
            context = ssl_context or ssl.create_default_context()
            # typeshed allows None; asyncio returns the new transport of a stream connection
            driver.transport = transport = await loop.start_tls(
                transport, driver, context, server_hostname=reg.domain)  # type: ignore[assignment]
            reg.tls_established()
            await driver.step()
        created = reg.created()
        reg.close()
        driver.flush()
        return created
    finally:
        transport.close()
