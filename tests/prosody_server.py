"""Re-export of :mod:`fastxmpp.testing.prosody` (the private Prosody moved into the package).

Tests keep importing ``from prosody_server import ProsodyServer``; the code lives
in ``fastxmpp/testing/prosody.py`` so ``python -m fastxmpp load`` can start a
local server too.
"""
from fastxmpp.testing.prosody import *  # noqa: F401,F403
from fastxmpp.testing.prosody import (  # noqa: F401  explicit: private helpers some tests may use
    DEFAULT_MODULES,
    DISABLED_MODULES,
    TEST_NS,
    ProsodyError,
    ProsodyServer,
    _lua_string,
    _lua_value,
    _port_open,
    _raise_fd_limit,
    _store_encode,
    find_free_port,
    prosody_binary,
    scram_sha1_credentials,
)

__all__ = [
    "ProsodyServer",
    "ProsodyError",
    "prosody_binary",
    "find_free_port",
    "scram_sha1_credentials",
    "TEST_NS",
    "DEFAULT_MODULES",
    "DISABLED_MODULES",
]
