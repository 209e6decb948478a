"""Locust integration: ``XMPPUser``, a Locust ``User`` that owns one blocking fastxmpp client.

Importing this module imports :mod:`locust` (install it yourself: fastxmpp does
not depend on it; nothing else in fastxmpp imports this module).  Locust runs
users as gevent greenlets and monkey-patches :mod:`socket`, :mod:`ssl` and
:mod:`time`, so the blocking driver :class:`fastxmpp.sync.Client` cooperates.

Every timed operation fires a Locust request event with ``request_type="xmpp"``:
``login`` (connect + TLS + SASL + bind), ``iq:<name>`` round trips and
``message:<name>`` round trips (a chat message to the user's own full JID,
timed until the server delivers it back).  Failures fire the event with the
exception, as Locust expects.

Subclass it in a locustfile (``examples/locustfile.py`` in the repository)::

    from locust import task, between
    from fastxmpp.load.locust import XMPPUser

    class Chatter(XMPPUser):
        domain = "example.net"
        wait_time = between(0.5, 1.5)

        @task
        def ping_server(self):
            self.ping()

Run with ``locust -f locustfile.py --host xmpp://127.0.0.1:5222``.  Accounts
are ``{user_prefix}{n}@{domain}`` with ``n`` counting from ``first_user`` (1).

Distributed mode (``--master`` and ``--worker``) needs no configuration: when a
test starts, the master sends each connected worker a slot ``i`` of ``W`` (a
Locust custom message) and that worker numbers its users
``first_user + i + W*k`` for ``k = 0, 1, ...``, so no two workers log in as the
same account.  Locust spreads users evenly over the workers, so ``U`` users use
the accounts ``1..U`` as in one process.  A worker that joins after the test
started, without a slot, uses its Locust worker index instead.
"""
from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple, TypeVar

from locust import User, events

from ..element import Element
from ..sasl import ScramKeyCache
from ..serializer import serialize
from ..tlsconfig import make_client_context
from ..tlssessions import TLSSessionCache
from .accounts import Account, AccountsFileError, read_accounts

__all__ = ["XMPPUser", "parse_host"]

NS_LOAD = "urn:fastxmpp:load:0"
_X = "{%s}x" % NS_LOAD
T = TypeVar("T")


def parse_host(host: Optional[str], default_port: int = 5222) -> Tuple[Optional[str], Optional[int]]:
    """Locust's ``--host``: ``xmpp://host:port``, ``host:port`` or ``host`` -> (host, port)."""
    if not host:
        return None, None
    text = host
    for scheme in ("xmpp://", "tcp://", "xmpps://"):
        if text.startswith(scheme):
            text = text[len(scheme):]
            break
    text = text.rstrip("/")
    from .cli import parse_hostport

    return parse_hostport(text, default_port)


_shared_lock = threading.Lock()
_shared: Dict[Any, Any] = {}
_counter = itertools.count(0)

#: Locust custom message: the master gives each worker ``{"slot": i, "slots": W}``.
SLOT_MESSAGE = "fastxmpp_account_slot"
# (slot, slots) of this process: None until the master sends one (a single process is (0, 1)).
_slot: Optional[Tuple[int, int]] = None


def _process_slot(environment: Any) -> Tuple[int, int]:
    """This Locust process's (slot, slots) for numbering accounts."""
    if _slot is not None:
        return _slot
    runner = getattr(environment, "runner", None)
    from locust.runners import WorkerRunner

    if isinstance(runner, WorkerRunner):  # joined without a slot: Locust's worker index
        index = max(0, int(runner.worker_index))
        options = environment.parsed_options
        expected = int(getattr(options, "expect_workers", 1) or 1) if options is not None else 1
        return index, max(expected, index + 1)
    return 0, 1


def _on_slot_message(environment: Any, msg: Any, **_kw: Any) -> None:
    global _slot
    _slot = (int(msg.data["slot"]), int(msg.data["slots"]))


def _send_slots(environment: Any, **_kw: Any) -> None:
    """Master, at test start: slot i of W to each connected worker, ordered by worker index."""
    runner = environment.runner
    workers = runner.clients.ready + runner.clients.spawning + runner.clients.running
    ids = sorted((w.id for w in workers), key=lambda cid: (runner.get_worker_index(cid), cid))
    for slot, client_id in enumerate(ids):
        runner.send_message(SLOT_MESSAGE, {"slot": slot, "slots": len(ids)}, client_id=client_id)


def _on_locust_init(environment: Any, **_kw: Any) -> None:
    from locust.runners import MasterRunner, WorkerRunner

    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        if SLOT_MESSAGE not in runner.custom_messages:
            runner.register_message(SLOT_MESSAGE, _on_slot_message)
    elif isinstance(runner, MasterRunner):
        environment.events.test_start.add_listener(_send_slots)


_init_hook: Any = events.init  # locust's EventHook is untyped
_init_hook.add_listener(_on_locust_init)


def _shared_object(key: Any, make: Callable[[], T]) -> T:
    """The process-wide object stored under ``key``, made by ``make()`` the first time."""
    with _shared_lock:
        obj = _shared.get(key)
        if obj is None:
            obj = _shared[key] = make()
        return obj


def _shared_context(ca_file: Optional[str], insecure: bool) -> Any:
    """One SSLContext per (ca_file, insecure) for the whole process."""
    return _shared_object(("ssl", ca_file, insecure),
                          lambda: make_client_context(ca_file=ca_file, verify=not insecure))


def _shared_cache() -> ScramKeyCache:
    """One SCRAM key cache for every user of the process (RFC 5802 key reuse)."""
    return _shared_object("scram", lambda: ScramKeyCache(maxsize=100_000))


def _shared_tls_sessions() -> TLSSessionCache:
    """One TLS session pool for every user of the process (TLS 1.3 resumption)."""
    return _shared_object("tls", lambda: TLSSessionCache(maxsize=4096, per_key=4096))


class XMPPUser(User):
    """A Locust user logged in to an XMPP server for its whole life.

    Class attributes to set in a subclass (or leave at their defaults):
    ``domain`` (default: the ``--host`` host), ``password``, ``user_prefix``,
    ``first_user``, ``resource``, ``ca_file``, ``insecure``,
    ``stream_management``, ``timeout`` (seconds, for login/iq/message waits),
    ``tls_resume`` (share TLS 1.3 sessions between the process's users so their
    logins resume them; the server must allow it), ``accounts_file`` (a CSV file of
    ``jid,password`` lines, see :mod:`fastxmpp.load.accounts`: user number ``n`` takes the
    file's ``n - first_user``-th account, so the accounts stay unique over the workers;
    ``password``, ``user_prefix`` and ``domain`` are then not used).
    """

    abstract = True

    domain: Optional[str] = None
    password: str = "load-test-pw"
    user_prefix: str = "load"
    first_user: int = 1
    resource: str = "locust"
    ca_file: Optional[str] = None
    insecure: bool = False
    stream_management: bool = True
    timeout: float = 30.0
    tls_resume: bool = False
    accounts_file: Optional[str] = None
    client_class: Any = None  # default: fastxmpp.sync.Client

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        slot, slots = _process_slot(environment)
        self.user_number = self.first_user + slot + slots * next(_counter)
        self.client: Any = None
        self._seq = 0

    # -- identity ----------------------------------------------------------------------------
    def account(self) -> Optional[Account]:
        """This user's account of ``accounts_file`` (None without one); raises
        :class:`~fastxmpp.load.accounts.AccountsFileError` for a bad file or too few accounts."""
        path = self.accounts_file
        if path is None:
            return None
        accounts = _shared_object(("accounts", path), lambda: read_accounts(path))
        n = self.user_number - self.first_user
        if n >= len(accounts):
            raise AccountsFileError(f"{len(accounts)} accounts for user number {n + 1}", path)
        return accounts[n]

    @property
    def username(self) -> str:
        """This user's account name: ``user_prefix`` and its number, unique over the workers
        (or the local part of its ``accounts_file`` account)."""
        account = self.account()
        return account.localpart if account is not None else f"{self.user_prefix}{self.user_number}"

    @property
    def jid(self) -> str:
        """The full JID this user logs in as."""
        account = self.account()
        if account is not None:
            return f"{account.jid}/{self.resource}"
        host, _ = parse_host(self.host)
        domain = self.domain or host or "localhost"
        return f"{self.username}@{domain}/{self.resource}"

    # -- lifecycle ---------------------------------------------------------------------------
    def on_start(self) -> None:
        """Locust starts the user: log in (a failure is reported as the ``login`` request)."""
        try:
            self.login()
        except Exception:  # noqa: BLE001 - reported as a failed "login" request
            from locust.exception import StopUser

            self.on_stop()
            raise StopUser() from None

    def on_stop(self) -> None:
        """Locust stops the user: close the stream."""
        client, self.client = self.client, None
        if client is not None:
            client.close()  # never raises for network errors

    def make_client(self) -> Any:
        """The blocking client this user logs in with (``client_class``, else
        :class:`fastxmpp.sync.Client`), sharing the process's TLS context and key caches."""
        cls = self.client_class
        if cls is None:
            from ..sync import client as sync_client

            cls = sync_client.Client
        host, port = parse_host(self.host)
        account = self.account()
        password = account.password if account is not None else self.password
        return cls(self.jid, password, host=host, port=port,
                   ssl_context=_shared_context(self.ca_file, self.insecure),
                   sasl_cache=_shared_cache(),
                   tls_session_cache=_shared_tls_sessions() if self.tls_resume else None,
                   stream_management=self.stream_management,
                   connect_timeout=self.timeout, iq_timeout=self.timeout)

    def login(self) -> None:
        """Connect and log in, timed as ``login``; a failure is reported and re-raised
        (Locust then logs it and the user's tasks do not run)."""
        self.client = self.make_client()
        self.measure("login", self.client.connect)

    # -- timing ------------------------------------------------------------------------------
    def fire(self, name: str, started: float, length: int = 0, exception: Optional[BaseException] = None) -> None:
        """Report one request ``name`` to Locust, timed from ``started`` (``perf_counter``)."""
        self.environment.events.request.fire(
            request_type="xmpp", name=name, response_time=(time.perf_counter() - started) * 1000.0,
            response_length=length, exception=exception, context={"user": self.username},
        )

    def measure(self, name: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` and fire one request event named ``name`` (with the exception if it raised)."""
        started = time.perf_counter()
        try:
            result = fn()
        except Exception as exc:
            self.fire(name, started, exception=exc)
            raise
        length = len(serialize(result)) if isinstance(result, Element) else 0
        self.fire(name, started, length)
        return result

    # -- operations ----------------------------------------------------------------------------
    def iq(self, stanza: Element, name: str = "iq") -> Optional[Element]:
        """Send an IQ get/set, wait for its result; timed as ``iq:<name>``.

        Errors are reported to Locust, not raised (a task keeps running)."""
        try:
            result: Optional[Element] = self.measure(
                "iq:" + name, lambda: self.client.iq(stanza, timeout=self.timeout))
            return result
        except Exception:  # noqa: BLE001 - already reported
            return None

    def ping(self, to: Optional[str] = None) -> Optional[Element]:
        """XEP-0199 ping to the server (or ``to``), timed as ``iq:ping``."""
        ping = Element("{jabber:client}iq", {"type": "get", "to": to or self.jid.split("@", 1)[1].split("/", 1)[0]})
        ping.subelement("{urn:xmpp:ping}ping")
        return self.iq(ping, "ping")

    def send(self, stanza: Element) -> None:
        """Send without waiting for anything (not timed)."""
        self.client.send(stanza)

    def message_round_trip(self, body: str = "ping", name: str = "echo", to: Optional[str] = None) -> Optional[Element]:
        """Send a chat message to ``to`` (default: this user's own full JID) and wait until a
        message carrying the same ``<x xmlns='urn:fastxmpp:load:0' seq=.../>`` comes back;
        timed as ``message:<name>``.  With ``to`` another user, that user must echo it."""
        self._seq += 1
        seq = str(self._seq)
        target = to or str(self.client.bound_jid)
        msg = Element("{jabber:client}message", {"to": target, "type": "chat", "id": f"rt{seq}"})
        msg.subelement("{jabber:client}body", text=body)
        msg.subelement(_X, {"t": str(time.time_ns() // 1000), "seq": seq})
        started = time.perf_counter()
        deadline = time.monotonic() + self.timeout
        try:
            self.client.send(msg)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"message {seq} not delivered within {self.timeout:g}s")
                got: Optional[Element] = self.client.recv(timeout=remaining)
                if got is None:
                    continue
                if got.tag != "{jabber:client}message":
                    continue
                if got.get("type") == "error" and got.get("id") == f"rt{seq}":
                    from ..stanza_errors import from_element

                    raise from_element(got)
                x = got.find(_X)
                if x is not None and x.get("seq") == seq:
                    self.fire("message:" + name, started, len(serialize(got)))
                    return got
        except Exception as exc:  # noqa: BLE001 - reported to Locust
            self.fire("message:" + name, started, exception=exc)
            return None
