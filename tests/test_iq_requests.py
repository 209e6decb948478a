"""IQ requests are always answered (RFC 6120 8.4), whatever handlers are registered, by both
clients: routed by payload, claimed by an on_iq handler, or service-unavailable."""
from __future__ import annotations

import asyncio
import ssl

import pytest

from fastxmpp import aio, sync
from fastxmpp.element import Element
from fastxmpp.handlers import CLAIMED, HandlerRegistry, iq_reply
from fastxmpp.stanza import iq
from fastxmpp.stanza_errors import ItemNotFound, ServiceUnavailable

NS = "urn:example:q"
PAYLOAD = "{%s}q" % NS


def _request(type="get", payload=PAYLOAD, id="r1"):
    stanza = iq(type=type, id=id, to="juliet@example.com/balcony")
    stanza.set("from", "romeo@example.net/orchard")
    if payload is not None:
        stanza.subelement(payload)
    return stanza


def condition(reply):
    error = reply.find("{jabber:client}error")
    return next(iter(error)).tag.split("}", 1)[1], error.get("type")


# -- the decision, sans-IO ----------------------------------------------------------------------
def test_unclaimed_request_gets_service_unavailable_addressed_to_the_asker():
    reply = iq_reply(_request("get", PAYLOAD, "x1"), [None, None], routed=False)
    assert reply.get("type") == "error" and reply.get("id") == "x1"
    assert reply.get("to") == "romeo@example.net/orchard"
    assert condition(reply) == ("service-unavailable", "cancel")


def test_a_returned_element_is_the_reply_with_id_and_to_filled_in():
    answer = Element("{jabber:client}iq", {"type": "result"})
    reply = iq_reply(_request("set", PAYLOAD, "x2"), [None, answer], routed=False)
    assert reply is answer and reply.get("id") == "x2" and reply.get("to") == "romeo@example.net/orchard"


def test_claimed_or_routed_none_sends_nothing():
    assert iq_reply(_request(), [None, CLAIMED], routed=False) is None
    assert iq_reply(_request(), [None], routed=True) is None


def test_a_raised_stanza_error_is_the_reply_and_other_exceptions_are_internal_errors():
    reply = iq_reply(_request(), [ItemNotFound("no such thing", type="cancel")], routed=True)
    assert condition(reply) == ("item-not-found", "cancel")
    assert reply.findtext("{jabber:client}error/{urn:ietf:params:xml:ns:xmpp-stanzas}text") == "no such thing"
    reply = iq_reply(_request(), [RuntimeError("bug")], routed=True)
    assert condition(reply) == ("internal-server-error", "wait")


def test_iq_handler_registration_checks_its_arguments():
    registry = HandlerRegistry()
    registry._init_handlers()
    with pytest.raises(ValueError):
        registry.add_iq_handler("urn:example:q", lambda st: None)
    with pytest.raises(ValueError):
        registry.add_iq_handler(PAYLOAD, lambda st: None, types=("result",))
    registry.add_iq_handler(PAYLOAD, lambda st: None)
    with pytest.raises(ValueError):
        registry.add_iq_handler(PAYLOAD, lambda st: None)
    registry.remove_iq_handler(PAYLOAD)
    registry.add_iq_handler(PAYLOAD, lambda st: None)


# -- both clients, offline: what each sends for a request ------------------------------------------
def _aio_replies(setup, stanza):
    async def main():
        client = aio.Client("juliet@example.com/balcony", "pw", keepalive=None,
                            ssl_context=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        sent = []
        client._send_reply = lambda reply: reply is not None and sent.append(reply)
        setup(client)
        client._dispatch(stanza)
        for _ in range(5):
            await asyncio.sleep(0)
        return sent
    return asyncio.run(main())


def _sync_replies(setup, stanza):
    client = sync.Client("juliet@example.com/balcony", "pw", ssl_context=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    sent = []
    client.send = sent.append  # type: ignore[method-assign]
    client.__class__ = _ReadySync  # is_ready reads the socket: pretend the session is up
    setup(client)
    client._dispatch(stanza)
    return sent


class _ReadySync(sync.Client):
    is_ready = property(lambda self: True)  # type: ignore[assignment]


@pytest.fixture(params=["aio", "sync"])
def replies(request):
    return _aio_replies if request.param == "aio" else _sync_replies


def test_an_observing_on_iq_handler_no_longer_silences_the_automatic_reply(replies):
    seen = []
    sent = replies(lambda c: c.on_iq(lambda st: seen.append(st.get("id"))), _request(id="obs"))
    assert seen == ["obs"]
    assert len(sent) == 1 and condition(sent[0])[0] == "service-unavailable"


def test_an_on_iq_handler_claims_by_returning_the_reply(replies):
    def answer(st):
        return Element("{jabber:client}iq", {"type": "result"})
    sent = replies(lambda c: c.on_iq(answer), _request(id="ans"))
    assert [(s.get("type"), s.get("id")) for s in sent] == [("result", "ans")]


def test_a_payload_handler_owns_its_requests_and_the_rest_still_get_answered(replies):
    def setup(c):
        c.add_iq_handler(PAYLOAD, lambda st: Element("{jabber:client}iq", {"type": "result"}))
        c.on_iq(lambda st: None)
    assert [s.get("type") for s in replies(setup, _request(payload=PAYLOAD))] == ["result"]
    other = replies(setup, _request(payload="{urn:example:other}q"))
    assert len(other) == 1 and condition(other[0])[0] == "service-unavailable"


def test_a_handler_raising_a_stanza_error_is_answered_with_it(replies):
    def refuse(st):
        raise ItemNotFound()
    sent = replies(lambda c: c.add_iq_handler(PAYLOAD, refuse), _request())
    assert len(sent) == 1 and condition(sent[0]) == ("item-not-found", "cancel")


def test_results_and_errors_are_not_answered(replies):
    for type in ("result", "error"):
        stanza = _request()
        stanza.set("type", type)
        assert replies(lambda c: c.on_iq(lambda st: None), stanza) == []


def test_an_async_handler_is_answered_when_it_returns():
    async def later(st):
        await asyncio.sleep(0)
        return None  # not claimed

    async def answer(st):
        await asyncio.sleep(0)
        return Element("{jabber:client}iq", {"type": "result"})

    sent = _aio_replies(lambda c: c.on_iq(later), _request(id="a1"))
    assert len(sent) == 1 and condition(sent[0])[0] == "service-unavailable"
    sent = _aio_replies(lambda c: c.add_iq_handler(PAYLOAD, answer), _request(id="a2"))
    assert [(s.get("type"), s.get("id")) for s in sent] == [("result", "a2")]


# -- against the real server ------------------------------------------------------------------------
@pytest.mark.prosody
def test_unhandled_request_is_answered_while_a_handler_is_registered_aio(prosody, account):
    (ja, pa), (jb, pb) = account(), account()
    opts = dict(host=prosody.host, port=prosody.port, ca_file=prosody.ca_file, keepalive=None)

    async def main():
        async with aio.Client(ja + "/a", pa, **opts) as a, aio.Client(jb + "/b", pb, **opts) as b:
            b.on_iq(lambda st: None)  # observes, does not answer
            b.add_iq_handler(PAYLOAD, lambda st: Element("{jabber:client}iq", {"type": "result"}))
            with pytest.raises(ServiceUnavailable):
                await a.iq(_to(jb + "/b", "{urn:example:other}q"), timeout=20)
            result = await a.iq(_to(jb + "/b", PAYLOAD), timeout=20)
            assert result.get("type") == "result"
    asyncio.run(main())


@pytest.mark.prosody
def test_unhandled_request_is_answered_while_a_handler_is_registered_sync(prosody, account):
    (ja, pa), (jb, pb) = account(), account()
    opts = dict(host=prosody.host, port=prosody.port, ca_file=prosody.ca_file)
    with sync.Client(ja + "/a", pa, **opts) as a, sync.Client(jb + "/b", pb, **opts) as b:
        b.on_iq(lambda st: None)
        b.add_iq_handler(PAYLOAD, lambda st: Element("{jabber:client}iq", {"type": "result"}))
        outcome = {}

        def ask():
            try:
                a.iq(_to(jb + "/b", "{urn:example:other}q"), timeout=20)
            except Exception as exc:  # noqa: BLE001
                outcome["other"] = exc
            outcome["mine"] = a.iq(_to(jb + "/b", PAYLOAD), timeout=20)

        import threading
        asker = threading.Thread(target=ask)
        asker.start()
        while asker.is_alive():
            b.process(timeout=0.2)
        asker.join()
    assert isinstance(outcome["other"], ServiceUnavailable)
    assert outcome["mine"].get("type") == "result"


def _to(jid, payload):
    stanza = iq(type="get", to=jid)
    stanza.subelement(payload)
    return stanza
