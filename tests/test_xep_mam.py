"""XEP-0059 result sets and XEP-0313 archive queries, sans-IO: requests built, scripted
results collected for their own query id only and from the archive only (forged and
malformed ones left out), pages read from <fin/>; both clients' ``client.mam`` driven
through a fake client (no server)."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import pytest

from fastxmpp.aio.mam import MAM as AioMAM
from fastxmpp.handlers import HandlerRegistry
from fastxmpp.jid import JID
from fastxmpp.stanza_errors import ItemNotFound
from fastxmpp.sync.mam import MAM as SyncMAM
from fastxmpp.xep import RemoteInvalidResult, mam, rsm
from fastxmpp.xep.forms import parse_form
from fastxmpp.xep.mam import NS_MAM, ArchiveQuery, InvalidArchiveResult, Page
from fastxmpp.xep.rsm import NS_RSM, InvalidResultSet, ResultSet, build_set, parse_set
from test_xep_basic import X

ME = "juliet@example.com/balcony"
ROOM = "coven@chat.shakespeare.lit"


# -- XEP-0059 ---------------------------------------------------------------------------------
def test_build_set():
    el = build_set(10, after="09af3-cc343-b409f")
    assert el.tag == "{%s}set" % NS_RSM
    assert [(c.tag.split("}")[1], c.text) for c in el] == [("max", "10"), ("after", "09af3-cc343-b409f")]
    assert [(c.tag.split("}")[1], c.text) for c in build_set(5, before="")] == [("max", "5"), ("before", None)]
    assert [c.tag.split("}")[1] for c in build_set(index=0)] == ["index"]
    assert len(build_set()) == 0
    for bad in (dict(max=-1), dict(max=True), dict(max="3"), dict(after="a", before="b"),
                dict(index=2, after="a"), dict(index=-2)):
        with pytest.raises(ValueError):
            build_set(**bad)


def rset(body: str):
    return X(f"<message><set xmlns='{NS_RSM}'>{body}</set></message>").find("{%s}set" % NS_RSM)


def test_parse_set():
    got = parse_set(rset("<first index='20'>a</first><last>b</last><count>800</count>"))
    assert got == ResultSet(first="a", last="b", first_index=20, count=800)
    assert parse_set(rset("<count>0</count>")) == ResultSet(count=0)
    assert parse_set(None) == ResultSet()
    for bad in ("<count>many</count>", "<count>-1</count>", "<first index='x'>a</first>", "<first/>",
                "<last></last>", "<count>\u0663</count>"):
        with pytest.raises(InvalidResultSet) as info:
            parse_set(rset(bad))
        assert isinstance(info.value, RemoteInvalidResult)


# -- stamps (parsed and written by fastxmpp.xep.delay) ------------------------------------------
def test_start_and_end_arguments():
    cest = timezone(timedelta(hours=2))
    query = ArchiveQuery(ME, queryid="q", start=datetime(2010, 7, 10, 23, 8, 25),
                         end=datetime(2010, 7, 11, 1, 8, 25, 5, tzinfo=cest))
    assert (query.start, query.end) == ("2010-07-10T23:08:25Z", "2010-07-10T23:08:25.000005Z")
    assert ArchiveQuery(ME, queryid="q", start="2010-07-10T23:08:25Z").start == "2010-07-10T23:08:25Z"
    with pytest.raises(ValueError):
        ArchiveQuery(ME, queryid="q", start="tomorrow")
    with pytest.raises(TypeError):
        ArchiveQuery(ME, queryid="q", end=12)


# -- the query --------------------------------------------------------------------------------
def test_request_own_archive():
    query = ArchiveQuery(ME, queryid="q1", with_="romeo@montague.lit", start="2010-06-07T00:00:00Z",
                         end=datetime(2010, 7, 7, 13, 23, 54, tzinfo=timezone.utc), max=3)
    iq = query.request()
    assert iq.get("type") == "set" and iq.get("to") is None
    q = iq.find("{%s}query" % NS_MAM)
    assert q.get("queryid") == "q1"
    form = parse_form(q.find("{jabber:x:data}x"))
    assert form.type == "submit" and form.form_type == NS_MAM
    assert form.values() == {"with": JID("romeo@montague.lit"), "start": "2010-06-07T00:00:00Z",
                             "end": "2010-07-07T13:23:54Z"}
    assert parse_set(q.find("{%s}set" % NS_RSM)) == ResultSet()
    assert q.find("{%s}set/{%s}max" % (NS_RSM, NS_RSM)).text == "3"
    assert query.owner == JID("juliet@example.com")


def test_request_room_archive_last_page():
    iq = ArchiveQuery(ME, queryid="q2", archive=ROOM, before="", max=None).request()
    assert iq.get("to") == ROOM
    q = iq.find("{%s}query" % NS_MAM)
    assert q.find("{jabber:x:data}x") is None
    assert [c.tag for c in q.find("{%s}set" % NS_RSM)] == ["{%s}before" % NS_RSM]
    with pytest.raises(ValueError):
        ArchiveQuery(ME, queryid="q", after="a", before="b")
    with pytest.raises(ValueError):
        ArchiveQuery(ME, queryid="q", start="last week")


def result(queryid, archive_id, body, sender="juliet@example.com", stamp="2010-07-10T23:08:25Z",
           to=ME, msg_from="witch@shakespeare.lit"):
    frm = f" from='{sender}'" if sender else ""
    delay = f"<delay xmlns='urn:xmpp:delay' stamp='{stamp}'/>" if stamp else ""
    message = (f"<message xmlns='jabber:client' from='{msg_from}' to='{to}' type='chat'><body>{body}</body>"
               f"</message>") if body is not None else ""
    return X(f"<message id='aeb213' to='{to}'{frm}><result xmlns='{NS_MAM}' queryid='{queryid}' "
             f"id='{archive_id}'><forwarded xmlns='urn:xmpp:forward:0'>{delay}{message}</forwarded>"
             f"</result></message>")


def fin(complete=False, first=None, last=None, count=None, sender=None):
    frm = f" from='{sender}'" if sender else ""
    rs = ""
    if first is not None:
        rs += f"<first index='0'>{first}</first><last>{last}</last>"
    if count is not None:
        rs += f"<count>{count}</count>"
    flag = " complete='true'" if complete else ""
    return X(f"<iq type='result' id='x'{frm}><fin xmlns='{NS_MAM}'{flag}><set xmlns='{NS_RSM}'>{rs}</set>"
             f"</fin></iq>")


def test_results_collected_for_own_query_from_own_archive(caplog):
    query = ArchiveQuery(ME, queryid="q1")
    assert query.feed(result("q1", "28482-98726-73623", "Hail to thee"))
    assert query.feed(result("q1", "09af3-cc343-b409f", "And to thee", sender=None,
                             stamp="2010-07-10T23:09:32.5Z"))  # no from: our server for us
    assert not query.feed(result("other", "x1", "not this query"))
    assert not query.feed(X("<message from='juliet@example.com'><body>plain</body></message>"))
    with caplog.at_level(logging.WARNING, logger="fastxmpp.xep"):
        assert not query.feed(result("q1", "f1", "forged", sender="mallory@evil.example"))
        assert not query.feed(result("q1", "f2", "forged", sender="juliet@example.com/other"))
        assert not query.feed(result("q1", "f3", "forged", sender="@@@"))
    assert "forged" in caplog.text
    with caplog.at_level(logging.WARNING, logger="fastxmpp.xep"):
        assert query.feed(result("q1", "m1", "no stamp", stamp=None))      # ours, but malformed: dropped
        assert query.feed(result("q1", "m2", None))
        assert query.feed(result("q1", "m3", "bad stamp", stamp="soon"))
        assert query.feed(result("q1", "", "no id"))
        assert query.feed(X(f"<message from='juliet@example.com'><result xmlns='{NS_MAM}' queryid='q1' id='m4'/>"
                            "</message>"))
    assert query.dropped == 5
    page = query.finish(fin(complete=True, first="28482-98726-73623", last="09af3-cc343-b409f", count=2))
    assert [m.body for m in page] == ["Hail to thee", "And to thee"]
    assert [m.id for m in page.messages] == ["28482-98726-73623", "09af3-cc343-b409f"]
    assert page.messages[1].stamp == datetime(2010, 7, 10, 23, 9, 32, 500000, tzinfo=timezone.utc)
    assert page.messages[0].sender == "witch@shakespeare.lit"
    assert page.messages[0].archive == JID("juliet@example.com")
    assert (page.first, page.last, page.complete, page.count, len(page)) == (
        "28482-98726-73623", "09af3-cc343-b409f", True, 2, 2)
    assert page.following is None and page.next_after is None


def test_results_sharing_a_stamp_sender_in_another_case_and_empty_bodies():
    query = ArchiveQuery(ME, queryid="q2")
    same = "2010-07-10T23:08:25Z"
    assert query.feed(result("q2", "a1", "one", stamp=same))
    assert query.feed(result("q2", "a2", "two", stamp=same, sender="Juliet@Example.com"))  # the same JID
    assert query.feed(result("q2", "a3", "", stamp="2010-07-10T23:08:26Z"))
    assert query.feed(result("q2", "a4", "bad after good", stamp="2010-07-10T25:08:26Z"))  # hour 25: dropped
    assert query.feed(result("q2", "a5", "again", stamp=same))
    page = query.finish(fin())
    assert [(m.id, m.body) for m in page] == [("a1", "one"), ("a2", "two"), ("a3", ""), ("a5", "again")]
    assert page.messages[0].stamp == page.messages[1].stamp == datetime(2010, 7, 10, 23, 8, 25, tzinfo=timezone.utc)
    assert page.messages[2].stamp == datetime(2010, 7, 10, 23, 8, 26, tzinfo=timezone.utc)
    assert query.dropped == 1
    message_without_body = X("<message xmlns='jabber:client'><subject>s</subject></message>")
    assert mam.ArchivedMessage("x", page.messages[0].stamp, message_without_body, JID(ME)).body is None


def test_room_results_only_from_the_room():
    query = ArchiveQuery(ME, queryid="r1", archive=ROOM)
    assert query.feed(result("r1", "a1", "Thrice", sender=ROOM, msg_from=ROOM + "/firstwitch"))
    assert not query.feed(result("r1", "a2", "forged", sender=None))              # must come from the room
    assert not query.feed(result("r1", "a3", "forged", sender=ROOM + "/secondwitch"))
    assert not query.feed(result("r1", "a4", "forged", sender="juliet@example.com"))
    page = query.finish(fin(first="a1", last="a1"))
    assert [(m.id, m.sender, m.archive) for m in page] == [("a1", ROOM + "/firstwitch", JID(ROOM))]
    assert not page.complete and page.following == {"after": "a1"}


def test_finish():
    query = ArchiveQuery(ME, queryid="q1", before="")
    query.feed(result("q1", "a", "one"))
    query.feed(result("q1", "b", "two"))
    page = query.finish(fin())          # no first/last in the set: taken from the results
    assert (page.first, page.last, page.reverse, page.complete) == ("a", "b", True, False)
    assert page.next_before == "a" and page.following == {"before": "a"}
    empty = ArchiveQuery(ME, queryid="q2").finish(fin(complete=True, count=0))
    assert (empty.messages, empty.first, empty.last, empty.count) == ([], None, None, 0)
    with pytest.raises(InvalidArchiveResult):
        query.finish(X("<iq type='result' id='x'/>"))
    with pytest.raises(InvalidArchiveResult):
        query.finish(X(f"<iq type='result' id='x'><fin xmlns='{NS_MAM}'><set xmlns='{NS_RSM}'>"
                       "<count>lots</count></set></fin></iq>"))
    with pytest.raises(ItemNotFound):
        query.finish(X("<iq type='error' id='x'><error type='cancel'>"
                       "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"))


# -- the clients, through a fake one ------------------------------------------------------------
class FakeClient(HandlerRegistry):
    """Handlers, jid, and an iq() that delivers the scripted results for the query's id
    (as a server does: the result messages, then the IQ result)."""

    def __init__(self, archive):
        self._init_handlers()
        self.jid = JID(ME)
        self.archive = archive      # list of (archive id, body)
        self.requests = []
        self.forge = False

    def answer(self, stanza):
        self.requests.append(stanza)
        q = stanza.find("{%s}query" % NS_MAM)
        qid = q.get("queryid")
        rs = q.find("{%s}set" % NS_RSM)
        size = int(rs.findtext("{%s}max" % NS_RSM))
        ids = [a for a, _ in self.archive]
        after, before = rs.findtext("{%s}after" % NS_RSM), rs.find("{%s}before" % NS_RSM)
        if before is not None:
            end = ids.index(before.text) if before.text else len(ids)
            start = max(0, end - size)
            complete = start == 0
        else:
            start = ids.index(after) + 1 if after else 0
            end = min(len(ids), start + size)
            complete = end == len(ids)
        for archive_id, body in self.archive[start:end]:
            if self.forge:
                self._deliver(result(qid, "forged-" + archive_id, "forged", sender="mallory@evil.example"))
                self._deliver(result("other-" + qid, "other-" + archive_id, "other query"))
            self._deliver(result(qid, archive_id, body))
        if start < end:
            return fin(complete, ids[start], ids[end - 1], len(ids))
        return fin(complete, count=len(ids))

    def _deliver(self, stanza):
        for fn in list(self.handlers_for(stanza)):
            fn(stanza)


class SyncFake(FakeClient):
    def iq(self, stanza, timeout=None):
        return self.answer(stanza)


class AioFake(FakeClient):
    async def iq(self, stanza, timeout=None):
        return self.answer(stanza)


ARCHIVE = [("id%d" % i, "body %d" % i) for i in range(8)]
BODIES = [b for _, b in ARCHIVE]


def run(kind, client, what, *args, **kw):
    """Call a MAM method of the driver ``kind``; pages() is collected into a list."""
    feature = (AioMAM if kind == "aio" else SyncMAM)(client)
    method = getattr(feature, what)
    if kind == "sync":
        out = method(*args, **kw)
        return (list(out) if what == "pages" else out), feature

    async def go():
        if what == "pages":
            return [page async for page in method(*args, **kw)]
        return await method(*args, **kw)
    return asyncio.run(go()), feature


@pytest.fixture(params=["aio", "sync"])
def kind(request):
    return request.param


def fake(kind):
    return (AioFake if kind == "aio" else SyncFake)(ARCHIVE)


def test_query_one_page(kind):
    client = fake(kind)
    client.forge = True
    page, feature = run(kind, client, "query", "romeo@montague.lit", max=3)
    assert [m.body for m in page] == BODIES[:3] and (page.first, page.last, page.count) == ("id0", "id2", 8)
    assert not page.complete
    assert client.handlers_for(X("<message/>")) == []    # the handler went with the query
    assert not feature._queries


def test_pages_forward_and_backward(kind):
    client = fake(kind)
    client.forge = True
    pages, _ = run(kind, client, "pages", max=3)
    assert [[m.body for m in p] for p in pages] == [BODIES[0:3], BODIES[3:6], BODIES[6:8]]
    assert [p.complete for p in pages] == [False, False, True]
    pages, _ = run(kind, fake(kind), "pages", max=3, reverse=True)
    assert [[m.body for m in p] for p in pages] == [BODIES[5:8], BODIES[2:5], BODIES[0:2]]
    assert [p.complete for p in pages] == [False, False, True]
    # paging keywords are honoured by pages() too: from after id4 on
    pages, _ = run(kind, fake(kind), "pages", max=3, after="id4")
    assert [m.body for p in pages for m in p] == BODIES[5:]


def test_pages_stop_on_an_empty_page(kind):
    client = (AioFake if kind == "aio" else SyncFake)([])
    pages, _ = run(kind, client, "pages", max=3)
    assert len(pages) == 1 and pages[0].messages == [] and pages[0].complete
    assert len(client.requests) == 1


def test_handler_only_while_a_query_is_in_flight():
    client = SyncFake(ARCHIVE)
    feature = SyncMAM(client)
    assert client.handlers_for(X("<message/>")) == []    # nothing registered on construction
    query = feature._start(max=2)
    other = feature._start(max=2)
    assert client.handlers_for(X("<message/>")) == [feature._on_message]
    feature._done(query)
    assert client.handlers_for(X("<message/>")) == [feature._on_message]
    feature._done(other)
    feature._done(other)                                  # twice is harmless
    assert client.handlers_for(X("<message/>")) == []
    assert query.queryid != other.queryid


def test_error_leaves_no_handler():
    class Failing(SyncFake):
        def iq(self, stanza, timeout=None):
            raise ItemNotFound("no such archive")
    client = Failing(ARCHIVE)
    feature = SyncMAM(client)
    with pytest.raises(ItemNotFound):
        feature.query(archive=ROOM)
    assert client.handlers_for(X("<message/>")) == [] and not feature._queries


def test_module_surface():
    for module in (mam, rsm):
        for name in module.__all__:
            assert getattr(module, name).__doc__ or name.isupper() or name == "Stamp", name
    assert issubclass(InvalidArchiveResult, RemoteInvalidResult) and issubclass(InvalidArchiveResult, ValueError)
    assert Page(messages=[], first=None, last=None, complete=True, count=None).following is None
