"""The client side of an RFC 6120 stream, sans-IO: bytes in, events and bytes out.

The negotiation is a transition table (:data:`TRANSITIONS`): each (state, input
kind) pair names the method that handles it; a pair not in the table is a
protocol error that sends a stream error and moves the stream to ``closed``.

Driver loop::

    stream = ClientStream(JID("juliet@example.com"), password="...")
    stream.start()
    send(stream.data_to_send())
    while ...:
        stream.receive_data(recv())         # may raise StreamError / SASLError
        for event in stream.events(): ...   # TLSRequested -> start TLS, then stream.tls_established(...)
                                            # KeyDerivationRequested -> stream.key_derived(event.derivation.run())
        send(stream.data_to_send())
"""
from __future__ import annotations

import base64
import binascii
import itertools
import logging
import re
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import errors, events
from .element import Element
from .jid import JID
from .sasl import DEFAULT_INLINE_ITERATIONS, DEFAULT_MAX_ITERATIONS, DEFAULT_MIN_ITERATIONS, Mechanism, choose_mechanism
from .serializer import serialize, stream_footer, stream_header
from .sm import MOD as SM_MOD
from .sm import NS_SM, SMState, StreamManagement, parse_h
from .tokenizer import Tokenizer
from .tokens import StreamEnd, StreamHeader

__all__ = ["ClientStream", "TRANSITIONS", "EncryptionRequired", "XML_NS_REDECLARED"]

log = logging.getLogger("fastxmpp.stream")

NS_CLIENT = "jabber:client"
NS_STREAM = "http://etherx.jabber.org/streams"
NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_SASL_CB = "urn:xmpp:sasl-cb:0"

_KINDS: Dict[str, str] = {
    "{%s}features" % NS_STREAM: "features",
    "{%s}error" % NS_STREAM: "stream-error",
    "{%s}proceed" % NS_TLS: "proceed",
    "{%s}failure" % NS_TLS: "tls-failure",
    "{%s}challenge" % NS_SASL: "challenge",
    "{%s}success" % NS_SASL: "success",
    "{%s}failure" % NS_SASL: "sasl-failure",
    "{%s}message" % NS_CLIENT: "stanza",
    "{%s}presence" % NS_CLIENT: "stanza",
    "{%s}iq" % NS_CLIENT: "stanza",
    "{%s}enabled" % NS_SM: "sm-enabled",
    "{%s}resumed" % NS_SM: "sm-resumed",
    "{%s}failed" % NS_SM: "sm-failed",
    "{%s}r" % NS_SM: "sm-r",
    "{%s}a" % NS_SM: "sm-a",
}


_IQ = "{%s}iq" % NS_CLIENT
_PLAIN_STANZA_TAGS = frozenset(tag for tag, kind in _KINDS.items() if kind == "stanza" and tag != _IQ)


class EncryptionRequired(errors.XMPPError):
    """The server offers no STARTTLS while the client requires TLS."""


# (state, input kind) -> handler method name.  Anything else is a protocol error.
TRANSITIONS: Dict[Tuple[str, str], str] = {
    ("await-header", "header"): "_on_header",
    ("await-features", "features"): "_on_features",
    ("await-features", "stream-error"): "_on_stream_error",
    ("starttls", "proceed"): "_on_proceed",
    ("starttls", "tls-failure"): "_on_tls_failure",
    ("sasl", "challenge"): "_on_challenge",
    ("sasl", "success"): "_on_success",
    ("sasl", "sasl-failure"): "_on_sasl_failure",
    # waiting for the driver's key derivation (KeyDerivationRequested): the server must wait too
    ("sasl-key", "sasl-failure"): "_on_sasl_failure",
    ("resume", "sm-resumed"): "_on_resumed",
    ("resume", "sm-failed"): "_on_resume_failed",
    ("bind", "stanza"): "_on_bind_stanza",
    ("session", "stanza"): "_on_session_stanza",
    ("ready", "stanza"): "_on_stanza",
    ("ready", "sm-enabled"): "_on_enabled",
    ("ready", "sm-failed"): "_on_enable_failed",
    ("ready", "sm-r"): "_on_ack_request",
    ("ready", "sm-a"): "_on_ack",
    ("closing", "stanza"): "_on_stanza",
    ("closing", "sm-r"): "_on_ack_request",
    ("closing", "sm-a"): "_on_ack",
}
for _state in ("await-header", "starttls", "sasl", "sasl-key", "resume", "bind", "session", "ready", "closing"):
    TRANSITIONS[(_state, "stream-error")] = "_on_stream_error"
    TRANSITIONS[(_state, "end")] = "_on_end"
TRANSITIONS[("await-features", "end")] = "_on_end"


#: The namespace that received elements and attributes are put in where the server declared
#: the XML namespace (``http://www.w3.org/XML/1998/namespace``) as a default namespace or
#: bound it to a prefix other than ``xml``, which XML namespaces forbid and expat rejects.
#: Prosody 0.12 writes an element ``<xml:foo/>`` that one user sent another as
#: ``<foo xmlns='http://www.w3.org/XML/1998/namespace'/>``, and an attribute ``xml:foo``
#: through ``xmlns:ns1='http://www.w3.org/XML/1998/namespace'``.  Taken as sent, any remote
#: user could end a client's stream with one message, and, once the server had stored the
#: message offline, every later session of that account too.  The client reads such a
#: declaration as one of this namespace instead; nothing else in the stanza changes.
XML_NS_REDECLARED = "urn:fastxmpp:xml-namespace-redeclared"

_XML_NS_MARK = b"http://www.w3.org/XML/1998/namespace"
# a declaration of the XML namespace other than xmlns:xml='...' (which is allowed)
_XML_NS_DECL = re.compile(rb"(?<![^\s])(xmlns(?::(?!xml\s*=)[^\s=/>]+)?\s*=\s*)(['\"])http://www\.w3\.org/XML/1998/namespace\2")
_REDECLARED = XML_NS_REDECLARED.encode()
# The most of an unfinished tag at the end of a read that is held back for the next read
# (longer than any such declaration), when it may hold the start of one: a declaration cut
# in two by the transport is then still seen whole.
_DECL_TAIL = 128
_XMLNS_STARTS = (b"x", b"xm", b"xml", b"xmln")


def _open_tag(data: bytes, end: int, in_tag: bool) -> Optional[int]:
    """Where the tag that ``data[:end]`` ends inside starts (-1: in an earlier read), or None
    when it ends in character data (``in_tag``: ``data`` begins inside a tag).  A server
    escapes ``<`` and ``>`` in text and attribute values, so the last of them tells."""
    lt, gt = data.rfind(b"<", 0, end), data.rfind(b">", 0, end)
    return lt if lt > gt or (lt == gt and in_tag) else None  # lt == gt: neither is there


def _redeclare_xml_ns(data: bytes, in_tag: bool) -> bytes:
    """``data`` with each declaration of the XML namespace that stands inside a tag made one
    of :data:`XML_NS_REDECLARED`; the same text in character data is left alone."""
    def sub(m: "re.Match[bytes]") -> bytes:
        if _open_tag(data, m.start(), in_tag) is None:
            return m.group(0)
        return m.group(1) + m.group(2) + _REDECLARED + m.group(2)
    return _XML_NS_DECL.sub(sub, data)


def _b64decode(text: Optional[str]) -> bytes:
    if not text or text == "=":
        return b""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise errors.SASLError("incorrect-encoding", "server sent invalid base64") from None


def _b64encode(data: Optional[bytes]) -> Optional[str]:
    if data is None:
        return None
    return base64.b64encode(data).decode("ascii") if data else "="


class ClientStream:
    """Client side of one XMPP session: negotiation, stanza flow, XEP-0198, IQ tracking.

    ``on_stanza``, if given, is called with each received stanza (not IQ
    responses) at once, instead of queueing a ``StanzaReceived``, whenever no
    other event is queued: the order of stanzas and events stays the same.

    SCRAM: the server's PBKDF2 iteration count must be at most
    ``scram_max_iterations`` (default 10,000,000, about 3 s of CPU; more fails
    with ``SASLError("mechanism-too-weak")``).  A count above
    ``scram_inline_iterations`` (default 100,000; ``None``: never) whose keys are
    not in ``sasl_cache`` is not derived inside :meth:`receive_data`: the stream
    pauses in state ``sasl-key`` and emits :class:`~fastxmpp.events.KeyDerivationRequested`;
    the driver runs ``event.derivation.run()`` (the asyncio client in a thread)
    and hands the result to :meth:`key_derived`.
    """

    # slots keep an idle session small; "__dict__" still takes any other attribute
    __slots__ = (
        "jid", "password", "tls_active", "require_tls", "allow_plain_unencrypted", "allow_anonymous",
        "client_cert", "mechanism_preference", "sasl_cache", "scram_max_iterations", "scram_inline_iterations",
        "stream_management", "ack_every", "lang",
        "state", "authenticated", "mechanism", "bound_jid", "server_features", "channel_bindings", "sm",
        "on_stanza", "_resume_requested", "_tokenizer", "_out", "_events", "_mechanism", "_pending_iq",
        "_ids", "_id_prefix", "_internal_iq", "_carry", "_in_tag", "__dict__", "__weakref__")

    def __init__(
        self,
        jid: Any,
        password: Optional[str] = None,
        *,
        tls_active: bool = False,
        require_tls: bool = True,
        allow_plain_unencrypted: bool = False,
        allow_anonymous: bool = False,
        client_cert: bool = False,
        mechanisms: Optional[List[str]] = None,
        sasl_cache: Any = None,
        scram_max_iterations: int = DEFAULT_MAX_ITERATIONS,
        scram_inline_iterations: Optional[int] = DEFAULT_INLINE_ITERATIONS,
        stream_management: bool = True,
        resume: Optional[SMState] = None,
        ack_every: int = 50,
        lang: str = "en",
        max_stanza_bytes: int = 1 << 20,
        id_prefix: str = "fx",
        on_stanza: Optional[Callable[[Element], None]] = None,
    ) -> None:
        self.jid = jid if isinstance(jid, JID) else JID(jid)
        self.password = password
        self.tls_active = tls_active
        self.require_tls = require_tls
        self.allow_plain_unencrypted = allow_plain_unencrypted
        self.allow_anonymous = allow_anonymous
        self.client_cert = client_cert
        self.mechanism_preference = mechanisms
        self.sasl_cache = sasl_cache
        if scram_max_iterations < DEFAULT_MIN_ITERATIONS:
            raise ValueError(f"scram_max_iterations must be at least {DEFAULT_MIN_ITERATIONS} (RFC 7677)")
        self.scram_max_iterations = scram_max_iterations
        self.scram_inline_iterations = scram_inline_iterations
        self.stream_management = stream_management
        self.ack_every = ack_every
        self.lang = lang
        self.state = "idle"
        self.authenticated = False
        self.mechanism: Optional[str] = None  # the SASL mechanism that authenticated us
        self.bound_jid: Optional[JID] = None
        self.server_features: Optional[Element] = None
        self.channel_bindings: Dict[str, bytes] = {}
        self.sm = StreamManagement(resume)
        self._resume_requested = resume is not None and resume.id is not None
        self._tokenizer = Tokenizer(max_stanza_bytes=max_stanza_bytes)
        #: The end of the last read, held back: part of a tag that may hold a cut declaration.
        self._carry = b""
        #: Whether the bytes fed so far end inside a tag.
        self._in_tag = False
        self._out: List[bytes] = []
        self._events: List[events.Event] = []
        self._mechanism: Optional[Mechanism] = None
        self._pending_iq: Dict[str, Optional[str]] = {}
        self._ids = itertools.count(1)
        self._id_prefix = id_prefix
        self._internal_iq: Optional[str] = None
        self.on_stanza = on_stanza

    # -- driver API -------------------------------------------------------------------------
    def start(self) -> None:
        """Queue the initial stream header."""
        if self.state != "idle":
            raise errors.LocalProtocolError("stream already started")
        self._open_stream()

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the transport.  Raises StreamError/SASLError on failure
        (after queueing what must be sent back); events so far stay in ``events()``."""
        if self.state == "closed":
            return
        # a declaration of the XML namespace that XML forbids is read as XML_NS_REDECLARED
        if self._carry:
            data = self._carry + data
            self._carry = b""
        if _XML_NS_MARK in data:
            data = _redeclare_xml_ns(data, self._in_tag)
        if data.endswith(b">"):  # most reads: whole stanzas
            self._in_tag = False
        elif data:
            data = self._hold_tag_end(data)
        try:
            tokens = self._tokenizer.feed(data)
        except errors.StreamError as err:
            self._dispatch_all(err.events)
            self._fail(err)
            raise
        self._dispatch_all(tokens)

    def _hold_tag_end(self, data: bytes) -> bytes:
        """``data`` does not end with ``>``: when it ends inside a tag that may hold the
        start of a declaration, keep that end for the next read; returns what to feed now."""
        lt = _open_tag(data, len(data), self._in_tag)
        self._in_tag = lt is not None
        if lt is not None:
            start = max(lt, len(data) - _DECL_TAIL, 0)
            if b"xmlns" in data[start:] or data.endswith(_XMLNS_STARTS):
                self._carry = data[start:]
                return data[:start]
        return data

    def receive_eof(self) -> None:
        """The transport ended."""
        if self.state != "closed":
            clean = self.state == "closing"
            self.state = "closed"
            self._events.append(events.StreamClosed(clean=clean))

    def tls_established(self, channel_bindings: Optional[Dict[str, bytes]] = None) -> None:
        """The driver finished the TLS handshake after ``TLSRequested``: restart the stream."""
        if self.state != "tls":
            raise errors.LocalProtocolError(f"tls_established() in state {self.state!r}")
        self.tls_active = True
        self.channel_bindings = dict(channel_bindings or {})
        self._in_tag = False
        if self._tokenizer.reset() or self._carry:
            # bytes after <proceed/> in the same plaintext read: an injection attempt
            self._fail(errors.PolicyViolation("data after <proceed/> before the TLS handshake"))
            raise errors.PolicyViolation("data after <proceed/> before the TLS handshake")
        self._open_stream()

    @property
    def in_stanza(self) -> bool:
        """True when the bytes received so far end inside a top-level element (a stanza
        begun and not finished); a keepalive does not count such a read as a sign of life."""
        return self._tokenizer.in_stanza

    def key_derived(self, salted_password: bytes) -> None:
        """The result of ``KeyDerivationRequested.derivation.run()``: the SASL exchange goes on.

        Ignored when the stream closed meanwhile (the driver's thread may finish late).
        """
        if self.state == "closed":
            return
        mech = self._mechanism
        if self.state != "sasl-key" or mech is None:
            raise errors.LocalProtocolError(f"key_derived() in state {self.state!r}")
        response = self._sasl_step(lambda: mech.keys_derived(salted_password))
        self.state = "sasl"
        self._send_response(response)

    def events(self) -> List[events.Event]:
        """The events produced since the last call, oldest first (each is returned once)."""
        out, self._events = self._events, []
        return out

    def data_to_send(self) -> bytes:
        """The bytes to write to the transport since the last call (``b""`` when none)."""
        if not self._out:
            return b""
        out = b"".join(self._out)
        self._out.clear()
        return out

    # -- application API ----------------------------------------------------------------------
    def send(self, stanza: Element) -> None:
        """Queue a stanza (message, presence or iq); counted for stream management."""
        if self.state != "ready":
            raise errors.LocalProtocolError(f"cannot send stanzas in state {self.state!r}")
        self._out.append(serialize(stanza))
        sm = self.sm
        if sm.enabled:  # sm.outbound(stanza), inlined: once per stanza sent
            sm.state.unacked.append(stanza)
            sm.since_request += 1
            # one request at a time: its answer acknowledges everything sent before it
            if sm.since_request >= self.ack_every > 0 and not sm.awaiting:
                self.request_ack()

    def send_iq(self, iq: Element) -> str:
        """Send an IQ get/set and track its response; returns its id."""
        if iq.get("type") not in ("get", "set"):
            raise errors.LocalProtocolError("send_iq() takes an iq of type get or set")
        iq_id = iq.get("id", "")
        if not iq_id:
            iq_id = self.new_id()
            iq.set("id", iq_id)
        self.send(iq)
        self._pending_iq[iq_id] = iq.get("to")
        return iq_id

    def cancel_iq(self, iq_id: str) -> None:
        """Stop tracking an IQ (its caller gave up waiting)."""
        self._pending_iq.pop(iq_id, None)

    def new_id(self) -> str:
        """A stanza id unique in this stream (the stream's prefix and a counter)."""
        return f"{self._id_prefix}{next(self._ids)}"

    def request_ack(self) -> None:
        """Queue an ack request ``<r/>`` (XEP-0198) when stream management is enabled and the
        stream is ready or closing; else do nothing."""
        if self.sm.enabled and self.state in ("ready", "closing"):
            self._out.append(b"<r xmlns='urn:xmpp:sm:3'/>")
            self.sm.requested()

    def keepalive(self) -> None:
        """Whitespace keepalive (RFC 6120 4.6.1)."""
        if self.state == "ready":
            self._out.append(b" ")

    def close(self) -> None:
        """Start the closing handshake (RFC 6120 4.4)."""
        if self.state in ("closing", "closed", "idle"):
            return
        if self.sm.enabled and self.state == "ready":
            self._out.append(("<a xmlns='urn:xmpp:sm:3' h='%d'/>" % self.sm.state.inbound).encode())
        self._out.append(stream_footer())
        self.state = "closing"

    def compact(self) -> bool:
        """Free the parser memory a quiet session need not keep; True if anything was freed.

        The tokenizer's expat parser grows during negotiation and with traffic and
        never shrinks; between stanzas it can be dropped and is rebuilt on the next
        read (see ``Tokenizer.compact``).  The stream calls this itself when
        negotiation ends; drivers call it when the session has been quiet.
        """
        return self._tokenizer.compact()

    def sm_state(self) -> Optional[SMState]:
        """State to resume from on a new connection (None when resumption is impossible)."""
        state = self.sm.state
        if not (self.sm.active and state.resumable and state.id):
            return None
        state.jid = self.bound_jid
        return state

    def unacked(self) -> List[Any]:
        """A copy of the stanzas sent and not yet acknowledged by the server (XEP-0198),
        oldest first; empty without stream management."""
        return list(self.sm.state.unacked)

    def connection_lost(self) -> Tuple[Optional[SMState], List[Any]]:
        """The transport is gone: what a new connection should do about this session.

        Returns ``(resume, lost)``: ``resume`` is the state to resume from (None when
        the session cannot be resumed), ``lost`` the stanzas the server may never have
        received and that no resumption can deliver, for the application to handle
        (nothing is dropped silently).  A resumption cut short before the server
        answered keeps the state it started from: the server may still hold the
        session, so the next connection tries again with the same counters and queue.
        """
        self.receive_eof()
        state = self.sm_state()
        if state is not None:
            return state, []
        if self._resume_requested and self.sm.state.id:
            return self.sm.state, []  # resumption neither answered nor failed yet
        return None, self.sm.take_unacked()

    # -- negotiation --------------------------------------------------------------------------
    def _open_stream(self) -> None:
        sender = str(self.jid.bare) if self.tls_active and self.jid.localpart else None
        self._out.append(stream_header(to=self.jid.domain, from_=sender, lang=self.lang))
        self.state = "await-header"

    def _fail(self, err: errors.StreamError) -> None:
        if self.state != "closed":
            self._out.append(
                (f"<stream:error><{err.condition} xmlns='{NS_STREAMS}'/></stream:error>").encode()
                + stream_footer())
            self.state = "closed"

    def _dispatch_all(self, tokens: List[Any]) -> None:
        for token in tokens:
            state = self.state
            # fast path for the bulk of a session: stanzas while ready (same as the table says)
            if state == "ready":
                try:
                    tag = token.tag
                except AttributeError:  # StreamHeader, StreamEnd: not stanzas
                    tag = None
                if tag in _PLAIN_STANZA_TAGS:
                    # _on_stanza without its IQ-response check, and sm.inbound() inlined
                    sm = self.sm
                    if sm.active:
                        counters = sm.state
                        counters.inbound = (counters.inbound + 1) % SM_MOD
                    if self.on_stanza is not None and not self._events:
                        self.on_stanza(token)
                    else:
                        self._events.append(events.StanzaReceived(stanza=token))
                    continue
                if tag == _IQ:
                    self._on_stanza(token)
                    continue
            elif state == "closed":
                return
            self._dispatch(token)

    def _dispatch(self, token: Any) -> None:
        if isinstance(token, StreamHeader):
            kind = "header"
        elif isinstance(token, StreamEnd):
            kind = "end"
        else:
            kind = _KINDS.get(token.tag, "other")
        handler = TRANSITIONS.get((self.state, kind))
        if handler is None:
            err: errors.StreamError
            if kind == "other":
                err = errors.UnsupportedStanzaType(f"unexpected {token.tag} in state {self.state!r}")
            else:
                err = errors.BadFormat(f"unexpected {kind} in state {self.state!r}")
            self._fail(err)
            raise err
        getattr(self, handler)(token)

    def _on_header(self, header: StreamHeader) -> None:
        if header.version is None or not header.version.startswith("1."):
            err = errors.UnsupportedVersion(f"server stream version {header.version!r}")
            self._fail(err)
            raise err
        self._events.append(events.StreamOpened(id=header.id, from_=header.from_, version=header.version))
        self.state = "await-features"

    def _on_features(self, features: Element) -> None:
        self.server_features = features
        starttls = features.find("{%s}starttls" % NS_TLS)
        if not self.tls_active:
            if starttls is not None:
                self._out.append(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
                self.state = "starttls"
                return
            if self.require_tls:
                self._out.append(stream_footer())
                self.state = "closed"
                raise EncryptionRequired("the server does not offer STARTTLS and TLS is required")
        if not self.authenticated:
            self._start_sasl(features)
            return
        if self._resume_requested and features.find("{%s}sm" % NS_SM) is not None:
            state = self.sm.state
            self._out.append(("<resume xmlns='urn:xmpp:sm:3' previd='%s' h='%d'/>" % (
                _attr(state.id), state.inbound)).encode())
            self.state = "resume"
            return
        if self._resume_requested:
            self._resume_failed(None)
        self._bind()

    def _on_proceed(self, _el: Element) -> None:
        self.state = "tls"
        self._events.append(events.TLSRequested(server_hostname=self.jid.domain))

    def _on_tls_failure(self, _el: Element) -> None:
        self.state = "closed"
        raise errors.XMPPError("the server refused STARTTLS")

    def _start_sasl(self, features: Element) -> None:
        mechs_el = features.find("{%s}mechanisms" % NS_SASL)
        offered = [m.text.strip() for m in mechs_el.findall("{%s}mechanism" % NS_SASL) if m.text] \
            if mechs_el is not None else []
        cb_el = features.find("{%s}sasl-channel-binding" % NS_SASL_CB)
        cb_types = [c.get("type", "") for c in cb_el.findall("{%s}channel-binding" % NS_SASL_CB)] \
            if cb_el is not None else None
        try:
            mech = choose_mechanism(
                offered,
                username=self.jid.localpart,
                password=self.password,
                channel_bindings=self.channel_bindings,
                server_cb_types=cb_types,
                encrypted=self.tls_active,
                allow_plain_unencrypted=self.allow_plain_unencrypted,
                allow_anonymous=self.allow_anonymous,
                client_cert=self.client_cert,
                preference=self.mechanism_preference,
                salted_password_cache=self.sasl_cache,
                max_iterations=self.scram_max_iterations,
                inline_iterations=self.scram_inline_iterations,
            )
        except errors.SASLError:
            self._out.append(stream_footer())
            self.state = "closed"
            raise
        self._mechanism = mech
        initial = _b64encode(mech.initial_response())
        auth = Element("{%s}auth" % NS_SASL, {"mechanism": mech.name}, text=initial)
        self._out.append(serialize(auth))
        self.state = "sasl"

    def _sasl_step(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except errors.SASLError:
            self._out.append(b"<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" + stream_footer())
            self.state = "closed"
            raise

    def _on_challenge(self, el: Element) -> None:
        mech = self._mechanism
        assert mech is not None
        response = self._sasl_step(lambda: mech.challenge(_b64decode(el.text)))
        if response is None:  # SCRAM waits for a PBKDF2 too slow to run here
            self.state = "sasl-key"
            self._events.append(events.KeyDerivationRequested(
                mechanism=mech.name, derivation=mech.key_derivation))
            return
        self._send_response(response)

    def _send_response(self, response: bytes) -> None:
        self._out.append(serialize(
            Element("{%s}response" % NS_SASL, text=_b64encode(response))))

    def _on_success(self, el: Element) -> None:
        mech = self._mechanism
        assert mech is not None
        data = _b64decode(el.text) if el.text else None
        try:
            mech.success(data)
        except errors.SASLError:
            # the server thinks we are in; we do not trust it: close instead of restarting
            self._out.append(stream_footer())
            self.state = "closed"
            raise
        self.authenticated = True
        self.mechanism = mech.name
        self._mechanism = None  # its keys and nonces are not needed any more
        self._events.append(events.Authenticated(mechanism=mech.name))
        held = self._tokenizer.reset()
        self._open_stream()
        self._dispatch_all(held)

    def _on_sasl_failure(self, el: Element) -> None:
        condition, text = "not-authorized", None
        for child in el:
            local = child.tag.rsplit("}", 1)[-1]
            if local == "text":
                text = child.text
            else:
                condition = local
        self._out.append(stream_footer())
        self.state = "closed"
        raise errors.SASLError(condition, text or "")

    def _bind(self) -> None:
        iq = Element("{%s}iq" % NS_CLIENT, {"type": "set", "id": self.new_id()})
        bind = iq.subelement("{%s}bind" % NS_BIND)
        if self.jid.resource:
            bind.subelement("{%s}resource" % NS_BIND, text=self.jid.resource)
        self._internal_iq = iq.get("id")
        self._out.append(serialize(iq))
        self.state = "bind"

    def _internal_response(self, stanza: Element) -> bool:
        """True when ``stanza`` answers the negotiation IQ in flight; raise on its error."""
        if stanza.tag != "{%s}iq" % NS_CLIENT or stanza.get("id") != self._internal_iq:
            return False
        if stanza.get("type") == "error":
            from .stanza_errors import from_element

            self._out.append(stream_footer())
            self.state = "closed"
            raise from_element(stanza)
        ok: bool = stanza.get("type") == "result"
        return ok

    def _on_bind_stanza(self, stanza: Element) -> None:
        if not self._internal_response(stanza):
            raise self._unexpected(stanza)
        jid_text = stanza.findtext("{%s}bind/{%s}jid" % (NS_BIND, NS_BIND))
        if not jid_text:
            err = errors.UndefinedCondition("bind result without a JID")
            self._fail(err)
            raise err
        self.bound_jid = JID(jid_text)
        features = self.server_features
        session = features.find("{%s}session" % NS_SESSION) if features is not None else None
        if session is not None and session.find("{%s}optional" % NS_SESSION) is None:
            iq = Element("{%s}iq" % NS_CLIENT, {"type": "set", "id": self.new_id()})
            iq.subelement("{%s}session" % NS_SESSION)
            self._internal_iq = iq.get("id")
            self._out.append(serialize(iq))
            self.state = "session"
            return
        self._session_ready()

    def _on_session_stanza(self, stanza: Element) -> None:
        if not self._internal_response(stanza):
            raise self._unexpected(stanza)
        self._session_ready()

    def _session_ready(self) -> None:
        self._internal_iq = None
        features = self.server_features
        sm_offered = features is not None and features.find("{%s}sm" % NS_SM) is not None
        self.state = "ready"
        enabling = self.stream_management and sm_offered
        if enabling:
            self.sm = StreamManagement()
            self._out.append(b"<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
            self.sm.enabled = True
            # SessionStarted waits for the answer (_on_enabled, _on_enable_failed), so that
            # its sm_enabled and resumable say what the server granted
            return
        self._events.append(events.SessionStarted(
            jid=self.bound_jid, resumed=False, sm_enabled=False))
        self.compact()  # negotiation is over

    def _unexpected(self, stanza: Element) -> errors.StreamError:
        err = errors.BadFormat(f"unexpected {stanza.tag} in state {self.state!r}")
        self._fail(err)
        return err

    # -- stream management ---------------------------------------------------------------------
    def _on_resumed(self, el: Element) -> None:
        state = self.sm.state
        if el.get("previd") != state.id:
            err = errors.UndefinedCondition("resumed a different session")
            self._fail(err)
            raise err
        acked = self._apply_ack(el.get("h"))
        self.bound_jid = state.jid
        self.sm.enabled = self.sm.active = True
        self.state = "ready"
        self._events.append(events.SessionStarted(
            jid=self.bound_jid, resumed=True, sm_enabled=True, resumable=True))
        if acked:
            self._events.append(events.StanzasAcked(stanzas=acked))
        # retransmit what the server never got, in order, counted again
        for stanza in self.sm.take_unacked():
            self._out.append(serialize(stanza))
            self.sm.outbound(stanza)
        if self.sm.state.unacked:
            self.request_ack()
        self.compact()

    def _on_resume_failed(self, el: Element) -> None:
        h = el.get("h")
        if h is not None:
            acked = self._apply_ack(h)
            if acked:
                self._events.append(events.StanzasAcked(stanzas=acked))
        self._resume_failed(_condition(el))
        self._bind()

    def _resume_failed(self, condition: Optional[str]) -> None:
        unacked = tuple(self.sm.take_unacked())
        self._resume_requested = False
        self.sm = StreamManagement()
        self._events.append(events.ResumeFailed(unacked=unacked, condition=condition))

    def _on_enabled(self, el: Element) -> None:
        state = self.sm.state
        first = self.sm.enabled and not self.sm.active  # the answer to our <enable/>
        state.id = el.get("id")
        state.resumable = el.get("resume") in ("true", "1")
        state.location = el.get("location")
        max_ = el.get("max", "")  # xs:unsignedInt; str.isdigit() alone also takes "²"
        state.max = int(max_) if max_.isascii() and max_.isdigit() else None
        self.sm.active = True
        if first:
            self._events.append(events.SessionStarted(
                jid=self.bound_jid, resumed=False, sm_enabled=True, resumable=state.resumable))
        self.compact()

    def _on_enable_failed(self, el: Element) -> None:
        log.info("stream management refused: %s", _condition(el))
        self.sm.take_unacked()
        started = self.sm.enabled and not self.sm.active
        self.sm = StreamManagement()
        if started:
            self._events.append(events.SessionStarted(
                jid=self.bound_jid, resumed=False, sm_enabled=False))
        self.compact()

    def _on_ack_request(self, _el: Element) -> None:
        if self.sm.active:
            self._out.append(("<a xmlns='urn:xmpp:sm:3' h='%d'/>" % self.sm.state.inbound).encode())

    def _on_ack(self, el: Element) -> None:
        acked = self._apply_ack(el.get("h"))
        if acked:
            self._events.append(events.StanzasAcked(stanzas=acked))
        if self.sm.since_request >= self.ack_every > 0:  # sent while the request was out
            self.request_ack()

    def _apply_ack(self, h: Optional[str]) -> Tuple[Any, ...]:
        try:
            return self.sm.acked(parse_h(h))
        except errors.StreamError as err:
            self._fail(err)
            raise

    # -- stanzas -----------------------------------------------------------------------------
    def _on_stanza(self, stanza: Element) -> None:
        self.sm.inbound()
        if stanza.tag == _IQ and stanza.get("type") in ("result", "error"):
            iq_id = stanza.get("id")
            if iq_id in self._pending_iq and self._response_from_ok(self._pending_iq[iq_id], stanza.get("from")):
                del self._pending_iq[iq_id]
                self._events.append(events.IQResponseReceived(id=iq_id, stanza=stanza))
                return
        if self.on_stanza is not None and not self._events:
            self.on_stanza(stanza)  # nothing queued before it: calling now keeps the order
        else:
            self._events.append(events.StanzaReceived(stanza=stanza))

    def _response_from_ok(self, to: Optional[str], sender: Optional[str]) -> bool:
        """RFC 6120 8.1.2.1 / 10.1: who may answer an IQ sent to ``to``."""
        if sender == to:
            return True
        me = self.bound_jid or self.jid
        try:
            sender_jid = JID(sender) if sender is not None else None
            to_jid = JID(to) if to is not None else None
        except ValueError:
            return False
        if to_jid is None or to_jid == me.bare:
            return sender_jid is None or sender_jid in (me.bare, me, JID(me.domain))
        return sender_jid == to_jid

    def _on_stream_error(self, el: Element) -> None:
        condition, text = "undefined-condition", None
        for child in el:
            if child.tag == "{%s}text" % NS_STREAMS:
                text = child.text
            elif child.tag.startswith("{%s}" % NS_STREAMS):
                condition = child.tag.split("}", 1)[1]
        error = errors.stream_error_class(condition)(text or "")
        if self.state != "closing":
            self._out.append(stream_footer())
        self.state = "closed"
        self._events.append(events.StreamErrorReceived(error=error, element=el))

    def _on_end(self, _end: Any) -> None:
        clean = self.state == "closing"
        if not clean:
            self._out.append(stream_footer())
        self.state = "closed"
        self._events.append(events.StreamClosed(clean=clean))


def _condition(el: Element) -> Optional[str]:
    for child in el:
        if child.tag.startswith("{urn:ietf:params:xml:ns:xmpp-stanzas}"):
            return child.tag.split("}", 1)[1]
    return None


def _attr(value: Optional[str]) -> str:
    return (value or "").replace("&", "&amp;").replace("'", "&apos;").replace("<", "&lt;")
