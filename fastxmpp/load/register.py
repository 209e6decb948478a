"""In-band registration (XEP-0077) of accounts for the load runner, which calls
:func:`register_account` from a thread pool.

The clients' streams go straight to authentication, so an account is registered on a
stream of its own: :class:`fastxmpp.xep.register.Registrar` (the sans-IO negotiation:
stream header, STARTTLS, a new header, the registration IQ) driven over a blocking socket
by :func:`fastxmpp.sync.register.register_account`, the one implementation, named here too.
"""
from __future__ import annotations

from ..sync.register import register_account
from ..xep.register import NS_REGISTER, RegistrationError

__all__ = ["register_account", "RegistrationError", "NS_REGISTER"]
