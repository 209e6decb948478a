"""Bad input: both tokenizer twins report the stream's first error, with the same tokens before it.

A stream can break several ways at once (a comment after a broken character, a stanza over the
limit that also ends with the wrong tag...).  The compiled twin scans ahead of expat, the Python
twin does not; these tests hold them to one rule: the error reported is the first the stream
shows, and a comment, PI or DTD is refused as soon as its opening bytes arrive.
"""
from __future__ import annotations

import random

import pytest

import fuzz_tokenizer
from conftest import load
from fastxmpp import errors
from fastxmpp.tokens import StreamEnd, StreamHeader
from test_tokenizer import END, FEATURES, HEADER, MESSAGE, canon

NWF, RESTRICTED, POLICY = errors.NotWellFormed, errors.RestrictedXML, errors.PolicyViolation


def outcome(Tokenizer, chunks, compact_after=(), with_message=False, **limits):
    """Tokens (canonical) and the error's class and condition (and its message, with
    ``with_message``), feeding ``chunks`` in order."""
    tok, out = Tokenizer(**limits), []
    try:
        for i, chunk in enumerate(chunks):
            out.extend(canon(t) for t in tok.feed(chunk))
            if tok.paused:
                out.append("reset")
                out.extend(canon(t) for t in tok.reset())
            if i in compact_after:
                out.append(("compact", tok.compact()))
    except errors.StreamError as exc:
        error = (type(exc), exc.condition) + ((str(exc),) if with_message else ())
        return out + [canon(t) for t in exc.events], error
    return out, None


def byte_by_byte(data):
    return [data[i:i + 1] for i in range(len(data))]


@pytest.mark.parametrize(
    "tail, error",
    [
        # refused as soon as the opener is there, though expat would wait for its end
        (b"<message><body>x</body><!-- never closed", RESTRICTED),
        (b"<message><? never closed", RESTRICTED),
        (b"<message><![CDATA[ <!-- text, not a comment ]]></message>", None),
        # markup inside a tag is a syntax error, not a comment or a DTD
        (b"<message><body>x</bo<!--dy></message>", NWF),
        (b"<message><b<!DOCTYPE x></message>", NWF),
        (b"<message to='a'<?pi?></message>", NWF),
        # an earlier error wins over a later comment, PI or DTD
        (b"<message \x90o='a'><!DOCTYPE x></message>", NWF),
        (b"<message><body>&#x41<!-- c --></body></message>", NWF),
        (b"<message><body>\xf0\x9f<!-- c --></body></message>", NWF),
        (b"<message><body>\xe4<? x ?></body></message>", NWF),
        (b"<message><body>\xf0 <? x ?></body></message>", NWF),   # a space inside the sequence
        # ... and a comment wins over a later error inside it
        (b"<message><!--<!\x89 --></message>", RESTRICTED),
        # '<!' followed by anything but a CDATA section
        (b"<message><![CDAT]]></message>", NWF),
        (b"<message><!x></message>", NWF),
        # an XML declaration after the start, inside the root or after its end
        (b"<message><?xml version='1.0'?></message>", RESTRICTED),
        (b"</stream:stream><?xml version='1.0'?>", RESTRICTED),
    ],
)
def test_first_error_wins(Tokenizer, tail, error):
    data = HEADER + MESSAGE + tail
    whole = outcome(Tokenizer, [data])
    assert whole[1] == (error and (error, error.condition))
    assert whole[0][1] == canon(Tokenizer().feed(HEADER + MESSAGE)[1])   # the message before
    if error is not None:
        assert outcome(Tokenizer, byte_by_byte(data))[1] == whole[1]


def test_comment_like_text_in_cdata_across_feeds_is_text(Tokenizer):
    tok = Tokenizer()
    tok.feed(HEADER + MESSAGE + b"<message><![CDATA[a")
    with pytest.raises(NWF):   # the NUL, not the '<!--' inside the CDATA section
        tok.feed(b"<!-- ]]></message><m\x00/>")


@pytest.mark.parametrize("cut", [[27, 28], [27], [28]])
def test_cdata_end_split_across_feeds_then_a_broken_pi(Tokenizer, cut):
    data = HEADER + b"<message><body><![CDATA[x ]]></body><?<x"
    bounds = [0] + [len(HEADER) + c for c in cut] + [len(data)]
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    assert outcome(Tokenizer, chunks)[1] == (RESTRICTED, "restricted-xml")


def test_markup_like_text_in_an_unfinished_xml_declaration_is_text(Tokenizer):
    chunks = [b"<?xml version='0123456789abcdefghij", b"<!DOCTYPE \x00'?>"]
    assert outcome(Tokenizer, chunks)[1] == (NWF, "not-well-formed")   # the NUL


def test_unfinished_cdata_opener_is_refused_when_it_goes_wrong(Tokenizer):
    tok = Tokenizer()
    assert [type(t) for t in tok.feed(HEADER + b"<message><![CDAT")] == [StreamHeader]
    with pytest.raises(NWF):
        tok.feed(b"]")


@pytest.mark.parametrize(
    "stanza, error",
    [
        (b"<message><body>" + b"x" * 300 + b"</body></message>", POLICY),
        (b"<message><body>" + b"x" * 300 + b"</body></massage>", NWF),   # its own error first
        # a broken UTF-8 sequence in the end tag: expat tells once it has the bytes after
        (b"<message><body>" + b"x" * 300 + b"</body></messag\xf2></stream:stream>", NWF),
        (b"<message><body>" + b"x" * 300 + b"</body></messag\xf2>", POLICY),
        (b"<message><body>x</body><\x90" + b"x" * 300 + b"</message>", NWF),
        # within one piece of the feed (64 KiB), what expat meets first
        (b"<message><body>" + b"x" * 300 + b"<!-- c --></body></message>", RESTRICTED),
    ],
)
def test_limit_and_syntax(Tokenizer, stanza, error):
    data = HEADER + stanza
    assert outcome(Tokenizer, [data], max_stanza_bytes=200)[1] == (error, error.condition)


@pytest.mark.parametrize("stanza, error", [
    (b"<message><body>x</body></message>", POLICY),
    (b"<message><bod\xeb>x</body></message>", NWF),   # its name is broken before it is too deep
])
def test_depth_limit_and_syntax(Tokenizer, stanza, error):
    data = HEADER + stanza
    assert outcome(Tokenizer, [data], max_depth=1)[1] == (error, error.condition)
    assert outcome(Tokenizer, byte_by_byte(data), max_depth=1)[1] == (error, error.condition)


def test_limit_checked_per_piece_in_large_feeds(Tokenizer):
    # a comment 200 KB into a stanza whose limit is 20 KB: over the limit first
    data = HEADER + b"<message><body>" + b"t" * 200_000 + b"<!-- c --></body></message>"
    assert outcome(Tokenizer, [data], max_stanza_bytes=20_000)[1] == (POLICY, "policy-violation")
    # the same comment 10 KB in comes first
    data = HEADER + b"<message><body>" + b"t" * 10_000 + b"<!-- c -->" + b"t" * 200_000
    assert outcome(Tokenizer, [data], max_stanza_bytes=20_000)[1] == (RESTRICTED, "restricted-xml")


@pytest.mark.parametrize("chunks, message", [
    # a start tag between stanzas is the next stanza's, however the feeds split it
    ([HEADER + b"<message to='" + b"x" * 300 + b"'>"], "stanza exceeds the limit of 200 bytes"),
    ([HEADER + b"<", b"message to='" + b"x" * 300], "stanza exceeds the limit of 200 bytes"),
    ([HEADER, b"<message to='" + b"x" * 300], "stanza exceeds the limit of 200 bytes"),
    # the stream's end tag is no stanza: over the limit while unfinished at a feed's end...
    ([HEADER + b"<", b"/stream:stream" + b" " * 300], "markup exceeds the limit of 200 bytes"),
    ([HEADER + b"</stream:stream" + b" " * 300, b">"], "markup exceeds the limit of 200 bytes"),
    # ... and no fault when it is whole within one feed
    ([HEADER + b"<message/></stream:stream" + b" " * 300 + b">"], None),
])
def test_what_is_over_the_limit(Tokenizer, chunks, message):
    tok = Tokenizer(max_stanza_bytes=200)
    if message is None:
        assert isinstance(tok.feed(chunks[0])[-1], StreamEnd)
        return
    with pytest.raises(POLICY) as info:
        for chunk in chunks:
            tok.feed(chunk)
    assert message in str(info.value)


@pytest.mark.parametrize("size, limit, message", [
    # found at the stanza's end...
    (300, 200, "stanza of 332 bytes exceeds the limit of 200"),
    (30_000, 20_000, "stanza of 30032 bytes exceeds the limit of 20000"),
    # ... or after the 64 KiB piece of the feed in which it went over the limit
    (140_000, 20_000, "stanza exceeds the limit of 20000 bytes"),
])
def test_where_a_stanza_is_found_over_the_limit(Tokenizer, size, limit, message):
    stanza = b"<message><body>" + b"x" * size + b"</body></message>"
    with pytest.raises(POLICY) as info:
        Tokenizer(max_stanza_bytes=limit).feed(HEADER + stanza + MESSAGE)
    assert message in str(info.value)
    assert info.value.events and isinstance(info.value.events[0], StreamHeader)


def test_restarted_stream_header_over_the_limit(Tokenizer):
    proceed = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
    broken = HEADER.replace(b"version='1.0'?>", b"version='1.")     # an XML declaration never ended
    tokens, error = outcome(Tokenizer, [HEADER + proceed + broken], max_stanza_bytes=150)
    assert error == (POLICY, "policy-violation")
    assert tokens[-1] == "reset"


# -- differential: mutated streams, random splits, limits, compaction and restarts -----------

SEEDS = [
    HEADER + FEATURES + MESSAGE + MESSAGE + END,
    HEADER + b"<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq><presence><show>away"
    b"</show><status>a&amp;b&#x41;&lt;</status></presence>" + END,
    HEADER + b"<message><body>x</body><x:y xmlns:x='urn:x' x:a='1' a='2'/></message>" + END,
    HEADER + b"<a xmlns='urn:a'><b xmlns=''/></a><message><![CDATA[x]]></message>" + END,
    HEADER + b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + HEADER
    + b"<message><body>y</body></message>" + END,
    HEADER + b"<message><body><![CDATA[<!-- x <? y ]]></body></message>" + MESSAGE + END,
]
PIECES = [b"<", b">", b"/", b"'", b'"', b"&", b"&amp;", b"&#0;", b"&#x10FFFF;", b"\xff", b"\xc3",
          b"\x00", b" ", b"xmlns='u'", b"xmlns:p='u'", b"p:", b"xml:", b"xmlns:xml='v'", b"=",
          b"]]>", b"<!--", b"<?", b"<!DOCTYPE", b"</stream:stream>", b"<stream:stream>", b"\r\n",
          b"\xef\xbb\xbf", b"a", b":", b"-->", b"<![CDATA[", b"\xf0\x9f", b"\xf0", b"\xe4\xb8", b"\xf0 "]


def mutate(rng, data):
    return fuzz_tokenizer.mutate(rng, data, PIECES, lo=len(HEADER) - 5, copy_lo=len(HEADER),
                                 rounds=lambda rng: rng.randint(1, 4))


@pytest.mark.parametrize("seed", range(4))
def test_twins_agree_on_mutated_streams(seed):
    """Same tokens, same error: class, condition and message."""
    compiled, python = load("c", "tokenizer").Tokenizer, load("py", "tokenizer").Tokenizer
    rng = random.Random(seed)
    errors_seen = set()
    for _ in range(400):
        data = mutate(rng, rng.choice(SEEDS))
        cuts = sorted({rng.randrange(len(data)) for _ in range(rng.randint(0, 6))} | {0, len(data)})
        chunks = [data[a:b] for a, b in zip(cuts, cuts[1:])]
        limits = {}
        if rng.random() < 0.4:
            limits["max_stanza_bytes"] = rng.randint(30, 400)
        if rng.random() < 0.3:
            limits["max_depth"] = rng.randint(1, 4)
        compact_after = {i for i in range(len(chunks)) if rng.random() < 0.3}
        got = outcome(compiled, chunks, compact_after, with_message=True, **limits)
        want = outcome(python, chunks, compact_after, with_message=True, **limits)
        assert got == want, (data, chunks, limits)
        errors_seen.add(got[1] and got[1][0])
    assert {NWF, RESTRICTED, POLICY} <= errors_seen   # the mutations reach every kind of error
