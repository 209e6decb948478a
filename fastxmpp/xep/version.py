"""XEP-0092 Software Version, sans-IO: query another entity's, and answer with ours."""
from __future__ import annotations

from typing import NamedTuple, Optional

from ..element import Element
from ..jid import JIDLike
from ._iq import RemoteInvalidResult, empty_result, get_request, result_payload

__all__ = ["NS_VERSION", "QUERY", "SoftwareVersion", "InvalidVersionResult", "version_request",
           "parse_version", "answer_version"]

NS_VERSION = "jabber:iq:version"
QUERY = "{%s}query" % NS_VERSION
_NAME, _VERSION, _OS = ("{%s}%s" % (NS_VERSION, name) for name in ("name", "version", "os"))


class SoftwareVersion(NamedTuple):
    """An entity's software: ``name``, ``version`` and (when it tells) ``os``."""

    name: str
    version: str
    os: Optional[str] = None


class InvalidVersionResult(RemoteInvalidResult):
    """A version result without its required ``<name/>`` or ``<version/>``."""


def version_request(to: JIDLike) -> Element:
    """The XEP-0092 ``jabber:iq:version`` get request to ``to``."""
    return get_request(to, QUERY)


def parse_version(iq: Element) -> SoftwareVersion:
    """The :class:`SoftwareVersion` in a result; an IQ error raises its
    :class:`~fastxmpp.stanza_errors.StanzaError`, a result missing ``name`` or ``version``
    (both required, XEP-0092 section 3) :class:`InvalidVersionResult`."""
    query = result_payload(iq, QUERY, InvalidVersionResult)
    name, version = query.findtext(_NAME), query.findtext(_VERSION)
    if not name:
        raise InvalidVersionResult("software version result without <name/>", iq)
    if not version:
        raise InvalidVersionResult("software version result without <version/>", iq)
    return SoftwareVersion(name.strip(), version.strip(), (query.findtext(_OS) or "").strip() or None)


def answer_version(request: Element, name: str, version: str, os: Optional[str] = None) -> Element:
    """The result answering a version request with ``name``, ``version`` and ``os`` (left
    out when None: telling it is optional, XEP-0092 section 4)."""
    reply = empty_result(request)
    query = reply.subelement(QUERY)
    query.subelement(_NAME, text=name)
    query.subelement(_VERSION, text=version)
    if os is not None:
        query.subelement(_OS, text=os)
    return reply
