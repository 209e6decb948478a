"""XEP-0077 in-band registration against the private Prosody (mod_register, registration
allowed), with both clients: register an account on an unauthenticated stream, read the form
of an authenticated session, change the password (the new one logs in, the old one no
longer does), cancel the account (no login any more)."""
from __future__ import annotations

import itertools
import os

import pytest

from fastxmpp.errors import SASLError
from fastxmpp.aio import register as aio_register
from fastxmpp.sync import register as sync_register
from fastxmpp.tlsconfig import make_client_context
from fastxmpp.xep.register import InvalidRegistrationInput

from test_im_prosody import harness  # noqa: F401 - the fixture: both clients

pytestmark = pytest.mark.prosody

_names = itertools.count(1)


def new_account(harness, prosody, password):
    """Register a fresh account in band with the harness's kind of driver; returns its JID."""
    name = "reg%d_%d" % (os.getpid(), next(_names))
    ctx = make_client_context(ca_file=str(prosody.ca_file))
    register = (aio_register if harness.kind == "aio" else sync_register).register_account
    assert harness.do(register(prosody.host, prosody.port, prosody.domain, name, password, ssl_context=ctx))
    assert not harness.do(register(prosody.host, prosody.port, prosody.domain, name, "other", ssl_context=ctx))
    return name + "@" + prosody.domain


def login_fails(harness, jid, password):
    with pytest.raises(SASLError) as info:
        harness.connect(jid + "/x", password, max_reconnect_attempts=0)
    assert info.value.condition == "not-authorized"


def test_register_change_password_cancel(harness, prosody):
    jid = new_account(harness, prosody, "first-pw")
    client = harness.connect(jid + "/one", "first-pw")
    form = harness.do(client.registration.fields())
    assert form.registered and form.values.get("username") == jid.split("@")[0]

    with pytest.raises(InvalidRegistrationInput):
        harness.do(client.registration.change_password(""))
    harness.do(client.registration.change_password("second-pw"))
    assert client.password == "second-pw"
    again = harness.connect(jid + "/two", "second-pw")
    assert again.bound_jid.bare == client.bound_jid.bare
    harness.close(again)
    login_fails(harness, jid, "first-pw")

    harness.do(client.registration.cancel())
    login_fails(harness, jid, "second-pw")
    assert not prosody.user_exists(jid.split("@")[0])


def test_load_runner_registers_through_the_same_function(prosody):
    from fastxmpp.load.register import register_account

    name = "reg%d_%d" % (os.getpid(), next(_names))
    ctx = make_client_context(ca_file=str(prosody.ca_file))
    assert register_account(prosody.host, prosody.port, prosody.domain, name, "pw", ssl_context=ctx)
    assert prosody.user_exists(name)
