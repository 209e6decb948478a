"""``client.registration`` (XEP-0077) for the blocking client: the methods that send, each
a line or two over :mod:`fastxmpp.xep.register` (which builds and reads the stanzas)."""
from __future__ import annotations

from ..xep.register import (RegistrationBase, RegistrationForm, cancel_request, change_password_request,
                            check_result, form_request, parse_form)

__all__ = ["Registration"]


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
