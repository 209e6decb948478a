"""connect() never reports a session that a session-started handler already ended.

``on_session_started`` (and the features' session listeners) run inside connect(), once the
session is up.  A handler that calls ``abort()`` (or, in the blocking client, ``close()``)
there ends that session before connect() returns: connect() must then raise the client's
:class:`ConnectionLost`, as it does when the connection is lost during negotiation, not
return as if the client were connected (it used to: ``error`` None, ``is_ready`` False).
Both clients, against the private Prosody.
"""
from __future__ import annotations

import asyncio

import pytest

from fastxmpp import aio, sync
from fastxmpp.backoff import Backoff

pytestmark = pytest.mark.prosody


def sync_client(prosody, jid, password, **kw):
    return sync.Client(jid, password, host=prosody.host, port=prosody.port,
                       ca_file=str(prosody.ca_file), keepalive_interval=None, **kw)


def aio_client(prosody, jid, password, **kw):
    return aio.Client(jid, password, host=prosody.host, port=prosody.port,
                      ca_file=str(prosody.ca_file), keepalive=None, **kw)


def abort_first_session(client, then=None):
    """Set ``client.on_session_started`` to abort() the first session (and call ``then``
    with each); returns the list of the sessions started."""
    sessions = []

    def started(event):
        sessions.append(event)
        if then is not None:
            then(event)
        if len(sessions) == 1:
            client.abort()
    client.on_session_started = started
    return sessions


def test_sync_abort_in_on_session_started_fails_connect(prosody, account):
    jid, pw = account()
    c = sync_client(prosody, jid + "/r", pw)
    sessions = abort_first_session(c)
    try:
        with pytest.raises(sync.ConnectionLost) as info:
            c.connect()
        assert len(sessions) == 1 and not c.is_ready
        assert c.error is info.value and "abort()" in str(info.value.__cause__)
        # abort() is a connection loss: the session is kept for resumption
        assert c.sm_state() is not None
        c.backoff = Backoff(initial=0.01, maximum=0.05)
        assert c.reconnect(max_attempts=5).resumed
        assert c.is_ready and c.ping(timeout=10).get("type") == "result"
    finally:
        c.close()


def test_sync_close_in_on_session_started_fails_connect(prosody, account):
    jid, pw = account()
    c = sync_client(prosody, jid + "/r", pw)
    c.on_session_started = lambda event: c.close()
    try:
        with pytest.raises(sync.ConnectionLost, match=r"close\(\) was called"):
            c.connect()
        assert not c.is_ready and c.stream.state == "closed"
        assert c.error is None  # close() is the clean way out, not a failure
        c.on_session_started = None
        assert c.connect() is not None and c.is_ready  # and the client connects again
    finally:
        c.close()


def test_sync_abort_in_a_session_listener_fails_connect(prosody, account):
    jid, pw = account()
    c = sync_client(prosody, jid + "/r", pw)
    c.add_session_listener(lambda event: c.abort())
    try:
        with pytest.raises(sync.ConnectionLost):
            c.connect()
        assert not c.is_ready
    finally:
        c.close()


def test_aio_abort_in_on_session_started_fails_connect(prosody, account):
    jid, pw = account()

    async def main():
        c = aio_client(prosody, jid + "/r", pw)
        sessions = abort_first_session(c)
        try:
            with pytest.raises(aio.ConnectionLost) as info:
                await c.connect()
            # is_ready is False at once, before abort()'s connection_lost() (which comes with
            # the loop's next iteration; before it on Python 3.11, where wait_for() adds one)
            assert len(sessions) == 1 and c.error is info.value and not c.is_ready
            await asyncio.sleep(0)
            assert c.error is info.value and not c.is_ready
            # abort() is a connection loss: the session is kept for resumption
            resume = c.stream.sm_state()
            assert resume is not None
            await c.connect(resume=resume)
            assert c.is_ready and len(sessions) == 2 and sessions[-1].resumed
            await c.iq(_ping(prosody.domain))
        finally:
            await c.close()
    asyncio.run(asyncio.wait_for(main(), 60))


def test_aio_abort_in_on_session_started_with_reconnect_resumes(prosody, account):
    """With ``reconnect=True`` the aborted session is a loss like any other: connect() says
    it failed, and a new connection resumes the session."""
    jid, pw = account()

    async def main():
        c = aio_client(prosody, jid + "/r", pw, reconnect=True)
        c.backoff = Backoff(initial=0.01, maximum=0.05)
        sessions: asyncio.Queue = asyncio.Queue()
        abort_first_session(c, sessions.put_nowait)
        try:
            with pytest.raises(aio.ConnectionLost):
                await c.connect()
            assert not (await sessions.get()).resumed
            assert (await asyncio.wait_for(sessions.get(), 30)).resumed
            while not c.is_ready:
                await asyncio.sleep(0.01)
            await c.iq(_ping(prosody.domain))
        finally:
            await c.close()
    asyncio.run(asyncio.wait_for(main(), 60))


def test_aio_abort_in_a_session_listener_fails_connect(prosody, account):
    jid, pw = account()

    async def main():
        c = aio_client(prosody, jid + "/r", pw)
        c.add_session_listener(lambda event: c.abort())
        try:
            with pytest.raises(aio.ConnectionLost) as info:
                await c.connect()
            assert not c.is_ready  # at once, before abort()'s connection_lost()
            await asyncio.sleep(0)
            assert not c.is_ready and c.error is info.value
        finally:
            await c.close()
    asyncio.run(asyncio.wait_for(main(), 60))


def _ping(to):
    from fastxmpp.stanza import iq

    el = iq(type="get", to=to)
    el.subelement("{urn:xmpp:ping}ping")
    return el
