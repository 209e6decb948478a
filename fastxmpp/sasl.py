"""SASL client mechanisms for XMPP (RFC 6120 section 6), sans-IO.

Every mechanism takes and returns *raw* bytes; base64 and the XML elements
(``<auth/>``, ``<challenge/>``, ``<response/>``, ``<success/>``, ``<failure/>``)
are the stream layer's job.  Nothing here touches a socket, a clock or ``ssl``
at import time.

Mechanism protocol::

    mech = choose_mechanism(offered, username=..., password=..., encrypted=True, ...)
    first = mech.initial_response()   # None: send <auth/> with no text;
                                      # b"": send "=" (empty initial response)
    reply = mech.challenge(data)      # for each <challenge/>; send as <response/>
    mech.success(data_or_None)        # on <success/>; raises SASLError if the
                                      # server did not prove itself (SCRAM)
    failure_from_element(condition, text)  # on <failure/>: the SASLError to raise

Implemented: PLAIN (RFC 4616), EXTERNAL (RFC 4422 appendix A), ANONYMOUS
(RFC 4505), SCRAM-SHA-1/-256/-512 and their -PLUS variants (RFC 5802,
RFC 7677), channel bindings tls-server-end-point / tls-unique (RFC 5929) and
tls-exporter (RFC 9266), XEP-0440 channel-binding type selection and XEP-0474
downgrade protection (SSDP).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import stringprep
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import (
    Any,
    Dict,
    Iterable,
    List,
    MutableMapping,
    Optional,
    Sequence,
    Tuple,
    cast,
)

from .errors import ChannelBindingUnavailable, LocalProtocolError, MechanismNotOffered, NoUsableMechanism, SASLError

__all__ = [
    "Mechanism",
    "Plain",
    "External",
    "Anonymous",
    "Scram",
    "ScramKeyCache",
    "ChannelBinding",
    "CHANNEL_BINDING_PREFERENCE",
    "DEFAULT_MECHANISM_ORDER",
    "DEFAULT_MIN_ITERATIONS",
    "DEFAULT_MAX_ITERATIONS",
    "DEFAULT_INLINE_ITERATIONS",
    "KeyDerivation",
    "SASL_FAILURE_CONDITIONS",
    "channel_bindings_from_ssl",
    "tls_server_end_point",
    "choose_mechanism",
    "failure_from_element",
    "saslprep",
    "ssdp_hash",
    "verify_downgrade_protection",
]

#: RFC 6120 section 6.5 failure conditions.
SASL_FAILURE_CONDITIONS = frozenset(
    {
        "aborted",
        "account-disabled",
        "credentials-expired",
        "encryption-required",
        "incorrect-encoding",
        "invalid-authzid",
        "invalid-mechanism",
        "malformed-request",
        "mechanism-too-weak",
        "not-authorized",
        "temporary-auth-failure",
    }
)

#: Our channel-binding preference, strongest first.
CHANNEL_BINDING_PREFERENCE: Tuple[str, ...] = (
    "tls-exporter",
    "tls-unique",
    "tls-server-end-point",
)

#: Channel-binding types a server is assumed to support when it advertises
#: SCRAM-*-PLUS but no XEP-0440 list: the RFC 5802 default (tls-unique, TLS 1.2)
#: and its TLS 1.3 successor (tls-exporter, RFC 9266).  tls-server-end-point
#: is never assumed: guessing wrong fails the login.
_RFC_DEFAULT_CB_TYPES = frozenset({"tls-exporter", "tls-unique"})

#: Default preference, strongest first (EXTERNAL and ANONYMOUS are gated by
#: ``client_cert`` / ``allow_anonymous`` in :func:`choose_mechanism`).
DEFAULT_MECHANISM_ORDER: Tuple[str, ...] = (
    "EXTERNAL",
    "SCRAM-SHA-512-PLUS",
    "SCRAM-SHA-256-PLUS",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-512",
    "SCRAM-SHA-256",
    "SCRAM-SHA-1",
    "PLAIN",
    "ANONYMOUS",
)

#: RFC 7677 section 4: the iteration count SHOULD be at least 4096.
DEFAULT_MIN_ITERATIONS = 4096
#: Refuse absurd counts: a hostile server could otherwise burn our CPU (10,000,000
#: SHA-1 iterations take about 3 s of one core).
DEFAULT_MAX_ITERATIONS = 10_000_000
#: Above this count :class:`~fastxmpp.stream.ClientStream` does not run PBKDF2 inline but
#: asks its driver to (``KeyDerivationRequested``): the asyncio client runs it in a thread.
#: Counts up to it (RFC 7677 suggests 4096; servers use up to some 10,000s) take a few
#: milliseconds at most and stay inline.
DEFAULT_INLINE_ITERATIONS = 100_000

# SCRAM hash name (as in the mechanism name) -> hashlib name.
_SCRAM_HASHES: Dict[str, str] = {
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-512": "sha512",
}
_HASH_ALIASES: Dict[str, str] = {
    "SHA1": "SHA-1",
    "SHA-1": "SHA-1",
    "SHA256": "SHA-256",
    "SHA-256": "SHA-256",
    "SHA512": "SHA-512",
    "SHA-512": "SHA-512",
}

# Map of server-final "e=" values (RFC 5802 section 7) to RFC 6120 conditions.
_SCRAM_ERROR_CONDITIONS: Dict[str, str] = {
    "invalid-encoding": "incorrect-encoding",
    "invalid-username-encoding": "incorrect-encoding",
    "no-resources": "temporary-auth-failure",
}


# ---------------------------------------------------------------------------
# SASLprep (RFC 4013) over the stdlib stringprep tables (Unicode 3.2)
# ---------------------------------------------------------------------------

_ucd32 = unicodedata.ucd_3_2_0

_PROHIBITED = (
    stringprep.in_table_c12,  # non-ASCII space characters
    stringprep.in_table_c21_c22,  # control characters
    stringprep.in_table_c3,  # private use
    stringprep.in_table_c4,  # non-character code points
    stringprep.in_table_c5,  # surrogate codes
    stringprep.in_table_c6,  # inappropriate for plain text
    stringprep.in_table_c7,  # inappropriate for canonical representation
    stringprep.in_table_c8,  # change display properties / deprecated
    stringprep.in_table_c9,  # tagging characters
)


def saslprep(value: str, *, allow_unassigned: bool = False) -> str:
    """Prepare ``value`` with the SASLprep profile (RFC 4013).

    ``allow_unassigned=True`` gives the "query" behaviour (RFC 3454 section 7),
    ``False`` the "stored string" behaviour.  Raises :class:`ValueError` for a
    prohibited character, a bidi violation or (stored) an unassigned code point.
    """
    if not isinstance(value, str):
        raise TypeError(f"saslprep() needs str, not {type(value).__name__}")
    if value.isascii() and all(0x20 <= ord(c) < 0x7F for c in value):
        return value  # fast path: printable ASCII is unchanged by SASLprep
    # 2.1 Mapping: non-ASCII spaces -> SPACE, "commonly mapped to nothing" -> ''.
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c
        for c in value
        if not stringprep.in_table_b1(c)
    )
    # 2.2 Normalization: NFKC (Unicode 3.2, as stringprep requires).
    prepared = _ucd32.normalize("NFKC", mapped)
    if not prepared:
        return prepared
    for c in prepared:
        # 2.3 Prohibited output.
        for table in _PROHIBITED:
            if table(c):
                raise ValueError(f"SASLprep: prohibited character U+{ord(c):04X}")
        # 2.5 Unassigned code points.
        if not allow_unassigned and stringprep.in_table_a1(c):
            raise ValueError(f"SASLprep: unassigned code point U+{ord(c):04X}")
    # 2.4 Bidirectional characters (RFC 3454 section 6).
    if any(stringprep.in_table_d1(c) for c in prepared):
        if any(stringprep.in_table_d2(c) for c in prepared):
            raise ValueError("SASLprep: string mixes RandALCat and LCat characters")
        if not (stringprep.in_table_d1(prepared[0]) and stringprep.in_table_d1(prepared[-1])):
            raise ValueError("SASLprep: RandALCat string must start and end with RandALCat")
    return prepared


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def failure_from_element(condition: str, text: Optional[str] = None) -> SASLError:
    """The :class:`SASLError` for a server ``<failure/>``.

    ``condition`` is the local name of the condition child (``"not-authorized"``),
    ``text`` the optional ``<text/>``.  RFC 6120 section 6.5: an unknown or
    missing condition is treated as ``not-authorized`` (the original name is kept
    in the text).
    """
    text = text or ""
    if condition not in SASL_FAILURE_CONDITIONS:
        note = f"unknown failure condition {condition!r}" if condition else "failure without condition"
        text = f"{note}: {text}" if text else note
        condition = "not-authorized"
    return SASLError(condition, text)


def _malformed(text: str) -> SASLError:
    return SASLError("malformed-request", text)


# ---------------------------------------------------------------------------
# Channel binding
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelBinding:
    """A channel-binding type name (RFC 5056 / IANA registry) and its data."""

    __slots__ = ("type", "data")
    type: str
    data: bytes

    def __post_init__(self) -> None:
        if not self.type or not all(c.isascii() and (c.isalnum() or c in ".-") for c in self.type):
            raise ValueError(f"invalid channel-binding type name {self.type!r}")
        if not isinstance(self.data, (bytes, bytearray)):
            raise TypeError("channel-binding data must be bytes")

    def __repr__(self) -> str:  # the data is a secret-ish value: do not print it
        return f"ChannelBinding(type={self.type!r}, data=<{len(self.data)} bytes>)"


def tls_server_end_point(cert_der: bytes) -> Optional[bytes]:
    """RFC 5929 section 4.1 ``tls-server-end-point`` data for a server certificate.

    The certificate DER is hashed with the hash of its signature algorithm;
    MD5 and SHA-1 are replaced by SHA-256.  Returns ``None`` when the algorithm
    uses no single hash (Ed25519, Ed448) or ``cryptography`` cannot tell: the
    binding is undefined then.  ``cryptography`` is imported here, lazily.
    """
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_der_x509_certificate(bytes(cert_der))
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    if algorithm is None:
        return None
    if isinstance(algorithm, (hashes.MD5, hashes.SHA1)):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(bytes(cert_der))
    return digest.finalize()


def channel_bindings_from_ssl(ssl_object: Any) -> Dict[str, bytes]:
    """The channel bindings this runtime can compute for a finished TLS handshake.

    ``ssl_object`` is an :class:`ssl.SSLObject` / :class:`ssl.SSLSocket` (or any
    object with the same ``getpeercert(binary_form=True)``, ``version()`` and
    ``get_channel_binding()`` methods).  Keys present:

    * ``tls-server-end-point`` when the peer sent a certificate whose signature
      names one hash (needs ``cryptography``; silently omitted if missing);
    * ``tls-unique`` only on TLS 1.2 (RFC 9266: undefined for TLS 1.3);
    * ``tls-exporter`` only on TLS 1.3 and only if the object has
      ``export_keying_material(label, length, context)`` (pyOpenSSL has it;
      CPython's ``ssl`` up to 3.13 does not).  It is not computed on TLS 1.2
      because we cannot check for the extended master secret RFC 9266 requires.
    """
    result: Dict[str, bytes] = {}
    version = None
    try:
        version = ssl_object.version()
    except Exception:  # pragma: no cover - defensive: not an SSL object
        version = None

    cert_der = None
    try:
        cert_der = ssl_object.getpeercert(binary_form=True)
    except Exception:
        cert_der = None
    if cert_der:
        try:
            data = tls_server_end_point(cert_der)
        except ImportError:
            data = None
        if data is not None:
            result["tls-server-end-point"] = data

    if version == "TLSv1.2" and hasattr(ssl_object, "get_channel_binding"):
        try:
            unique = ssl_object.get_channel_binding("tls-unique")
        except (ValueError, NotImplementedError):
            unique = None
        if unique:
            result["tls-unique"] = bytes(unique)

    exporter = getattr(ssl_object, "export_keying_material", None)
    if version == "TLSv1.3" and callable(exporter):
        # RFC 9266 section 2: label "EXPORTER-Channel-Binding", empty context, 32 bytes.
        data = exporter(b"EXPORTER-Channel-Binding", 32, b"")
        if data:
            result["tls-exporter"] = bytes(data)
    return result


def _pick_channel_binding(
    channel_bindings: Optional[Dict[str, bytes]],
    server_cb_types: Optional[Sequence[str]],
) -> Optional[ChannelBinding]:
    """Strongest binding we have that the server supports (XEP-0440 list, or RFC defaults)."""
    if not channel_bindings:
        return None
    supported = set(server_cb_types) if server_cb_types else _RFC_DEFAULT_CB_TYPES
    for cb_type in CHANNEL_BINDING_PREFERENCE:
        if cb_type in channel_bindings and cb_type in supported:
            return ChannelBinding(cb_type, channel_bindings[cb_type])
    # Types we have but do not rank (future ones), if the server lists them.
    if server_cb_types:
        for cb_type in server_cb_types:
            if cb_type in channel_bindings and cb_type not in CHANNEL_BINDING_PREFERENCE:
                return ChannelBinding(cb_type, channel_bindings[cb_type])
    return None


# ---------------------------------------------------------------------------
# XEP-0474 SASL SCRAM Downgrade Protection
# ---------------------------------------------------------------------------


def _octet_sorted(items: Iterable[str]) -> List[str]:
    # "i;octet" collation (RFC 4790 section 9.3): compare the UTF-8 octets.
    return sorted(items, key=lambda s: s.encode("utf-8"))


def ssdp_hash(
    hash_name: str,
    mechanisms: Sequence[str],
    cb_types: Optional[Sequence[str]] = None,
    *,
    attribute: str = "h",
) -> bytes:
    """The raw XEP-0474 digest over the advertised mechanism / channel-binding lists.

    ``attribute="h"`` is XEP-0474 0.4.0+ (lists joined with U+001E, the two
    lists separated by U+001F); ``attribute="d"`` is 0.3.0 (``,`` and ``|``),
    still sent by Prosody's mod_sasl_ssdp.  Both sort with i;octet collation.
    ``cb_types`` is ``None`` / empty when the server sent no XEP-0440 element.
    """
    if attribute == "h":
        item_sep, list_sep = "\x1e", "\x1f"
    elif attribute == "d":
        item_sep, list_sep = ",", "|"
    else:
        raise ValueError(f"unknown SSDP attribute {attribute!r}")
    text = item_sep.join(_octet_sorted(mechanisms))
    if cb_types:
        text += list_sep + item_sep.join(_octet_sorted(cb_types))
    return hashlib.new(_scram_hashlib_name(hash_name), text.encode("utf-8")).digest()


def verify_downgrade_protection(
    value: str,
    *,
    hash_name: str,
    mechanisms: Sequence[str],
    cb_types: Optional[Sequence[str]] = None,
    attribute: str = "h",
) -> None:
    """Check a server's XEP-0474 attribute (base64 text) against what we saw.

    ``mechanisms`` and ``cb_types`` are the lists the server advertised on this
    stream (SASL1 or SASL2, whichever is in use; ``cb_types`` from XEP-0440 or
    ``None``).  Raises ``SASLError("downgrade-detected")`` on a mismatch and
    ``SASLError("malformed-request")`` if ``value`` is not base64.
    """
    try:
        received = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise _malformed(f"SSDP attribute {attribute}= is not base64") from None
    expected = ssdp_hash(hash_name, mechanisms, cb_types, attribute=attribute)
    if not hmac.compare_digest(received, expected):
        raise SASLError(
            "downgrade-detected",
            "the server's XEP-0474 hash does not match the advertised mechanisms/"
            "channel-binding types: the stream features were tampered with",
        )


# ---------------------------------------------------------------------------
# Mechanisms
# ---------------------------------------------------------------------------


class Mechanism:
    """Base class of the client side of one SASL exchange (single use)."""

    name: str = ""
    #: Set (and :meth:`challenge` returned ``None``) while the exchange waits for a
    #: key derivation run outside (see :class:`Scram`); ``None`` otherwise.
    key_derivation: Optional["KeyDerivation"] = None

    def __init__(self) -> None:
        self._complete = False
        self._failed = False

    @property
    def is_complete(self) -> bool:
        """True once :meth:`success` accepted the server's outcome."""
        return self._complete

    def initial_response(self) -> Optional[bytes]:
        """Data for ``<auth/>``: ``None`` = none; ``b""`` = empty, sent as ``=``."""
        return None

    def challenge(self, data: bytes) -> Optional[bytes]:
        """Answer a server ``<challenge/>`` (``data`` already base64-decoded).

        ``None`` (only from a :class:`Scram` with ``inline_iterations``): no answer
        yet, run :attr:`key_derivation` and pass its result to :meth:`keys_derived`.
        """
        raise _malformed(f"{self.name} does not expect a server challenge")

    def keys_derived(self, salted_password: bytes) -> bytes:
        """The result of :attr:`key_derivation`; returns the answer to the challenge."""
        raise LocalProtocolError(f"{self.name} is not waiting for a key derivation")

    def success(self, data: Optional[bytes]) -> None:
        """Handle ``<success/>``; ``data`` is its decoded text or ``None``."""
        self._complete = True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class _OneShot(Mechanism):
    """A mechanism whose whole client side is one message (PLAIN, EXTERNAL, ANONYMOUS)."""

    def __init__(self) -> None:
        super().__init__()
        self._sent = False

    def _message(self) -> bytes:
        raise NotImplementedError

    def initial_response(self) -> Optional[bytes]:
        """The mechanism's one message, sent with ``<auth/>``."""
        self._sent = True
        return self._message()

    def challenge(self, data: bytes) -> bytes:
        """The one message again for an empty challenge (a server that ignored the initial
        response); any other challenge raises :class:`SASLError` (``malformed-request``)."""
        # RFC 4422 section 5: a server that ignores the initial response asks with
        # an empty challenge; answer once, anything else is a protocol violation.
        if not self._sent and not data:
            self._sent = True
            return self._message()
        raise _malformed(f"unexpected challenge for {self.name}")


class Plain(_OneShot):
    """PLAIN (RFC 4616): ``[authzid] NUL authcid NUL passwd`` in UTF-8.

    Strings are sent as given (RFC 4616 has the server prepare them); only
    NUL, which would break the framing, is refused with :class:`ValueError`.
    """

    name = "PLAIN"

    def __init__(self, username: str, password: str, authzid: Optional[str] = None) -> None:
        super().__init__()
        for label, value in (("username", username), ("password", password), ("authzid", authzid)):
            if value is not None and "\x00" in value:
                raise ValueError(f"PLAIN {label} must not contain NUL")
        if not username:
            raise ValueError("PLAIN needs a username")
        self._payload = b"\x00".join(
            ((authzid or "").encode("utf-8"), username.encode("utf-8"), password.encode("utf-8"))
        )

    def _message(self) -> bytes:
        return self._payload

    def __repr__(self) -> str:
        return "<Plain PLAIN>"


class External(_OneShot):
    """EXTERNAL (RFC 4422 appendix A): the TLS client certificate authenticates.

    The response is the authzid, or empty (sent as ``=``) to let the server
    derive the identity from the certificate (RFC 6120 section 6.4.2).
    """

    name = "EXTERNAL"

    def __init__(self, authzid: Optional[str] = None) -> None:
        super().__init__()
        self._payload = (authzid or "").encode("utf-8")

    def _message(self) -> bytes:
        return self._payload


class Anonymous(_OneShot):
    """ANONYMOUS (RFC 4505): optional trace information (email or token, 1-255 chars)."""

    name = "ANONYMOUS"

    def __init__(self, trace: Optional[str] = None) -> None:
        super().__init__()
        if trace is not None:
            if not 1 <= len(trace) <= 255:
                raise ValueError("ANONYMOUS trace must be 1 to 255 characters")
            if "\x00" in trace:
                raise ValueError("ANONYMOUS trace must not contain NUL")
        self._payload = (trace or "").encode("utf-8")

    def _message(self) -> bytes:
        return self._payload


def _scram_hashlib_name(hash_name: str) -> str:
    canonical = _HASH_ALIASES.get(hash_name.upper())
    if canonical is None:
        raise ValueError(f"unsupported SCRAM hash {hash_name!r}")
    return _SCRAM_HASHES[canonical]


def _saslname(value: str) -> str:
    # RFC 5802 section 5.1: ',' and '=' in a name are sent as '=2C' and '=3D'.
    return value.replace("=", "=3D").replace(",", "=2C")


def _valid_nonce(nonce: str) -> bool:
    # printable = %x21-2B / %x2D-7E  (no comma)
    return bool(nonce) and all(0x21 <= ord(c) <= 0x7E and c != "," for c in nonce)


def _parse_attributes(message: str) -> List[Tuple[str, str]]:
    attrs: List[Tuple[str, str]] = []
    for part in message.split(","):
        if len(part) < 2 or part[1] != "=" or not part[0].isascii() or not part[0].isalpha():
            raise _malformed(f"bad SCRAM attribute {part[:20]!r}")
        attrs.append((part[0], part[2:]))
    return attrs


class ScramKeyCache:
    """A bounded, thread-safe LRU mapping for :class:`Scram` derived keys.

    Keys are ``(hash_name, password, salt, iterations)``, values
    ``(client_key, server_key)`` (RFC 5802 section 5.1 lets a client cache
    these).  Hand one instance to many :class:`Scram` objects (or to
    :func:`choose_mechanism`) so repeated logins of the same account skip
    PBKDF2.  The cache holds passwords and keys: keep it in-process only.
    """

    def __init__(self, maxsize: int = 1024) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._data: "OrderedDict[Any, Tuple[bytes, bytes]]" = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Any, default: Any = None) -> Any:
        """The ``(client_key, server_key)`` kept for ``key`` (now the most recently used),
        else ``default``; counts a hit or a miss."""
        with self._lock:
            try:
                value = self._data[key]
            except KeyError:
                self.misses += 1
                return default
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def __getitem__(self, key: Any) -> Tuple[bytes, bytes]:
        sentinel = object()
        value = self.get(key, sentinel)
        if value is sentinel:
            raise KeyError(key)
        return cast(Tuple[bytes, bytes], value)

    def __setitem__(self, key: Any, value: Tuple[bytes, bytes]) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def __contains__(self, key: Any) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def clear(self) -> None:
        """Forget every key (the hit and miss counts stay)."""
        with self._lock:
            self._data.clear()

    def __repr__(self) -> str:
        return f"<ScramKeyCache {len(self)}/{self.maxsize} hits={self.hits} misses={self.misses}>"


@dataclass(frozen=True)
class KeyDerivation:
    """The PBKDF2 (RFC 5802 ``Hi()``) a SCRAM exchange needs: :meth:`run` it anywhere.

    ``algorithm`` is the :mod:`hashlib` name, ``password`` the SASLprep-ed password in
    UTF-8.  :meth:`run` is pure and thread-safe, and :func:`hashlib.pbkdf2_hmac`
    releases the GIL, so a driver can run it in a thread while its event loop goes on.
    """

    __slots__ = ("algorithm", "password", "salt", "iterations")
    algorithm: str
    password: bytes
    salt: bytes
    iterations: int

    def run(self) -> bytes:
        """The salted password (blocks: about 0.3 s per million SHA-1 iterations)."""
        return hashlib.pbkdf2_hmac(self.algorithm, self.password, self.salt, self.iterations)

    def __repr__(self) -> str:  # never print the password
        return (f"KeyDerivation(algorithm={self.algorithm!r}, salt=<{len(self.salt)} bytes>, "
                f"iterations={self.iterations})")


# Scram states: one method per message, each allowed in exactly one state.
_S_START = "start"
_S_SENT_FIRST = "sent-client-first"
_S_DERIVING = "deriving-keys"
_S_SENT_FINAL = "sent-client-final"
_S_VERIFIED = "server-verified"
_S_DONE = "done"
_S_FAILED = "failed"


class Scram(Mechanism):
    """SCRAM-SHA-1/-256/-512 (RFC 5802, RFC 7677), with or without -PLUS.

    ``channel_binding`` given: the mechanism is ``SCRAM-<H>-PLUS`` and the gs2
    header is ``p=<type>,,``.  Otherwise the header is ``y,,`` when
    ``client_supports_binding`` (we could bind, the server offered no -PLUS)
    and ``n,,`` when not.

    ``advertised_mechanisms`` / ``advertised_cb_types`` are the lists the
    server advertised; when given, a XEP-0474 ``h=`` (or legacy ``d=``)
    attribute in server-first-message is verified against them.

    The server's iteration count must lie within ``min_iterations`` and
    ``max_iterations`` (``mechanism-too-weak`` otherwise: the cap keeps a hostile
    server from burning our CPU).  With ``inline_iterations`` set, a count above it
    whose keys are not in ``salted_password_cache`` is not derived inline:
    :meth:`handle_server_first` returns ``None`` and sets :attr:`key_derivation`;
    the caller runs it (in a thread, say) and hands the result to
    :meth:`keys_derived`, which returns client-final.  ``None`` (the default):
    always inline.

    One method per message: :meth:`client_first` -> :meth:`handle_server_first`
    (returns client-final) -> :meth:`handle_server_final`.  The generic
    :class:`Mechanism` methods map onto these.
    """

    def __init__(
        self,
        hash_name: str,
        username: str,
        password: str,
        *,
        channel_binding: Optional[ChannelBinding] = None,
        cnonce: Optional[str] = None,
        salted_password_cache: Optional[MutableMapping[Any, Tuple[bytes, bytes]]] = None,
        authzid: Optional[str] = None,
        client_supports_binding: bool = False,
        advertised_mechanisms: Optional[Sequence[str]] = None,
        advertised_cb_types: Optional[Sequence[str]] = None,
        min_iterations: int = DEFAULT_MIN_ITERATIONS,
        max_iterations: int = DEFAULT_MAX_ITERATIONS,
        inline_iterations: Optional[int] = None,
    ) -> None:
        super().__init__()
        self._hashlib_name = _scram_hashlib_name(hash_name)
        self.hash_name = _HASH_ALIASES[hash_name.upper()]
        self.name = f"SCRAM-{self.hash_name}" + ("-PLUS" if channel_binding is not None else "")
        # RFC 5802 5.1: username prepared as a query string, password as stored.
        prepared_user = saslprep(username, allow_unassigned=True)
        if not prepared_user:
            raise ValueError("SCRAM username is empty after SASLprep")
        self._password = saslprep(password)
        if cnonce is None:
            cnonce = secrets.token_urlsafe(24)
        elif not _valid_nonce(cnonce):
            raise ValueError("client nonce must be printable ASCII without ','")
        self._cnonce = cnonce
        self.channel_binding = channel_binding
        if channel_binding is not None:
            flag = f"p={channel_binding.type}"
        elif client_supports_binding:
            flag = "y"
        else:
            flag = "n"
        authz = f"a={_saslname(saslprep(authzid, allow_unassigned=True))}" if authzid else ""
        self._gs2_header = f"{flag},{authz},"
        self._client_first_bare = f"n={_saslname(prepared_user)},r={cnonce}"
        self._cache = salted_password_cache
        self._advertised_mechanisms = list(advertised_mechanisms) if advertised_mechanisms is not None else None
        self._advertised_cb_types = list(advertised_cb_types) if advertised_cb_types else None
        if min_iterations < 1 or max_iterations < min_iterations:
            raise ValueError("need 1 <= min_iterations <= max_iterations")
        self.min_iterations = min_iterations
        self.max_iterations = max_iterations
        self.inline_iterations = inline_iterations
        self._state = _S_START
        self._server_first = ""  # kept for client-final while the keys are derived
        self._nonce = ""
        self._server_signature: Optional[bytes] = None
        #: True when the server sent and we checked a XEP-0474 hash.
        self.downgrade_protected = False

    # -- the three messages -------------------------------------------------

    def client_first(self) -> bytes:
        """client-first-message (gs2 header + bare message)."""
        self._expect(_S_START, "client-first-message")
        self._state = _S_SENT_FIRST
        return (self._gs2_header + self._client_first_bare).encode("utf-8")

    def handle_server_first(self, data: bytes) -> Optional[bytes]:
        """Check server-first-message; return client-final-message.

        ``None`` when the keys must be derived outside first (more than
        ``inline_iterations``, not cached): see :attr:`key_derivation`.
        """
        self._expect(_S_SENT_FIRST, "server-first-message")
        try:
            return self._handle_server_first(data)
        except BaseException:
            self._state = _S_FAILED
            raise

    def keys_derived(self, salted_password: bytes) -> bytes:
        """The result of :meth:`KeyDerivation.run` for :attr:`key_derivation`; return
        client-final-message."""
        derivation = self.key_derivation
        if self._state != _S_DERIVING or derivation is None:
            raise LocalProtocolError(f"keys_derived() in SCRAM state {self._state}")
        if len(salted_password) != hashlib.new(self._hashlib_name).digest_size:
            raise ValueError(f"a {derivation.algorithm} salted password has "
                             f"{hashlib.new(self._hashlib_name).digest_size} bytes, not {len(salted_password)}")
        self.key_derivation = None
        keys = self._keys_from(salted_password)
        if self._cache is not None:
            self._cache[(self.hash_name, self._password, derivation.salt, derivation.iterations)] = keys
        return self._client_final(keys)

    def handle_server_final(self, data: bytes) -> None:
        """Check server-final-message (``v=`` signature or ``e=`` error)."""
        self._expect(_S_SENT_FINAL, "server-final-message")
        try:
            self._handle_server_final(data)
        except BaseException:
            self._state = _S_FAILED
            raise
        self._state = _S_VERIFIED

    # -- Mechanism interface ------------------------------------------------

    def initial_response(self) -> Optional[bytes]:
        """The client-first-message (RFC 5802 section 5), sent with ``<auth/>``."""
        return self.client_first()

    def challenge(self, data: bytes) -> Optional[bytes]:
        """Answer the server-first-message with the client-final-message; a server-final-message
        sent as a challenge is verified and answered with empty data.  Raises
        :class:`SASLError` on a malformed or unexpected challenge or a wrong server signature."""
        if self._state == _S_START and not data:
            return self.client_first()
        if self._state == _S_SENT_FIRST:
            return self.handle_server_first(data)
        if self._state == _S_SENT_FINAL:
            # Servers that cannot put additional data in <success/> send
            # server-final as a challenge; RFC 6120 6.3.10: answer with empty.
            self.handle_server_final(data)
            return b""
        state, self._state = self._state, _S_FAILED
        raise _malformed(f"unexpected challenge in SCRAM state {state}")

    def success(self, data: Optional[bytes]) -> None:
        """Check ``<success/>``: the server must have proved it knows the password (its
        server-final-message, here or in a challenge), else :class:`SASLError`
        (``server-signature-mismatch``)."""
        if data:
            if self._state == _S_VERIFIED:
                # Already verified via a challenge: a repeated, identical v= is fine.
                if data != b"v=" + base64.b64encode(self._server_signature or b""):
                    self._state = _S_FAILED
                    raise _malformed("unexpected additional data after server-final-message")
            else:
                self.handle_server_final(data)
        if self._state != _S_VERIFIED:
            self._state = _S_FAILED
            raise SASLError(
                "server-signature-mismatch",
                "server reported success without proving knowledge of the password",
            )
        self._state = _S_DONE
        self._complete = True

    # -- internals ----------------------------------------------------------

    def _expect(self, state: str, what: str) -> None:
        if self._state != state:
            raise _malformed(f"{what} not allowed in SCRAM state {self._state}")

    def _keys(self, salt: bytes, iterations: int) -> Optional[Tuple[bytes, bytes]]:
        """(ClientKey, ServerKey) from the cache or derived inline; None: derive outside."""
        key = (self.hash_name, self._password, salt, iterations)
        cache = self._cache
        if cache is not None:
            cached = cache.get(key)
            if cached is not None:
                return cached
        derivation = KeyDerivation(self._hashlib_name, self._password.encode("utf-8"), salt, iterations)
        if self.inline_iterations is not None and iterations > self.inline_iterations:
            self.key_derivation = derivation
            return None
        keys = self._keys_from(derivation.run())
        if cache is not None:
            cache[key] = keys
        return keys

    def _keys_from(self, salted: bytes) -> Tuple[bytes, bytes]:
        return (
            hmac.digest(salted, b"Client Key", self._hashlib_name),
            hmac.digest(salted, b"Server Key", self._hashlib_name),
        )

    def _handle_server_first(self, data: bytes) -> Optional[bytes]:
        try:
            message = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("server-first-message is not UTF-8") from None
        attrs = _parse_attributes(message)
        if attrs[0][0] == "e":
            raise self._server_error(attrs[0][1])
        if attrs[0][0] == "m":
            raise _malformed("server requires an unsupported SCRAM extension (m=)")
        if len(attrs) < 3 or [a[0] for a in attrs[:3]] != ["r", "s", "i"]:
            raise _malformed("server-first-message must start with r=, s=, i=")
        nonce, salt_b64, iter_text = attrs[0][1], attrs[1][1], attrs[2][1]
        if not _valid_nonce(nonce):
            raise _malformed("server nonce has invalid characters")
        if not nonce.startswith(self._cnonce) or len(nonce) <= len(self._cnonce):
            raise _malformed("server nonce does not extend the client nonce")
        try:
            salt = base64.b64decode(salt_b64.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise _malformed("salt is not base64") from None
        if not salt:
            raise _malformed("empty salt")
        if not iter_text.isascii() or not iter_text.isdigit():
            raise _malformed(f"bad iteration count {iter_text[:20]!r}")
        iterations = int(iter_text)
        if iterations < 1:
            raise _malformed("iteration count must be positive")
        if iterations < self.min_iterations:
            raise SASLError(
                "mechanism-too-weak",
                f"server asks for {iterations} PBKDF2 iterations, minimum is {self.min_iterations}",
            )
        if iterations > self.max_iterations:
            raise SASLError(
                "mechanism-too-weak",
                f"server asks for {iterations} PBKDF2 iterations, maximum is {self.max_iterations}",
            )
        for name, value in attrs[3:]:
            if name in ("h", "d") and self._advertised_mechanisms is not None:
                verify_downgrade_protection(
                    value,
                    hash_name=self.hash_name,
                    mechanisms=self._advertised_mechanisms,
                    cb_types=self._advertised_cb_types,
                    attribute=name,
                )
                self.downgrade_protected = True
            # Other optional extensions are ignored (RFC 5802 section 5.1).

        self._server_first, self._nonce = message, nonce
        keys = self._keys(salt, iterations)
        if keys is None:
            self._state = _S_DERIVING
            return None
        return self._client_final(keys)

    def _client_final(self, keys: Tuple[bytes, bytes]) -> bytes:
        client_key, server_key = keys
        cbind_input = self._gs2_header.encode("utf-8")
        if self.channel_binding is not None:
            cbind_input += bytes(self.channel_binding.data)
        final_without_proof = f"c={base64.b64encode(cbind_input).decode('ascii')},r={self._nonce}"
        auth_message = f"{self._client_first_bare},{self._server_first},{final_without_proof}".encode("utf-8")
        stored_key = hashlib.new(self._hashlib_name, client_key).digest()
        client_signature = hmac.digest(stored_key, auth_message, self._hashlib_name)
        proof = bytes(a ^ b for a, b in zip(client_key, client_signature))
        self._server_signature = hmac.digest(server_key, auth_message, self._hashlib_name)
        self._state = _S_SENT_FINAL
        return f"{final_without_proof},p={base64.b64encode(proof).decode('ascii')}".encode("ascii")

    def _handle_server_final(self, data: bytes) -> None:
        try:
            message = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("server-final-message is not UTF-8") from None
        attrs = _parse_attributes(message)
        name, value = attrs[0]
        if name == "e":
            raise self._server_error(value)
        if name != "v":
            raise _malformed("server-final-message must start with v= or e=")
        try:
            signature = base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise _malformed("server signature is not base64") from None
        assert self._server_signature is not None
        if not hmac.compare_digest(signature, self._server_signature):
            raise SASLError("server-signature-mismatch", "the server does not know the password")

    @staticmethod
    def _server_error(value: str) -> SASLError:
        return SASLError(_SCRAM_ERROR_CONDITIONS.get(value, "not-authorized"), value)

    def __repr__(self) -> str:
        return f"<Scram {self.name} state={self._state}>"


# ---------------------------------------------------------------------------
# Selection
# ---------------------------------------------------------------------------


def choose_mechanism(
    offered: Sequence[str],
    *,
    username: Optional[str] = None,
    password: Optional[str] = None,
    authzid: Optional[str] = None,
    channel_bindings: Optional[Dict[str, bytes]] = None,
    server_cb_types: Optional[Sequence[str]] = None,
    encrypted: bool,
    allow_plain_unencrypted: bool = False,
    allow_anonymous: bool = False,
    client_cert: bool = False,
    preference: Optional[Sequence[str]] = None,
    salted_password_cache: Optional[MutableMapping[Any, Tuple[bytes, bytes]]] = None,
    min_iterations: int = DEFAULT_MIN_ITERATIONS,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    inline_iterations: Optional[int] = None,
    anonymous_trace: Optional[str] = None,
) -> Mechanism:
    """Pick the strongest usable mechanism from the server's ``offered`` list.

    Order (``preference`` replaces it, and may only narrow what is allowed):
    EXTERNAL (only with ``client_cert``), SCRAM-SHA-512-PLUS, -256-PLUS,
    -1-PLUS, SCRAM-SHA-512, -256, -1, PLAIN (only if ``encrypted`` or
    ``allow_plain_unencrypted``), ANONYMOUS (only if ``allow_anonymous`` or no
    username/password was given).

    Channel binding: ``channel_bindings`` is what we computed
    (:func:`channel_bindings_from_ssl`), ``server_cb_types`` the XEP-0440 list
    (``None`` if the server sent none).  -PLUS is used with the strongest type
    both sides have (tls-exporter > tls-unique > tls-server-end-point).  Without
    XEP-0440 the server is assumed to support only the RFC defaults
    (tls-unique on TLS 1.2, tls-exporter on TLS 1.3), never tls-server-end-point.
    If we can bind but the server offers no -PLUS, SCRAM is sent with gs2 flag
    ``y`` so a server that does support binding detects the stripped list; if
    the server offers -PLUS but no type we share, flag ``n`` (XEP-0474 rule 6).

    ``min_iterations``, ``max_iterations`` and ``inline_iterations`` go to
    :class:`Scram`.

    Raises :class:`~fastxmpp.errors.NoUsableMechanism` (condition
    ``no-usable-mechanism``) when nothing fits: :class:`~fastxmpp.errors.MechanismNotOffered`
    when the server offers none of ``preference``,
    :class:`~fastxmpp.errors.ChannelBindingUnavailable` when only -PLUS mechanisms
    were left and no channel binding is usable (its message says which type is
    missing and how to get one).
    """
    offered_set = {m.upper() for m in offered}
    order = [m.upper() for m in preference] if preference is not None else list(DEFAULT_MECHANISM_ORDER)
    have_credentials = username is not None and password is not None
    binding = _pick_channel_binding(channel_bindings, server_cb_types)
    server_offers_plus = any(m.startswith("SCRAM-") and m.endswith("-PLUS") for m in offered_set)
    skipped: List[str] = []
    unbound: List[str] = []  # -PLUS offered, but no channel binding both sides support

    for mech in order:
        if mech not in offered_set:
            continue
        if mech == "EXTERNAL":
            if client_cert:
                return External(authzid)
            continue
        if mech == "ANONYMOUS":
            if allow_anonymous or (username is None and password is None):
                return Anonymous(anonymous_trace)
            continue
        if not have_credentials:
            continue
        assert username is not None and password is not None
        if mech == "PLAIN":
            if encrypted or allow_plain_unencrypted:
                return Plain(username, password, authzid)
            skipped.append(
                "PLAIN is offered but the stream is not encrypted (pass "
                "allow_plain_unencrypted=True to send the password in clear)"
            )
            continue
        if mech.startswith("SCRAM-"):
            plus = mech.endswith("-PLUS")
            hash_name = mech[len("SCRAM-"):-len("-PLUS")] if plus else mech[len("SCRAM-"):]
            if hash_name.upper() not in _HASH_ALIASES:
                continue
            if plus and binding is None:
                unbound.append(mech)
                continue
            return Scram(
                hash_name,
                username,
                password,
                channel_binding=binding if plus else None,
                client_supports_binding=(not plus and bool(channel_bindings) and not server_offers_plus),
                authzid=authzid,
                salted_password_cache=salted_password_cache,
                advertised_mechanisms=list(offered),
                advertised_cb_types=list(server_cb_types) if server_cb_types else None,
                min_iterations=min_iterations,
                max_iterations=max_iterations,
                inline_iterations=inline_iterations,
            )

    offered_text = ", ".join(offered) or "nothing"
    not_offered = [m for m in order if m not in offered_set] if preference is not None else []
    if preference is not None and len(not_offered) == len(order):
        asked = ", ".join(order) or "none (an empty list)"
        raise MechanismNotOffered(
            f"the server does not offer the SASL mechanism(s) asked for (mechanisms=): {asked}; "
            f"it offers: {offered_text}",
            requested=order,
            offered=list(offered),
        )
    if unbound and have_credentials:
        raise _channel_binding_unavailable(unbound, channel_bindings, server_cb_types, encrypted,
                                           not_offered, offered_text, skipped)
    reasons = "; ".join(skipped)
    what = f"server offers {offered_text}"
    if not_offered:
        what += f" (not {', '.join(not_offered)}, asked for with mechanisms=)"
    if not have_credentials and not client_cert:
        what += " and no credentials were given"
    raise NoUsableMechanism(f"{what}{'; ' + reasons if reasons else ''}")


#: How to get each channel-binding type (for ChannelBindingUnavailable).
_CB_HOW_TO: Dict[str, str] = {
    "tls-exporter": (
        "tls-exporter (RFC 9266) needs TLS 1.3 and a TLS object with export_keying_material(), "
        "which Python's ssl module does not have (pyOpenSSL's Connection has it)"
    ),
    "tls-unique": (
        "tls-unique (RFC 5929) exists only on TLS 1.2 (RFC 9266 leaves it undefined on TLS 1.3): "
        "cap the connection at TLS 1.2 (ssl_context.maximum_version = ssl.TLSVersion.TLSv1_2) "
        "if the server allows TLS 1.2"
    ),
    "tls-server-end-point": (
        "tls-server-end-point (RFC 5929) works on any TLS version: it needs the 'cryptography' "
        "package and a server certificate signed with one hash (not Ed25519/Ed448)"
    ),
}


def _channel_binding_unavailable(
    mechanisms: List[str],
    channel_bindings: Optional[Dict[str, bytes]],
    server_cb_types: Optional[Sequence[str]],
    encrypted: bool,
    not_offered: List[str],
    offered_text: str,
    skipped: List[str],
) -> ChannelBindingUnavailable:
    """The error for -PLUS mechanisms that cannot be used: which binding is missing, and how to get one."""
    have = [t for t in CHANNEL_BINDING_PREFERENCE if t in (channel_bindings or {})]
    have += sorted(t for t in (channel_bindings or {}) if t not in CHANNEL_BINDING_PREFERENCE)
    if server_cb_types:
        supported = list(server_cb_types)
        server_text = f"the server supports {', '.join(supported)} (its XEP-0440 list)"
    else:
        supported = [t for t in CHANNEL_BINDING_PREFERENCE if t in _RFC_DEFAULT_CB_TYPES]
        server_text = (f"the server sent no XEP-0440 list, so only {' and '.join(supported)} are assumed "
                       f"(tls-server-end-point never is)")
    missing = [t for t in supported if t not in have]
    if have:
        have_text = f"this connection provides {', '.join(have)}"
    elif not encrypted:
        have_text = "this connection provides none (it is not encrypted: channel binding needs TLS)"
    else:
        have_text = "this connection provides none"
    hints = [_CB_HOW_TO.get(t, f"{t} is not a type fastxmpp can compute") for t in missing]
    unlisted = [t for t in have if t not in supported]
    if "tls-server-end-point" in unlisted:
        hints.append("tls-server-end-point is only used when the server lists it in its "
                     "XEP-0440 <sasl-channel-binding/> feature")
    text = (f"{', '.join(mechanisms)} needs a channel binding both sides support, and there is none: "
            f"{server_text}; {have_text}")
    if missing:
        text += f"; missing: {', '.join(missing)}"
    if hints:
        text += ". " + "; ".join(hints)
    if not_offered:
        text += f". (Not offered by the server, which offers {offered_text}: {', '.join(not_offered)}.)"
    if skipped:
        text += ". Also: " + "; ".join(skipped)
    return ChannelBindingUnavailable(text, mechanisms=mechanisms, missing=missing, available=have)
