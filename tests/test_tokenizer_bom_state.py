"""U+FEFF at the start of a stream (RFC 6120 section 11.6) and the ``in_stanza`` property, on both twins."""
from __future__ import annotations

import pytest

from fastxmpp import errors
from test_tokenizer import END, HEADER, MESSAGE

BOM = b"\xef\xbb\xbf"
PROCEED = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"


def feed_all(tok, chunks):
    out = []
    for chunk in chunks:
        out.extend(tok.feed(chunk))
    return out


@pytest.mark.parametrize("cuts", [(), (1,), (2,), (1, 2), (3,), (1, 2, 3)])
@pytest.mark.parametrize("head", [BOM + HEADER, BOM + HEADER[21:]])
def test_bom_at_the_start_is_text_before_the_header(Tokenizer, head, cuts):
    """RFC 6120 11.6: no BOM in XMPP; U+FEFF, first character included, is a zero width
    no-break space, so the stream has text before its header: not-well-formed, however the
    three bytes are split across feeds."""
    data = head + MESSAGE
    bounds = (0,) + cuts + (len(data),)
    tok = Tokenizer()
    with pytest.raises(errors.NotWellFormed, match="U\\+FEFF at the start of the stream") as info:
        feed_all(tok, [data[a:b] for a, b in zip(bounds, bounds[1:])])
    assert info.value.events == []
    with pytest.raises(errors.NotWellFormed):   # and it stays failed
        tok.feed(b"")


@pytest.mark.parametrize("split", [False, True])
def test_bom_at_the_start_of_a_restarted_stream(Tokenizer, split):
    tok = Tokenizer()
    feed_all(tok, [HEADER + PROCEED + (BOM[:1] if split else BOM + HEADER)])
    assert tok.paused
    with pytest.raises(errors.NotWellFormed, match="U\\+FEFF"):
        tok.reset()
        feed_all(tok, [BOM[1:] + HEADER] if split else [])
    # ... also when the restart is a reset() before any byte of the new stream
    tok = Tokenizer()
    feed_all(tok, [HEADER + PROCEED])
    assert tok.reset() == []
    with pytest.raises(errors.NotWellFormed, match="U\\+FEFF"):
        feed_all(tok, [BOM[:2], BOM[2:] + HEADER])


def test_bom_prefix_then_other_bytes(Tokenizer):
    # EF BB and then not BF: a broken UTF-8 sequence, expat's error
    with pytest.raises(errors.NotWellFormed) as info:
        feed_all(Tokenizer(), [b"\xef\xbb", b"<" + HEADER])
    assert "U+FEFF" not in str(info.value)


def test_feff_after_the_start_is_a_character(Tokenizer):
    zwnbsp = "\ufeff".encode()
    tokens = Tokenizer().feed(HEADER + b"<message><body>" + zwnbsp + b"x</body></message>")
    assert tokens[1].findtext("{jabber:client}body") == "\ufeffx"
    with pytest.raises(errors.NotWellFormed):   # between the declaration and the header: text
        Tokenizer().feed(HEADER[:21] + zwnbsp + HEADER[21:])


def test_in_stanza(Tokenizer):
    tok = Tokenizer()
    assert not tok.in_stanza
    tok.feed(HEADER[:40])
    assert not tok.in_stanza      # the header is no stanza
    tok.feed(HEADER[40:])
    assert not tok.in_stanza
    states = []
    for i in range(len(MESSAGE)):
        tok.feed(MESSAGE[i:i + 1])
        states.append(tok.in_stanza)
    assert states == [True] * (len(MESSAGE) - 1) + [False]
    tok.feed(b" \n")
    assert not tok.in_stanza
    tok.feed(b"<")
    assert tok.in_stanza          # a '<' at the end may start a stanza
    tok.feed(b"/stream:stream")
    assert not tok.in_stanza      # ... it starts the stream's end tag
    tok.feed(b">")
    assert not tok.in_stanza


@pytest.mark.parametrize("split", [1, 2, 3, 5, 20])
def test_in_stanza_across_feeds(Tokenizer, split):
    tok = Tokenizer()
    tok.feed(HEADER + MESSAGE + b"<")
    assert tok.in_stanza
    for prefix, want in [(b"", True), (b"mess", True)]:
        tok.feed(prefix)
        assert tok.in_stanza is want
    rest = MESSAGE[5:]
    tok.feed(rest[:split])
    assert tok.in_stanza
    tok.feed(rest[split:] + MESSAGE[:split])
    assert tok.in_stanza
    tok.feed(MESSAGE[split:])
    assert not tok.in_stanza
    # a comment-, PI- or end-tag-like '<' between stanzas is not a stanza
    tok.feed(b"<")
    tok.feed(b"/stream:stream")
    assert not tok.in_stanza


def test_in_stanza_paused_compacted_and_failed(Tokenizer):
    tok = Tokenizer()
    tok.feed(HEADER + PROCEED + HEADER + b"<message><bo")
    assert tok.paused and not tok.in_stanza     # held back until reset()
    tok.reset()
    assert tok.in_stanza
    tok.feed(b"dy/></message>")
    assert not tok.in_stanza
    assert tok.compact() and not tok.in_stanza
    tok.feed(b"<iq")
    assert tok.in_stanza
    tok.feed(b"/>")
    assert not tok.in_stanza
    tok.feed(b"<message><body>")
    with pytest.raises(errors.NotWellFormed):
        tok.feed(b"</message>")
    assert not tok.in_stanza
    tok = Tokenizer()
    tok.feed(HEADER + MESSAGE + END)
    assert not tok.in_stanza
