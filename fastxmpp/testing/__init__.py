"""Test helpers shipped with fastxmpp (a private Prosody server for tests and load runs).

Nothing here is imported by the core or the drivers: :mod:`fastxmpp.load` and the
test suite import :mod:`fastxmpp.testing.prosody` explicitly.
"""

from typing import List

__all__: List[str] = []  # the helpers are in the submodules: fastxmpp.testing.prosody, .faultproxy
