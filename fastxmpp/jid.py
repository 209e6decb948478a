"""XMPP addresses (JIDs), RFC 7622.

A :class:`JID` is an immutable, hashable value holding the *normalised* form of
an address:

* the localpart is enforced with the PRECIS ``UsernameCaseMapped`` profile
  (RFC 8265 section 3.3) and must not contain the characters that RFC 7622
  section 3.3.1 forbids on top of it (``" & ' / : < > @``);
* the domainpart loses one trailing dot; IP literals (``[v6]`` and dotted IPv4)
  are checked and kept (hex digits lowercased); every other domainpart goes
  through the UTS 46 mapping and IDNA2008 and is stored as U-labels;
* the resourcepart is enforced with the PRECIS ``OpaqueString`` profile
  (RFC 8265 section 4.2), so its case is preserved.

Every part is 1 to 1023 octets of UTF-8 after normalisation, and every DNS
label at most 63 octets (in its A-label form).

Most addresses on the wire are plain ASCII.  Those that need no work beyond
lowercasing are recognised by one regular expression and never reach PRECIS or
IDNA; anything else takes the full path.  Both paths give the same result (the
test-suite checks that with Hypothesis).  Parsed strings are kept in a bounded
LRU cache, so ``JID(s)`` for a recently seen ``s`` is one dictionary lookup.
"""
from __future__ import annotations

import functools
import ipaddress
import re
from sys import intern as _intern
from typing import Any, Dict, Optional, Tuple, Type, Union

import idna
import precis_i18n

from .errors import XMPPError

__all__ = [
    "JID",
    "JIDLike",
    "InvalidJID",
    "InvalidLocalpart",
    "InvalidDomainpart",
    "InvalidResourcepart",
    "jid_escape",
    "jid_unescape",
]

#: Largest size of each part, in octets of UTF-8, after normalisation (RFC 7622 3.3, 3.2, 3.4).
MAX_PART_OCTETS = 1023
#: Largest size of one DNS label, in octets of its A-label form (RFC 5890).
MAX_LABEL_OCTETS = 63
#: How many parsed strings the LRU cache keeps.
CACHE_SIZE = 4096

# A part longer than this (in code points) cannot normalise to 1023 octets or
# fewer: PRECIS maps one code point to at least one, and NFC composes at most
# four code points (the longest canonical decomposition) into one.  Checking it
# first keeps hostile megabyte-long "JIDs" away from PRECIS and IDNA.  (UTS 46
# can drop ignorable code points from a domain, so a domain padded with more
# than three thousand of them is refused too; no real address looks like that.)
_MAX_INPUT_CHARS = 4 * MAX_PART_OCTETS

# RFC 7622 3.3.1: allowed by the IdentifierClass, forbidden in a localpart.
_LOCAL_FORBIDDEN = "\"&'/:<>@"


# -- errors --------------------------------------------------------------------


class InvalidJID(XMPPError, ValueError):
    """A string or part is not a valid JID (RFC 7622).

    ``part`` names the part at fault (``"localpart"``, ``"domainpart"``,
    ``"resourcepart"``, or ``None`` when the string as a whole is wrong),
    ``reason`` says what is wrong ("localpart exceeds 1023 bytes") and ``jid``
    is the input that was refused (``None`` when the parts were given alone).
    """

    part: Optional[str] = None

    def __init__(self, reason: str, jid: Optional[str] = None) -> None:
        self.reason = reason
        self.jid = jid
        if jid is None:
            message = reason
        else:
            shown = jid if len(jid) <= 80 else jid[:77] + "..."
            message = f"{reason} (in {shown!r})"
        super().__init__(message)

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.reason, self.jid))


class InvalidLocalpart(InvalidJID):
    """The localpart (before ``@``) is wrong."""

    part = "localpart"


class InvalidDomainpart(InvalidJID):
    """The domainpart is wrong (missing, not an IDNA2008 name or IP literal, too long)."""

    part = "domainpart"


class InvalidResourcepart(InvalidJID):
    """The resourcepart (after the first ``/``) is wrong."""

    part = "resourcepart"


# -- normalisation of each part ------------------------------------------------

_USERNAME = precis_i18n.get_profile("UsernameCaseMapped")
_OPAQUE = precis_i18n.get_profile("OpaqueString")

# ASCII that the profiles leave alone apart from lowercasing.
# Localpart: 0x21-0x7E (IdentifierClass ASCII7) minus " & ' / : < > @.
_LOCAL_ASCII = r"[!#-%(-.0-9;=?A-~]"
# Resourcepart: 0x20-0x7E (FreeformClass; OpaqueString maps nothing in ASCII).
_RESOURCE_ASCII = r"[ -~]"
# One LDH label that IDNA2008 accepts unchanged (apart from case): no leading or
# trailing hyphen, and no "--" in the 3rd and 4th position (that is "xn--" and
# the other reserved prefixes, which go the slow way).
_LABEL_ASCII = r"(?![A-Za-z0-9]{2}--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN_ASCII = rf"((?:{_LABEL_ASCII}\.)*{_LABEL_ASCII})\.?"

_label_sep = re.compile("[.\u3002\uff0e\uff61]").split
_local_fast = re.compile(rf"{_LOCAL_ASCII}{{1,{MAX_PART_OCTETS}}}").fullmatch
_resource_fast = re.compile(rf"{_RESOURCE_ASCII}{{1,{MAX_PART_OCTETS}}}").fullmatch
_domain_fast = re.compile(_DOMAIN_ASCII).fullmatch
_jid_fast = re.compile(
    rf"(?:({_LOCAL_ASCII}{{1,{MAX_PART_OCTETS}}})@)?"
    rf"{_DOMAIN_ASCII}"
    rf"(?:/({_RESOURCE_ASCII}{{1,{MAX_PART_OCTETS}}}))?"
).fullmatch


def _describe(exc: UnicodeError, value: str) -> str:
    """PRECIS's ``DISALLOWED/spaces`` -> "disallowed character ' ' (U+0020, spaces)"."""
    reason = getattr(exc, "reason", str(exc))
    obj = getattr(exc, "object", None)
    start = getattr(exc, "start", None)
    if isinstance(obj, str) and isinstance(start, int) and 0 <= start < len(obj):
        # The index is into the mapped string; show the input's character when
        # the mapping kept the length (it usually does).
        ch = value[start] if len(value) == len(obj) else obj[start]
        kind = reason.split("/", 1)[-1]
        return f"disallowed character {ch!r} (U+{ord(ch):04X}, {kind})"
    return str(reason)


def _octets(value: str) -> int:
    return len(value) if value.isascii() else len(value.encode("utf-8"))


def _prep_localpart(value: str, jid: Optional[str], fast: bool = True) -> str:
    if not value:
        raise InvalidLocalpart("localpart is empty", jid)
    if fast and _local_fast(value):
        return value.lower()
    if len(value) > _MAX_INPUT_CHARS:
        raise InvalidLocalpart(f"localpart exceeds {MAX_PART_OCTETS} bytes", jid)
    try:
        out = _USERNAME.enforce(value)
    except UnicodeError as exc:
        raise InvalidLocalpart(f"{_describe(exc, value)} in localpart", jid) from None
    for ch in _LOCAL_FORBIDDEN:
        if ch in out:
            raise InvalidLocalpart(f"forbidden character {ch!r} in localpart", jid)
    if _octets(out) > MAX_PART_OCTETS:
        raise InvalidLocalpart(f"localpart exceeds {MAX_PART_OCTETS} bytes", jid)
    return out


def _prep_resourcepart(value: str, jid: Optional[str], fast: bool = True) -> str:
    if not value:
        raise InvalidResourcepart("resourcepart is empty", jid)
    if fast and _resource_fast(value):
        return value
    if len(value) > _MAX_INPUT_CHARS:
        raise InvalidResourcepart(f"resourcepart exceeds {MAX_PART_OCTETS} bytes", jid)
    try:
        out = _OPAQUE.enforce(value)
    except UnicodeError as exc:
        raise InvalidResourcepart(f"{_describe(exc, value)} in resourcepart", jid) from None
    if _octets(out) > MAX_PART_OCTETS:
        raise InvalidResourcepart(f"resourcepart exceeds {MAX_PART_OCTETS} bytes", jid)
    return out


def _ip_literal(value: str, jid: Optional[str]) -> Optional[str]:
    """The kept form of an IP literal, or ``None`` when ``value`` is not one."""
    if value.startswith("["):
        inner = value[1:-1] if value.endswith("]") else ""
        if inner and "%" not in inner and inner.isascii():
            try:
                ipaddress.IPv6Address(inner)
            except ValueError:
                pass
            else:
                return value.lower()
        raise InvalidDomainpart(f"invalid IPv6 literal {value!r} in domainpart", jid)
    if value[-1:].isdigit():
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            return None  # all-digit labels are also a valid domain name
        return value
    return None


def _prep_domainpart(value: str, jid: Optional[str], fast: bool = True) -> str:
    if fast:
        m = _domain_fast(value)
        if m is not None:
            out = m.group(1)
            if len(out) > MAX_PART_OCTETS:
                raise InvalidDomainpart(f"domainpart exceeds {MAX_PART_OCTETS} bytes", jid)
            return out.lower()
    if not value:
        raise InvalidDomainpart("domainpart is empty", jid)
    if len(value) > _MAX_INPUT_CHARS:
        raise InvalidDomainpart(f"domainpart exceeds {MAX_PART_OCTETS} bytes", jid)
    if value.endswith("."):
        ip = _ip_literal(value[:-1], jid) if len(value) > 1 else None
    else:
        ip = _ip_literal(value, jid)
    if ip is not None:
        return ip
    # Split on the label separators UTS 46 knows (. U+3002 U+FF0E U+FF61) and
    # map label by label: idna refuses whole strings over 1024 code points
    # (since 3.1x), and RFC 7622 allows domainparts up to 1023 octets.
    raw_labels = _label_sep(value)
    if len(raw_labels) > 1 and not raw_labels[-1]:
        raw_labels.pop()  # one trailing dot is stripped (RFC 7622 3.2)
    mapped_labels = []
    for raw in raw_labels:
        if not raw:
            raise InvalidDomainpart("empty label in domainpart" if len(raw_labels) > 1
                                    else "domainpart is empty", jid)
        try:
            mapped = idna.uts46_remap(raw, std3_rules=True, transitional=False)
        except UnicodeError as exc:
            raise InvalidDomainpart(f"{_describe(exc, raw)} in domainpart", jid) from None
        mapped_labels.extend(mapped.split("."))
    mapped = ".".join(mapped_labels)
    labels = []
    for label in mapped.split("."):
        if not label:
            raise InvalidDomainpart("empty label in domainpart", jid)
        try:
            alabel = idna.alabel(label)
            ulabel = idna.ulabel(alabel)
        except UnicodeError as exc:  # idna.IDNAError is a UnicodeError
            text = str(exc)
            if "too long" in text.lower():
                text = f"label exceeds {MAX_LABEL_OCTETS} bytes"
            raise InvalidDomainpart(
                f"invalid label {label[:70]!r} in domainpart: {text}", jid
            ) from None
        if len(alabel) > MAX_LABEL_OCTETS:  # idna checks this too; be explicit
            raise InvalidDomainpart(f"label exceeds {MAX_LABEL_OCTETS} bytes", jid)
        labels.append(ulabel)
    out = ".".join(labels)
    if _octets(out) > MAX_PART_OCTETS:
        raise InvalidDomainpart(f"domainpart exceeds {MAX_PART_OCTETS} bytes", jid)
    return out


# -- parsing -------------------------------------------------------------------


def _split(s: str) -> Tuple[Optional[str], str, Optional[str]]:
    """RFC 7622 3.1/3.2 order: the resourcepart is everything after the first
    ``/``; in what precedes it the localpart is everything before the first
    ``@``; the rest is the domainpart.  Empty parts are refused when their
    separator is present.
    """
    head, slash, resource = s.partition("/")
    if slash and not resource:
        raise InvalidResourcepart("resourcepart is empty", s)
    local, at, domain = head.partition("@")
    if not at:
        local, domain = None, head  # type: ignore[assignment]
    elif not local:
        raise InvalidLocalpart("localpart is empty", s)
    if not domain:
        raise InvalidDomainpart("domainpart is empty", s)
    return local, domain, (resource if slash else None)


def _parse_parts(s: str, fast: bool = True) -> Tuple[Optional[str], str, Optional[str]]:
    """Split and normalise ``s``; ``fast=False`` sends every part through PRECIS/IDNA."""
    if not isinstance(s, str):
        raise TypeError(f"a JID is parsed from str, not {type(s).__name__}")
    if fast:
        m = _jid_fast(s)
        if m is not None:
            local, domain, resource = m.groups()
            if len(domain) > MAX_PART_OCTETS:
                raise InvalidDomainpart(f"domainpart exceeds {MAX_PART_OCTETS} bytes", s)
            return (local.lower() if local is not None else None), domain.lower(), resource
    local, domain, resource = _split(s)
    if local is not None:
        local = _prep_localpart(local, s, fast)
    domain = _prep_domainpart(domain, s, fast)
    if resource is not None:
        resource = _prep_resourcepart(resource, s, fast)
    return local, domain, resource


def _parse_uncached(s: str) -> JID:
    """Parse ``s`` without the cache (what :func:`_parse` calls on a miss)."""
    local, domain, resource = _parse_parts(s)
    return JID._make(local, domain, resource)


_parse = functools.lru_cache(maxsize=CACHE_SIZE)(_parse_uncached)


_domains: Dict[str, str] = {}  # domainpart as written -> normalised and interned
_DOMAINS = 1024  # how many _domains keeps (emptied when full)


def _parse_once(s: str) -> JID:
    """Parse ``s`` like ``JID(s)``, without the LRU cache: for strings seen once in bulk
    (the items of a roster), where the cache would only churn and keep each string twice.

    On the fast path (ASCII) each distinct domainpart is checked once and interned (a
    roster has few), and an already normalised ``s`` becomes the JID's string, so that the
    JID holds no second copy of it.  Anything else goes the way of ``JID(s)``, and raises
    what it raises."""
    if type(s) is not str:
        return _parse_uncached(s)
    head, slash, resource = s.partition("/")
    local, at, domain = head.partition("@")
    if not at:
        local, domain = None, head  # type: ignore[assignment]
    norm = _domains.get(domain)
    if norm is None:
        m = _domain_fast(domain)
        if m is None or len(m.group(1)) > MAX_PART_OCTETS:
            return _parse_uncached(s)
        if len(_domains) >= _DOMAINS:
            _domains.clear()
        norm = _domains[domain] = _intern(m.group(1).lower())
    same = norm == domain
    if local is not None:
        if not (local.isascii() and local.isalnum() and len(local) <= MAX_PART_OCTETS) \
                and _local_fast(local) is None:  # letters and digits: the common case, no regex
            return _parse_uncached(s)
        if not local.islower():  # also for no cased character at all: lower() tells
            lowered = local.lower()
            same = same and lowered == local
            local = lowered
    if not slash:
        resource = None  # type: ignore[assignment]
    elif _resource_fast(resource) is None:
        return _parse_uncached(s)
    if same:
        text = s
    else:
        text = norm if local is None else f"{local}@{norm}"
        if resource is not None:
            text = f"{text}/{resource}"
    self = _object_new(JID)
    _set_localpart(self, local)
    _set_domain(self, norm)
    _set_resource(self, resource)
    _set_str(self, text)
    return self


# -- the value type ------------------------------------------------------------


class JID:
    """An XMPP address, normalised per RFC 7622.

    ``JID("Juliet@Example.com/Balcony")`` parses a string;
    ``JID(localpart="juliet", domain="example.com", resource="balcony")``
    builds one from parts, each validated and normalised on its own.
    Equal JIDs have equal :func:`str`; a JID also compares equal to any string
    that parses to it (a string that does not parse compares unequal).

    Raises :class:`InvalidJID` (a :class:`ValueError`) for invalid input.
    """

    __slots__ = ("_localpart", "_domain", "_resource", "_str")

    _localpart: Optional[str]
    _domain: str
    _resource: Optional[str]
    _str: str

    def __new__(
        cls,
        jid: Optional[JIDLike] = None,
        /,
        *,
        localpart: Optional[str] = None,
        domain: Optional[str] = None,
        resource: Optional[str] = None,
    ) -> JID:
        if jid is not None:
            if domain is not None or localpart is not None or resource is not None:
                raise TypeError("JID() takes either a string or keyword parts, not both")
            if isinstance(jid, JID):
                return jid if cls is JID else cls._make(jid._localpart, jid._domain, jid._resource)
            if not isinstance(jid, str):
                raise TypeError(f"JID() argument must be str or JID, not {type(jid).__name__}")
            if cls is JID:
                return _parse(jid)
            return cls._make(*_parse_parts(jid))
        if domain is None:
            raise TypeError("JID() needs a string or a domain")
        for name, value in (("localpart", localpart), ("domain", domain), ("resource", resource)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"JID() {name} must be str, not {type(value).__name__}")
        return cls._make(
            None if localpart is None else _prep_localpart(localpart, None),
            _prep_domainpart(domain, None),
            None if resource is None else _prep_resourcepart(resource, None),
        )

    @classmethod
    def _make(cls, localpart: Optional[str], domain: str, resource: Optional[str]) -> JID:
        """Build from parts that are already normalised (no checks)."""
        self = _object_new(cls)
        _set_localpart(self, localpart)
        _set_domain(self, domain)
        _set_resource(self, resource)
        s = domain if localpart is None else f"{localpart}@{domain}"
        _set_str(self, s if resource is None else f"{s}/{resource}")
        return self

    @classmethod
    def parse(cls, s: str) -> JID:
        """Parse ``s`` (same as ``JID(s)``); raises :class:`InvalidJID`."""
        return cls(s)

    # immutability
    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> Tuple[Type[JID], Tuple[str]]:
        return (type(self), (self._str,))

    def __copy__(self) -> JID:
        return self

    def __deepcopy__(self, memo: Any) -> JID:
        return self

    # parts
    @property
    def localpart(self) -> Optional[str]:
        """The normalised localpart, or ``None``."""
        return self._localpart

    @property
    def domain(self) -> str:
        """The normalised domainpart (U-labels, no trailing dot)."""
        return self._domain

    @property
    def resource(self) -> Optional[str]:
        """The normalised resourcepart, or ``None``."""
        return self._resource

    @property
    def bare(self) -> JID:
        """This JID without its resourcepart (``self`` when it has none)."""
        if self._resource is None:
            return self
        return type(self)._make(self._localpart, self._domain, None)

    @property
    def is_bare(self) -> bool:
        """True when there is no resourcepart."""
        return self._resource is None

    @property
    def is_full(self) -> bool:
        """True when there is a resourcepart."""
        return self._resource is not None

    def with_resource(self, resource: Optional[str]) -> JID:
        """A JID with the same bare part and ``resource`` (``None`` gives the bare JID)."""
        if resource is None:
            return self.bare
        if not isinstance(resource, str):
            raise TypeError(f"resource must be str, not {type(resource).__name__}")
        return type(self)._make(self._localpart, self._domain, _prep_resourcepart(resource, None))

    # value semantics
    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._str!r})"

    def __hash__(self) -> int:
        return hash(self._str)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JID):
            return self._str == other._str
        if isinstance(other, str):
            if other == self._str:
                return True
            try:
                return _parse(other)._str == self._str
            except (InvalidJID, TypeError):
                return False
        return NotImplemented


# The slot descriptors write past the __setattr__ that makes JID immutable.
_object_new = object.__new__
_set_localpart = JID.__dict__["_localpart"].__set__
_set_domain = JID.__dict__["_domain"].__set__
_set_resource = JID.__dict__["_resource"].__set__
_set_str = JID.__dict__["_str"].__set__

#: An address as the API takes it, a :class:`JID` or a string that is parsed as one (a
#: string that is not a valid JID raises :class:`InvalidJID` there); what the API returns
#: is always a :class:`JID`.  For annotations in your own code::
#:
#:     from fastxmpp.jid import JIDLike
#:
#:     def greet(to: JIDLike) -> None: ...
JIDLike = Union[str, JID]


# -- XEP-0106 JID escaping -----------------------------------------------------

_ESCAPES = {
    " ": "\\20", '"': "\\22", "&": "\\26", "'": "\\27", "/": "\\2f",
    ":": "\\3a", "<": "\\3c", ">": "\\3e", "@": "\\40", "\\": "\\5c",
}
_UNESCAPES = {v[1:]: k for k, v in _ESCAPES.items()}
_escape_re = re.compile(r"""[ "&'/:<>@]|\\(?=20|22|26|27|2f|3a|3c|3e|40|5c)""")
_unescape_re = re.compile(r"\\(20|22|26|27|2f|3a|3c|3e|40|5c)")


def jid_escape(local: str) -> str:
    """Escape a would-be localpart per XEP-0106 (``"d'artagnan"`` -> ``"d\\27artagnan"``).

    A backslash is escaped only when it starts something that reads as an
    escape sequence.  XEP-0106 forbids a localpart that starts or ends with a
    space, so :class:`InvalidLocalpart` is raised for that.
    """
    if local.startswith(" ") or local.endswith(" "):
        raise InvalidLocalpart("localpart starts or ends with a space (XEP-0106)")
    return _escape_re.sub(lambda m: _ESCAPES[m.group(0)], local)


def jid_unescape(local: str) -> str:
    """Undo :func:`jid_escape` (``"d\\27artagnan"`` -> ``"d'artagnan"``), for display."""
    return _unescape_re.sub(lambda m: _UNESCAPES[m.group(1)], local)
