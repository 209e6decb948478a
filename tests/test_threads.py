"""Tokenizers and serializers used from several threads at once (free-threaded builds included)."""
from __future__ import annotations

import sys
import threading

from conftest import load

HEADER = (b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
          b" version='1.0'>")


def test_tokenizers_in_parallel_threads(impl):
    tokenizer = load(impl, "tokenizer")
    serializer = load(impl, "serializer")
    Element = load(impl, "element").Element
    errors = []

    def work(n):
        try:
            stanzas = []
            for i in range(300):
                el = Element("{jabber:client}message", {"to": "peer%d@example.com" % n, "id": "t%d-%d" % (n, i)})
                el.subelement("{jabber:client}body", text="thread %d message %d \u00e9" % (n, i))
                el.subelement("{urn:xmpp:receipts}request")
                stanzas.append(el)
            data = HEADER + b"".join(serializer.serialize(s) for s in stanzas)
            tok = tokenizer.Tokenizer()
            got = []
            for k in range(0, len(data), 97):  # small chunks: many interleavings with other threads
                got.extend(tok.feed(data[k:k + 97]))
            assert got[1:] == stanzas
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_one_received_stanza_read_from_many_threads(impl):
    """A received stanza may be built on first use: threads reading it at once all see it whole."""
    tokenizer = load(impl, "tokenizer")
    serializer = load(impl, "serializer")
    Element = load(impl, "element").Element
    sent = []
    for i in range(200):
        el = Element("{jabber:client}message", {"id": "m%d" % i})
        for k in range(5):
            el.subelement("{jabber:client}body", text="part %d" % k).subelement("{urn:x}y", {"k": str(k)})
        sent.append(el)
    for _ in range(5):
        received = tokenizer.Tokenizer().feed(HEADER + b"".join(serializer.serialize(s) for s in sent))[1:]
        seen = [[] for _ in range(4)]
        barrier = threading.Barrier(4)

        def read(out):
            barrier.wait()
            out.extend((len(s), s.find("{jabber:client}body/{urn:x}y").get("k"), s == sent[n])
                       for n, s in enumerate(received))

        threads = [threading.Thread(target=read, args=(seen[n],)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(out == [(5, "0", True)] * 200 for out in seen)


def test_gil_stays_disabled_on_free_threaded_builds():
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    if is_gil_enabled is None or is_gil_enabled():
        import pytest
        pytest.skip("not a free-threaded build with the GIL off")
    from fastxmpp import _accel  # imports every compiled module

    assert _accel.USE_EXTENSIONS
    assert not is_gil_enabled()
