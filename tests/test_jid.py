"""Tests of fastxmpp.jid (RFC 7622 addresses, PRECIS/IDNA normalisation, the ASCII fast path)."""
from __future__ import annotations

import copy
import pickle

import idna
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fastxmpp import jid as jid_module
from fastxmpp.errors import XMPPError
from fastxmpp.jid import (
    JID,
    InvalidDomainpart,
    InvalidJID,
    InvalidLocalpart,
    InvalidResourcepart,
    jid_escape,
    jid_unescape,
)

# -- RFC 7622 section 3.5 --------------------------------------------------------

# 3.5.1: valid JIDs, with their normalised form.
RFC7622_VALID = [
    ("juliet@example.com", "juliet@example.com"),
    ("juliet@example.com/foo", "juliet@example.com/foo"),
    ("juliet@example.com/foo bar", "juliet@example.com/foo bar"),
    ("juliet@example.com/foo@bar", "juliet@example.com/foo@bar"),
    ("foo\\20bar@example.com", "foo\\20bar@example.com"),
    ("fussball@example.com", "fussball@example.com"),
    ("fu\u00dfball@example.com", "fu\u00dfball@example.com"),  # sharp s is not case-folded
    ("\u03c0@example.com", "\u03c0@example.com"),
    ("\u03a3@example.com/foo", "\u03c3@example.com/foo"),  # capital sigma lowercased
    ("\u03c3@example.com/foo", "\u03c3@example.com/foo"),
    ("\u03c2@example.com/foo", "\u03c2@example.com/foo"),  # final sigma kept
    ("king@example.com/\u265a", "king@example.com/\u265a"),
    ("example.com", "example.com"),
    ("example.com/foobar", "example.com/foobar"),
    ("a.example.com/b@example.net", "a.example.com/b@example.net"),
]

# 3.5.2: invalid JIDs, with the part that is at fault.
RFC7622_INVALID = [
    ('"juliet"@example.com', InvalidLocalpart),  # quotation marks
    ("foo bar@example.com", InvalidLocalpart),  # space
    ("juliet@example.com/", InvalidResourcepart),  # empty resourcepart
    ("@example.com/", InvalidJID),  # empty localpart and resourcepart
    ("henry\u2163@example.com", InvalidLocalpart),  # ROMAN NUMERAL FOUR, compatibility
    ("\u265a@example.com", InvalidLocalpart),  # BLACK CHESS KING, a symbol
    ("juliet@", InvalidDomainpart),  # empty domainpart
    ("/foobar", InvalidDomainpart),  # no domainpart
]


@pytest.mark.parametrize("text, normalised", RFC7622_VALID)
def test_rfc7622_valid_examples(text, normalised):
    assert str(JID(text)) == normalised


@pytest.mark.parametrize("text, error", RFC7622_INVALID)
def test_rfc7622_invalid_examples(text, error):
    with pytest.raises(error):
        JID(text)


def test_rfc7622_split_order():
    # resource is everything after the first '/', even when it holds '@' and '/'
    j = JID("server/resource@foo/bar")
    assert (j.localpart, j.domain, j.resource) == (None, "server", "resource@foo/bar")
    # localpart is everything before the first '@'; a second '@' lands in the domain
    with pytest.raises(InvalidDomainpart):
        JID("username@example.org@example.org")
    with pytest.raises(InvalidDomainpart):
        JID("user@@host")
    with pytest.raises(InvalidDomainpart):
        JID("node@/server")  # '@' before the first '/' with nothing between


@pytest.mark.parametrize(
    "text, error",
    [
        ("", InvalidDomainpart),
        ("@", InvalidLocalpart),
        ("/", InvalidResourcepart),
        ("@/", InvalidResourcepart),
        ("@server", InvalidLocalpart),
        ("@server/resource", InvalidLocalpart),
        ("user@host/", InvalidResourcepart),
        ("foo\x00bar@example.org", InvalidLocalpart),
        ("foobar@ex\x00ample.org", InvalidDomainpart),
        ("juliet@example.com/a\nb", InvalidResourcepart),
        ("user@conference..example.org", InvalidDomainpart),
        ("user@-example.org", InvalidDomainpart),
        ("user@example-.org", InvalidDomainpart),
        ("user@exa_mple.org", InvalidDomainpart),
        ("a:b@example.com", InvalidLocalpart),
        ("a<b@example.com", InvalidLocalpart),
        ("a>b@example.com", InvalidLocalpart),
        ("a&b@example.com", InvalidLocalpart),
        ("a'b@example.com", InvalidLocalpart),
    ],
)
def test_more_invalid(text, error):
    with pytest.raises(error):
        JID(text)


# -- errors ------------------------------------------------------------------------


def test_error_hierarchy_and_attributes():
    for cls, part in (
        (InvalidLocalpart, "localpart"),
        (InvalidDomainpart, "domainpart"),
        (InvalidResourcepart, "resourcepart"),
    ):
        assert issubclass(cls, InvalidJID)
        assert cls.part == part
    assert issubclass(InvalidJID, ValueError)
    assert issubclass(InvalidJID, XMPPError)

    with pytest.raises(InvalidLocalpart) as info:
        JID("a" * 1024 + "@example.com")
    assert info.value.part == "localpart"
    assert info.value.reason == "localpart exceeds 1023 bytes"
    assert info.value.jid == "a" * 1024 + "@example.com"
    assert str(info.value).startswith("localpart exceeds 1023 bytes")


@pytest.mark.parametrize(
    "text, message",
    [
        ("a\uff20b@example.com", "forbidden character '@' in localpart"),  # fullwidth @ maps to @
        ('"juliet"@example.com', "forbidden character '\"' in localpart"),
        ("foo bar@example.com", "disallowed character ' ' (U+0020, spaces) in localpart"),
        ("henry\u2163@example.com", "disallowed character '\u2163' (U+2163, has_compat) in localpart"),
        ("@example.com", "localpart is empty"),
        ("juliet@", "domainpart is empty"),
        ("juliet@example.com/", "resourcepart is empty"),
        ("x@" + "b" * 64 + ".com", "label exceeds 63 bytes"),
        ("x@a..b", "empty label in domainpart"),
    ],
)
def test_error_messages_say_what_is_wrong(text, message):
    with pytest.raises(InvalidJID) as info:
        JID(text)
    assert message in str(info.value)


def test_error_pickles():
    err = InvalidDomainpart("domainpart is empty", "juliet@")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is InvalidDomainpart
    assert (again.reason, again.jid, str(again)) == (err.reason, err.jid, str(err))


# -- case and Unicode normalisation ------------------------------------------------


def test_localpart_and_domain_case_folded_resource_preserved():
    j = JID("Juliet@Example.COM/Balcony")
    assert j.localpart == "juliet"
    assert j.domain == "example.com"
    assert j.resource == "Balcony"
    assert str(j) == "juliet@example.com/Balcony"
    assert JID("juliet@example.com/balcony") != j


def test_fullwidth_localpart_is_width_mapped():
    assert JID("\uff2a\uff35\uff2c\uff29\uff25\uff34@example.com").localpart == "juliet"


def test_unicode_localpart_nfc_and_lowercase():
    # 'E' + COMBINING ACUTE ACCENT composes and lowercases to U+00E9
    assert JID("E\u0301mile@example.com").localpart == "\u00e9mile"
    assert JID("\u00c9MILE@example.com") == JID("e\u0301mile@example.com")


def test_superscript_letters_disallowed_in_localpart_allowed_in_resource():
    # U+1D2E etc. have compatibility decompositions: IdentifierClass disallows them,
    # FreeformClass (OpaqueString) allows them and keeps them as they are.
    big = "\u1d2e\u1d35\u1d33\u1d2e\u1d35\u1d3f\u1d30"
    with pytest.raises(InvalidLocalpart):
        JID(big + "@example.com")
    assert JID("juliet@example.com/" + big).resource == big


def test_resource_opaque_string_maps_wide_spaces():
    assert JID("juliet@example.com/a\u3000b").resource == "a b"


def test_bidi_rule_applies_to_localpart():
    with pytest.raises(InvalidLocalpart):
        JID("\u05d0a@example.com")  # Hebrew letter followed by a Latin letter


# -- domainpart --------------------------------------------------------------------


def test_idna_domain_mapped_to_lowercase_u_labels():
    j = JID("juliet@\u00d1and\u00fa.example")
    assert j.domain == "\u00f1and\u00fa.example"
    assert JID("juliet@xn--and-6ma2c.example") == j  # an A-label gives the same JID
    assert JID("\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com").domain == "example.com"
    assert JID("fa\u00df.de").domain == "fa\u00df.de"  # nontransitional: sharp s stays


def test_trailing_dot_stripped_once():
    assert JID("juliet@example.com.") == JID("juliet@example.com")
    assert str(JID("juliet@example.com./balcony")) == "juliet@example.com/balcony"
    assert JID("\u00f1and\u00fa.example.").domain == "\u00f1and\u00fa.example"
    assert JID("example.com\u3002").domain == "example.com"  # ideographic full stop
    for bad in ("example.com..", ".", "juliet@.", "juliet@.example.com"):
        with pytest.raises(InvalidDomainpart):
            JID(bad)


def test_ip_literals():
    assert JID("juliet@[::1]/x").domain == "[::1]"
    assert JID("[2001:DB8::1]").domain == "[2001:db8::1]"
    assert JID("juliet@192.0.2.1").domain == "192.0.2.1"
    for bad in ("[::1", "[]", "[nope]", "[fe80::1%eth0]", "[192.0.2.1]"):
        with pytest.raises(InvalidDomainpart):
            JID(bad)


# -- length limits -----------------------------------------------------------------


def test_localpart_length_limit_counts_bytes():
    assert JID("a" * 1023 + "@example.com").localpart == "a" * 1023
    with pytest.raises(InvalidLocalpart, match="localpart exceeds 1023 bytes"):
        JID("a" * 1024 + "@example.com")
    assert len(JID("\u00e9" * 511 + "@x").localpart.encode()) == 1022
    with pytest.raises(InvalidLocalpart, match="exceeds 1023 bytes"):
        JID("\u00e9" * 512 + "@x")  # 512 code points but 1024 octets


def test_resourcepart_length_limit_counts_bytes():
    assert JID("x/" + "R" * 1023).resource == "R" * 1023
    with pytest.raises(InvalidResourcepart, match="resourcepart exceeds 1023 bytes"):
        JID("x/" + "R" * 1024)
    with pytest.raises(InvalidResourcepart, match="exceeds 1023 bytes"):
        JID("x/" + "\u265a" * 342)  # 1026 octets


def test_domain_length_limits():
    label = "a" * 63
    assert JID(f"x@{label}.com").domain == f"{label}.com"
    with pytest.raises(InvalidDomainpart, match="63"):
        JID(f"x@a{label}.com")
    # the label limit is on the A-label (what DNS carries), not on code points or UTF-8
    compact = "\u00fc" * 40  # 80 octets of UTF-8, 46 as an A-label
    assert len(compact.encode()) > 63 >= len(idna.alabel(compact))
    assert JID(compact + ".de").domain == compact + ".de"
    wide = "".join(chr(0x4E00 + i * 97) for i in range(25))  # 25 code points, A-label > 63
    with pytest.raises(idna.IDNAError):
        idna.alabel(wide)
    with pytest.raises(InvalidDomainpart, match="label exceeds 63 bytes"):
        JID(wide + ".example")
    # the whole domainpart: 16 labels of 63 plus 15 dots = 1023 octets, more is refused
    longest = ".".join(["a" * 63] * 15 + ["b" * 63])
    assert len(longest) == 1023
    assert JID(longest).domain == longest
    assert JID(longest + ".").domain == longest  # the stripped dot does not count
    with pytest.raises(InvalidDomainpart, match="domainpart exceeds 1023 bytes"):
        JID("c." + longest)
    with pytest.raises(InvalidDomainpart, match="domainpart exceeds 1023 bytes"):
        JID("\u00fc." + longest)  # the same through IDNA


def test_huge_input_refused_without_precis(monkeypatch):
    class Boom:
        def enforce(self, value):
            raise AssertionError("PRECIS should not see this")

    monkeypatch.setattr(jid_module, "_USERNAME", Boom())
    with pytest.raises(InvalidLocalpart, match="exceeds 1023 bytes"):
        JID("\u00e9" * 100_000 + "@example.com")


# -- the API -----------------------------------------------------------------------


def test_bare_and_full():
    full = JID("juliet@example.com/balcony")
    assert full.is_full and not full.is_bare
    bare = full.bare
    assert str(bare) == "juliet@example.com"
    assert bare.is_bare and not bare.is_full
    assert bare.resource is None
    assert bare.bare is bare
    assert JID("example.com").localpart is None
    assert JID("example.com/x").is_full


def test_with_resource():
    bare = JID("juliet@example.com")
    full = bare.with_resource("Balcony")
    assert str(full) == "juliet@example.com/Balcony"
    assert str(full.with_resource("other/with@chars")) == "juliet@example.com/other/with@chars"
    assert full.with_resource(None) == bare
    assert bare.with_resource("a\u3000b").resource == "a b"  # normalised too
    with pytest.raises(InvalidResourcepart):
        bare.with_resource("")
    with pytest.raises(InvalidResourcepart):
        bare.with_resource("bad\x07bell")


def test_keyword_construction():
    j = JID(localpart="Juliet", domain="Example.com.", resource="Balcony")
    assert j == JID("juliet@example.com/Balcony")
    assert JID(domain="example.com") == JID("example.com")
    assert JID(domain="example.com", resource="r/s") == JID("example.com/r/s")
    with pytest.raises(InvalidLocalpart, match="forbidden character '@'"):
        JID(localpart="a@b", domain="example.com")
    with pytest.raises(InvalidLocalpart, match="localpart is empty"):
        JID(localpart="", domain="example.com")
    with pytest.raises(InvalidDomainpart):
        JID(localpart="a", domain="exa/mple.com")
    with pytest.raises(InvalidResourcepart):
        JID(domain="example.com", resource="")
    with pytest.raises(TypeError):
        JID(localpart="juliet")  # no domain
    with pytest.raises(TypeError):
        JID("juliet@example.com", resource="x")  # both forms
    with pytest.raises(TypeError):
        JID(b"juliet@example.com")  # type: ignore[arg-type]


def test_str_repr_parse():
    j = JID.parse("Juliet@Example.com/Balcony")
    assert type(j) is JID
    assert str(j) == "juliet@example.com/Balcony"
    assert repr(j) == "JID('juliet@example.com/Balcony')"
    assert eval(repr(j), {"JID": JID}) == j
    assert JID(j) is j


def test_immutable_and_slotted():
    j = JID("juliet@example.com/balcony")
    assert not hasattr(j, "__dict__")
    with pytest.raises(AttributeError):
        j.localpart = "romeo"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        j._domain = "evil.example"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del j._resource
    assert str(j) == "juliet@example.com/balcony"
    assert copy.copy(j) is j and copy.deepcopy(j) is j
    again = pickle.loads(pickle.dumps(j))
    assert again == j and type(again) is JID


def test_hash_and_equality_on_normalised_form():
    variants = [
        "juliet@example.com/Balcony",
        "Juliet@EXAMPLE.com/Balcony",
        "JULIET@example.com./Balcony",
        "\uff2a\uff35\uff2c\uff29\uff25\uff34@example.com/Balcony",
    ]
    jids = [JID(v) for v in variants]
    assert len({hash(j) for j in jids}) == 1
    assert len(set(jids)) == 1
    assert {jids[0]: 1}[jids[3]] == 1
    assert JID("juliet@example.com/balcony") not in set(jids)
    assert JID("romeo@example.com") != JID("juliet@example.com")


def test_equality_with_strings():
    j = JID("juliet@example.com/Balcony")
    assert j == "Juliet@Example.com/Balcony"
    assert "juliet@EXAMPLE.com/Balcony" == j
    assert j != "juliet@example.com/balcony"
    assert j != "juliet@example.com"
    # an invalid string is unequal, and comparing never raises
    assert (j == "juliet@example.com/") is False
    assert (j != "@@@") is True
    assert j != "\u265a@example.com"
    assert (j == 42) is False
    assert j.__eq__(42) is NotImplemented


def test_parse_cache():
    assert jid_module._parse.cache_info().maxsize == 4096
    text = "cache-test-user@example.com/abc"
    first = JID(text)
    hits = jid_module._parse.cache_info().hits
    assert JID(text) is first
    assert jid_module._parse.cache_info().hits == hits + 1
    # the uncached parser builds a new, equal object
    fresh = jid_module._parse_uncached(text)
    assert fresh == first and fresh is not first


def test_ascii_fast_path_skips_precis_and_idna(monkeypatch):
    class Boom:
        def enforce(self, value):
            raise AssertionError("PRECIS called on the fast path")

    def boom(*args, **kwargs):
        raise AssertionError("IDNA called on the fast path")

    monkeypatch.setattr(jid_module, "_USERNAME", Boom())
    monkeypatch.setattr(jid_module, "_OPAQUE", Boom())
    monkeypatch.setattr(jid_module.idna, "uts46_remap", boom)
    monkeypatch.setattr(jid_module.idna, "alabel", boom)
    j = jid_module._parse_uncached("User.Name+tag@Sub.Example-1.COM./Res ource!")
    assert str(j) == "user.name+tag@sub.example-1.com/Res ource!"
    # keyword construction and with_resource use the per-part fast paths
    assert JID(localpart="A", domain="B.c", resource="R").with_resource("S") == "a@b.c/S"
    # ...and a non-ASCII JID does reach PRECIS
    with pytest.raises(AssertionError, match="PRECIS"):
        jid_module._parse_uncached("\u00e9@example.com")


# -- the fast path equals the slow path --------------------------------------------


def _outcome(text, fast):
    try:
        return jid_module._parse_parts(text, fast=fast)
    except InvalidJID as exc:
        return type(exc)


ASCII = st.characters(min_codepoint=0, max_codepoint=127)
# Characters at the edges of what the profiles and IDNA allow, tried far more
# often than a uniform draw over ASCII would.
SPECIAL = list(" \t\n\x00\x1f\x7f!\"#%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["xn--", "--", "..", "@@", "//"]
PROBES = st.one_of(st.sampled_from(SPECIAL), ASCII)


LDH_LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,4}[a-zA-Z0-9])?", fullmatch=True)
LONG_LABEL = st.text(st.sampled_from("ab"), min_size=60, max_size=66)


@st.composite
def jid_shaped(draw):
    """Valid ASCII JIDs, often with one odd character (or token) put into one part."""
    local = draw(st.none() | st.text(st.sampled_from("aZ9.+\\_-~!"), min_size=1, max_size=6))
    labels = draw(st.lists(LDH_LABEL | LONG_LABEL, min_size=1, max_size=4))
    resource = draw(st.none() | st.text(st.sampled_from("aZ9 @/.-"), min_size=1, max_size=6))
    parts = [local, ".".join(labels), resource]
    which = draw(st.sampled_from([None, 0, 1, 1, 2]))
    if which is not None:
        text = parts[which] or ""
        at = draw(st.integers(0, len(text)))
        parts[which] = text[:at] + draw(PROBES) + text[at:]
    domain = parts[1] + draw(st.sampled_from(["", "", ".", ".."]))
    text = domain if parts[0] is None else f"{parts[0]}@{domain}"
    return text if parts[2] is None else f"{text}/{parts[2]}"


@settings(max_examples=1500)
@given(st.one_of(st.text(ASCII, max_size=40), jid_shaped()))
@example("juliet@example.com/balcony")
@example("username@example.org@example.org")
@example("a@xn--and-6ma2c.example")
@example("a@ab--c.example")
@example("a@192.0.2.1./r")
@example("?@example.com")
@example("a@" + ".".join(["a" * 63] * 15 + ["b" * 63]))
@example("a@" + ".".join(["a" * 63] * 15 + ["b" * 64]))
@example("x" * 1024 + "@example.com")
@example("example.com/" + "r" * 1024)
def test_ascii_fast_path_equals_slow_path(text):
    assert _outcome(text, fast=True) == _outcome(text, fast=False)


TEMPLATES = [
    "{c}",
    "a{c}b@example.com",
    "{c}@example.com",
    "a@ex{c}ample.com",
    "a@example.com{c}",
    "a@{c}example.com",
    "a@x{c}.example.com",
    "a@example.com/r{c}s",
    "a@example.com/{c}",
    "a@example.com./{c}",
    "{c}{c}@{c}{c}/{c}{c}",
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_ascii_character_fast_path_equals_slow_path(template):
    # exhaustive over ASCII: one odd character in each position of each part
    for code in range(128):
        text = template.format(c=chr(code))
        assert _outcome(text, fast=True) == _outcome(text, fast=False), repr(text)


@settings(max_examples=300)
@given(st.text(ASCII, min_size=1, max_size=30))
def test_ascii_per_part_fast_paths_equal_slow_paths(part):
    for prep, error in (
        (jid_module._prep_localpart, InvalidLocalpart),
        (jid_module._prep_domainpart, InvalidDomainpart),
        (jid_module._prep_resourcepart, InvalidResourcepart),
    ):
        results = []
        for fast in (True, False):
            try:
                results.append(prep(part, None, fast))
            except error:
                results.append(error)
        assert results[0] == results[1], (prep.__name__, part)


@settings(max_examples=200)
@given(st.one_of(st.text(ASCII, max_size=30), jid_shaped()))
def test_str_of_parsed_jid_parses_to_itself(text):
    try:
        j = JID(text)
    except InvalidJID:
        return
    assert JID(str(j)) == j
    assert str(JID(str(j))) == str(j)


# -- XEP-0106 ----------------------------------------------------------------------

XEP0106_EXAMPLES = [
    ("space cadet", "space\\20cadet"),
    ('call me "ishmael"', "call\\20me\\20\\22ishmael\\22"),
    ("at&t guy", "at\\26t\\20guy"),
    ("d'artagnan", "d\\27artagnan"),
    ("/.fanboy", "\\2f.fanboy"),
    ("::foo::", "\\3a\\3afoo\\3a\\3a"),
    ("<foo>", "\\3cfoo\\3e"),
    ("user@host", "user\\40host"),
    ("c:\\net", "c\\3a\\net"),
    ("c:\\\\net", "c\\3a\\\\net"),
    ("c:\\cool stuff", "c\\3a\\cool\\20stuff"),
    ("c:\\5commas", "c\\3a\\5c5commas"),
]


@pytest.mark.parametrize("raw, escaped", XEP0106_EXAMPLES)
def test_jid_escape_examples(raw, escaped):
    assert jid_escape(raw) == escaped
    assert jid_unescape(escaped) == raw
    assert JID(localpart=jid_escape(raw), domain="example.com").localpart == escaped.lower()


def test_jid_escape_refuses_edge_spaces():
    with pytest.raises(InvalidLocalpart):
        jid_escape(" lead")
    with pytest.raises(InvalidLocalpart):
        jid_escape("trail ")


@given(st.text(max_size=30).filter(lambda s: not s.startswith(" ") and not s.endswith(" ")))
def test_jid_escape_round_trip(raw):
    escaped = jid_escape(raw)
    assert not any(ch in escaped for ch in " \"&'/:<>@")
    assert jid_unescape(escaped) == raw
