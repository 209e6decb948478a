"""SCRAM with large iteration counts: the sans-IO stream pauses for the driver to derive the
keys (KeyDerivationRequested -> key_derived), and the SASL errors it raises are clear.

Scripted server bytes, no sockets (the drivers are tested in test_scripted_server.py).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

import pytest

from fastxmpp import errors, events, sasl
from fastxmpp.sasl import KeyDerivation, ScramKeyCache
from fastxmpp.stream import TRANSITIONS, ClientStream

HDR = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
       b" from='example.com' id='s1' version='1.0' xml:lang='en'>")
TLS_FEATURES = (b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
                b"</starttls></stream:features>")
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
b64 = base64.b64encode


def sasl_features(*mechanisms, cb_types=None):
    mechs = "".join(f"<mechanism>{m}</mechanism>" for m in mechanisms)
    cb = ""
    if cb_types is not None:
        cb = ("<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>"
              + "".join(f"<channel-binding type='{t}'/>" for t in cb_types) + "</sasl-channel-binding>")
    return f"<stream:features><mechanisms xmlns='{NS_SASL}'>{mechs}</mechanisms>{cb}</stream:features>".encode()


def element_text(data, tag):
    match = re.search(rb"<%s[^>]*>([^<]*)</%s>" % (tag.encode(), tag.encode()), data)
    assert match, data
    return base64.b64decode(match.group(1))


class ScramServer:
    """The server side of SCRAM from a stored salted password (RFC 5802 section 3): a test can
    pick one at random and pretend it took any number of iterations to derive."""

    def __init__(self, salted, *, hash_name="sha1", salt=b"salt-1234", iterations=10_000_000, cb_data=b"",
                 extra=""):
        self.h, self.salted, self.salt, self.iterations, self.cb_data = hash_name, salted, salt, iterations, cb_data
        self.extra = extra

    def first(self, client_first):
        gs2_flag, authz, bare = client_first.decode().split(",", 2)
        self.gs2_header = f"{gs2_flag},{authz},"
        self.client_first_bare = bare
        self.nonce = dict(a.split("=", 1) for a in bare.split(","))["r"] + "srv"
        self.server_first = f"r={self.nonce},s={b64(self.salt).decode()},i={self.iterations}{self.extra}"
        return self.server_first.encode()

    def final(self, client_final):
        without_proof, _, proof = client_final.decode().rpartition(",p=")
        attrs = dict(a.split("=", 1) for a in without_proof.split(","))
        assert attrs["r"] == self.nonce
        assert base64.b64decode(attrs["c"]) == self.gs2_header.encode() + self.cb_data
        auth = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        stored = hashlib.new(self.h, hmac.digest(self.salted, b"Client Key", self.h)).digest()
        signature = hmac.digest(stored, auth, self.h)
        client_key = bytes(x ^ y for x, y in zip(base64.b64decode(proof), signature))
        assert hashlib.new(self.h, client_key).digest() == stored, "client proof rejected"
        return b"v=" + b64(hmac.digest(hmac.digest(self.salted, b"Server Key", self.h), auth, self.h))


def to_sasl(stream, features, bindings=None):
    """Negotiate up to <auth/> (STARTTLS first); returns what the stream sent."""
    stream.start()
    stream.data_to_send()
    stream.receive_data(HDR + TLS_FEATURES)
    stream.data_to_send()
    stream.receive_data(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    stream.tls_established(bindings or {})
    stream.data_to_send()
    stream.events()
    stream.receive_data(HDR + features)
    assert kinds(stream.events()) == ["StreamOpened"]
    return stream.data_to_send()


def challenge(data):
    return b"<challenge xmlns='%s'>%s</challenge>" % (NS_SASL.encode(), b64(data))


def success(data):
    return b"<success xmlns='%s'>%s</success>" % (NS_SASL.encode(), b64(data))


def kinds(evs):
    return [type(e).__name__ for e in evs]


# ----------------------------------------------------------------- pause and resume


def test_huge_iteration_count_pauses_the_exchange_for_the_driver():
    stream = ClientStream("juliet@example.com/balcony", "pw")
    auth = to_sasl(stream, sasl_features("SCRAM-SHA-1"))
    salted = os.urandom(20)  # stands for PBKDF2("pw", salt, 10,000,000): never computed here
    server = ScramServer(salted, iterations=10_000_000)
    stream.receive_data(challenge(server.first(element_text(auth, "auth"))))
    assert stream.state == "sasl-key"
    assert stream.data_to_send() == b""  # no answer before the keys exist
    [event] = stream.events()
    assert isinstance(event, events.KeyDerivationRequested)
    assert event.mechanism == "SCRAM-SHA-1"
    assert event.derivation == KeyDerivation("sha1", b"pw", b"salt-1234", 10_000_000)
    assert "pw" not in repr(event)  # the password is not printed

    stream.key_derived(salted)  # what event.derivation.run() would return
    assert stream.state == "sasl"
    stream.receive_data(success(server.final(element_text(stream.data_to_send(), "response"))) + HDR)
    assert kinds(stream.events()) == ["Authenticated", "StreamOpened"]
    assert stream.authenticated and stream.mechanism == "SCRAM-SHA-1"


def test_counts_up_to_the_threshold_stay_inline():
    salt, iterations = b"salt-1234", 4096
    stream = ClientStream("juliet@example.com/balcony", "pw", scram_inline_iterations=iterations)
    auth = to_sasl(stream, sasl_features("SCRAM-SHA-1"))
    server = ScramServer(hashlib.pbkdf2_hmac("sha1", b"pw", salt, iterations), salt=salt, iterations=iterations)
    stream.receive_data(challenge(server.first(element_text(auth, "auth"))))
    assert stream.events() == [] and stream.state == "sasl"
    stream.receive_data(success(server.final(element_text(stream.data_to_send(), "response"))))
    assert kinds(stream.events()) == ["Authenticated"]


def test_threshold_is_configurable_and_the_derivation_runs():
    salt, iterations = b"salt-1234", 4096
    stream = ClientStream("juliet@example.com/balcony", "pw", scram_inline_iterations=4095)
    auth = to_sasl(stream, sasl_features("SCRAM-SHA-256"))
    server = ScramServer(hashlib.pbkdf2_hmac("sha256", b"pw", salt, iterations), hash_name="sha256",
                         salt=salt, iterations=iterations)
    stream.receive_data(challenge(server.first(element_text(auth, "auth"))))
    [event] = stream.events()
    stream.key_derived(event.derivation.run())
    stream.receive_data(success(server.final(element_text(stream.data_to_send(), "response"))))
    assert kinds(stream.events()) == ["Authenticated"]


def test_cached_keys_need_no_derivation():
    cache = ScramKeyCache()
    salted = os.urandom(20)
    for expected in (["KeyDerivationRequested"], []):
        stream = ClientStream("juliet@example.com/balcony", "pw", sasl_cache=cache)
        auth = to_sasl(stream, sasl_features("SCRAM-SHA-1"))
        server = ScramServer(salted)
        stream.receive_data(challenge(server.first(element_text(auth, "auth"))))
        assert kinds(stream.events()) == expected
        if expected:
            stream.key_derived(salted)
        stream.receive_data(success(server.final(element_text(stream.data_to_send(), "response"))))
        assert kinds(stream.events()) == ["Authenticated"]
    assert len(cache) == 1 and cache.hits == 1


def test_plus_mechanism_with_a_paused_derivation():
    binding = {"tls-exporter": b"E" * 32}
    stream = ClientStream("juliet@example.com/balcony", "pw")
    auth = to_sasl(stream, sasl_features("SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"), bindings=binding)
    salted = os.urandom(20)
    server = ScramServer(salted, cb_data=binding["tls-exporter"])
    stream.receive_data(challenge(server.first(element_text(auth, "auth"))))
    [event] = stream.events()
    assert event.mechanism == "SCRAM-SHA-1-PLUS"
    stream.key_derived(salted)
    stream.receive_data(success(server.final(element_text(stream.data_to_send(), "response"))))
    assert kinds(stream.events()) == ["Authenticated"] and stream.mechanism == "SCRAM-SHA-1-PLUS"


def test_the_cap_is_configurable():
    stream = ClientStream("juliet@example.com/balcony", "pw", scram_max_iterations=100_000)
    auth = to_sasl(stream, sasl_features("SCRAM-SHA-1"))
    server = ScramServer(os.urandom(20), iterations=100_001)
    with pytest.raises(errors.SASLError) as exc:
        stream.receive_data(challenge(server.first(element_text(auth, "auth"))))
    assert exc.value.condition == "mechanism-too-weak"
    assert "100001 PBKDF2 iterations, maximum is 100000" in exc.value.text
    assert stream.state == "closed" and b"<abort" in stream.data_to_send()
    with pytest.raises(ValueError):
        ClientStream("juliet@example.com", "pw", scram_max_iterations=100)


def paused_stream():
    stream = ClientStream("juliet@example.com/balcony", "pw")
    auth = to_sasl(stream, sasl_features("SCRAM-SHA-1"))
    server = ScramServer(os.urandom(20))
    stream.receive_data(challenge(server.first(element_text(auth, "auth"))))
    stream.events()
    return stream, server


def test_server_failure_while_deriving_ends_the_exchange():
    stream, _ = paused_stream()
    with pytest.raises(errors.SASLError) as exc:
        stream.receive_data(b"<failure xmlns='%s'><aborted/></failure>" % NS_SASL.encode())
    assert exc.value.condition == "aborted"
    assert stream.state == "closed"
    stream.key_derived(os.urandom(20))  # the driver's thread finished late: ignored
    assert stream.data_to_send().endswith(b"</stream:stream>")


def test_server_must_not_go_on_while_we_derive():
    assert ("sasl-key", "challenge") not in TRANSITIONS and ("sasl-key", "success") not in TRANSITIONS
    stream, _ = paused_stream()
    with pytest.raises(errors.BadFormat):
        stream.receive_data(success(b"v=AAAA"))
    assert stream.state == "closed"


def test_key_derived_out_of_turn_is_a_local_error():
    stream = ClientStream("juliet@example.com/balcony", "pw")
    stream.start()
    with pytest.raises(errors.LocalProtocolError):
        stream.key_derived(b"\0" * 20)


def test_stream_end_while_deriving():
    stream, _ = paused_stream()
    stream.receive_data(b"</stream:stream>")
    assert kinds(stream.events()) == ["StreamClosed"]
    stream.key_derived(b"\0" * 20)  # ignored


# ----------------------------------------------------------------------- clear errors


def test_forced_mechanism_not_offered_is_named_with_the_offered_list():
    stream = ClientStream("juliet@example.com/balcony", "pw", mechanisms=["SCRAM-SHA-512"])
    with pytest.raises(errors.MechanismNotOffered) as exc:
        to_sasl(stream, sasl_features("SCRAM-SHA-1", "PLAIN"))
    text = str(exc.value)
    assert "SCRAM-SHA-512" in text and "it offers: SCRAM-SHA-1, PLAIN" in text
    assert "offers nothing" not in text
    assert exc.value.requested == ("SCRAM-SHA-512",) and exc.value.offered == ("SCRAM-SHA-1", "PLAIN")
    assert stream.state == "closed"


def test_forced_mechanism_keeps_the_advertised_list_for_downgrade_protection():
    # XEP-0474: the server's hash covers everything it advertised, not only the mechanisms
    # we asked for; checking it against the narrowed list would cry "downgrade"
    offered = ["SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"]
    stream = ClientStream("juliet@example.com/balcony", "pw", mechanisms=["SCRAM-SHA-1"])
    auth = to_sasl(stream, sasl_features(*offered))
    h = b64(sasl.ssdp_hash("SHA-1", offered)).decode()
    salted = hashlib.pbkdf2_hmac("sha1", b"pw", b"salt-1234", 4096)
    server = ScramServer(salted, iterations=4096, extra=f",h={h}")
    stream.receive_data(challenge(server.first(element_text(auth, "auth"))))
    stream.receive_data(success(server.final(element_text(stream.data_to_send(), "response"))))
    assert kinds(stream.events()) == ["Authenticated"]


def test_plus_on_tls13_without_exporter_names_the_missing_binding():
    # what CPython's ssl gives on TLS 1.3: tls-server-end-point, no tls-exporter, no tls-unique
    stream = ClientStream("juliet@example.com/balcony", "pw", mechanisms=["SCRAM-SHA-256-PLUS"])
    with pytest.raises(errors.ChannelBindingUnavailable) as exc:
        to_sasl(stream, sasl_features("SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"),
                bindings={"tls-server-end-point": b"P" * 32})
    err = exc.value
    assert err.condition == "no-usable-mechanism"
    assert "tls-exporter" in err.missing
    assert "missing: tls-exporter" in err.text and "export_keying_material" in err.text
    assert "provides tls-server-end-point" in err.text
    assert stream.state == "closed"


def test_sasl_module_defaults():
    assert sasl.DEFAULT_INLINE_ITERATIONS == 100_000
    stream = ClientStream("juliet@example.com", "pw")
    assert stream.scram_inline_iterations == 100_000 and stream.scram_max_iterations == 10_000_000
