"""Exceptions named after RFC 6120 / RFC 6121 conditions.

``Remote...`` semantics: a :class:`StreamError` raised while reading means the
peer broke the protocol; its :attr:`~StreamError.condition` is the stream error
to send back before closing.  ``Local...`` errors mean the caller misused the API.
"""
from __future__ import annotations

from typing import Any, ClassVar, Dict, List, Optional, Sequence, Type

__all__ = [
    "XMPPError",
    "LocalProtocolError",
    "StreamError",
    "BadFormat",
    "BadNamespacePrefix",
    "Conflict",
    "ConnectionTimeout",
    "HostGone",
    "HostUnknown",
    "ImproperAddressing",
    "InternalServerError",
    "InvalidFrom",
    "InvalidNamespace",
    "InvalidXML",
    "NotAuthorized",
    "NotWellFormed",
    "PolicyViolation",
    "RemoteConnectionFailed",
    "Reset",
    "ResourceConstraint",
    "RestrictedXML",
    "SeeOtherHost",
    "SystemShutdown",
    "UndefinedCondition",
    "UnsupportedEncoding",
    "UnsupportedFeature",
    "UnsupportedStanzaType",
    "UnsupportedVersion",
    "SASLError",
    "NoUsableMechanism",
    "MechanismNotOffered",
    "ChannelBindingUnavailable",
    "STREAM_ERROR_CLASSES",
    "stream_error_class",
]


class XMPPError(Exception):
    """Base class of every fastxmpp error."""


class LocalProtocolError(XMPPError, RuntimeError):
    """The caller used the API in a way the protocol does not allow."""


class StreamError(XMPPError):
    """A stream-level error (RFC 6120 section 4.9); the stream is unusable afterwards.

    ``condition`` is the defined condition name (``"not-well-formed"``...).
    ``text`` is a human-readable description, ``events`` the tokens that were
    complete before the error (a tokenizer puts them here so nothing is lost).
    """

    condition: ClassVar[str] = "undefined-condition"

    def __init__(self, text: str = "", *, events: Optional[List[Any]] = None) -> None:
        super().__init__(f"{self.condition}: {text}" if text else self.condition)
        self.text = text
        self.events: List[Any] = events if events is not None else []


class BadFormat(StreamError):
    """``bad-format``: The entity sent XML that cannot be processed (RFC 6120 4.9.3.1)."""

    condition = "bad-format"


class BadNamespacePrefix(StreamError):
    """``bad-namespace-prefix``: A namespace prefix is unsupported, or the stream namespace has no
    prefix (4.9.3.2).
    """

    condition = "bad-namespace-prefix"


class Conflict(StreamError):
    """``conflict``: A new stream for this entity replaced this one, e.g. the same full JID logged
    in again (4.9.3.3).
    """

    condition = "conflict"


class ConnectionTimeout(StreamError):
    """``connection-timeout``: One side has not generated any traffic for too long (4.9.3.4)."""

    condition = "connection-timeout"


class HostGone(StreamError):
    """``host-gone``: The domain named in 'to' is no longer served by this server (4.9.3.5)."""

    condition = "host-gone"


class HostUnknown(StreamError):
    """``host-unknown``: The domain named in 'to' is not served by this server (4.9.3.6)."""

    condition = "host-unknown"


class ImproperAddressing(StreamError):
    """``improper-addressing``: A stanza lacked a required 'to' or 'from', or had a bad one
    (4.9.3.7).
    """

    condition = "improper-addressing"


class InternalServerError(StreamError):
    """``internal-server-error``: The server has a misconfiguration or another internal error
    (4.9.3.8).
    """

    condition = "internal-server-error"


class InvalidFrom(StreamError):
    """``invalid-from``: The 'from' address does not match an authorized JID of the stream
    (4.9.3.9).
    """

    condition = "invalid-from"


class InvalidNamespace(StreamError):
    """``invalid-namespace``: The stream or content namespace is not the one expected (4.9.3.10)."""

    condition = "invalid-namespace"


class InvalidXML(StreamError):
    """``invalid-xml``: The XML is invalid against the schema in use (4.9.3.11)."""

    condition = "invalid-xml"


class NotAuthorized(StreamError):
    """``not-authorized``: Data was sent before the stream was authenticated (4.9.3.12)."""

    condition = "not-authorized"


class NotWellFormed(StreamError):
    """``not-well-formed``: The data is not well-formed XML (4.9.3.13); raised by the tokenizer for
    bad bytes.
    """

    condition = "not-well-formed"


class PolicyViolation(StreamError):
    """``policy-violation``: A local policy was violated, e.g. a stanza above the size limit
    (4.9.3.14).
    """

    condition = "policy-violation"


class RemoteConnectionFailed(StreamError):
    """``remote-connection-failed``: The server could not reach a remote entity it needs, e.g. its
    authentication service (4.9.3.15).
    """

    condition = "remote-connection-failed"


class Reset(StreamError):
    """``reset``: The server closes the stream because security-critical state changed, e.g. a
    certificate or password (4.9.3.16).
    """

    condition = "reset"


class ResourceConstraint(StreamError):
    """``resource-constraint``: The server lacks the resources to serve the stream (4.9.3.17)."""

    condition = "resource-constraint"


class RestrictedXML(StreamError):
    """``restricted-xml``: XML that XMPP forbids: comments, processing instructions, DTDs, entity
    references (4.9.3.18).
    """

    condition = "restricted-xml"


class SeeOtherHost(StreamError):
    """``see-other-host``: The server redirects the client to another host, given in the error text
    (4.9.3.19).
    """

    condition = "see-other-host"


class SystemShutdown(StreamError):
    """``system-shutdown``: The server is shutting down and closes every stream (4.9.3.20)."""

    condition = "system-shutdown"


class UndefinedCondition(StreamError):
    """``undefined-condition``: A condition not in the list; also the class for unknown conditions
    (4.9.3.21).
    """

    condition = "undefined-condition"


class UnsupportedEncoding(StreamError):
    """``unsupported-encoding``: The stream is not in UTF-8 (4.9.3.22)."""

    condition = "unsupported-encoding"


class UnsupportedFeature(StreamError):
    """``unsupported-feature``: A feature the receiver requires is not offered (4.9.3.23)."""

    condition = "unsupported-feature"


class UnsupportedStanzaType(StreamError):
    """``unsupported-stanza-type``: A first-level child of the stream that the receiver does not
    support (4.9.3.24).
    """

    condition = "unsupported-stanza-type"


class UnsupportedVersion(StreamError):
    """``unsupported-version``: The stream 'version' is not supported (4.9.3.25)."""

    condition = "unsupported-version"


STREAM_ERROR_CLASSES: Dict[str, Type[StreamError]] = {
    cls.condition: cls
    for cls in (
        BadFormat, BadNamespacePrefix, Conflict, ConnectionTimeout, HostGone, HostUnknown,
        ImproperAddressing, InternalServerError, InvalidFrom, InvalidNamespace, InvalidXML,
        NotAuthorized, NotWellFormed, PolicyViolation, RemoteConnectionFailed, Reset,
        ResourceConstraint, RestrictedXML, SeeOtherHost, SystemShutdown, UndefinedCondition,
        UnsupportedEncoding, UnsupportedFeature, UnsupportedStanzaType, UnsupportedVersion,
    )
}


def stream_error_class(condition: str) -> Type[StreamError]:
    """The exception class for a stream error condition (unknown ones map to UndefinedCondition)."""
    return STREAM_ERROR_CLASSES.get(condition, UndefinedCondition)


class SASLError(XMPPError):
    """SASL authentication failed (RFC 6120 section 6.5); ``condition`` names why.

    Conditions: aborted, account-disabled, credentials-expired, encryption-required,
    incorrect-encoding, invalid-authzid, invalid-mechanism, malformed-request,
    mechanism-too-weak, not-authorized, temporary-auth-failure; plus the local
    ``server-signature-mismatch`` / ``downgrade-detected`` / ``no-usable-mechanism``
    (raised as :class:`NoUsableMechanism` or one of its subclasses,
    :class:`MechanismNotOffered` and :class:`ChannelBindingUnavailable`).
    """

    def __init__(self, condition: str, text: str = "") -> None:
        super().__init__(f"{condition}: {text}" if text else condition)
        self.condition = condition
        self.text = text


class NoUsableMechanism(SASLError):
    """No SASL mechanism the server offers can be used (condition ``no-usable-mechanism``)."""

    def __init__(self, text: str = "") -> None:
        super().__init__("no-usable-mechanism", text)


class MechanismNotOffered(NoUsableMechanism):
    """The mechanisms asked for (``mechanisms=[...]``) are not among those the server offers.

    ``requested`` and ``offered`` hold both lists.
    """

    def __init__(self, text: str = "", *, requested: Sequence[str] = (), offered: Sequence[str] = ()) -> None:
        super().__init__(text)
        self.requested = tuple(requested)
        self.offered = tuple(offered)


class ChannelBindingUnavailable(NoUsableMechanism):
    """A SCRAM ``-PLUS`` mechanism needs a channel binding that both sides support, and none is.

    ``mechanisms`` are the -PLUS mechanisms that could not be used, ``missing`` the
    channel-binding types the server supports that this connection cannot provide,
    ``available`` those it can; the message says how to get one.
    """

    def __init__(self, text: str = "", *, mechanisms: Sequence[str] = (), missing: Sequence[str] = (),
                 available: Sequence[str] = ()) -> None:
        super().__init__(text)
        self.mechanisms = tuple(mechanisms)
        self.missing = tuple(missing)
        self.available = tuple(available)
