"""XEP-0077 in-band registration, sans-IO: the form parsed from scripted stanzas (fields,
registered, instructions, a data form, an out-of-band URL), the requests, typed errors, the
unauthenticated negotiation (:class:`Registrar`) fed scripted bytes, and client.registration
of both clients driven through fake clients (no server)."""
from __future__ import annotations

import asyncio
import socket
import ssl
import threading

import pytest

from fastxmpp import aio, errors, sync
from fastxmpp.aio import register as aio_register
from fastxmpp.element import Element
from fastxmpp.stanza_errors import BadRequest, Conflict, NotAcceptable, NotAllowed
from fastxmpp.sync import register as sync_register
from fastxmpp.xep import RemoteInvalidResult
from fastxmpp.xep.forms import FormValueError, InvalidForm
from fastxmpp.xep.register import (FEATURE, QUERY, InvalidRegistrationInput, RegistrationError, Registrar,
                                   cancel_request, change_password_request, check_result, form_request,
                                   parse_form, register_request, submit_request, UsernameTaken)

from test_xep_basic import FakeClient as BasicFakeClient, X  # the stanza parser and the fake client

NS = "jabber:iq:register"
ERR = "urn:ietf:params:xml:ns:xmpp-stanzas"


def result(body: str) -> Element:
    return X(f"<iq type='result' id='r1'><query xmlns='{NS}'>{body}</query></iq>")


def error(condition: str, kind: str = "cancel") -> Element:
    return X(f"<iq type='error' id='r1'><error type='{kind}'><{condition} xmlns='{ERR}'/></error></iq>")


def children(iq):
    return [(c.localname, c.text) for c in iq.find(QUERY)]


# -- the form -------------------------------------------------------------------------------
def test_legacy_form():
    form = parse_form(result("<instructions>Choose a username and password.</instructions>"
                             "<username/><password/><email/><unknown xmlns='urn:other'/>"))
    assert form.fields == ("username", "password", "email") and form.values == {}
    assert form.instructions == "Choose a username and password." and not form.registered
    assert form.form is None and form.url is None


def test_registered_form_with_values():
    form = parse_form(result("<registered/><username>juliet</username><password/><remove/>"))
    assert form.registered and form.fields == ("username", "password") and form.values == {"username": "juliet"}


def test_data_form_and_oob_url():
    form = parse_form(result(
        "<instructions>Use the form</instructions>"
        "<x xmlns='jabber:x:data' type='form'>"
        "<field type='hidden' var='FORM_TYPE'><value>jabber:iq:register</value></field>"
        "<field type='text-single' var='username' label='User'><required/></field>"
        "<field type='text-private' var='password'><required/></field>"
        "<field type='text-single' var='email'/></x>"
        "<x xmlns='jabber:x:oob'><url>https://example.com/register</url></x>"))
    assert form.form is not None and form.form.form_type == NS
    assert [f.var for f in form.form.fields] == ["FORM_TYPE", "username", "password", "email"]
    assert form.url == "https://example.com/register"
    iq = submit_request(form, {"username": "juliet", "password": "pw"})
    x = iq.find(QUERY).find("{jabber:x:data}x")
    assert x.get("type") == "submit" and iq.get("type") == "set"
    sent = {f.get("var"): f.findtext("{jabber:x:data}value") for f in x}
    assert sent == {"FORM_TYPE": NS, "username": "juliet", "password": "pw", "email": None}
    with pytest.raises(FormValueError):  # a required field left empty
        submit_request(form, {"username": "juliet"})


def test_malformed_answers():
    with pytest.raises(RemoteInvalidResult):
        parse_form(X("<iq type='result' id='r1'/>"))
    with pytest.raises(InvalidForm):
        parse_form(result("<x xmlns='jabber:x:data' type='nonsense'/>"))
    with pytest.raises(NotAllowed):
        parse_form(error("not-allowed"))


# -- requests and answers ---------------------------------------------------------------------
def test_requests():
    iq = form_request()
    assert iq.get("type") == "get" and iq.get("to") is None and len(iq.find(QUERY)) == 0
    assert form_request("example.com").get("to") == "example.com"
    iq = register_request("juliet", "s3cret", email="j@example.org")
    assert iq.get("type") == "set" and iq.get("to") is None
    assert sorted(children(iq)) == [("email", "j@example.org"), ("password", "s3cret"), ("username", "juliet")]
    iq = change_password_request("juliet@example.com/balcony", "new")
    assert iq.get("to") == "example.com" and children(iq) == [("username", "juliet"), ("password", "new")]
    iq = cancel_request("example.com")
    assert iq.get("to") == "example.com" and children(iq) == [("remove", None)]
    legacy = parse_form(result("<username/><password/>"))
    assert children(submit_request(legacy, {"username": "a", "password": "b"})) == [("username", "a"), ("password", "b")]


@pytest.mark.parametrize("make", [
    lambda: register_request("", "pw"),
    lambda: register_request("juliet", ""),
    lambda: register_request("juliet", None),
    lambda: register_request("juliet", "pw", shoe_size="42"),
    lambda: change_password_request("juliet@example.com", ""),
    lambda: change_password_request("example.com", "pw"),
    lambda: submit_request(parse_form(result("<username/>")), {"colour": "red"}),
])
def test_bad_user_input(make):
    with pytest.raises(InvalidRegistrationInput):
        make()


def test_check_result_raises_typed_errors():
    check_result(X("<iq type='result' id='r1'/>"))
    with pytest.raises(UsernameTaken) as info:
        check_result(error("conflict"))
    assert isinstance(info.value, Conflict) and info.value.condition == "conflict"
    with pytest.raises(NotAcceptable):
        check_result(error("not-acceptable", "modify"))
    with pytest.raises(NotAllowed):
        check_result(error("not-allowed"))
    with pytest.raises(BadRequest):
        check_result(error("bad-request", "modify"))


# -- the unauthenticated negotiation ----------------------------------------------------------
HEADER = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          b"xmlns:stream='http://etherx.jabber.org/streams' from='example.com' id='s1' version='1.0'>")
STARTTLS = b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
REGISTER = b"<register xmlns='http://jabber.org/features/iq-register'/>"


def features(*offers: bytes) -> bytes:
    return b"<stream:features>" + b"".join(offers) + b"</stream:features>"


def test_registrar_with_starttls():
    reg = Registrar("example.com", register_request("juliet", "pw"))
    reg.start()
    assert b"to='example.com'" in reg.data_to_send() and reg.state == "features"
    reg.receive_data(HEADER + features(STARTTLS, REGISTER))
    assert reg.data_to_send().replace(b'"', b"'") == b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
    # nothing after <proceed/> is read in the clear
    reg.receive_data(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><iq type='result' id='reg1'/>")
    assert reg.state == "tls" and reg.result is None
    reg.tls_established()
    assert reg.data_to_send().startswith(b"<?xml") and reg.secure
    for byte in HEADER + features(REGISTER):  # one byte at a time
        reg.receive_data(bytes([byte]))
    sent = reg.data_to_send()
    assert b"jabber:iq:register" in sent and b"<username>juliet</username>" in sent and b"id='reg1'" in sent.replace(b'"', b"'")
    assert reg.state == "registering"
    reg.receive_data(b"<message from='example.com'><body>hi</body></message><iq type='result' id='other'/>")
    assert reg.state == "registering"
    reg.receive_data(b"<iq type='error' id='reg1'><error type='cancel'><conflict xmlns='%s'/></error></iq>" % ERR.encode())
    assert reg.state == "done"
    with pytest.raises(UsernameTaken):
        check_result(reg.result)
    reg.close()
    assert reg.data_to_send() == b"</stream:stream>"


def test_registrar_without_tls():
    reg = Registrar("example.com", register_request("juliet", "pw"))
    reg.start()
    reg.receive_data(HEADER + features(REGISTER))
    assert b"<username>juliet</username>" in reg.data_to_send()
    reg.receive_data(b"<iq type='result' id='reg1'/>")
    assert reg.state == "done" and check_result(reg.result) is None and not reg.secure


@pytest.mark.parametrize("script, message", [
    (HEADER + features(REGISTER), "does not offer STARTTLS"),  # require_tls
    (HEADER + features(STARTTLS) + b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", "STARTTLS refused"),
    (HEADER + b"<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
     "stream error: host-unknown"),
    (HEADER + b"</stream:stream>", "closed the stream"),
    (HEADER + b"<message/>", "expected stream features"),
    (HEADER + b"<a><b></a>", "bad XML"),
])
def test_registrar_failures(script, message):
    reg = Registrar("example.com", register_request("juliet", "pw"), require_tls=True)
    reg.start()
    with pytest.raises(RegistrationError, match=message):
        reg.receive_data(script)


def test_registrar_without_registration_and_eof():
    reg = Registrar("example.com", register_request("juliet", "pw"))
    reg.start()
    with pytest.raises(RegistrationError, match="in-band registration"):
        reg.receive_data(HEADER + features())
    with pytest.raises(RegistrationError, match="closed the connection"):
        reg.receive_eof()
    with pytest.raises(RegistrationError):
        reg.tls_established()  # not asked for
    assert issubclass(RegistrationError, ConnectionError)


# -- client.registration, through fake clients ------------------------------------------------
class FakeClient(BasicFakeClient):
    def __init__(self, answers):
        super().__init__()
        self.password = "old"
        self.answers = answers

    def iq(self, stanza, timeout=None):
        self.requests.append(stanza)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class AsyncFakeClient(FakeClient):
    async def iq(self, stanza, timeout=None):
        return FakeClient.iq(self, stanza, timeout)


@pytest.mark.parametrize("kind", ["aio", "sync"])
def test_client_registration(kind):
    ok = X("<iq type='result' id='r'/>")
    answers = [result("<registered/><username>juliet</username><password/>"), ok, ok,
               errors.NotAuthorized("Account deleted")]
    client = AsyncFakeClient(answers) if kind == "aio" else FakeClient(answers)
    reg = (aio_register if kind == "aio" else sync_register).Registration(client)

    def run(result):
        return asyncio.run(result) if kind == "aio" else result

    form = run(reg.fields())
    assert form.registered and form.values["username"] == "juliet"
    assert client.requests[-1].get("to") == "example.com"
    run(reg.change_password("new"))
    assert client.password == "new" and children(client.requests[-1]) == [("username", "juliet"), ("password", "new")]
    with pytest.raises(InvalidRegistrationInput):
        run(reg.change_password(""))
    assert client.password == "new"
    run(reg.cancel())  # answered with a result
    run(reg.cancel())  # or the session ended with not-authorized at once
    assert [c.localname for c in client.requests[-1].find(QUERY)] == ["remove"]


def test_client_property_made_on_first_access_only():
    for cls, module in ((aio.Client, aio_register), (sync.Client, sync_register)):
        client = cls("juliet@example.com/balcony", "pw")
        reg = client.registration
        assert type(reg) is module.Registration and client.registration is reg and client._iq_routes is None


def test_feature_constant():
    assert FEATURE == "{http://jabber.org/features/iq-register}register"


# -- fastxmpp.load.register over a socket, against a scripted server --------------------------
class OneShotServer:
    """Accepts one connection on 127.0.0.1, answers the stream header with ``reply`` and then
    with ``after`` to whatever comes next, and closes when the client does."""

    def __init__(self, reply: bytes, after: bytes = b""):
        self.reply, self.after = reply, after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(30)
            for answer in (self.reply, self.after):
                if not conn.recv(65536):
                    return
                conn.sendall(answer)
            while conn.recv(65536):
                pass

    def close(self):
        self.thread.join(30)
        self.listener.close()


@pytest.mark.parametrize("reply, after, ctx, expected", [
    (HEADER + features(), b"", None, "in-band registration"),
    (HEADER + features(REGISTER), b"", "ctx", "does not offer STARTTLS"),
    (HEADER + features(REGISTER), b"<iq type='result' id='reg1'/>", None, True),
    (HEADER + features(REGISTER), b"<iq type='error' id='reg1'><error type='cancel'><conflict xmlns='%s'/></error></iq>"
     % ERR.encode(), None, False),
    (HEADER + features(REGISTER), b"<iq type='error' id='reg1'><error type='modify'><not-acceptable xmlns='%s'/>"
     b"</error></iq>" % ERR.encode(), None, NotAcceptable),
    (HEADER + features(REGISTER), b"</stream:stream>", None, "closed the stream"),
])
@pytest.mark.parametrize("kind", ["aio", "sync"])
def test_register_account_over_a_socket(kind, reply, after, ctx, expected):
    from fastxmpp.load.register import RegistrationError as LoadRegistrationError, register_account as load_register

    assert LoadRegistrationError is RegistrationError and load_register is sync_register.register_account
    server = OneShotServer(reply, after)
    module = aio_register if kind == "aio" else sync_register

    def call():
        made = module.register_account("127.0.0.1", server.port, "example.com", "juliet", "pw",
                                       ssl_context=ssl.create_default_context() if ctx else None, timeout=30)
        return asyncio.run(made) if kind == "aio" else made
    try:
        if isinstance(expected, bool):
            assert call() is expected
        elif isinstance(expected, str):
            with pytest.raises(RegistrationError, match=expected):
                call()
        else:
            with pytest.raises(expected):
                call()
    finally:
        server.close()
