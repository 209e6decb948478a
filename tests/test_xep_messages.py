"""XEP-0184 receipts, XEP-0085 chat states, XEP-0280 carbons, XEP-0359 stanza ids and
XEP-0203 delays, sans-IO: scripted stanzas through the modules and the drivers' thin
classes over a fake client (no server); run on both twins."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from fastxmpp.aio import carbons as aio_carbons, chatstates as aio_chatstates, receipts as aio_receipts
from fastxmpp.sync import carbons as sync_carbons, chatstates as sync_chatstates, receipts as sync_receipts
from fastxmpp.element import Element
from fastxmpp.handlers import HandlerRegistry
from fastxmpp.jid import JID
from fastxmpp.stanza_errors import ServiceUnavailable
from fastxmpp.im.messages import parse_message
from fastxmpp.xep import carbons, chatstates, delay, receipts, stanzaid
from fastxmpp.xep.disco import DiscoResponder

from test_xep_basic import ME, X  # noqa: F401 - a stanza parsed by the twin in use


class FakeClient(HandlerRegistry):
    """What the message features use of a client: handlers, disco, send, _call, jid."""

    def __init__(self, kind="sync"):
        self._init_handlers()
        self.kind = kind
        self.jid = JID(ME)
        self.bound_jid = JID(ME)
        self.disco = SimpleNamespace(responder=DiscoResponder([]))
        self.sent = []
        self.inbox = []  # what process() delivers, one per call
        self.iq_timeout = 5.0
        self.answers = []

    def _call(self, fn, arg):
        result = fn(arg)
        if asyncio.iscoroutine(result):
            asyncio.ensure_future(result)

    def deliver(self, stanza):
        if isinstance(stanza, str):
            stanza = X(stanza)
        for fn in list(self.handlers_for(stanza)):
            fn(stanza)

    def send_nowait(self, stanza):
        self.sent.append(stanza)

    def start_session(self, resumed=False):
        """Tell the listeners; returns the last awaitable one returned (aio), to be run."""
        pending = None
        for fn in self._session_listeners or ():
            result = fn(SimpleNamespace(resumed=resumed))
            if asyncio.iscoroutine(result):
                pending = result
        return pending

    def process(self, timeout=None):
        if self.inbox:
            self.deliver(self.inbox.pop(0))
            return 1
        raise AssertionError("nothing more to read")

    def send(self, stanza):
        """Record; awaitable for an asyncio client."""
        self.sent.append(stanza)
        return asyncio.sleep(0) if self.kind == "aio" else None

    def iq(self, stanza, timeout=None):
        """Record, and answer with the next scripted answer (awaitable for asyncio)."""
        self.sent.append(stanza)
        answer = self.answers.pop(0)
        if self.kind == "aio":
            async def later():
                return answer
            return later()
        return answer


MODULES = {"sync": (sync_receipts, sync_chatstates, sync_carbons), "aio": (aio_receipts, aio_chatstates, aio_carbons)}


@pytest.fixture(params=["sync", "aio"])
def kind(request):
    return request.param


def run(kind, result):
    if kind == "aio":
        return asyncio.run(result) if asyncio.iscoroutine(result) else result
    return result


# -- XEP-0184 receipts -------------------------------------------------------------------------
def test_add_request_sets_an_id_once():
    msg = Element("{jabber:client}message", {"to": "romeo@example.net"})
    msg_id = receipts.add_request(msg)
    assert msg_id and msg.get("id") == msg_id
    assert receipts.add_request(msg) == msg_id and len(msg.findall(receipts.REQUEST)) == 1
    keep = Element("{jabber:client}message", {"id": "m1"})
    assert receipts.add_request(keep) == "m1"
    with pytest.raises(ValueError):
        receipts.add_request(Element("{jabber:client}presence"))


@pytest.mark.parametrize("xml, due", [
    ("<message from='romeo@example.net/o' id='m1' type='chat'><request xmlns='urn:xmpp:receipts'/></message>", True),
    ("<message from='romeo@example.net/o' id='m1'><request xmlns='urn:xmpp:receipts'/></message>", True),
    ("<message from='room@muc.example.net/n' id='m1' type='groupchat'><request xmlns='urn:xmpp:receipts'/></message>", False),
    ("<message from='romeo@example.net/o' id='m1' type='error'><request xmlns='urn:xmpp:receipts'/></message>", False),
    ("<message from='romeo@example.net/o' type='chat'><request xmlns='urn:xmpp:receipts'/></message>", False),
    ("<message id='m1' type='chat'><request xmlns='urn:xmpp:receipts'/></message>", False),
    ("<message from='romeo@example.net/o' id='m1' type='chat'><body>hi</body></message>", False),
    ("<message from='romeo@example.net/o' id='m1'><request xmlns='urn:xmpp:receipts'/>"
     "<received xmlns='urn:xmpp:receipts' id='x'/></message>", False),
])
def test_receipt_due_only_where_the_xep_says(xml, due):
    reply = receipts.receipt_for(X(xml))
    assert (reply is not None) == due
    if due:
        assert reply.get("to") == "romeo@example.net/o" and reply.get("id")
        assert reply.find(receipts.RECEIVED).get("id") == "m1"


def test_first_access_answers_and_advertises(kind):
    client = FakeClient(kind)
    request = "<message from='romeo@example.net/o' to='%s' id='m7' type='chat'><request xmlns='urn:xmpp:receipts'/></message>" % ME
    client.deliver(request)
    assert client.sent == [] and client._handlers == {}  # unused: nothing registered, nothing answered
    r = MODULES[kind][0].Receipts(client)
    assert receipts.NS_RECEIPTS in client.disco.responder.features
    client.deliver(request)
    assert [s.find(receipts.RECEIVED).get("id") for s in client.sent] == ["m7"]
    r.answer = False
    client.deliver(request)
    r.answer = lambda stanza: stanza.get("from").startswith("romeo@")
    client.deliver(request)
    client.deliver(request.replace("romeo@", "tybalt@"))
    assert [s.get("to") for s in client.sent] == ["romeo@example.net/o"] * 2


def test_send_wait_and_correlate(kind):
    client = FakeClient(kind)
    r = MODULES[kind][0].Receipts(client)
    seen = []
    r.on_receipt(seen.append)
    msg_id = run(kind, r.send("romeo@example.net", "hi"))
    sent = client.sent[-1]
    assert sent.get("id") == msg_id and sent.find(receipts.REQUEST) is not None and r.pending == 1
    assert r.confirmed(msg_id) is None
    # a forged receipt (another account) is ignored; an unknown id too
    client.deliver(f"<message from='mallory@evil.example/x'><received xmlns='urn:xmpp:receipts' id='{msg_id}'/></message>")
    client.deliver("<message from='romeo@example.net/o'><received xmlns='urn:xmpp:receipts' id='nope'/></message>")
    client.deliver("<message from='romeo@example.net/o'><received xmlns='urn:xmpp:receipts'/></message>")
    assert seen == [] and r.pending == 1
    good = f"<message from='romeo@example.net/orchard'><received xmlns='urn:xmpp:receipts' id='{msg_id}'/></message>"
    if kind == "sync":
        client.inbox.append(good)
        event = r.wait(msg_id, timeout=5)
    else:
        async def scenario():
            waiter = asyncio.ensure_future(r.wait(msg_id, timeout=5))
            await asyncio.sleep(0)
            client.deliver(good)
            return await waiter
        event = asyncio.run(scenario())
    assert event.id == msg_id and event.sender == JID("romeo@example.net/orchard")
    assert seen == [event] and r.pending == 0 and r.confirmed(msg_id) is event
    assert run(kind, r.wait(msg_id)) is event  # already here: at once
    with pytest.raises(receipts.ReceiptNotPending):
        run(kind, r.wait("never-asked"))


def test_wait_times_out(kind):
    client = FakeClient(kind)
    r = MODULES[kind][0].Receipts(client)
    msg_id = run(kind, r.send("romeo@example.net", "hi"))
    if kind == "sync":
        client.process = lambda timeout=None: 0
        with pytest.raises(TimeoutError):
            r.wait(msg_id, timeout=0.01)
    else:
        with pytest.raises(asyncio.TimeoutError):
            asyncio.run(r.wait(msg_id, timeout=0.01))
        assert r._waiters == {}
    assert r.pending == 1


def test_pending_is_bounded(kind):
    client = FakeClient(kind)
    r = MODULES[kind][0].Receipts(client, max_pending=3)
    ids = [run(kind, r.send("romeo@example.net", str(i))) for i in range(5)]
    assert r.pending == 3
    with pytest.raises(receipts.ReceiptNotPending):
        run(kind, r.wait(ids[0]))
    for msg_id in ids:
        client.deliver(f"<message from='romeo@example.net/o'><received xmlns='urn:xmpp:receipts' id='{msg_id}'/></message>")
    assert [r.confirmed(i) is not None for i in ids] == [False, False, True, True, True]
    assert len(r._confirmed) <= 3 and r.pending == 0


def test_forgotten_id_wakes_its_asyncio_waiter():
    client = FakeClient("aio")
    r = aio_receipts.Receipts(client, max_pending=1)

    async def scenario():
        first = await r.send("romeo@example.net", "1")
        waiter = asyncio.ensure_future(r.wait(first))
        await asyncio.sleep(0)
        await r.send("romeo@example.net", "2")
        with pytest.raises(receipts.ReceiptNotPending):
            await waiter
    asyncio.run(scenario())


def test_a_bounce_ends_the_wait_with_its_error(kind):
    client = FakeClient(kind)
    r = MODULES[kind][0].Receipts(client)
    msg_id = run(kind, r.send("nobody@example.net", "hi"))
    err = ("<message from='{}' id='{}' type='error'><error type='cancel'>"
           "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
    client.deliver(err.format("mallory@evil.example", msg_id))  # not the addressee: ignored
    client.deliver(err.format("nobody@example.net", "other-id"))
    assert r.pending == 1
    if kind == "sync":
        client.inbox.append(err.format("example.net", msg_id))  # the addressee's server
        with pytest.raises(ServiceUnavailable):
            r.wait(msg_id, timeout=5)
    else:
        async def scenario():
            waiter = asyncio.ensure_future(r.wait(msg_id, timeout=5))
            await asyncio.sleep(0)
            client.deliver(err.format("nobody@example.net/x", msg_id))
            with pytest.raises(ServiceUnavailable):
                await waiter
        asyncio.run(scenario())
    assert r.pending == 0 and r.confirmed(msg_id) is None
    with pytest.raises(ServiceUnavailable):  # asked again: the same answer
        run(kind, r.wait(msg_id))


# -- XEP-0085 chat states ----------------------------------------------------------------------
def test_state_message_and_add():
    msg = chatstates.state_message("romeo@example.net", "composing", thread="t1")
    assert (msg.get("to"), msg.get("type")) == ("romeo@example.net", "chat")
    assert chatstates.parse_state(msg) == "composing" and msg.findtext("{jabber:client}thread") == "t1"
    assert msg.find("{jabber:client}body") is None
    chatstates.add_state(msg, "paused")  # replaces
    assert [c.tag for c in msg if c.tag.startswith("{%s}" % chatstates.NS_CHATSTATES)] == \
        ["{%s}paused" % chatstates.NS_CHATSTATES]
    with pytest.raises(chatstates.InvalidChatState):
        chatstates.state_message("romeo@example.net", "typing")
    with pytest.raises(ValueError):
        chatstates.add_state(msg, "")


def test_incoming_states(kind):
    client = FakeClient(kind)
    cs = MODULES[kind][1].ChatStates(client)
    assert chatstates.NS_CHATSTATES in client.disco.responder.features
    seen = []
    cs.on_state(seen.append)
    ns = chatstates.NS_CHATSTATES
    client.deliver(f"<message from='romeo@example.net/o' type='chat'><composing xmlns='{ns}'/></message>")
    client.deliver(f"<message from='romeo@example.net/o' type='chat'><body>hi</body><thread>t</thread>"
                   f"<active xmlns='{ns}'/></message>")
    client.deliver(f"<message from='romeo@example.net/o' type='chat'><dancing xmlns='{ns}'/></message>")  # unknown
    client.deliver(f"<message from='romeo@example.net/o' type='error'><gone xmlns='{ns}'/></message>")
    client.deliver("<message from='romeo@example.net/o' type='chat'><body>plain</body></message>")
    client.deliver(f"<message from='room@muc.example.net/n' type='groupchat'><paused xmlns='{ns}'/></message>")
    assert [(e.sender, e.state, e.type, e.thread) for e in seen] == [
        (JID("romeo@example.net/o"), "composing", "chat", None),
        (JID("romeo@example.net/o"), "active", "chat", "t"),
        (JID("room@muc.example.net/n"), "paused", "groupchat", None)]
    sent = run(kind, cs.send("romeo@example.net", "gone"))
    assert client.sent[-1] is sent and chatstates.parse_state(sent) == "gone"
    body = Element("{jabber:client}message", {"to": "romeo@example.net"})
    assert chatstates.parse_state(cs.add(body, "active")) == "active"


def test_bad_from_is_logged_not_raised(kind, caplog):
    client = FakeClient(kind)
    cs = MODULES[kind][1].ChatStates(client)
    seen = []
    cs.on_state(seen.append)
    with caplog.at_level(logging.WARNING, logger="fastxmpp.xep"):
        client.deliver(f"<message from='@bad' type='chat'><active xmlns='{chatstates.NS_CHATSTATES}'/></message>")
    assert seen[0].sender is None and "invalid JID" in caplog.text


# -- XEP-0280 carbons ---------------------------------------------------------------------------
def carbon(direction, outer_from="juliet@example.com", inner_from="romeo@example.net/orchard",
           inner_to=ME, body="hi"):
    outer = f" from='{outer_from}'" if outer_from is not None else ""
    inner = "".join(f" {k}='{v}'" for k, v in (("from", inner_from), ("to", inner_to)) if v is not None)
    return (f"<message{outer} to='{ME}' type='chat'><{direction} xmlns='urn:xmpp:carbons:2'>"
            f"<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'{inner} type='chat' id='in1'>"
            f"<body>{body}</body></message></forwarded></{direction}></message>")


def test_enable_disable_requests(kind):
    client = FakeClient(kind)
    c = MODULES[kind][2].Carbons(client)
    assert carbons.NS_CARBONS in client.disco.responder.features and c.enabled is False
    result = X("<iq type='result' id='c1'/>")
    client.answers = [result, result]
    run(kind, c.enable())
    iq = client.sent[-1]
    assert (iq.get("type"), iq.get("to")) == ("set", None) and iq.find("{urn:xmpp:carbons:2}enable") is not None
    assert c.enabled is True
    client.start_session(resumed=True)
    assert c.enabled is True and len(client.sent) == 1
    # a fresh session: the server forgot, so the feature enables carbons again
    client.answers = [result, result]
    restored = client.start_session()
    if kind == "aio":
        run(kind, restored)
    assert len(client.sent) == 2 and client.sent[-1].find("{urn:xmpp:carbons:2}enable") is not None
    assert c.enabled is True
    run(kind, c.disable())
    assert client.sent[-1].find("{urn:xmpp:carbons:2}disable") is not None and c.enabled is False


def test_trusted_copies_are_unwrapped(kind):
    client = FakeClient(kind)
    c = MODULES[kind][2].Carbons(client)
    seen = []
    c.on_carbon(seen.append)
    client.deliver(carbon("received"))
    client.deliver(carbon("sent", inner_from="juliet@example.com/phone", inner_to="romeo@example.net", body="yo"))
    client.deliver(carbon("sent", inner_from=None, inner_to="romeo@example.net", body="no from"))
    client.deliver("<message from='romeo@example.net/orchard' type='chat'><body>plain</body></message>")
    assert [(e.direction, str(e.message.sender), e.message.to, e.message.body) for e in seen] == [
        ("received", "romeo@example.net/orchard", ME, "hi"),
        ("sent", "juliet@example.com/phone", "romeo@example.net", "yo"),
        ("sent", "None", "romeo@example.net", "no from")]
    assert seen[0].message.id == "in1" and c.refused == 0


@pytest.mark.parametrize("xml, reason", [
    (carbon("received", outer_from="mallory@evil.example"), "not from our bare JID"),
    (carbon("received", outer_from="mallory@evil.example/x"), "not from our bare JID"),
    (carbon("received", outer_from="juliet@example.com/balcony"), "not from our bare JID"),  # a full JID
    (carbon("received", outer_from="example.com"), "not from our bare JID"),
    (carbon("received", outer_from=None), "not from our bare JID"),
    (carbon("received", outer_from="@@"), "not from our bare JID"),
    (carbon("sent", inner_from="romeo@example.net/orchard", inner_to=ME), "another account"),
    (carbon("received", inner_to="mallory@evil.example"), "another account"),
    ("<message from='juliet@example.com'><received xmlns='urn:xmpp:carbons:2'/></message>", "without a forwarded"),
    ("<message from='juliet@example.com'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"
     "<iq type='get' id='x'/></forwarded></sent></message>", "without a forwarded"),
])
def test_forged_or_malformed_copies_are_refused(kind, xml, reason, caplog):
    client = FakeClient(kind)
    c = MODULES[kind][2].Carbons(client)
    seen = []
    c.on_carbon(seen.append)
    with pytest.raises(carbons.ForgedCarbon, match=reason):
        carbons.unwrap(X(xml), JID(ME))
    with caplog.at_level(logging.WARNING, logger="fastxmpp.xep"):
        client.deliver(xml)
    assert seen == [] and c.refused == 1 and "refusing a carbon copy" in caplog.text


def test_not_a_carbon():
    assert carbons.unwrap(X("<message from='romeo@example.net/o'><body>x</body></message>"), JID(ME)) is None


def test_mark_private():
    msg = Element("{jabber:client}message", {"to": "romeo@example.net"})
    assert carbons.mark_private(carbons.mark_private(msg)) is msg
    assert [c.tag for c in msg] == [carbons.PRIVATE, carbons.NO_COPY]


# -- XEP-0082 / XEP-0203 delays ------------------------------------------------------------------
UTC = timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2002-09-10T23:08:25Z", datetime(2002, 9, 10, 23, 8, 25, tzinfo=UTC)),
    ("2002-09-10T23:08:25.123Z", datetime(2002, 9, 10, 23, 8, 25, 123000, tzinfo=UTC)),
    ("2002-09-10T23:08:25.1234567891Z", datetime(2002, 9, 10, 23, 8, 25, 123456, tzinfo=UTC)),
    ("1969-07-21T02:56:15-05:00", datetime(1969, 7, 21, 7, 56, 15, tzinfo=UTC)),
    ("2002-09-10T00:30:00+01:30", datetime(2002, 9, 9, 23, 0, 0, tzinfo=UTC)),
    (" 2002-09-10T23:08:25Z\n", datetime(2002, 9, 10, 23, 8, 25, tzinfo=UTC)),
    ("2002-09-10T23:08:25", None),            # no zone
    ("2002-09-10 23:08:25Z", None),
    ("2002-02-30T23:08:25Z", None),           # no such day
    ("2002-09-10T24:00:00Z", None),
    ("2002-09-10T23:08:60Z", None),           # a leap second Python cannot hold
    ("2002-09-10T23:08:25+24:00", None),
    ("2002-09-10T23:08:25+01:75", None),
    ("0001-01-01T00:00:00+01:00", None),      # before year 1 in UTC
    ("2002-09-10T23:08:25.Z", None),
    ("\u0662002-09-10T23:08:25Z", None),      # a non-ASCII digit
    ("", None), (None, None), ("yesterday", None),
])
def test_parse_stamp(text, expected):
    got = delay.parse_stamp(text)
    assert got == expected
    if got is not None:
        assert got.tzinfo is not None and got.utcoffset() == timedelta(0)


def test_format_stamp_round_trip():
    when = datetime(2020, 1, 2, 3, 4, 5, 600, tzinfo=UTC)
    assert delay.format_stamp(when) == "2020-01-02T03:04:05.000600Z"
    assert delay.parse_stamp(delay.format_stamp(when)) == when
    assert delay.format_stamp(datetime(2020, 1, 2, 3, 4, 5)) == "2020-01-02T03:04:05Z"
    east = datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert delay.format_stamp(east) == "2020-01-02T01:04:05Z"


def test_parse_delay():
    msg = X("<message from='romeo@example.net/o'><body>x</body>"
            "<delay xmlns='urn:xmpp:delay' from='example.net' stamp='2002-09-10T23:08:25Z'>Offline Storage</delay>"
            "<delay xmlns='urn:xmpp:delay' from='relay.example' stamp='2002-09-10T23:05:00Z'/>"
            "<delay xmlns='urn:xmpp:delay' stamp='garbage'/>"
            "<x xmlns='jabber:x:delay' stamp='20020910T23:01:00'/></message>")
    found = delay.parse_delays(msg)
    assert [d.legacy for d in found] == [False, False, True]
    assert found[0] == delay.Delay(stamp=datetime(2002, 9, 10, 23, 8, 25, tzinfo=UTC),
                                   sender=JID("example.net"), reason="Offline Storage")
    first = delay.parse_delay(msg)
    assert first.stamp == datetime(2002, 9, 10, 23, 1, tzinfo=UTC) and first.legacy and first.sender is None
    assert delay.parse_delay(X("<message><body>x</body></message>")) is None
    assert delay.parse_delay(X("<message><delay xmlns='urn:xmpp:delay' stamp='bad'/>"
                               "<x xmlns='jabber:x:delay' stamp='2002-09-10'/></message>")) is None
    out = delay.add_delay(Element("{jabber:client}message"), datetime(2002, 9, 10, 23, 8, 25, tzinfo=UTC),
                          sender="example.net", reason="later")
    assert delay.parse_delay(out) == delay.Delay(stamp=found[0].stamp, sender=JID("example.net"), reason="later")


# -- XEP-0359 stanza ids -------------------------------------------------------------------------
SID = "urn:xmpp:sid:0"


def test_stanza_id_trusted_only_from_by():
    msg = X(f"<message from='romeo@example.net/o' to='{ME}' type='chat'><body>x</body>"
            f"<stanza-id xmlns='{SID}' id='forged' by='mallory@evil.example'/>"
            f"<stanza-id xmlns='{SID}' id='ours' by='juliet@example.com'/>"
            f"<stanza-id xmlns='{SID}' by='juliet@example.com'/>"
            f"<stanza-id xmlns='{SID}' id='x' by='@bad'/>"
            f"<origin-id xmlns='{SID}' id='orig-1'/></message>")
    assert stanzaid.stanza_ids(msg) == (stanzaid.StanzaID(id="forged", by=JID("mallory@evil.example")),
                                        stanzaid.StanzaID(id="ours", by=JID("juliet@example.com")))
    assert stanzaid.stanza_id(msg, JID(ME)) == "ours" and stanzaid.stanza_id(msg, "juliet@example.com") == "ours"
    assert stanzaid.stanza_id(msg, "romeo@example.net") is None
    assert stanzaid.origin_id(msg) == "orig-1"
    parsed = parse_message(msg)
    assert parsed.stanza_id() == "ours" and parsed.origin_id == "orig-1" and parsed.delay is None
    assert parsed.stanza_id("mallory@evil.example") == "forged"
    twice = X(f"<message to='{ME}'><stanza-id xmlns='{SID}' id='a' by='juliet@example.com'/>"
              f"<stanza-id xmlns='{SID}' id='b' by='juliet@example.com'/></message>")
    assert stanzaid.stanza_id(twice, JID(ME)) is None  # ambiguous: none trusted
    room = parse_message(X(f"<message from='room@muc.example.com/nick' to='{ME}' type='groupchat'>"
                           f"<stanza-id xmlns='{SID}' id='r1' by='room@muc.example.com'/>"
                           f"<stanza-id xmlns='{SID}' id='u1' by='juliet@example.com'/></message>"))
    assert room.stanza_id() == "r1" and room.stanza_id(ME) == "u1"
    assert parse_message(X("<message><body>x</body></message>")).stanza_id() is None
    assert parse_message(X("<message to='@bad'/>")).stanza_id() is None


def test_add_origin_id():
    msg = Element("{jabber:client}message", {"to": "romeo@example.net"})
    value = stanzaid.add_origin_id(msg)
    assert value and stanzaid.origin_id(msg) == value
    assert stanzaid.add_origin_id(msg, "other") == value and len(msg.findall(stanzaid.ORIGIN_ID)) == 1
    assert stanzaid.add_origin_id(Element("{jabber:client}message"), "mine") == "mine"


def test_delayed_message_parsed_lazily():
    msg = parse_message(X("<message from='romeo@example.net/o'><body>x</body>"
                          "<delay xmlns='urn:xmpp:delay' stamp='2002-09-10T23:08:25.5+02:00'/></message>"))
    assert msg.delay.stamp == datetime(2002, 9, 10, 21, 8, 25, 500000, tzinfo=UTC)


@pytest.mark.parametrize("xml", [
    "<message/>",
    "<message from='' to='' id='' type='bogus'/>",
    "<message from='@@' id='m'><request xmlns='urn:xmpp:receipts'/><composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
    "<message from='juliet@example.com'><received xmlns='urn:xmpp:receipts'/><sent xmlns='urn:xmpp:carbons:2'>"
    "<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='@@' to='@@'/></forwarded></sent></message>",
    "<message from='juliet@example.com'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"
    "<message xmlns='jabber:client' to='juliet@example.com/x'><delay xmlns='urn:xmpp:delay' stamp='9999-99-99T99:99:99Z'/>"
    "</message></forwarded></received></message>",
    "<message type='error' id='x'/>",
])
def test_odd_messages_never_raise(kind, xml):
    client = FakeClient(kind)
    receipts_mod, chatstates_mod, carbons_mod = MODULES[kind]
    features = [receipts_mod.Receipts(client), chatstates_mod.ChatStates(client), carbons_mod.Carbons(client)]
    events = []
    for feature in features:
        feature.on_event(events.append)
    client.deliver(xml)
    parsed = parse_message(X(xml))
    parsed.delay, parsed.origin_id, parsed.stanza_id()  # noqa: B018 - read, never raise
    for event in events:
        if isinstance(event, carbons.CarbonReceived):
            event.message.delay  # noqa: B018
