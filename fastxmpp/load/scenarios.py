"""Scenarios of ``python -m fastxmpp load``: what each user does once logged in.

A scenario is a subclass of :class:`Scenario` with three coroutine hooks, each called once
per logged-in user with that user's :class:`User` context::

    from fastxmpp import message
    from fastxmpp.load.recorder import read_stamp, stamp
    from fastxmpp.load.scenarios import Scenario, User

    class SelfChat(Scenario):
        kind = "message"          # what the report calls the measured stanzas

        async def setup(self, user: User) -> None:     # every user's setup, then every run
            user.client.add_handler("message", lambda stanza: self.received(user, stanza))

        async def run(self, user: User) -> None:       # the measured part
            async for seq in user.paced(self.config.messages):
                await user.client.send(stamp(message(to=user.full_jid, body="hi"), seq))
                user.recorder.record_sent()

        def received(self, user: User, stanza) -> None:
            got = read_stamp(stanza)
            if got is not None:
                user.recorder.record_delivery(user, user, got[1], got[0])

The runner calls :meth:`Scenario.prepare` once with every logged-in user, then every
user's :meth:`~Scenario.setup` (all at once), then every :meth:`~Scenario.run`, waits
(at most ``--drain`` seconds) for the awaited deliveries, then every
:meth:`~Scenario.teardown`; the ``--duration`` cap stops it all.  ``--scenario NAME`` picks
a built-in (:data:`BUILTINS`), ``--scenario package.module:Class`` a class of your own
(importable by its module name, also in the ``--workers`` processes).

Built-ins: ``login``, ``chat``, ``presence``, ``iq``, ``idle``, ``muc`` and ``roster``
(see the classes below and docs/howto/load-testing.md).
"""
from __future__ import annotations

import asyncio
import importlib
import time
from functools import partial
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, ClassVar, Dict, List, Optional, Set, Tuple, Type

from ..element import Element
from .recorder import Recorder, read_stamp, stamp

if TYPE_CHECKING:
    from .runner import LoadConfig, LoadRunner

__all__ = ["Scenario", "User", "BUILTINS", "load_scenario", "Login", "Chat", "PresenceStorm",
           "Ping", "Idle", "MUCFanout", "RosterStorm", "NS_PING"]

NS_PING = "urn:xmpp:ping"
_MESSAGE = "{jabber:client}message"
_PRESENCE = "{jabber:client}presence"
_IQ = "{jabber:client}iq"
_BODY = "{jabber:client}body"
_PING = "{%s}ping" % NS_PING
_ERROR = "{jabber:client}error"


class User:
    """One simulated user, as a scenario sees it.

    ``index`` (0-based in this process) and ``number`` (0-based over the whole run, the
    account ``username`` is ``load{number + 1}``), ``jid`` (bare) and ``full_jid`` (bound),
    ``password``, ``client`` (a logged-in :class:`fastxmpp.aio.Client`), ``peer`` (the paired
    user, see :func:`~fastxmpp.load.runner.pair_users`), ``recorder`` (the run's
    :class:`~fastxmpp.load.recorder.Recorder`), ``config`` (the
    :class:`~fastxmpp.load.runner.LoadConfig`) and ``stop`` (an :class:`asyncio.Event` set
    when the ``--duration`` cap is reached)."""

    __slots__ = ("index", "number", "username", "jid", "password", "client", "peer", "full_jid",
                 "sent", "seen", "login_ok", "closing", "_runner")

    def __init__(self, index: int, number: int, username: str, jid: str, password: str,
                 runner: "LoadRunner") -> None:
        self.index = index
        self.number = number
        self.username = username
        self.jid = jid
        self.password = password
        self.client: Any = None
        self.peer: Optional["User"] = None
        self.full_jid = ""
        self.sent = 0
        #: Per sender number: which sequence numbers arrived (exact loss and duplicates).
        self.seen: Dict[int, bytearray] = {}
        self.login_ok = False
        self.closing = False
        self._runner = runner

    @property
    def recorder(self) -> Recorder:
        """The run's recorder (counters and latency histogram)."""
        return self._runner

    @property
    def config(self) -> "LoadConfig":
        """The run's configuration (``messages``, ``rate``, ``hold``...)."""
        return self._runner.config

    @property
    def stop(self) -> asyncio.Event:
        """Set when the run must stop (the ``--duration`` cap)."""
        return self._runner.stop_event

    @property
    def domain(self) -> str:
        """The XMPP domain of the accounts."""
        return self._runner.target.domain

    def user_by_jid(self, full_jid: str) -> Optional["User"]:
        """The logged-in user of this process bound to ``full_jid``, or None."""
        return self._runner.by_full_jid.get(full_jid)

    async def paced(self, count: int) -> AsyncIterator[int]:
        """Yield ``0..count-1`` at the run's pace (``--rate``, ``--total-rate``), until the
        stop signal; with ``--loop``, ``0, 1, 2...`` until the end of ``--duration``."""
        async for seq in self._runner.pacer.ticks(None if self.config.loop else count, self.stop):
            yield seq

    async def send_stamped(self, build: Callable[[int], Element], deliveries: int = 1) -> None:
        """Send ``--messages`` stanzas at the pace: ``build(seq)`` makes each, it is stamped
        (:func:`~fastxmpp.load.recorder.stamp`), sent and recorded as awaiting
        ``deliveries`` deliveries.  A failed send is counted (``send:...``) and ends it."""
        recorder = self._runner
        pacer = recorder.pacer
        client = self.client
        count = None if recorder.config.loop else recorder.config.messages
        if pacer.rate > 0 and callable(getattr(client, "send_nowait", None)):
            # paced: sent straight from the pacer's shared tick (no wake-up of this task per
            # stanza); at a few stanzas per second per user, write flow control never waits
            send_nowait, record_sent = client.send_nowait, recorder.record_sent

            def one(seq: int) -> bool:
                try:
                    send_nowait(stamp(build(seq), seq))
                except Exception as exc:  # noqa: BLE001
                    recorder.count_error("send", exc)
                    return False
                self.sent += 1
                record_sent(deliveries)
                return True

            await pacer.paced_calls(count, one, self.stop)
            return
        async for seq in pacer.ticks(count, self.stop):
            try:
                await client.send(stamp(build(seq), seq))
            except Exception as exc:  # noqa: BLE001
                recorder.count_error("send", exc)
                return
            self.sent += 1
            recorder.record_sent(deliveries)

    def read_stamp(self, stanza: Element) -> Optional[Tuple[int, int]]:
        """``(t, seq)`` of a stanza received by this user; None without a stamp (or with a
        malformed one, then counted as unexpected)."""
        try:
            return read_stamp(stanza)
        except ValueError:
            self.recorder.record_unexpected()
            return None

    async def hold(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the ``--duration`` cap comes first."""
        await self._runner.hold(seconds)

    def __repr__(self) -> str:
        return f"<User {self.number} {self.full_jid or self.jid}>"


class Scenario:
    """Base class of the scenarios: override the hooks you need.

    Class attributes: ``name`` (for ``--scenario``), ``kind`` (what the report calls the
    measured stanzas: "message", "presence", "iq", or None when nothing is measured after the
    login), ``group`` (how many consecutive users must stay in one ``--workers`` process,
    see :meth:`group_size`), ``min_users``, ``keepalive`` (seconds between whitespace
    keepalives, or None), ``drain`` (wait for awaited deliveries after the runs) and
    ``measure_server_memory``."""

    name: ClassVar[str] = ""
    kind: ClassVar[Optional[str]] = None
    group: ClassVar[int] = 1
    min_users: ClassVar[int] = 1
    keepalive: ClassVar[Optional[float]] = None
    drain: ClassVar[bool] = True
    #: Report the server's memory per session (``server_memory``) when the server is
    #: local and its pid known (the private Prosody).
    measure_server_memory: ClassVar[bool] = False

    def __init__(self, config: "LoadConfig") -> None:
        self.config = config
        #: The account numbers (0-based) of this process's users, set by the runner.
        self.numbers: range = range(config.users)

    def _grouped(self, user: User, size: int) -> int:
        """The group of ``size`` consecutive users ``user`` is in; the last group of this
        process takes the users left over."""
        last = max(self.numbers.start // size, (self.numbers.stop // size) - 1)
        return min(user.number // size, last)

    @classmethod
    def check(cls, config: "LoadConfig") -> None:
        """Raise ValueError when ``config`` does not suit this scenario."""
        if config.users < cls.min_users:
            raise ValueError(f"the {cls.name or cls.__name__} scenario needs at least {cls.min_users} users")

    @classmethod
    def group_size(cls, config: "LoadConfig") -> int:
        """Consecutive users that must run in the same process (2 for pairs, a room...)."""
        return cls.group

    def expected(self, users: int) -> int:
        """Stanzas the run should send (the report's ``messages.expected``)."""
        return self.config.messages * users if self.kind is not None else 0

    def prepare(self, users: List[User]) -> None:
        """Called once, before any setup, with every user of this process that logged in."""

    def takes_part(self, user: User) -> bool:
        """Whether ``user``'s :meth:`run` is started (the report's ``senders``)."""
        return True

    async def setup(self, user: User) -> None:
        """Prepare one user (handlers, joins...); every setup ends before any run starts."""

    async def run(self, user: User) -> None:
        """The measured part for one user."""

    async def teardown(self, user: User) -> None:
        """After the runs and the drain (before the sessions are closed)."""

    def report(self) -> Dict[str, Any]:
        """Extra counts for the report's ``scenario_stats`` (the recorder's ``stats`` are
        added; they are summed over workers)."""
        return {}


class Login(Scenario):
    """``login``: log in, then close."""

    name = "login"


class Idle(Scenario):
    """``idle``: initial presence, then hold the session open for ``--hold`` seconds with
    whitespace keepalives; the report gives the most sessions open at once and, against the
    private Prosody, the server's memory per session (its RSS before the logins and while
    the sessions are held)."""

    name = "idle"
    keepalive = 30.0
    measure_server_memory = True

    async def setup(self, user: User) -> None:
        """Send the initial presence (the server keeps presence state for the session)."""
        user.client.send_nowait(Element(_PRESENCE))

    async def run(self, user: User) -> None:
        """Hold the session."""
        await user.hold(self.config.hold)


class _Stamped(Scenario):
    """Common part of the scenarios that count stamped stanzas sent to a peer."""

    group = 2
    min_users = 2

    def takes_part(self, user: User) -> bool:
        """Users whose peer logged in (the others are counted as ``traffic:PeerNotLoggedIn``)."""
        if user.peer is not None and user.peer.login_ok:
            return True
        user.recorder.errors["traffic:PeerNotLoggedIn"] += 1
        return False

    def build(self, user: User, seq: int) -> Element:
        """The stanza number ``seq`` from ``user`` to its peer (stamped by the caller)."""
        raise NotImplementedError

    async def run(self, user: User) -> None:
        """Send ``--messages`` stamped stanzas to the peer at ``--rate``."""
        await user.send_stamped(lambda seq: self.build(user, seq))

    def received(self, receiver: User, stanza: Element) -> None:
        """A stanza for ``receiver``: a bounce is an error, a stamp from its peer a delivery."""
        if stanza.get("type") == "error":  # the server bounced one of ours
            self._bounced(receiver, stanza)
            return
        got = receiver.read_stamp(stanza)
        if got is None:  # e.g. the server reflecting our own initial presence
            return
        sender = receiver.user_by_jid(stanza.get("from", ""))
        if sender is None or sender.peer is not receiver:
            receiver.recorder.record_unexpected()
            return
        receiver.recorder.record_delivery(receiver, sender, got[1], got[0])

    @staticmethod
    def _bounced(receiver: User, stanza: Element) -> None:
        recorder = receiver.recorder
        err = stanza.find(_ERROR)
        cond = err[0].localname if err is not None and len(err) else "unknown"
        recorder.errors[f"bounced:{stanza.tag.rsplit('}', 1)[1]}({cond})"] += 1
        recorder.error_kinds[("stanza-error", cond)] += 1


class Chat(_Stamped):
    """``chat``: pairs of users exchange ``--messages`` chat messages each at ``--rate``."""

    name = "chat"
    kind = "message"

    async def setup(self, user: User) -> None:
        """Count the stamped messages that arrive."""
        user.client.add_handler("message", partial(self.received, user))

    def build(self, user: User, seq: int) -> Element:
        """A chat message to the peer, its body padded to ``--body-size``."""
        assert user.peer is not None
        n = str(seq)
        el = Element(_MESSAGE, {"to": user.peer.full_jid, "type": "chat", "id": f"l{user.index}-{n}"})
        body = "load " + n
        size = self.config.body_size
        if size > len(body):
            body += " " + "x" * (size - len(body) - 1)
        el.subelement(_BODY, text=body)
        return el


class PresenceStorm(_Stamped):
    """``presence``: like ``chat`` with directed presence (after an initial presence)."""

    name = "presence"
    kind = "presence"

    async def setup(self, user: User) -> None:
        """Count the stamped presences; send the initial presence (the session is available)."""
        user.client.add_handler("presence", partial(self.received, user))
        user.client.send_nowait(Element(_PRESENCE))

    def build(self, user: User, seq: int) -> Element:
        """A directed presence to the peer."""
        assert user.peer is not None
        return Element(_PRESENCE, {"to": user.peer.full_jid, "id": f"l{user.index}-{seq}"})


def _answer_ping(request: Element) -> Element:
    """A peer's XEP-0199 ping answered (the client fills in id and to)."""
    return Element(_IQ, {"type": "result"})


class Ping(Scenario):
    """``iq``: ``--messages`` XEP-0199 pings per user to the server (or with ``--iq-target
    peer`` to the paired user), the round trip measured; a timeout counts as lost."""

    name = "iq"
    kind = "iq"
    group = 2
    drain = False

    @classmethod
    def check(cls, config: "LoadConfig") -> None:
        """Pinging a peer needs two users."""
        super().check(config)
        if config.iq_target == "peer" and config.users < 2:
            raise ValueError("--iq-target peer needs at least 2 users")

    async def setup(self, user: User) -> None:
        """Answer the peer's pings."""
        if self.config.iq_target == "peer":
            user.client.add_iq_handler(_PING, _answer_ping, types=("get",))

    def takes_part(self, user: User) -> bool:
        """Everyone pings the server; a peer is pinged only when it logged in."""
        return self.config.iq_target == "server" or (user.peer is not None and user.peer.login_ok)

    async def run(self, user: User) -> None:
        """Ping at ``--rate`` (several in flight), or one round trip after the other at rate 0."""
        cfg = self.config
        client = user.client
        recorder = user.recorder
        to = user.peer.full_jid if cfg.iq_target == "peer" and user.peer is not None else user.domain
        loop = asyncio.get_running_loop()
        pending: List["asyncio.Future[None]"] = []

        async def one() -> None:
            ping = Element(_IQ, {"type": "get", "to": to})
            ping.subelement(_PING)
            recorder.record_sent()
            user.sent += 1
            t0 = loop.time()
            try:
                await client.iq(ping, timeout=cfg.iq_timeout)
            except asyncio.TimeoutError:
                recorder.count_error("iq", asyncio.TimeoutError(), "Timeout")
                return
            except Exception as exc:  # noqa: BLE001
                recorder.count_error("iq", exc)
                return
            recorder.record_reply(int((loop.time() - t0) * 1e6))

        try:
            async for _ in user.paced(cfg.messages):
                if not client.is_ready:
                    recorder.errors["iq:NotConnected"] += 1
                    return
                if cfg.rate > 0:
                    pending.append(asyncio.ensure_future(one()))
                else:
                    await one()  # one round trip in flight per user
            if pending:
                await asyncio.gather(*pending)
        finally:
            for fut in pending:
                fut.cancel()


class MUCFanout(Scenario):
    """``muc``: rooms of ``--room-size`` K occupants (users ``load1..loadK`` in the first
    room, and so on); every occupant sends ``--messages`` stamped groupchat messages at
    ``--rate``, and each delivery to each other occupant is counted (loss and duplicates
    exact, one-way latency).  Joins go through ``client.muc`` (XEP-0045)."""

    name = "muc"
    kind = "message"

    def __init__(self, config: "LoadConfig") -> None:
        super().__init__(config)
        self._rooms: Dict[int, List[User]] = {}
        self._ready: Dict[int, asyncio.Event] = {}
        self._joined: Dict[int, Set[int]] = {}
        self._by_nick: Dict[str, User] = {}
        self._room: Dict[int, Any] = {}
        self._service = ""

    @classmethod
    def check(cls, config: "LoadConfig") -> None:
        """A room holds at least two occupants."""
        super().check(config)
        if config.room_size < 2:
            raise ValueError("--room-size must be at least 2")
        if config.users < config.room_size:
            raise ValueError("the muc scenario needs --users >= --room-size")

    @classmethod
    def group_size(cls, config: "LoadConfig") -> int:
        """A room stays in one process."""
        return config.room_size

    def room_of(self, user: User) -> int:
        """The room number of ``user`` (the last room takes the users left over)."""
        return self._grouped(user, self.config.room_size)

    def room_jid(self, room: int) -> str:
        """The bare JID of room number ``room``."""
        return f"{self.config.user_prefix}room{room + 1}@{self._service}"

    def prepare(self, users: List[User]) -> None:
        """Group the users by room; the first one of each creates it."""
        if users:
            self._service = self.config.muc_domain or f"conference.{users[0].domain}"
        for user in users:
            self._rooms.setdefault(self.room_of(user), []).append(user)
            self._by_nick[user.username] = user
        for room in self._rooms:
            self._ready[room] = asyncio.Event()
            self._joined[room] = set()

    async def setup(self, user: User) -> None:
        """Join the room (the room's first user creates it, the others wait for that)."""
        from ..xep.muc import History

        room = self.room_of(user)
        user.client.add_handler("message", lambda st, u=user: self.received(u, st))
        first = self._rooms[room][0] is user
        if not first:
            await self._ready[room].wait()
        try:
            self._room[user.number] = await user.client.muc.join(
                self.room_jid(room), user.username, history=History(maxstanzas=0),
                timeout=self.config.iq_timeout)
            self._joined[room].add(user.number)
        except Exception as exc:  # noqa: BLE001
            user.recorder.count_error("join", exc)
        finally:
            if first:
                self._ready[room].set()

    def takes_part(self, user: User) -> bool:
        """Occupants that joined."""
        return user.number in self._joined.get(self.room_of(user), ())

    async def run(self, user: User) -> None:
        """Send the groupchat messages; each awaits a delivery to every other occupant."""
        room = self.room_of(user)
        to = self.room_jid(room)

        def build(seq: int) -> Element:
            el = Element(_MESSAGE, {"to": to, "type": "groupchat", "id": f"m{user.number}-{seq}"})
            el.subelement(_BODY, text=f"load {seq}")
            return el

        await user.send_stamped(build, len(self._joined[room]) - 1)

    def received(self, receiver: User, stanza: Element) -> None:
        """A groupchat message: the sender is the occupant's nick; our own echo is skipped."""
        if stanza.get("type") != "groupchat":
            return
        got = receiver.read_stamp(stanza)
        if got is None:
            return
        room, _, nick = stanza.get("from", "").partition("/")
        if nick == receiver.username:
            return
        sender = self._by_nick.get(nick)
        if sender is None or self.room_jid(self.room_of(sender)) != room:
            receiver.recorder.record_unexpected()
            return
        receiver.recorder.record_delivery(receiver, sender, got[1], got[0])

    async def teardown(self, user: User) -> None:
        """Leave the room."""
        room = self._room.get(user.number)
        if room is not None and user.client.is_ready:
            try:
                await room.leave(timeout=5.0)
            except Exception:  # noqa: BLE001 - best effort, the session closes next
                pass

    def report(self) -> Dict[str, Any]:
        """Rooms and occupants."""
        return {"rooms": len(self._rooms), "occupants": sum(len(j) for j in self._joined.values())}


class RosterStorm(Scenario):
    """``roster``: groups of ``--contacts`` C + 1 users, everyone a contact of everyone else
    in its group (subscription "both").  Setup: each user sends its initial presence and
    subscribes to its contacts through ``client.subscriptions`` (policy accept-all, so the
    contacts approve), and waits until its roster (``client.roster``, kept by the roster
    pushes) holds every contact with subscription "both".  The roster push latency is
    measured: from sending each subscription request to the first roster push for that
    contact (``scenario_latency_ms.roster_push``).  Run: each user broadcasts
    ``--messages`` stamped presences at ``--rate``; the server sends each to the C
    contacts, each delivery counted (loss and duplicates exact, one-way latency).  The
    roster pushes received are counted (``scenario_stats.roster_pushes``)."""

    name = "roster"
    kind = "presence"

    def __init__(self, config: "LoadConfig") -> None:
        super().__init__(config)
        self._group: Dict[int, List[User]] = {}
        self._by_bare: Dict[str, User] = {}

    @classmethod
    def check(cls, config: "LoadConfig") -> None:
        """A group is C + 1 users."""
        super().check(config)
        if config.contacts < 1:
            raise ValueError("--contacts must be at least 1")
        if config.users < config.contacts + 1:
            raise ValueError("the roster scenario needs --users >= --contacts + 1")

    @classmethod
    def group_size(cls, config: "LoadConfig") -> int:
        """A group of contacts stays in one process."""
        return config.contacts + 1

    def group_of(self, user: User) -> int:
        """The group number of ``user`` (the last group takes the users left over)."""
        return self._grouped(user, self.config.contacts + 1)

    def prepare(self, users: List[User]) -> None:
        """Group the users."""
        for user in users:
            self._group.setdefault(self.group_of(user), []).append(user)
            self._by_bare[user.jid] = user

    def contacts(self, user: User) -> List[User]:
        """The users in ``user``'s roster."""
        return [u for u in self._group[self.group_of(user)] if u is not user]

    async def setup(self, user: User) -> None:
        """Subscribe to every contact, and wait until they are all "both"."""
        from ..im.events import RosterItemAdded, RosterItemChanged

        client = user.client
        recorder = user.recorder
        wanted = {c.jid for c in self.contacts(user)}
        done = asyncio.Event()
        asked: Dict[str, float] = {}  # contact -> when the subscription request was sent
        clock = time.perf_counter

        def check() -> None:
            roster = client.roster
            if all(j in roster and roster[j].subscription == "both" for j in wanted):
                done.set()

        def pushed(event: Any) -> None:
            if isinstance(event, (RosterItemAdded, RosterItemChanged)):
                recorder.count("roster_pushes")
                t0 = asked.pop(str(event.item.jid), None)
                if t0 is not None:  # the push our subscription request caused
                    recorder.record_latency("roster_push", int((clock() - t0) * 1e6))
                check()

        client.add_handler("presence", lambda st, u=user: self.received(u, st))
        client.subscriptions.policy = "accept-all"
        client.roster.on_event(pushed)
        await client.roster.fetch()
        await client.presence.available()
        for contact in self.contacts(user):
            item = client.roster.get(contact.jid)
            if item is None or item.subscription not in ("to", "both"):
                asked[contact.jid] = clock()
                await client.subscriptions.subscribe(contact.jid)
        check()
        try:
            await asyncio.wait_for(done.wait(), self.config.login_timeout)
        except asyncio.TimeoutError:
            recorder.count_error("subscribe", asyncio.TimeoutError(), "Timeout")

    async def run(self, user: User) -> None:
        """Broadcast the stamped presences; each awaits a delivery to every contact."""
        def build(seq: int) -> Element:
            el = Element(_PRESENCE, {"id": f"p{user.number}-{seq}"})
            el.subelement("{jabber:client}status", text=f"load {seq}")
            return el

        await user.send_stamped(build, len(self.contacts(user)))

    def received(self, receiver: User, stanza: Element) -> None:
        """A stamped presence broadcast by a contact."""
        if stanza.get("type") is not None:
            return
        got = receiver.read_stamp(stanza)
        if got is None:
            return
        sender = self._by_bare.get(stanza.get("from", "").partition("/")[0])
        if sender is None or sender is receiver:  # our own broadcast comes back too
            if sender is None:
                receiver.recorder.record_unexpected()
            return
        if self.group_of(sender) != self.group_of(receiver):
            receiver.recorder.record_unexpected()
            return
        receiver.recorder.record_delivery(receiver, sender, got[1], got[0])

    def report(self) -> Dict[str, Any]:
        """The groups of contacts."""
        return {"groups": len(self._group)}


#: The built-in scenarios by name.
BUILTINS: Dict[str, Type[Scenario]] = {
    cls.name: cls for cls in (Login, Chat, PresenceStorm, Ping, Idle, MUCFanout, RosterStorm)}


def load_scenario(name: str) -> Type[Scenario]:
    """The scenario class ``name``: a built-in name (:data:`BUILTINS`) or
    ``package.module:Class`` (imported; a :class:`Scenario` subclass).  Raises ValueError."""
    cls = BUILTINS.get(name)
    if cls is not None:
        return cls
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"unknown scenario {name!r}: one of {', '.join(BUILTINS)} or module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"scenario {name!r}: cannot import {module_name!r}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
    if not (isinstance(obj, type) and issubclass(obj, Scenario)):
        raise ValueError(f"scenario {name!r} is not a subclass of fastxmpp.load.scenarios.Scenario")
    return obj
