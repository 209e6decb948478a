"""Test helpers shipped with fastxmpp (a private Prosody server for tests and load runs).

Nothing here is imported by the core or the drivers: :mod:`fastxmpp.load` and the
test suite import :mod:`fastxmpp.testing.prosody` explicitly.
"""
