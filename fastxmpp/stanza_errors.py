"""Stanza errors (RFC 6120 section 8.3) as exceptions named after their condition."""
from __future__ import annotations

from typing import Any, ClassVar, Dict, Optional, Type

from .errors import XMPPError

NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"

__all__ = [
    "StanzaError", "BadRequest", "Conflict", "FeatureNotImplemented", "Forbidden", "Gone",
    "InternalServerError", "ItemNotFound", "JidMalformed", "NotAcceptable", "NotAllowed",
    "NotAuthorized", "PolicyViolation", "RecipientUnavailable", "Redirect",
    "RegistrationRequired", "RemoteServerNotFound", "RemoteServerTimeout", "ResourceConstraint",
    "ServiceUnavailable", "SubscriptionRequired", "UndefinedCondition", "UnexpectedRequest",
    "from_element",
]


class StanzaError(XMPPError):
    """An ``<error/>`` inside a stanza: ``condition``, ``type`` (auth, cancel, continue,
    modify, wait), optional ``text`` and the whole ``stanza``."""

    condition: ClassVar[str] = "undefined-condition"

    def __init__(self, text: Optional[str] = None, *, type: str = "cancel",
                 stanza: Any = None, by: Optional[str] = None) -> None:
        super().__init__(f"{self.condition} ({type}): {text}" if text else f"{self.condition} ({type})")
        self.text = text
        self.type = type
        self.stanza = stanza
        self.by = by


def _make(name: str, condition: str) -> Type[StanzaError]:
    return type(name, (StanzaError,), {"condition": condition, "__doc__": f"<{condition}/>"})


BadRequest = _make("BadRequest", "bad-request")
Conflict = _make("Conflict", "conflict")
FeatureNotImplemented = _make("FeatureNotImplemented", "feature-not-implemented")
Forbidden = _make("Forbidden", "forbidden")
Gone = _make("Gone", "gone")
InternalServerError = _make("InternalServerError", "internal-server-error")
ItemNotFound = _make("ItemNotFound", "item-not-found")
JidMalformed = _make("JidMalformed", "jid-malformed")
NotAcceptable = _make("NotAcceptable", "not-acceptable")
NotAllowed = _make("NotAllowed", "not-allowed")
NotAuthorized = _make("NotAuthorized", "not-authorized")
PolicyViolation = _make("PolicyViolation", "policy-violation")
RecipientUnavailable = _make("RecipientUnavailable", "recipient-unavailable")
Redirect = _make("Redirect", "redirect")
RegistrationRequired = _make("RegistrationRequired", "registration-required")
RemoteServerNotFound = _make("RemoteServerNotFound", "remote-server-not-found")
RemoteServerTimeout = _make("RemoteServerTimeout", "remote-server-timeout")
ResourceConstraint = _make("ResourceConstraint", "resource-constraint")
ServiceUnavailable = _make("ServiceUnavailable", "service-unavailable")
SubscriptionRequired = _make("SubscriptionRequired", "subscription-required")
UndefinedCondition = _make("UndefinedCondition", "undefined-condition")
UnexpectedRequest = _make("UnexpectedRequest", "unexpected-request")

CLASSES: Dict[str, Type[StanzaError]] = {
    cls.condition: cls for cls in StanzaError.__subclasses__()
}


def from_element(stanza: Any) -> StanzaError:
    """The exception for a stanza of type 'error' (a missing <error/> is undefined-condition)."""
    error = stanza.find("{jabber:client}error")
    if error is None:
        return UndefinedCondition("error stanza without <error/>", stanza=stanza)
    condition, text = "undefined-condition", None
    for child in error:
        if child.tag == "{%s}text" % NS_STANZAS:
            text = child.text
        elif child.tag.startswith("{%s}" % NS_STANZAS):
            condition = child.tag.split("}", 1)[1]
    cls = CLASSES.get(condition, UndefinedCondition)
    return cls(text, type=error.get("type", "cancel"), stanza=stanza, by=error.get("by"))
