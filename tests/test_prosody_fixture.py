"""The private Prosody of fastxmpp/testing/prosody.py, checked with a raw client.

The client here is plain ``socket`` + ``ssl`` on purpose: these tests prove the
fixture, not fastxmpp.  Skipped when prosody is not installed, except under CI
(``CI`` set), where a missing prosody fails.
"""
from __future__ import annotations

import base64
import os
import re
import socket
import ssl
import time

import pytest

from fastxmpp.testing.prosody import (
    SMACKS_PARSER_FIX_MODULE,
    TEST_NS,
    ProsodyServer,
    prosody_binary,
)

pytestmark = pytest.mark.prosody

DOMAIN = "fastxmpp.test"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_SM = "urn:xmpp:sm:3"

if prosody_binary() is None and not os.environ.get("CI"):
    pytest.skip(
        "prosody is not installed (run scripts/install-system-deps); "
        "under CI this fails instead",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def prosody(tmp_path_factory):
    if prosody_binary() is None:
        pytest.fail("prosody is not installed but CI is set: run scripts/install-system-deps")
    server = ProsodyServer(tmp_path_factory.mktemp("prosody"), domain=DOMAIN)
    server.start()
    print("prosody started in %.3fs on port %d" % (server.startup_seconds, server.port))
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------- raw client


class RawClient:
    """Just enough XMPP over a socket to poke at the server."""

    def __init__(self, server: ProsodyServer, timeout: float = 10.0):
        self.server = server
        self.sock = socket.create_connection((server.host, server.port), timeout=timeout)
        self.buf = b""

    def send(self, data: str) -> None:
        self.sock.sendall(data.encode("utf-8"))

    def read_until(self, pattern: str, timeout: float = 10.0) -> str:
        """Read until ``pattern`` (a regex) matches what came since the last call."""
        rx = re.compile(pattern.encode(), re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                got, self.buf = self.buf[: m.end()], self.buf[m.end():]
                return got.decode("utf-8")
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %r; got %r" % (pattern, self.buf))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed waiting for %r; got %r" % (pattern, self.buf))
            self.buf += chunk

    def open_stream(self) -> str:
        self.send(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>"
            % self.server.domain
        )
        return self.read_until(r"</stream:features>")

    def starttls(self, context: ssl.SSLContext) -> None:
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        assert "<proceed" in self.read_until(r"<proceed[^>]*/>|<failure[^>]*/>")
        assert self.buf == b""
        self.sock = context.wrap_socket(self.sock, server_hostname=self.server.domain)

    def auth_plain(self, user: str, password: str) -> str:
        blob = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
        self.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (NS_SASL, blob))
        return self.read_until(r"<success[^>]*(/>|</success>)|<failure.*?</failure>")

    def close(self) -> None:
        try:
            self.send("</stream:stream>")
        except OSError:
            pass
        self.sock.close()


def tls_context(server: ProsodyServer) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    return ctx


def secure_client(server: ProsodyServer) -> "tuple[RawClient, str]":
    client = RawClient(server)
    client.open_stream()
    client.starttls(tls_context(server))
    return client, client.open_stream()


def mechanisms(features: str) -> "list[str]":
    return re.findall(r"<mechanism>([^<]+)</mechanism>", features)


def login(server: ProsodyServer, user: str, password: str) -> str:
    client, _ = secure_client(server)
    try:
        return client.auth_plain(user, password)
    finally:
        client.close()


# -------------------------------------------------------------------- tests


def test_port_open(prosody):
    with socket.create_connection((prosody.host, prosody.port), timeout=5):
        pass
    assert prosody.running
    assert prosody.host == "127.0.0.1"
    assert prosody.ca_file.exists() and prosody.log_path.exists()


def test_only_c2s_port_listens(prosody):
    # s2s (5269) and HTTP (5280/5281) are off; the config never names them.
    cfg = prosody.config_path.read_text()
    assert "s2s_ports = {}" in cfg and "http_ports = {}" in cfg
    listening = _listening_ports(prosody.pid)
    if listening is not None:
        assert listening == {prosody.port}, listening


def _listening_ports(pid):
    """TCP ports the process listens on, from /proc (None if unavailable)."""
    try:
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % pid):
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        ports = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in list(f)[1:]:
                    parts = line.split()
                    if parts[3] == "0A" and parts[9] in inodes:  # LISTEN
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        return ports
    except OSError:
        return None


def test_starttls_required_then_sasl(prosody):
    client = RawClient(prosody)
    try:
        features = client.open_stream()
        assert re.search(
            r"<starttls xmlns=['\"]%s['\"]>\s*<required\s*/>" % re.escape(NS_TLS), features
        ), features
        # No SASL offered before TLS (PLAIN over plaintext is forbidden anyway).
        assert "PLAIN" not in mechanisms(features)
        client.starttls(tls_context(prosody))
        cert = client.sock.getpeercert()
        assert ("DNS", DOMAIN) in cert["subjectAltName"]
        assert ("IP Address", "127.0.0.1") in cert["subjectAltName"]
        features = client.open_stream()
        mechs = mechanisms(features)
        print("TLS %s, mechanisms after STARTTLS: %s" % (client.sock.version(), mechs))
        assert "PLAIN" in mechs and "SCRAM-SHA-1" in mechs
    finally:
        client.close()


def test_tls_verification_rejects_wrong_name(prosody):
    client = RawClient(prosody)
    try:
        client.open_stream()
        client.send("<starttls xmlns='%s'/>" % NS_TLS)
        client.read_until(r"<proceed[^>]*/>")
        with pytest.raises(ssl.SSLCertVerificationError):
            tls_context(prosody).wrap_socket(client.sock, server_hostname="wrong.example")
    finally:
        client.sock.close()


def test_plain_auth(prosody):
    prosody.create_user("alice", "correct horse")
    assert "<success" in login(prosody, "alice", "correct horse")


def test_plain_auth_wrong_password(prosody):
    prosody.create_user("bob", "right")
    reply = login(prosody, "bob", "wrong")
    assert "<failure" in reply and "not-authorized" in reply, reply
    reply = login(prosody, "nobody", "whatever")
    assert "<failure" in reply and "not-authorized" in reply, reply


def test_user_created_while_stopped_and_restart(prosody):
    prosody.create_user("carol", "pw1")
    port = prosody.port
    pid = prosody.pid
    prosody.stop()
    assert not prosody.running
    prosody.create_user("dave", "pw2")
    prosody.restart()
    assert prosody.running and prosody.port == port and prosody.pid != pid
    assert "<success" in login(prosody, "carol", "pw1")
    assert "<success" in login(prosody, "dave", "pw2")
    assert "<success" in login(prosody, "alice", "correct horse")


def test_create_200_users(prosody):
    names = ["load%03d" % i for i in range(200)]
    began = time.perf_counter()
    jids = prosody.create_users([(n, "pw-" + n) for n in names])
    elapsed = time.perf_counter() - began
    print("created 200 users in %.3fs" % elapsed)
    assert jids[0] == "load000@%s" % DOMAIN and len(jids) == 200
    assert all(prosody.user_exists(n) for n in names)
    for n in (names[0], names[199]):
        assert "<success" in login(prosody, n, "pw-" + n)


def _bound_client(server, user, password):
    client, _ = secure_client(server)
    assert "<success" in client.auth_plain(user, password)
    features = client.open_stream()
    assert "urn:ietf:params:xml:ns:xmpp-bind" in features
    client.send(
        "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"
    )
    client.read_until(r"</iq>")
    return client, features


def test_smacks_offered_and_test_iq(prosody):
    prosody.create_user("erin", "pw")
    client, features = _bound_client(prosody, "erin", "pw")
    try:
        assert "urn:xmpp:sm:3" in features
        client.send(
            "<iq type='set' id='e1' to='%s'><echo xmlns='%s'/></iq>" % (DOMAIN, TEST_NS)
        )
        assert "type='result'" in client.read_until(r"</iq>|<iq[^>]*/>")
        client.send(
            "<iq type='set' id='e2' to='%s'><stream-error xmlns='%s' "
            "condition='policy-violation' text='bye'/></iq>" % (DOMAIN, TEST_NS)
        )
        got = client.read_until(r"</stream:error>")
        assert "<policy-violation" in got and "bye" in got, got
        client.read_until(r"</stream:stream>")
    finally:
        client.sock.close()


def test_server_closes_sessions(prosody):
    prosody.create_user("frank", "pw")
    client, _ = _bound_client(prosody, "frank", "pw")
    try:
        out = prosody.close_sessions(prosody.jid("frank"), condition="conflict", text="kicked")
        assert "1 sessions closed" in out, out
        got = client.read_until(r"</stream:error>")
        assert "<conflict" in got, got
    finally:
        client.sock.close()


def test_in_band_registration(prosody):
    client, features = secure_client(prosody)
    try:
        assert "http://jabber.org/features/iq-register" in features
        for i in range(3):  # no throttle between registrations
            client.send(
                "<iq type='set' id='r%d'><query xmlns='jabber:iq:register'>"
                "<username>ibr%d</username><password>pw</password></query></iq>" % (i, i)
            )
            reply = client.read_until(r"</iq>|<iq[^>]*/>")
            assert "type='result'" in reply, reply
    finally:
        client.close()
    assert prosody.user_exists("ibr2")
    assert "<success" in login(prosody, "ibr2", "pw")


def test_kill_and_start(prosody):
    prosody.create_user("gina", "pw")
    client, _ = _bound_client(prosody, "gina", "pw")
    try:
        prosody.kill()
        assert not prosody.running
        client.sock.settimeout(5)
        try:
            data = client.sock.recv(65536)
        except (ConnectionError, ssl.SSLError):
            data = b""
        assert b"</stream:stream>" not in data
    finally:
        client.sock.close()
    prosody.start()
    assert "<success" in login(prosody, "gina", "pw")


# ------------------------------------------- SMACKS_PARSER_FIX (stream resumption)


@pytest.fixture(scope="module")
def stock_prosody(tmp_path_factory):
    """The same server without SMACKS_PARSER_FIX: the stock Prosody's behaviour."""
    server = ProsodyServer(tmp_path_factory.mktemp("prosody-stock"), domain=DOMAIN,
                           smacks_parser_fix=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _installed_version():
    """The installed Prosody's version, as its package writes it (None if unknown)."""
    try:
        with open("/usr/lib/prosody/prosody.version") as f:
            return f.read().strip()
    except OSError:
        return None


PING_REPLY = re.compile(r"<iq[^>]*id=['\"]p1['\"]")


def _resume_after_a_fragment(server, user):
    """A resumable session whose connection dies while the server's parser holds half a
    stanza, resumed on a new connection; returns what the server answers to a ping and a
    stream close sent on the resumed stream (up to its ``</stream:stream>``)."""
    server.create_user(user, "pw")
    first, _ = _bound_client(server, user, "pw")
    try:
        first.send("<enable xmlns='%s' resume='true'/>" % NS_SM)
        enabled = first.read_until(r"<enabled[^>]*/>")
        previd = re.search(r"id=['\"]([^'\"]+)", enabled).group(1)
        # one write, so one read on the server's side: the ack proves it read the fragment too
        first.send("<r xmlns='%s'/><message to='%s@%s'><body>half" % (NS_SM, user, DOMAIN))
        first.read_until(r"<a [^>]*/>")
    finally:
        first.sock.close()  # no </stream:stream>: the session hibernates
    second, _ = secure_client(server)
    try:
        assert "<success" in second.auth_plain(user, "pw")
        second.open_stream()
        second.send("<resume xmlns='%s' h='0' previd='%s'/>" % (NS_SM, previd))
        resumed = second.read_until(r"<resumed[^>]*/>|</failed>|<failed[^>]*/>")
        assert "<resumed" in resumed, resumed
        second.send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>")
        return second.read_until(r"</stream:stream>", timeout=30)
    finally:
        second.sock.close()


def test_resumed_stream_is_parsed_afresh_with_the_fix(prosody):
    assert SMACKS_PARSER_FIX_MODULE in prosody.modules  # the default
    got = _resume_after_a_fragment(prosody, "resumer")
    assert PING_REPLY.search(got) and "not-well-formed" not in got, got


def test_resumed_stream_is_glued_to_the_fragment_without_the_fix(stock_prosody):
    """Why the fix is the default: the stock Prosody 0.12 feeds the resumed stream to the
    first connection's parser, so the ping is a child of the unfinished message (no answer)
    and the stream close a mismatched tag (not-well-formed)."""
    version = _installed_version()
    if version is None or not version.startswith("0.12."):
        pytest.skip("the bug was seen on Prosody 0.12.3; this is %s" % version)
    assert SMACKS_PARSER_FIX_MODULE not in stock_prosody.modules
    got = _resume_after_a_fragment(stock_prosody, "resumer")
    assert "not-well-formed" in got and not PING_REPLY.search(got), got


def test_parser_fix_loads_harmlessly_without_smacks(tmp_path):
    """Without mod_smacks the fix's hook never fires: the server starts, logs no error
    and serves logins."""
    server = ProsodyServer(tmp_path / "prosody", domain=DOMAIN, disabled_modules=("smacks",))
    assert SMACKS_PARSER_FIX_MODULE in server.modules and "smacks" not in server.modules
    with server:
        server.create_user("nosm", "pw")
        client, features = _bound_client(server, "nosm", "pw")
        client.close()
        assert NS_SM not in features
        log = server.log_path.read_text()  # before stop(), which logs a warning (SIGTERM)
    assert "Authenticated as nosm@" in log
    assert not re.search(r"\t(error|warn)\t", log), log


def test_parser_fix_is_written_and_can_be_turned_off(tmp_path):
    on = ProsodyServer(tmp_path / "on", prosody="/bin/false")
    off = ProsodyServer(tmp_path / "off", smacks_parser_fix=False, prosody="/bin/false")
    on.prepare()
    off.prepare()
    assert '"%s"' % SMACKS_PARSER_FIX_MODULE in on.config_path.read_text()
    assert SMACKS_PARSER_FIX_MODULE not in off.config_path.read_text()
    assert (on.plugin_path / ("mod_%s.lua" % SMACKS_PARSER_FIX_MODULE)).exists()
