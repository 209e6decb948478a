"""Tokenizer.compact(): dropping the grown expat parser between stanzas changes nothing observable.

Every test runs on both twins (``impl`` = c / py); the last ones use a real Prosody.
"""
from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import load
from fastxmpp import errors
from fastxmpp.tokens import StreamEnd, StreamHeader
from test_tokenizer import END, FEATURES, HEADER, MESSAGE, NS_STREAM, canon, feed_all, render, trees

SUCCESS = b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
STREAM_ERROR = (b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                b"</stream:error>")
# header, then stanzas with whitespace between them, on several lines
STREAM = HEADER + b"\n" + FEATURES + b"\n  " + MESSAGE + b" " + MESSAGE + b"\t\n" + STREAM_ERROR + END
AFTER_HEADER = len(HEADER)


def boundaries(data):
    """Offsets just past the header and past each top-level element or whitespace byte after it."""
    out, depth, i = set(), 0, 0
    while i < len(data):
        if data[i:i + 2] == b"<?":
            i = data.index(b"?>", i) + 2
            continue
        if data[i:i + 1] == b"<":
            j = data.index(b">", i) + 1
            if data[i + 1:i + 2] == b"/":
                depth -= 1
            elif data[j - 2:j - 1] != b"/":
                depth += 1
            if depth == 1:
                out.add(j)
            i = j
            continue
        if depth == 1 and data[i:i + 1] in b" \t\n" and (i in out):
            out.add(i + 1)
        i += 1
    return out


def tokens_of(Tokenizer, chunks, compact_after=(), **kw):
    """Tokens (canonical) and the error (class, text) of feeding ``chunks``, compacting after those listed."""
    tok = Tokenizer(**kw)
    out, error = [], None
    try:
        for n, chunk in enumerate(chunks):
            out.extend(tok.feed(chunk))
            if n in compact_after:
                tok.compact()
        out.extend(tok.close())
    except errors.StreamError as err:
        out.extend(err.events)
        error = (type(err), str(err))
    return [canon(t) for t in out], error


# -- where compaction is allowed ---------------------------------------------------------------


def test_compact_only_between_stanzas(Tokenizer):
    allowed = boundaries(STREAM)
    assert AFTER_HEADER in allowed and len(STREAM) - len(END) in allowed
    expected = tokens_of(Tokenizer, [STREAM])
    for cut in range(len(STREAM) + 1):
        tok = Tokenizer()
        first = tok.feed(STREAM[:cut])
        assert tok.compact() is (cut in allowed and cut < len(STREAM)), cut
        rest = tok.feed(STREAM[cut:])
        assert [canon(t) for t in first + rest] == expected[0], cut


def test_compact_after_top_level_cdata(Tokenizer):
    # text between stanzas, in a CDATA section: once it has ended, it holds nothing back
    tok = Tokenizer()
    tok.feed(HEADER + b"<![CDATA[<message>]]>")
    assert tok.compact() is True
    assert [canon(t) for t in tok.feed(MESSAGE)] == [canon(Tokenizer().feed(HEADER + MESSAGE)[1])]
    tok = Tokenizer()
    tok.feed(HEADER + b"<![CDATA[<message>")
    assert tok.compact() is False


def test_compact_refuses_mid_stanza_and_elsewhere(Tokenizer):
    assert Tokenizer().compact() is False                          # nothing fed
    tok = Tokenizer()
    tok.feed(HEADER[:30])
    assert tok.compact() is False                                  # inside the header
    tok = Tokenizer()
    tok.feed(HEADER + MESSAGE[:40])
    assert tok.compact() is False                                  # inside a stanza
    tok = Tokenizer()
    tok.feed(HEADER + b"<")
    assert tok.compact() is False                                  # a tag begins
    tok = Tokenizer()
    tok.feed(HEADER + b"\r")
    assert tok.compact() is False                                  # expat holds a lone CR
    tok = Tokenizer()
    tok.feed(HEADER + SUCCESS)
    assert tok.paused and tok.compact() is False                   # waiting for reset()
    tok = Tokenizer()
    with pytest.raises(errors.RestrictedXML):
        tok.feed(HEADER + b"<!-- -->")
    assert tok.compact() is False                                  # failed
    tok = Tokenizer()
    tok.feed(HEADER + MESSAGE + END)
    assert tok.compact() is False                                  # stream closed
    tok = Tokenizer()
    tok.feed(HEADER + MESSAGE)
    assert tok.compact() is True
    assert tok.compact() is False                                  # already compact
    assert tok.feed(b" ") == []
    assert tok.compact() is True


def test_headers_that_cannot_be_replayed_are_not_compacted(Tokenizer):
    two = HEADER.replace(b" from=", b" xmlns:s2='http://etherx.jabber.org/streams' from=")
    tok = Tokenizer()
    tok.feed(two + MESSAGE)
    assert tok.compact() is False
    assert [t.tag for t in tok.feed(MESSAGE + b"<s2:features/>")] == [
        "{jabber:client}message", "{%s}features" % NS_STREAM]


# -- compact, then keep feeding ------------------------------------------------------------------


def test_every_split_after_compaction_gives_the_same_tokens(Tokenizer):
    expected = tokens_of(Tokenizer, [STREAM])
    for point in sorted(boundaries(STREAM)):
        if point >= len(STREAM):
            continue
        for cut in range(point, len(STREAM) + 1):
            got = tokens_of(Tokenizer, [STREAM[:point], STREAM[point:cut], STREAM[cut:]], compact_after={0})
            assert got == expected, (point, cut)


def test_compacting_after_every_feed_of_single_bytes(Tokenizer):
    chunks = [STREAM[i:i + 1] for i in range(len(STREAM))]
    assert tokens_of(Tokenizer, chunks, compact_after=set(range(len(chunks)))) == tokens_of(Tokenizer, [STREAM])


def test_header_prefixes_resolve_after_compaction(Tokenizer):
    header = HEADER.replace(b" version='1.0' xml:lang",
                            b" xmlns:db='jabber:server:dialback' xmlns:amp='a&amp;b&#9;&apos;c' version='1.0' xml:lang")
    tok = Tokenizer()
    tok.feed(header)
    assert tok.compact()
    result, other = tok.feed(b"<db:result type='valid'/><amp:x/>")
    assert result.tag == "{jabber:server:dialback}result"
    assert other.tag == "{a&b\t'c}x"


def test_other_stream_prefix_and_stream_end_after_compaction(Tokenizer):
    header = HEADER.replace(b"stream:", b"s:").replace(b"xmlns:stream", b"xmlns:s")
    tok = Tokenizer()
    tok.feed(header + b"<s:features/>")
    assert tok.compact()
    tokens = tok.feed(b"<message/></s:stream>")
    assert tokens[0].tag == "{jabber:client}message"
    assert tokens[1] == StreamEnd()


def test_stanzas_handed_out_before_compaction_still_build(Tokenizer):
    tok = Tokenizer()
    header, features, message = tok.feed(HEADER + FEATURES + MESSAGE)
    assert tok.compact()
    tok.feed(MESSAGE * 3)
    fresh = Tokenizer().feed(HEADER + FEATURES + MESSAGE)
    assert canon(features) == canon(fresh[1])
    assert canon(message) == canon(fresh[2])


def test_restart_trigger_and_reset_after_compaction(Tokenizer):
    second = HEADER.replace(b"++TR84", b"second") + FEATURES
    tok = Tokenizer()
    tok.feed(HEADER + FEATURES)
    assert tok.compact()
    tokens = tok.feed(SUCCESS + second[:40])
    assert tokens[-1].tag == "{urn:ietf:params:xml:ns:xmpp-sasl}success" and tok.paused
    assert tok.feed(second[40:]) == []
    after = tok.reset()
    assert after[0].id.startswith("second")
    assert after[1].tag == "{%s}features" % NS_STREAM
    assert tok.compact()


def test_reset_right_after_compaction(Tokenizer):
    tok = Tokenizer()
    tok.feed(HEADER + FEATURES)
    assert tok.compact()
    assert tok.reset() == []
    tokens = tok.feed(HEADER + MESSAGE)
    assert isinstance(tokens[0], StreamHeader) and tokens[1].tag == "{jabber:client}message"


# -- errors after compaction ---------------------------------------------------------------------

BAD = [
    pytest.param(b"\n <message><body>x</bod></message>", id="mismatched-tag"),
    pytest.param(b"<message>\n\n  <b>\xc3\xa9\xff</b></message>", id="bad-utf8"),
    pytest.param(b"<message>&nbsp;</message>", id="undefined-entity"),
    pytest.param(b"<message><!-- c --></message>", id="comment"),
    pytest.param(b"<message><?pi x?></message>", id="pi"),
    pytest.param(b"<message><x:y/></message>", id="unbound-prefix"),
    pytest.param(b"<message/><c:message xmlns:c='jabber:client'/>", id="content-ns-prefix"),
    pytest.param(b"<stream:stream>", id="nested-stream"),
    pytest.param(b"<message>" + b"x" * 5000 + b"</message>", id="too-large"),
    pytest.param(b"<a>" * 40, id="too-deep"),
    pytest.param(b"</stream:other>", id="wrong-end"),
    pytest.param(b"x]]>", id="cdata-end-in-text"),
]


@pytest.mark.parametrize("bad", BAD)
def test_errors_after_compaction_are_the_same(Tokenizer, bad):
    head = HEADER + b"\n" + FEATURES + b"\n" + MESSAGE + b"\n"
    kw = dict(max_stanza_bytes=4096, max_depth=16)
    plain = tokens_of(Tokenizer, [head, bad], **kw)
    assert plain[1] is not None
    assert tokens_of(Tokenizer, [head, bad], compact_after={0}, **kw) == plain
    for cut in range(len(bad)):
        chunks = [head, bad[:cut], bad[cut:]]
        assert tokens_of(Tokenizer, chunks, compact_after={0, 1}, **kw) == tokens_of(Tokenizer, chunks, **kw)


@pytest.mark.parametrize("bad", BAD)
def test_twins_agree_on_errors_after_compaction(bad):
    from fastxmpp import _accel

    if not _accel.USE_EXTENSIONS:
        pytest.skip("compiled twins not in use")
    head = HEADER + b"\n" + FEATURES + b"\n" + MESSAGE + b"\n"
    kw = dict(max_stanza_bytes=4096, max_depth=16)
    c = tokens_of(load("c", "tokenizer").Tokenizer, [head, bad], compact_after={0}, **kw)
    py = tokens_of(load("py", "tokenizer").Tokenizer, [head, bad], compact_after={0}, **kw)
    assert c[0] == py[0]
    assert c[1][0] is py[1][0]      # the same condition (the texts may word it differently)


# -- differential: random streams, random chunks, random compactions ----------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(trees(), min_size=1, max_size=5), st.lists(st.integers(min_value=1, max_value=4000), max_size=10),
       st.sets(st.integers(min_value=0, max_value=12)), st.sampled_from([b"", b"<a></b>", b"<!--", b"&x;"]))
def test_random_compactions_change_nothing(stanzas, cuts, when, tail):
    from fastxmpp import _accel

    body = b" \n".join(render(s, "jabber:client").encode() for s in stanzas)
    data = HEADER + b"\n" + body + (tail or END)
    bounds = sorted({c % len(data) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    for impl in ["py"] + (["c"] if _accel.USE_EXTENSIONS else []):
        Tokenizer = load(impl, "tokenizer").Tokenizer
        assert tokens_of(Tokenizer, chunks, compact_after=when) == tokens_of(Tokenizer, chunks), impl


def test_random_compactions_loop(Tokenizer):
    rng = random.Random(7)
    stanza = [MESSAGE, FEATURES, b"<iq type='get' id='1'><q xmlns='urn:q'><x a='1'/>text</q></iq>",
              b"<presence/>", b" ", b"\n", STREAM_ERROR]
    for _ in range(150):
        data = HEADER + b"".join(rng.choice(stanza) for _ in range(rng.randint(1, 8)))
        data += rng.choice([END, b"", b"<message></presence>", b"<a><b/>&lt;\xc3"])
        bounds = sorted({rng.randrange(len(data)) for _ in range(rng.randint(0, 12))} | {0, len(data)})
        chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
        when = {i for i in range(len(chunks)) if rng.random() < 0.5}
        assert tokens_of(Tokenizer, chunks, compact_after=when) == tokens_of(Tokenizer, chunks), (data, bounds, when)


# -- a real server ------------------------------------------------------------------------------


@pytest.mark.prosody
def test_aio_client_works_after_compaction(prosody, account):
    from fastxmpp.aio import Client
    from fastxmpp.stanza import iq, message

    (ja, pa), (jb, pb) = account(), account()

    def client(jid, pw, **kw):
        return Client(jid, pw, host=prosody.host, port=prosody.port, ca_file=str(prosody.ca_file), **kw)

    def ping():
        el = iq(type="get", to=prosody.domain)
        el.subelement("{urn:xmpp:ping}ping")
        return el

    async def main():
        async with client(ja + "/a", pa, keepalive=None) as a, client(jb + "/b", pb, keepalive=0.2) as b:
            got = asyncio.Queue()
            b.add_handler("message", lambda st: got.put_nowait(st.findtext("{jabber:client}body")))
            calls = []
            real = b.stream.compact
            b.stream.compact = lambda: calls.append(real()) or calls[-1]
            for i in range(3):
                assert (await a.iq(ping())).get("type") == "result"
                await a.send(message(to=jb + "/b", body="m%d" % i))
                assert await asyncio.wait_for(got.get(), 10) == "m%d" % i
                assert a.stream.compact() is True     # the traffic grew a new parser
                assert a.stream.compact() is False
            await asyncio.sleep(0.7)                  # keepalive ticks compact b
            assert calls
            await a.send(message(to=jb + "/b", body="after"))
            assert await asyncio.wait_for(got.get(), 10) == "after"
            assert (await b.iq(ping())).get("type") == "result"
            assert b.stream.sm.active and a.stream.sm.active
    asyncio.run(asyncio.wait_for(main(), 60))


@pytest.mark.prosody
def test_stream_compacts_itself_when_negotiation_ends(prosody, account):
    from fastxmpp.aio import Client

    jid, pw = account()

    async def main():
        c = Client(jid + "/r", pw, host=prosody.host, port=prosody.port, ca_file=str(prosody.ca_file),
                   keepalive=None)
        async with c:
            for _ in range(100):          # <enabled/> may come in a read after SessionStarted
                if c.stream.sm.active:
                    break
                await asyncio.sleep(0.02)
            assert c.stream.sm.active
            assert c.stream.compact() is False   # already compact after <enabled/>
    asyncio.run(asyncio.wait_for(main(), 60))


@pytest.mark.prosody
def test_sync_client_compacts_when_quiet(prosody, account):
    from fastxmpp.stanza import iq
    from fastxmpp.sync import Client

    jid, pw = account()
    with Client(jid + "/s", pw, host=prosody.host, port=prosody.port, ca_file=str(prosody.ca_file),
                keepalive_interval=0.3) as c:
        calls = []
        real = c.stream.compact
        c.stream.compact = lambda: calls.append(real()) or calls[-1]
        ping = iq(type="get", to=prosody.domain)
        ping.subelement("{urn:xmpp:ping}ping")
        assert c.iq(ping, timeout=10).get("type") == "result"
        c.process(timeout=1.0)             # quiet for longer than the interval
        assert True in calls
        ping = iq(type="get", to=prosody.domain)
        ping.subelement("{urn:xmpp:ping}ping")
        assert c.iq(ping, timeout=10).get("type") == "result"
