"""Shared fixtures: every core test runs against both twins (ids ``c`` and ``py``).

``--twin=py`` or ``--twin=c`` restricts the run to one twin.  Without the
compiled modules (``FASTXMPP_NO_EXTENSIONS=1`` or not built) the ``c`` runs
are skipped, and ``test_accel.py`` says whether that was expected.
"""
from __future__ import annotations

import importlib
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))

# The test command's Hypothesis profile (scripts/test passes --hypothesis-profile=fastxmpp):
# the same examples on every run, whatever the machine's load or the example database
# holds.  derandomize: examples come from a seed fixed per test, not from the clock;
# database=None: nothing is read or written between runs (a fresh clone and the tenth run
# try the same inputs); no too_slow health check: a loaded machine or an empty cache
# (Hypothesis regenerating its Unicode tables) must not fail a test; no deadline (timing);
# max_examples fixed here for the tests that do not set their own count.
settings.register_profile(
    "fastxmpp",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("fastxmpp")  # also for a bare `pytest`; --hypothesis-profile overrides it

TWINS = ("c", "py")


def pytest_addoption(parser):
    parser.addoption("--twin", choices=TWINS, default=None, help="run only one twin")


def pytest_generate_tests(metafunc):
    if "impl" in metafunc.fixturenames:
        only = metafunc.config.getoption("--twin")
        twins = [t for t in TWINS if only in (None, t)]
        metafunc.parametrize("impl", twins, ids=twins, scope="session")


def load(impl: str, unit: str):
    """The module of one twin: ``load("c", "tokenizer")`` is ``fastxmpp._tokenizer_c``."""
    if impl == "c":
        from fastxmpp import _accel

        if not _accel.USE_EXTENSIONS:
            pytest.skip("compiled twins not in use")
    return importlib.import_module(f"fastxmpp._{unit}_{impl}")


@pytest.fixture
def Tokenizer(impl):
    """The tokenizer class of the twin under test."""
    return load(impl, "tokenizer").Tokenizer


@pytest.fixture(scope="session")
def prosody(tmp_path_factory):
    """One private Prosody for the whole run (tests create their own accounts)."""
    from fastxmpp.testing.prosody import ProsodyServer, prosody_binary

    if prosody_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("prosody is not installed (scripts/install-system-deps installs it)")
        pytest.skip("prosody is not installed; run scripts/install-system-deps")
    # mam: message archives (XEP-0313); muc: conference.localhost with archived rooms
    server = ProsodyServer(tmp_path_factory.mktemp("prosody-session"), modules=("mam",), muc=True)
    server.start()
    yield server
    server.stop()


_users = iter(range(1, 1 << 30))


@pytest.fixture
def account(prosody):
    """A fresh account on the session Prosody: returns a factory ``account() -> (jid, password)``."""
    def make(password: str = "secret-pw"):
        name = "u%d_%d" % (os.getpid(), next(_users))
        return prosody.create_user(name, password), password
    return make
