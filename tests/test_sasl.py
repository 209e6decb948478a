"""Tests for fastxmpp.sasl: RFC vectors, an independent SCRAM server, selection, channel binding."""
from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import ssl

import pytest

from fastxmpp import sasl
from fastxmpp.errors import SASLError
from fastxmpp.sasl import (
    Anonymous,
    ChannelBinding,
    External,
    Plain,
    Scram,
    ScramKeyCache,
    channel_bindings_from_ssl,
    choose_mechanism,
    failure_from_element,
    saslprep,
    ssdp_hash,
    tls_server_end_point,
    verify_downgrade_protection,
)

b64 = base64.b64encode


# ---------------------------------------------------------------------------
# An independent SCRAM server (RFC 5802 section 3 formulas written out here)
# ---------------------------------------------------------------------------


def hi(hash_name: str, password: bytes, salt: bytes, iterations: int) -> bytes:
    """RFC 5802 Hi() spelled out (no pbkdf2_hmac): U1 = HMAC(p, salt + INT(1)), Ui = HMAC(p, Ui-1)."""
    u = hmac.new(password, salt + b"\x00\x00\x00\x01", hash_name).digest()
    result = int.from_bytes(u, "big")
    for _ in range(iterations - 1):
        u = hmac.new(password, u, hash_name).digest()
        result ^= int.from_bytes(u, "big")
    return result.to_bytes(len(u), "big")


class ScramServer:
    def __init__(self, hash_name, password, *, salt=b"0123456789abcdef", iterations=4096,
                 snonce="SERVERNONCE", extra="", cb_data=b""):
        self.h = hash_name
        self.salted = hi(hash_name, password.encode("utf-8"), salt, iterations)
        self.salt, self.iterations, self.snonce, self.extra, self.cb_data = salt, iterations, snonce, extra, cb_data

    def first(self, client_first: bytes) -> bytes:
        text = client_first.decode()
        self.gs2, _, rest = text.partition(",")
        authz, _, bare = rest.partition(",")
        self.gs2_header = f"{self.gs2},{authz},"
        self.client_first_bare = bare
        cnonce = dict(a.split("=", 1) for a in bare.split(","))["r"]
        self.nonce = cnonce + self.snonce
        self.server_first = f"r={self.nonce},s={b64(self.salt).decode()},i={self.iterations}{self.extra}"
        return self.server_first.encode()

    def final(self, client_final: bytes) -> bytes:
        text = client_final.decode()
        without_proof, _, proof = text.rpartition(",p=")
        attrs = dict(a.split("=", 1) for a in without_proof.split(","))
        assert attrs["r"] == self.nonce
        assert base64.b64decode(attrs["c"]) == self.gs2_header.encode() + self.cb_data
        auth = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        client_key = hmac.new(self.salted, b"Client Key", self.h).digest()
        stored = hashlib.new(self.h, client_key).digest()
        sig = hmac.new(stored, auth, self.h).digest()
        recovered = bytes(x ^ y for x, y in zip(base64.b64decode(proof), sig))
        assert hashlib.new(self.h, recovered).digest() == stored, "client proof rejected"
        server_key = hmac.new(self.salted, b"Server Key", self.h).digest()
        return b"v=" + b64(hmac.new(server_key, auth, self.h).digest())


def run_exchange(mech, server):
    final = mech.challenge(server.first(mech.initial_response()))
    mech.success(server.final(final))
    return mech


# ---------------------------------------------------------------------------
# RFC test vectors
# ---------------------------------------------------------------------------


def test_rfc5802_scram_sha1_vector():
    m = Scram("SHA-1", "user", "pencil", cnonce="fyko+d2lbbFgONRv9qkxdawL")
    assert m.name == "SCRAM-SHA-1"
    assert m.initial_response() == b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
    reply = m.challenge(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")
    assert reply == (b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
                     b"p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=")
    assert not m.is_complete
    m.success(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
    assert m.is_complete


def test_rfc7677_scram_sha256_vector():
    m = Scram("SHA-256", "user", "pencil", cnonce="rOprNGfwEbeRWgbNEkqO")
    assert m.name == "SCRAM-SHA-256"
    assert m.initial_response() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    reply = m.challenge(b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                        b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    assert reply == (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                     b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    m.success(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    assert m.is_complete


def test_scram_sha512_against_independent_server():
    m = Scram("SHA-512", "alice", "s3cr\u00e9t", cnonce="clientnonce512")
    server = ScramServer("sha512", "s3cr\u00e9t", salt=b"\x01\x02salty", snonce="+srv512")
    run_exchange(m, server)
    assert m.name == "SCRAM-SHA-512" and m.is_complete
    assert server.client_first_bare == "n=alice,r=clientnonce512"


def test_scram_wrong_password_fails_independent_server():
    m = Scram("SHA-512", "alice", "wrong", cnonce="clientnonce512")
    server = ScramServer("sha512", "right")
    final = m.challenge(server.first(m.initial_response()))
    with pytest.raises(AssertionError, match="client proof rejected"):
        server.final(final)


# ---------------------------------------------------------------------------
# SCRAM failures
# ---------------------------------------------------------------------------

SF = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"


def rfc5802_mech(**kw):
    m = Scram("SHA-1", "user", "pencil", cnonce="fyko+d2lbbFgONRv9qkxdawL", **kw)
    m.initial_response()
    return m


def test_bad_server_signature():
    m = rfc5802_mech()
    m.challenge(SF)
    with pytest.raises(SASLError) as exc:
        m.success(b"v=" + b64(b"\x00" * 20))
    assert exc.value.condition == "server-signature-mismatch"
    assert not m.is_complete


def test_success_without_server_signature_is_an_error():
    m = rfc5802_mech()
    m.challenge(SF)
    with pytest.raises(SASLError) as exc:
        m.success(None)
    assert exc.value.condition == "server-signature-mismatch"
    assert not m.is_complete


def test_success_before_server_first_is_an_error():
    m = rfc5802_mech()
    with pytest.raises(SASLError):
        m.success(None)
    assert not m.is_complete


def test_server_final_as_challenge_then_empty_success():
    m = rfc5802_mech()
    m.challenge(SF)
    assert m.challenge(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=") == b""
    m.success(None)
    assert m.is_complete


def test_server_final_bad_signature_as_challenge():
    m = rfc5802_mech()
    m.challenge(SF)
    with pytest.raises(SASLError) as exc:
        m.challenge(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQX")
    assert exc.value.condition in ("server-signature-mismatch", "malformed-request")


@pytest.mark.parametrize("server_first", [
    b"r=someoneelsesnonce,s=QSXCR+Q6sek8bf92,i=4096",          # not our prefix
    b"r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096",   # no server part
    b"r=fyko+d2lbbFgONRv9qkxdawL\x7f,s=QSXCR+Q6sek8bf92,i=4096",  # non-printable
])
def test_bad_nonce(server_first):
    m = rfc5802_mech()
    with pytest.raises(SASLError) as exc:
        m.challenge(server_first)
    assert exc.value.condition == "malformed-request"
    assert "nonce" in exc.value.text


def test_server_error_attribute_in_final():
    m = rfc5802_mech()
    m.challenge(SF)
    with pytest.raises(SASLError) as exc:
        m.success(b"e=invalid-proof")
    assert exc.value.condition == "not-authorized"
    assert exc.value.text == "invalid-proof"


def test_server_error_attribute_mapped_condition():
    m = rfc5802_mech()
    m.challenge(SF)
    with pytest.raises(SASLError) as exc:
        m.challenge(b"e=no-resources")
    assert (exc.value.condition, exc.value.text) == ("temporary-auth-failure", "no-resources")


def test_mandatory_extension_rejected():
    m = rfc5802_mech()
    with pytest.raises(SASLError) as exc:
        m.challenge(b"m=ext," + SF)
    assert exc.value.condition == "malformed-request"
    assert "m=" in exc.value.text


@pytest.mark.parametrize("server_first, condition", [
    (b"r=fyko+d2lbbFgONRv9qkxdawLX,s=QSXCR+Q6sek8bf92,i=0", "malformed-request"),
    (b"r=fyko+d2lbbFgONRv9qkxdawLX,s=QSXCR+Q6sek8bf92,i=-5", "malformed-request"),
    (b"r=fyko+d2lbbFgONRv9qkxdawLX,s=QSXCR+Q6sek8bf92,i=abc", "malformed-request"),
    (b"r=fyko+d2lbbFgONRv9qkxdawLX,s=QSXCR+Q6sek8bf92,i=1000", "mechanism-too-weak"),
    (b"r=fyko+d2lbbFgONRv9qkxdawLX,s=QSXCR+Q6sek8bf92,i=99999999999", "mechanism-too-weak"),
    (b"r=fyko+d2lbbFgONRv9qkxdawLX,s=not base64!,i=4096", "malformed-request"),
    (b"r=fyko+d2lbbFgONRv9qkxdawLX,s=,i=4096", "malformed-request"),
    (b"s=QSXCR+Q6sek8bf92,r=fyko+d2lbbFgONRv9qkxdawLX,i=4096", "malformed-request"),
    (b"garbage", "malformed-request"),
    (b"r=fyko+d2lbbFgONRv9qkxdawLX,s=QSXCR+Q6sek8bf92,i=4096,\xff=1", "malformed-request"),
])
def test_bad_server_first(server_first, condition):
    m = rfc5802_mech()
    with pytest.raises(SASLError) as exc:
        m.challenge(server_first)
    assert exc.value.condition == condition


def test_min_iterations_is_configurable():
    m = rfc5802_mech(min_iterations=1000)
    reply = m.challenge(b"r=fyko+d2lbbFgONRv9qkxdawLX,s=QSXCR+Q6sek8bf92,i=1000")
    assert reply.startswith(b"c=biws,r=fyko+d2lbbFgONRv9qkxdawLX,p=")


def test_unknown_optional_extension_ignored():
    m = rfc5802_mech()
    reply = m.challenge(SF + b",x=whatever")
    # The attribute is part of AuthMessage, so the RFC proof must differ.
    assert reply.startswith(b"c=biws,r=") and not reply.endswith(b"p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=")


def test_second_server_first_is_rejected():
    m = rfc5802_mech()
    m.challenge(SF)
    m.challenge(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
    with pytest.raises(SASLError):
        m.challenge(SF)


def test_username_escaping_and_saslprep():
    m = Scram("SHA-256", "u,s=er\u00ad", "p\u00a0w", cnonce="abc")
    assert m.initial_response() == b"n,,n=u=2Cs=3Der,r=abc"
    # password "p<NBSP>w" is prepared to "p w": the independent server uses "p w"
    server = ScramServer("sha256", "p w")
    final = m.challenge(server.first(b"n,,n=u=2Cs=3Der,r=abc"))
    assert server.final(final).startswith(b"v=")


def test_authzid_in_gs2_header():
    m = Scram("SHA-1", "user", "pencil", cnonce="abc", authzid="ad,min")
    assert m.initial_response() == b"n,a=ad=2Cmin,n=user,r=abc"
    server = ScramServer("sha1", "pencil")
    run_exchange(Scram("SHA-1", "user", "pencil", cnonce="abc", authzid="admin"), server)
    assert server.gs2_header == "n,a=admin,"


def test_random_cnonce_differs():
    a = Scram("SHA-1", "user", "pencil").initial_response()
    b = Scram("SHA-1", "user", "pencil").initial_response()
    assert a != b and a.startswith(b"n,,n=user,r=") and b"," not in a[len(b"n,,n=user,r="):]


def test_bad_arguments():
    with pytest.raises(ValueError):
        Scram("MD5", "user", "pencil")
    with pytest.raises(ValueError):
        Scram("SHA-1", "user", "pencil", cnonce="a,b")
    with pytest.raises(ValueError):
        Scram("SHA-1", "\u00ad", "pencil")  # empty after SASLprep
    with pytest.raises(ValueError):
        Scram("SHA-1", "user", "pen\u0007cil")  # prohibited in password


# ---------------------------------------------------------------------------
# Channel binding: gs2 headers and c=
# ---------------------------------------------------------------------------

CB = ChannelBinding("tls-exporter", b"\x01\x02\x03binding")


def test_plus_gs2_header_and_c_value():
    m = Scram("SHA-256", "user", "pencil", cnonce="abc", channel_binding=CB)
    assert m.name == "SCRAM-SHA-256-PLUS"
    assert m.initial_response() == b"p=tls-exporter,,n=user,r=abc"
    server = ScramServer("sha256", "pencil", cb_data=CB.data)
    final = m.challenge(server.first(b"p=tls-exporter,,n=user,r=abc"))
    c_value = dict(a.split(b"=", 1) for a in final.split(b","))[b"c"]
    assert base64.b64decode(c_value) == b"p=tls-exporter,," + CB.data
    m.success(server.final(final))
    assert m.is_complete


def test_xep0474_example_c_value():
    # XEP-0474 section 5.3: p=tls-exporter with fake data "THIS IS FAKE CB DATA".
    m = Scram("SHA-1", "user", "pencil", cnonce="12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6",
              channel_binding=ChannelBinding("tls-exporter", b"THIS IS FAKE CB DATA"))
    m.initial_response()
    final = m.challenge(b"r=12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6a09117a6-ac50-4f2f-93f1-93799c2bddf6,"
                        b"s=QSXCR+Q6sek8bf92,i=4096")
    assert final.startswith(b"c=cD10bHMtZXhwb3J0ZXIsLFRISVMgSVMgRkFLRSBDQiBEQVRB,r=")


@pytest.mark.parametrize("supports, header, c_value", [
    (True, b"y,,", b"eSws"),
    (False, b"n,,", b"biws"),
])
def test_y_and_n_gs2_headers(supports, header, c_value):
    m = Scram("SHA-256", "user", "pencil", cnonce="abc", client_supports_binding=supports)
    assert m.initial_response() == header + b"n=user,r=abc"
    server = ScramServer("sha256", "pencil")
    final = m.challenge(server.first(header + b"n=user,r=abc"))
    assert final.startswith(b"c=" + c_value + b",")
    assert base64.b64decode(c_value) == header
    m.success(server.final(final))


def test_channel_binding_value_checks():
    with pytest.raises(ValueError):
        ChannelBinding("bad type,", b"x")
    assert "binding" not in repr(CB)


# ---------------------------------------------------------------------------
# XEP-0474 downgrade protection
# ---------------------------------------------------------------------------

XEP474_MECHS = ["SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"]
XEP474_CBS = ["tls-server-end-point", "tls-exporter"]


def test_ssdp_hash_xep_example():
    # "SCRAM-SHA-1\x1eSCRAM-SHA-1-PLUS\x1ftls-exporter\x1etls-server-end-point"
    assert b64(ssdp_hash("SHA-1", XEP474_MECHS[::-1], XEP474_CBS)) == b"G6k/rBLDqgOhRRaCuuatSDFkJ08="


def test_ssdp_hash_legacy_d_format():
    expected = hashlib.sha256(b"PLAIN,SCRAM-SHA-256|tls-unique").digest()
    assert ssdp_hash("SHA-256", ["SCRAM-SHA-256", "PLAIN"], ["tls-unique"], attribute="d") == expected
    no_cb = hashlib.sha256(b"PLAIN,SCRAM-SHA-256").digest()
    assert ssdp_hash("SHA-256", ["SCRAM-SHA-256", "PLAIN"], None, attribute="d") == no_cb


def xep474_server_first(h_value: bytes) -> bytes:
    return (b"r=12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6a09117a6-ac50-4f2f-93f1-93799c2bddf6,"
            b"s=QSXCR+Q6sek8bf92,i=4096,h=" + h_value)


def xep474_mech(mechs, cbs):
    m = Scram("SHA-1", "user", "pencil", cnonce="12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6",
              channel_binding=ChannelBinding("tls-exporter", b"THIS IS FAKE CB DATA"),
              advertised_mechanisms=mechs, advertised_cb_types=cbs)
    m.initial_response()
    return m


def test_ssdp_verified_in_server_first():
    m = xep474_mech(XEP474_MECHS, XEP474_CBS)
    m.challenge(xep474_server_first(b"G6k/rBLDqgOhRRaCuuatSDFkJ08="))
    assert m.downgrade_protected


@pytest.mark.parametrize("mechs, cbs", [
    (["SCRAM-SHA-1"], XEP474_CBS),                         # -PLUS stripped
    (XEP474_MECHS, ["tls-server-end-point"]),               # tls-exporter stripped
    (XEP474_MECHS, None),                                   # XEP-0440 element stripped
])
def test_ssdp_downgrade_detected(mechs, cbs):
    m = xep474_mech(mechs, cbs)
    with pytest.raises(SASLError) as exc:
        m.challenge(xep474_server_first(b"G6k/rBLDqgOhRRaCuuatSDFkJ08="))
    assert exc.value.condition == "downgrade-detected"


def test_ssdp_legacy_d_attribute_checked():
    value = b64(hashlib.sha1(b"SCRAM-SHA-1,SCRAM-SHA-1-PLUS|tls-exporter,tls-server-end-point").digest())
    good = xep474_mech(XEP474_MECHS, XEP474_CBS)
    good.challenge(xep474_server_first(b"x").replace(b"h=x", b"d=" + value))
    assert good.downgrade_protected
    bad = xep474_mech(["SCRAM-SHA-1"], None)
    with pytest.raises(SASLError) as exc:
        bad.challenge(xep474_server_first(b"x").replace(b"h=x", b"d=" + value))
    assert exc.value.condition == "downgrade-detected"


def test_verify_downgrade_protection_function():
    verify_downgrade_protection("G6k/rBLDqgOhRRaCuuatSDFkJ08=", hash_name="SHA-1",
                                mechanisms=XEP474_MECHS, cb_types=XEP474_CBS)
    with pytest.raises(SASLError) as exc:
        verify_downgrade_protection("not base64!", hash_name="SHA-1", mechanisms=XEP474_MECHS)
    assert exc.value.condition == "malformed-request"


def test_choose_mechanism_wires_ssdp_lists():
    offered = ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"]
    m = choose_mechanism(offered, username="user", password="pencil", encrypted=True,
                         channel_bindings={"tls-exporter": b"cb"}, server_cb_types=XEP474_CBS)
    assert m.name == "SCRAM-SHA-1-PLUS"
    first = m.initial_response()
    cnonce = first.split(b",r=")[1]
    with pytest.raises(SASLError) as exc:
        m.challenge(b"r=" + cnonce + b"srv,s=QSXCR+Q6sek8bf92,i=4096,h=" + b64(b"\x00" * 20))
    assert exc.value.condition == "downgrade-detected"


# ---------------------------------------------------------------------------
# PLAIN / ANONYMOUS / EXTERNAL
# ---------------------------------------------------------------------------


def test_plain():
    m = Plain("user", "pencil")
    assert m.name == "PLAIN"
    assert m.initial_response() == b"\x00user\x00pencil"
    m.success(None)
    assert m.is_complete


def test_plain_with_authzid_and_unicode():
    m = Plain("us\u00e9r", "p\u00e4ss", authzid="admin@example.org")
    assert m.initial_response() == b"admin@example.org\x00us\xc3\xa9r\x00p\xc3\xa4ss"


def test_plain_rejects_nul_and_unexpected_challenge():
    with pytest.raises(ValueError):
        Plain("us\x00er", "pencil")
    m = Plain("user", "pencil")
    m.initial_response()
    with pytest.raises(SASLError):
        m.challenge(b"")


def test_plain_answers_empty_challenge_without_initial_response():
    m = Plain("user", "pencil")
    assert m.challenge(b"") == b"\x00user\x00pencil"


def test_anonymous():
    assert Anonymous().initial_response() == b""
    assert Anonymous("sirhc@example.org").initial_response() == b"sirhc@example.org"
    assert Anonymous().name == "ANONYMOUS"
    with pytest.raises(ValueError):
        Anonymous("x" * 256)
    with pytest.raises(ValueError):
        Anonymous("")


def test_external():
    m = External()
    assert m.name == "EXTERNAL"
    assert m.initial_response() == b""  # sent as "="
    assert External("juliet@example.com").initial_response() == b"juliet@example.com"


# ---------------------------------------------------------------------------
# Mechanism selection
# ---------------------------------------------------------------------------

ALL = ["SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS",
       "SCRAM-SHA-512", "SCRAM-SHA-512-PLUS", "PLAIN", "EXTERNAL", "ANONYMOUS"]
EXP = {"tls-exporter": b"E" * 32}
UNI = {"tls-unique": b"U" * 12}
EP = {"tls-server-end-point": b"P" * 32}
CREDS = {"username": "user", "password": "pencil"}


@pytest.mark.parametrize("offered, kw, name, gs2", [
    (ALL, dict(CREDS, channel_bindings=EXP), "SCRAM-SHA-512-PLUS", b"p=tls-exporter,,"),
    (ALL, dict(CREDS, channel_bindings={**UNI, **EP}), "SCRAM-SHA-512-PLUS", b"p=tls-unique,,"),
    # no XEP-0440: tls-server-end-point is not assumed, and flag n (server offers -PLUS)
    (ALL, dict(CREDS, channel_bindings=EP), "SCRAM-SHA-512", b"n,,"),
    (ALL, dict(CREDS, channel_bindings=EP, server_cb_types=["tls-server-end-point"]),
     "SCRAM-SHA-512-PLUS", b"p=tls-server-end-point,,"),
    (ALL, dict(CREDS, channel_bindings={**EXP, **EP}, server_cb_types=["tls-server-end-point"]),
     "SCRAM-SHA-512-PLUS", b"p=tls-server-end-point,,"),
    (ALL, dict(CREDS, channel_bindings={**EXP, **EP}, server_cb_types=["tls-server-end-point", "tls-exporter"]),
     "SCRAM-SHA-512-PLUS", b"p=tls-exporter,,"),
    (ALL, dict(CREDS, channel_bindings=EXP, server_cb_types=["tls-unique"]), "SCRAM-SHA-512", b"n,,"),
    (ALL, dict(CREDS), "SCRAM-SHA-512", b"n,,"),
    (["SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"], dict(CREDS, channel_bindings=EP), "SCRAM-SHA-256", b"y,,"),
    (["SCRAM-SHA-1", "SCRAM-SHA-256"], dict(CREDS, channel_bindings=EXP), "SCRAM-SHA-256", b"y,,"),
    (["SCRAM-SHA-1-PLUS", "SCRAM-SHA-256"], dict(CREDS, channel_bindings=EXP), "SCRAM-SHA-1-PLUS",
     b"p=tls-exporter,,"),
    (["SCRAM-SHA-1", "SCRAM-SHA-256-PLUS"], dict(CREDS), "SCRAM-SHA-1", b"n,,"),
    (ALL, dict(CREDS, channel_bindings=EXP, preference=["SCRAM-SHA-1", "PLAIN"]), "SCRAM-SHA-1", b"n,,"),
    (ALL, dict(CREDS, client_cert=True), "EXTERNAL", None),
    (["SCRAM-SHA-256", "PLAIN"], dict(CREDS, client_cert=True), "SCRAM-SHA-256", b"n,,"),
    (["PLAIN"], dict(CREDS), "PLAIN", None),
    (["PLAIN", "ANONYMOUS"], dict(CREDS, encrypted=False, allow_plain_unencrypted=True), "PLAIN", None),
    (["PLAIN", "ANONYMOUS"], dict(CREDS, encrypted=False, allow_anonymous=True), "ANONYMOUS", None),
    (["SCRAM-SHA-256", "ANONYMOUS"], dict(), "ANONYMOUS", None),
    (["scram-sha-256"], dict(CREDS), "SCRAM-SHA-256", b"n,,"),
])
def test_selection_matrix(offered, kw, name, gs2):
    kw = dict(kw)
    kw.setdefault("encrypted", True)
    m = choose_mechanism(offered, **kw)
    assert m.name == name
    if gs2 is not None:
        assert m.initial_response().startswith(gs2 + b"n=user,r=")


@pytest.mark.parametrize("offered, kw, fragment", [
    (["PLAIN"], dict(CREDS, encrypted=False), "allow_plain_unencrypted"),
    (["PLAIN", "ANONYMOUS"], dict(CREDS, encrypted=False), "allow_plain_unencrypted"),
    (["DIGEST-MD5", "X-OAUTH2"], dict(CREDS, encrypted=True), "DIGEST-MD5"),
    (["SCRAM-SHA-256", "PLAIN"], dict(encrypted=True), "no credentials"),
    (["SCRAM-SHA-256-PLUS"], dict(CREDS, encrypted=True), "SCRAM-SHA-256-PLUS"),
    (["EXTERNAL"], dict(CREDS, encrypted=True), "EXTERNAL"),
    ([], dict(CREDS, encrypted=True), "nothing"),
])
def test_selection_no_usable_mechanism(offered, kw, fragment):
    with pytest.raises(SASLError) as exc:
        choose_mechanism(offered, **kw)
    assert exc.value.condition == "no-usable-mechanism"
    assert fragment in exc.value.text


def test_selection_passes_cache_and_min_iterations():
    cache = ScramKeyCache(maxsize=4)
    m = choose_mechanism(["SCRAM-SHA-256"], encrypted=True, salted_password_cache=cache,
                         min_iterations=10, **CREDS)
    run_exchange(m, ScramServer("sha256", "pencil", iterations=10))
    assert len(cache) == 1


# ---------------------------------------------------------------------------
# Key cache
# ---------------------------------------------------------------------------


def test_key_cache_skips_pbkdf2(monkeypatch):
    calls = []
    real = hashlib.pbkdf2_hmac

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(sasl.hashlib, "pbkdf2_hmac", counting)
    cache = ScramKeyCache(maxsize=8)
    for _ in range(3):
        m = Scram("SHA-1", "user", "pencil", cnonce="fyko+d2lbbFgONRv9qkxdawL", salted_password_cache=cache)
        m.initial_response()
        assert m.challenge(SF).endswith(b"p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=")
        m.success(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
    assert len(calls) == 1
    assert cache.hits == 2 and cache.misses == 1
    # without a cache every login derives again
    m = rfc5802_mech()
    m.challenge(SF)
    assert len(calls) == 2


def test_key_cache_plain_dict_and_lru_eviction():
    d = {}
    m = rfc5802_mech(salted_password_cache=d)
    m.challenge(SF)
    assert list(d) == [("SHA-1", "pencil", base64.b64decode("QSXCR+Q6sek8bf92"), 4096)]
    cache = ScramKeyCache(maxsize=2)
    cache["a"] = (b"1", b"1")
    cache["b"] = (b"2", b"2")
    assert cache["a"] == (b"1", b"1")  # a is now most recent
    cache["c"] = (b"3", b"3")
    assert "b" not in cache and "a" in cache and "c" in cache and len(cache) == 2
    with pytest.raises(KeyError):
        cache["b"]


# ---------------------------------------------------------------------------
# tls-server-end-point and channel_bindings_from_ssl
# ---------------------------------------------------------------------------

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.x509.oid import NameOID
except ImportError:  # pragma: no cover - only the certificate tests need it
    x509 = None

needs_crypto = pytest.mark.skipif(x509 is None, reason="cryptography is not installed")


def make_cert(key, algorithm):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.org")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("example.org")]), critical=False)
            .sign(key, algorithm))
    return cert


@pytest.fixture(scope="module")
def p256_key():
    return ec.generate_private_key(ec.SECP256R1())


@needs_crypto
@pytest.mark.parametrize("algorithm, hasher", [
    ("SHA256", hashlib.sha256),
    ("SHA384", hashlib.sha384),
    ("SHA512", hashlib.sha512),
])
def test_tls_server_end_point_hash_choice(p256_key, algorithm, hasher):
    der = make_cert(p256_key, getattr(hashes, algorithm)()).public_bytes(serialization.Encoding.DER)
    data = tls_server_end_point(der)
    assert data == hasher(der).digest()
    assert len(data) == hasher().digest_size


@needs_crypto
@pytest.mark.parametrize("weak", ["SHA1", "MD5"])
def test_tls_server_end_point_md5_sha1_upgraded_to_sha256(p256_key, monkeypatch, weak):
    # cryptography no longer signs with SHA-1/MD5, so present a real certificate
    # whose reported signature hash is the weak one.
    cert = make_cert(p256_key, hashes.SHA384())
    der = cert.public_bytes(serialization.Encoding.DER)

    class WeakCert:
        signature_hash_algorithm = getattr(hashes, weak)()

    monkeypatch.setattr(x509, "load_der_x509_certificate", lambda data: WeakCert())
    assert tls_server_end_point(der) == hashlib.sha256(der).digest()


@needs_crypto
def test_tls_server_end_point_undefined_for_ed25519():
    key = ed25519.Ed25519PrivateKey.generate()
    der = make_cert(key, None).public_bytes(serialization.Encoding.DER)
    assert tls_server_end_point(der) is None


def _handshake(tmp_path, key, cert, version):
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(str(certfile), str(keyfile))
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(str(certfile))
    for ctx in (sctx, cctx):
        ctx.minimum_version = ctx.maximum_version = version
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = cctx.wrap_bio(c_in, c_out, server_hostname="example.org")
    server = sctx.wrap_bio(s_in, s_out, server_side=True)
    done = set()
    for _ in range(20):
        for name, obj in (("c", client), ("s", server)):
            if name not in done:
                try:
                    obj.do_handshake()
                    done.add(name)
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if len(done) == 2:
            break
    assert done == {"c", "s"}
    return client, server


@needs_crypto
def test_channel_bindings_tls12(tmp_path, p256_key):
    cert = make_cert(p256_key, hashes.SHA384())
    client, server = _handshake(tmp_path, p256_key, cert, ssl.TLSVersion.TLSv1_2)
    assert client.version() == "TLSv1.2"
    cbs = channel_bindings_from_ssl(client)
    der = cert.public_bytes(serialization.Encoding.DER)
    assert cbs["tls-server-end-point"] == hashlib.sha384(der).digest()
    assert cbs["tls-unique"] == server.get_channel_binding("tls-unique")
    assert "tls-exporter" not in cbs


@needs_crypto
def test_channel_bindings_tls13(tmp_path, p256_key):
    cert = make_cert(p256_key, hashes.SHA256())
    client, _ = _handshake(tmp_path, p256_key, cert, ssl.TLSVersion.TLSv1_3)
    assert client.version() == "TLSv1.3"
    cbs = channel_bindings_from_ssl(client)
    assert set(cbs) <= {"tls-server-end-point", "tls-exporter"}
    assert "tls-unique" not in cbs
    assert cbs["tls-server-end-point"] == hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    assert ("tls-exporter" in cbs) == hasattr(client, "export_keying_material")


class FakeTLS13:
    """Duck-typed TLS object with a keying-material exporter (pyOpenSSL-style)."""

    def __init__(self):
        self.calls = []

    def version(self):
        return "TLSv1.3"

    def getpeercert(self, binary_form=False):
        return None

    def get_channel_binding(self, cb_type="tls-unique"):
        raise AssertionError("tls-unique must not be asked for on TLS 1.3")

    def export_keying_material(self, label, length, context):
        self.calls.append((label, length, context))
        return b"K" * length


def test_channel_bindings_tls_exporter_when_available():
    fake = FakeTLS13()
    assert channel_bindings_from_ssl(fake) == {"tls-exporter": b"K" * 32}
    assert fake.calls == [(b"EXPORTER-Channel-Binding", 32, b"")]


# ---------------------------------------------------------------------------
# SASLprep (RFC 4013 section 3 examples) and failures
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw, prepared", [
    ("I\u00adX", "IX"),
    ("user", "user"),
    ("USER", "USER"),
    ("\u00aa", "a"),
    ("\u2168", "IX"),
    ("a\u00a0b", "a b"),
    ("\u0627\u0031\u0628", "\u0627\u0031\u0628"),
])
def test_saslprep_examples(raw, prepared):
    assert saslprep(raw) == prepared


@pytest.mark.parametrize("raw", ["\u0007", "\u0627\u0031", "a\ue000", "\u0627a\u0628"])
def test_saslprep_errors(raw):
    with pytest.raises(ValueError):
        saslprep(raw)


def test_saslprep_unassigned_only_in_query_mode():
    unassigned = "\u0221"  # unassigned in Unicode 3.2
    assert saslprep(unassigned, allow_unassigned=True) == unassigned
    with pytest.raises(ValueError):
        saslprep(unassigned)


@pytest.mark.parametrize("condition, text, expected", [
    ("not-authorized", None, ("not-authorized", "")),
    ("account-disabled", "Your account has expired", ("account-disabled", "Your account has expired")),
    ("temporary-auth-failure", "", ("temporary-auth-failure", "")),
    ("bogus-condition", "x", ("not-authorized", "unknown failure condition 'bogus-condition': x")),
])
def test_failure_from_element(condition, text, expected):
    err = failure_from_element(condition, text)
    assert isinstance(err, SASLError)
    assert (err.condition, err.text) == expected


def test_core_imports_no_ssl_or_network():
    import subprocess
    import sys

    code = ("import sys, fastxmpp.sasl; "
            "bad = {'ssl', 'socket', 'asyncio', 'cryptography'} & set(sys.modules); "
            "print(sorted(bad)); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------------------
# Key derivation outside the exchange (inline_iterations) and the iteration cap
# ---------------------------------------------------------------------------

RFC5802_FINAL = b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="


def test_large_iteration_count_pauses_for_the_caller_to_derive():
    m = rfc5802_mech(inline_iterations=4095)  # SF asks for 4096
    assert m.challenge(SF) is None
    derivation = m.key_derivation
    assert derivation == sasl.KeyDerivation("sha1", b"pencil", base64.b64decode("QSXCR+Q6sek8bf92"), 4096)
    assert "pencil" not in repr(derivation) and "4096" in repr(derivation)
    with pytest.raises(SASLError):  # the server must wait for our answer
        m.challenge(SF)


def test_derived_keys_give_the_same_answer_as_inline():
    m = rfc5802_mech(inline_iterations=4095)
    assert m.challenge(SF) is None
    assert m.keys_derived(m.key_derivation.run()) == RFC5802_FINAL
    assert m.key_derivation is None
    m.success(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
    assert m.is_complete
    # at or below the threshold: inline, as before
    assert rfc5802_mech(inline_iterations=4096).challenge(SF) == RFC5802_FINAL


def test_derived_keys_fill_the_cache_and_a_cached_count_does_not_pause():
    cache = ScramKeyCache()
    m = rfc5802_mech(inline_iterations=10, salted_password_cache=cache)
    assert m.challenge(SF) is None
    m.keys_derived(m.key_derivation.run())
    assert len(cache) == 1
    again = rfc5802_mech(inline_iterations=10, salted_password_cache=cache)
    assert again.challenge(SF) == RFC5802_FINAL and again.key_derivation is None


def test_plus_with_derivation_outside_binds_the_channel():
    m = Scram("SHA-256", "user", "pencil", cnonce="abc", channel_binding=CB, inline_iterations=100)
    server = ScramServer("sha256", "pencil", iterations=4096, cb_data=CB.data)
    assert m.challenge(server.first(m.initial_response())) is None
    final = m.keys_derived(m.key_derivation.run())
    assert base64.b64decode(dict(a.split(b"=", 1) for a in final.split(b","))[b"c"]) == b"p=tls-exporter,," + CB.data
    m.success(server.final(final))  # the independent server checked the proof
    assert m.is_complete and m.name == "SCRAM-SHA-256-PLUS"


def test_keys_derived_misuse():
    from fastxmpp.errors import LocalProtocolError

    m = rfc5802_mech(inline_iterations=10)
    with pytest.raises(LocalProtocolError):
        m.keys_derived(b"\0" * 20)  # nothing asked for yet
    m.challenge(SF)
    with pytest.raises(ValueError, match="20 bytes"):
        m.keys_derived(b"short")
    with pytest.raises(LocalProtocolError):
        Plain("user", "pencil").keys_derived(b"\0" * 20)


def test_max_iterations_is_configurable_through_choose_mechanism():
    m = choose_mechanism(["SCRAM-SHA-1"], encrypted=True, min_iterations=1000, max_iterations=4000, **CREDS)
    m.initial_response()
    with pytest.raises(SASLError) as exc:
        m.challenge(b"r=" + m._cnonce.encode() + b"x,s=QSXCR+Q6sek8bf92,i=4096")
    assert exc.value.condition == "mechanism-too-weak"
    assert "4096 PBKDF2 iterations, maximum is 4000" in exc.value.text
    m = choose_mechanism(["SCRAM-SHA-1"], encrypted=True, inline_iterations=10, **CREDS)
    m.initial_response()
    assert m.challenge(b"r=" + m._cnonce.encode() + b"x,s=QSXCR+Q6sek8bf92,i=4096") is None
    assert sasl.DEFAULT_MAX_ITERATIONS == 10_000_000 and sasl.DEFAULT_INLINE_ITERATIONS == 100_000


# ---------------------------------------------------------------------------
# Clear errors: a forced mechanism the server does not offer, -PLUS without a binding
# ---------------------------------------------------------------------------


def test_forced_mechanism_not_offered_names_it_and_lists_the_offered():
    from fastxmpp.errors import MechanismNotOffered, NoUsableMechanism

    with pytest.raises(MechanismNotOffered) as exc:
        choose_mechanism(["SCRAM-SHA-1", "PLAIN"], preference=["SCRAM-SHA-512", "scram-sha-256"],
                         encrypted=True, **CREDS)
    err = exc.value
    assert isinstance(err, NoUsableMechanism) and isinstance(err, SASLError)
    assert err.condition == "no-usable-mechanism"
    assert err.requested == ("SCRAM-SHA-512", "SCRAM-SHA-256") and err.offered == ("SCRAM-SHA-1", "PLAIN")
    assert "asked for (mechanisms=): SCRAM-SHA-512, SCRAM-SHA-256" in err.text
    assert "it offers: SCRAM-SHA-1, PLAIN" in err.text
    assert "offers nothing" not in str(err)
    with pytest.raises(MechanismNotOffered, match="it offers: nothing"):
        choose_mechanism([], preference=["PLAIN"], encrypted=True, **CREDS)


def test_plus_on_tls13_without_a_usable_binding_says_which_is_missing():
    from fastxmpp.errors import ChannelBindingUnavailable

    # TLS 1.3 with CPython's ssl: tls-server-end-point only; no XEP-0440 list from the server
    with pytest.raises(ChannelBindingUnavailable) as exc:
        choose_mechanism(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"], preference=["SCRAM-SHA-256-PLUS"],
                         channel_bindings=EP, encrypted=True, **CREDS)
    err = exc.value
    assert err.condition == "no-usable-mechanism"
    assert err.mechanisms == ("SCRAM-SHA-256-PLUS",)
    assert err.missing == ("tls-exporter", "tls-unique") and err.available == ("tls-server-end-point",)
    text = err.text
    assert text.startswith("SCRAM-SHA-256-PLUS needs a channel binding")
    assert "missing: tls-exporter, tls-unique" in text
    assert "export_keying_material" in text  # how to get tls-exporter
    assert "TLSVersion.TLSv1_2" in text  # how to get tls-unique
    assert "XEP-0440" in text  # why the end-point binding we have is not used


def test_plus_binding_missing_with_a_xep0440_list():
    from fastxmpp.errors import ChannelBindingUnavailable

    with pytest.raises(ChannelBindingUnavailable) as exc:
        choose_mechanism(["SCRAM-SHA-1-PLUS"], channel_bindings=EXP, server_cb_types=["tls-server-end-point"],
                         encrypted=True, **CREDS)
    assert exc.value.missing == ("tls-server-end-point",)
    assert "the server supports tls-server-end-point (its XEP-0440 list)" in exc.value.text
    assert "'cryptography' package" in exc.value.text
    with pytest.raises(ChannelBindingUnavailable, match="not encrypted"):
        choose_mechanism(["SCRAM-SHA-1-PLUS"], encrypted=False, **CREDS)
