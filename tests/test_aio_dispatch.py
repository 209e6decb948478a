"""The asyncio client's stanza dispatch, offline: handlers by kind, failures, async handlers."""
from __future__ import annotations

import asyncio
import logging
import ssl

from fastxmpp.aio import Client
from fastxmpp.stanza import iq, message, presence


def make_client():
    return Client("juliet@example.com/balcony", "pw", keepalive=None,
                  ssl_context=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))


def test_handlers_get_their_kind_in_order_and_a_failing_one_does_not_stop_the_rest(caplog):
    c = make_client()
    seen = []

    def broken(st):
        raise RuntimeError("boom")

    c.add_handler("message", lambda st: seen.append(("m1", st.findtext("{jabber:client}body"))))
    c.add_handler("message", broken)
    c.add_handler("message", lambda st: seen.append(("m2", st.findtext("{jabber:client}body"))))
    c.add_handler("presence", lambda st: seen.append(("p", st.get("type"))))
    c.add_handler("iq", lambda st: seen.append(("iq", st.get("id"))))
    with caplog.at_level(logging.ERROR, logger="fastxmpp.aio"):
        c._dispatch(message(to="a@b", body="hi"))
        c._dispatch(presence(type="unavailable"))
        c._dispatch(iq(type="get", id="q1"))
    assert seen == [("m1", "hi"), ("m2", "hi"), ("p", "unavailable"), ("iq", "q1")]
    assert "boom" in caplog.text


def test_a_coroutine_handler_runs_as_a_task():
    async def main():
        c = make_client()
        done = asyncio.get_running_loop().create_future()

        async def handler(st):
            await asyncio.sleep(0)
            done.set_result(st.findtext("{jabber:client}body"))

        c.on_message(handler)
        c._dispatch(message(body="later"))
        assert not done.done() and len(c._tasks) == 1
        assert await asyncio.wait_for(done, 5) == "later"
    asyncio.run(main())
