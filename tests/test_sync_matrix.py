"""The blocking driver through the same scenarios as the asyncio one (mechanisms, -PLUS, conflict)."""
from __future__ import annotations

import pytest

from fastxmpp import errors
from fastxmpp.sync import Client

pytestmark = pytest.mark.prosody


def client(srv, jid, pw, **kw):
    return Client(jid, pw, host=srv.host, port=srv.port, ca_file=str(srv.ca_file), **kw)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "PLAIN"])
def test_login_each_mechanism(prosody, account, mechanism):
    jid, pw = account()
    with client(prosody, jid + "/res", pw, mechanisms=[mechanism]) as c:
        assert c.stream.mechanism == mechanism
        assert str(c.bound_jid) == jid + "/res"


def test_scram_plus_on_tls12(tmp_path):
    from fastxmpp.testing.prosody import ProsodyServer

    with ProsodyServer(tmp_path, tls_protocol="tlsv1_2") as srv:
        jid = srv.create_user("plus", "pw")
        with client(srv, jid, "pw") as c:
            assert c.stream.mechanism == "SCRAM-SHA-1-PLUS"


def test_resource_conflict_stream_error(prosody, account):
    jid, pw = account()
    old = client(prosody, jid + "/same", pw)
    old.connect()
    with client(prosody, jid + "/same", pw) as new:
        assert str(new.bound_jid) == jid + "/same"
        with pytest.raises(errors.Conflict) as info:
            for _ in range(50):
                old.process(timeout=0.2)
        assert info.value.condition == "conflict"
    old.close()
