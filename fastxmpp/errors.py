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
    condition = "bad-format"


class BadNamespacePrefix(StreamError):
    condition = "bad-namespace-prefix"


class Conflict(StreamError):
    condition = "conflict"


class ConnectionTimeout(StreamError):
    condition = "connection-timeout"


class HostGone(StreamError):
    condition = "host-gone"


class HostUnknown(StreamError):
    condition = "host-unknown"


class ImproperAddressing(StreamError):
    condition = "improper-addressing"


class InternalServerError(StreamError):
    condition = "internal-server-error"


class InvalidFrom(StreamError):
    condition = "invalid-from"


class InvalidNamespace(StreamError):
    condition = "invalid-namespace"


class InvalidXML(StreamError):
    condition = "invalid-xml"


class NotAuthorized(StreamError):
    condition = "not-authorized"


class NotWellFormed(StreamError):
    condition = "not-well-formed"


class PolicyViolation(StreamError):
    condition = "policy-violation"


class RemoteConnectionFailed(StreamError):
    condition = "remote-connection-failed"


class Reset(StreamError):
    condition = "reset"


class ResourceConstraint(StreamError):
    condition = "resource-constraint"


class RestrictedXML(StreamError):
    condition = "restricted-xml"


class SeeOtherHost(StreamError):
    condition = "see-other-host"


class SystemShutdown(StreamError):
    condition = "system-shutdown"


class UndefinedCondition(StreamError):
    condition = "undefined-condition"


class UnsupportedEncoding(StreamError):
    condition = "unsupported-encoding"


class UnsupportedFeature(StreamError):
    condition = "unsupported-feature"


class UnsupportedStanzaType(StreamError):
    condition = "unsupported-stanza-type"


class UnsupportedVersion(StreamError):
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
