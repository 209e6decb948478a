"""Building and serializing one stanza to UTF-8 bytes, every implementation
side by side: a chat message (to, type, id, a body with characters to escape,
a XEP-0184 receipt request) and a presence (show, status, priority).

    pytest benchmarks/test_build.py --benchmark-only

The reference is an f-string template with str.replace escaping.  Asserts
only that the output is the expected stanza, never anything about time.
"""
import xml.etree.ElementTree as ET

import pytest

import impls

ROUNDS = 20
ITERATIONS = 1000  # ops per round (pedantic: iterations is per round)


def _check_message(data: bytes) -> None:
    el = ET.fromstring(data)
    assert el.tag in ("message", "{jabber:client}message")
    assert el.get("to") == impls.TO and el.get("id") == impls.MSG_ID and el.get("type") == "chat"
    body = [c for c in el if c.tag.endswith("body")][0]
    assert body.text == impls.BODY
    assert any(c.tag == "{urn:xmpp:receipts}request" or (c.tag == "request") for c in el)


def _check_presence(data: bytes) -> None:
    el = ET.fromstring(data)
    assert el.tag in ("presence", "{jabber:client}presence")
    texts = {c.tag.rsplit("}", 1)[-1]: c.text for c in el}
    assert texts["show"] == "away" and texts["status"] == impls.STATUS and texts["priority"] == "5"


@pytest.mark.parametrize("name", list(impls.MSG_BUILDERS))
def test_build_message(benchmark, name):
    fn = impls.MSG_BUILDERS[name]
    benchmark.group = "build+serialize chat message"
    out = benchmark.pedantic(fn, rounds=ROUNDS, iterations=ITERATIONS, warmup_rounds=1)
    _check_message(out)


@pytest.mark.parametrize("name", list(impls.PRES_BUILDERS))
def test_build_presence(benchmark, name):
    fn = impls.PRES_BUILDERS[name]
    benchmark.group = "build+serialize presence"
    out = benchmark.pedantic(fn, rounds=ROUNDS, iterations=ITERATIONS, warmup_rounds=1)
    _check_presence(out)
