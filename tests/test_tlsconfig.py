"""Real TLS handshakes over loopback TCP against a self-signed server certificate."""
from __future__ import annotations

import datetime
import ipaddress
import logging
import socket
import ssl
import threading

import pytest
pytest.importorskip("cryptography")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fastxmpp.tlsconfig import ALPN_CLIENT, make_client_context, server_hostname_for

HOST = "xmpp.example.test"


def make_cert(tmp_path, name, *, san_dns=(), san_ip=(), client=False):
    """A self-signed certificate and key written as PEM files; returns (cert_path, key_path, cert_pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    sans = [x509.DNSName(d) for d in san_dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in san_ip]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path = tmp_path / f"{name}.crt"
    key_path = tmp_path / f"{name}.key"
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path, cert_pem


@pytest.fixture(scope="module")
def server_cert(tmp_path_factory):
    return make_cert(tmp_path_factory.mktemp("tls"), HOST, san_dns=[HOST], san_ip=["127.0.0.1"])


class Server:
    """A one-connection TLS server on 127.0.0.1 that handshakes, reads one line and echoes it."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.error = None
        self.alpn = None
        self.peer_cert = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.listener.settimeout(10)
        try:
            conn, _ = self.listener.accept()
        except OSError as exc:
            self.error = exc
            return
        conn.settimeout(10)
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                self.alpn = tls.selected_alpn_protocol()
                self.peer_cert = tls.getpeercert()
                data = tls.recv(100)
                tls.sendall(data)
        except (OSError, ssl.SSLError) as exc:  # the client refused us: expected in some tests
            self.error = exc

    def close(self):
        self.thread.join(10)
        self.listener.close()


@pytest.fixture
def server_ctx(server_cert):
    cert_path, key_path, _ = server_cert
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    ctx.set_alpn_protocols(["xmpp-client"])
    return ctx


@pytest.fixture
def server(server_ctx):
    srv = Server(server_ctx)
    yield srv
    srv.close()


def talk(ctx, port, hostname):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=hostname) as tls:
            tls.sendall(b"<stream/>")
            return tls.recv(100), tls.selected_alpn_protocol(), tls.version()


def test_defaults():
    ctx = make_client_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.get_ca_certs() is not None  # system store loaded (may be empty in a container)


def test_min_version():
    assert make_client_context(min_version=ssl.TLSVersion.TLSv1_3).minimum_version == ssl.TLSVersion.TLSv1_3


def test_valid_hostname_passes_with_alpn(server, server_cert):
    ctx = make_client_context(ca_file=server_cert[0])
    echoed, alpn, version = talk(ctx, server.port, server_hostname_for(HOST))
    assert echoed == b"<stream/>"
    assert alpn == ALPN_CLIENT == "xmpp-client"
    assert server.alpn == "xmpp-client"
    assert version in ("TLSv1.2", "TLSv1.3")


def test_ca_data(server, server_cert):
    ctx = make_client_context(ca_data=server_cert[2].decode("ascii"))
    assert talk(ctx, server.port, HOST)[0] == b"<stream/>"


def test_ip_literal_domain(server, server_cert):
    ctx = make_client_context(ca_file=server_cert[0])
    assert server_hostname_for("[127.0.0.1]") == "127.0.0.1"
    assert talk(ctx, server.port, server_hostname_for("127.0.0.1"))[0] == b"<stream/>"


def test_wrong_hostname_fails(server, server_cert):
    ctx = make_client_context(ca_file=server_cert[0])
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        talk(ctx, server.port, "other.example.test")
    assert "other.example.test" in str(info.value) or "mismatch" in str(info.value).lower()


def test_unknown_ca_fails(server):
    ctx = make_client_context()  # system store only: the self-signed cert is unknown
    with pytest.raises(ssl.SSLCertVerificationError):
        talk(ctx, server.port, HOST)


def test_verify_false_works_and_warns(server, caplog):
    with caplog.at_level(logging.WARNING, logger="fastxmpp.tls"):
        ctx = make_client_context(verify=False)
    assert ctx.verify_mode == ssl.CERT_NONE and ctx.check_hostname is False
    warnings = [r for r in caplog.records if r.name == "fastxmpp.tls" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "verification is disabled" in warnings[0].getMessage()
    echoed, alpn, _ = talk(ctx, server.port, "wrong.example.test")
    assert echoed == b"<stream/>" and alpn == "xmpp-client"


def test_verify_true_does_not_warn(caplog):
    with caplog.at_level(logging.DEBUG, logger="fastxmpp.tls"):
        make_client_context()
    assert not [r for r in caplog.records if r.name == "fastxmpp.tls"]


def test_client_certificate(server_ctx, server_cert, tmp_path):
    client_cert, client_key, _ = make_cert(tmp_path, "client.example.test", client=True)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(cafile=client_cert)
    srv = Server(server_ctx)
    try:
        ctx = make_client_context(ca_file=server_cert[0], client_cert=client_cert, client_key=client_key)
        assert talk(ctx, srv.port, HOST)[0] == b"<stream/>"
    finally:
        srv.close()
    assert srv.error is None
    assert dict(x[0] for x in srv.peer_cert["subject"])["commonName"] == "client.example.test"


def test_client_key_without_cert():
    with pytest.raises(ValueError):
        make_client_context(client_key="key.pem")


def test_server_hostname_for():
    assert server_hostname_for("Example.TEST.") == "example.test"
    assert server_hostname_for("bücher.test") == "xn--bcher-kva.test"
    assert server_hostname_for("[::1]") == "::1"
