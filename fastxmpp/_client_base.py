"""The options and state that both clients share, and their features: one list, in one place.

:class:`fastxmpp.aio.Client` and :class:`fastxmpp.sync.Client` inherit
:class:`ClientBase`: its ``__init__`` takes the options that mean the same in both (the
account, where and how to connect, TLS, SASL, stream management, timeouts, DNS), and
each client adds its own few (``reconnect``/``keepalive``/... for asyncio,
``keepalive_interval``/``send_timeout``/``max_queued`` for the blocking one).  Adding an
option that both clients understand touches this file only.

The features (``roster``, ``presence``, ``subscriptions``, ``messages``, ``disco``,
``muc``, ``mam``...) are :class:`Feature` properties: each is made on first access by the
client's own driver package (``fastxmpp.aio.muc.MUC(client)`` or
``fastxmpp.sync.muc.MUC(client)``), so a session that never uses one pays nothing, not even
the import of its module.
"""
from __future__ import annotations

import importlib
import ssl
import time
from typing import (
    TYPE_CHECKING, Any, Callable, Generic, List, NoReturn, Optional, Tuple, TypeVar, Union,
    overload)

from .backoff import Backoff
from .connect import Endpoint
from .events import LoginTimings, SessionStarted
from .handlers import HandlerRegistry
from .jid import JID
from .sasl import DEFAULT_MAX_ITERATIONS
from .stream import ClientStream
from .tlsconfig import make_client_context
from .tlssessions import TLSSessionCache

__all__ = ["ClientBase", "Feature"]

T = TypeVar("T")

# the login phases a driver marks with ClientBase._login_mark (indexes of _login_marks)
_CONNECTED, _SECURED, _AUTHENTICATED = 1, 2, 3


class Feature(property, Generic[T]):
    """A client property whose object is made on first access and then kept in the client.

    ``Feature("muc", "MUC")`` gives ``<driver>.muc.MUC(client)``, where ``<driver>`` is the
    package of the client's class (``fastxmpp.aio`` or ``fastxmpp.sync``); with
    ``layer="XEP"`` it gives the attribute of the property's name of
    ``<driver>.xep.XEP.of(client)``, a layer that makes several features.  Nothing is
    imported before the first access.

    For type checkers, ``client.muc`` is a ``T``: :class:`ClientBase` declares each feature
    as ``Feature[Any]``, and each client declares it again with its own class, e.g.
    ``muc: Feature[muc.MUC] = ClientBase.muc.typed()`` (the API reference shows that class).
    """

    def __init__(self, module: str, cls: str, *, doc: str, layer: Optional[str] = None) -> None:
        self.module = module
        self.cls = cls
        self.layer = layer
        self.name = ""
        self.key = ""

        def get(client: ClientBase) -> Any:
            made = client.__dict__.get(self.key)
            if made is None:
                made = client.__dict__[self.key] = self.make(client)
            return made

        get.__doc__ = doc  # a property subclass takes its __doc__ from the getter's
        self._get = get
        super().__init__(get)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.key = "_feature_" + name
        driver = getattr(owner, "_im_module", None)
        if driver is not None:  # a client: the reference shows the class it makes
            package = driver.__name__.rsplit(".", 1)[0]
            self._get.__annotations__["return"] = f"{package}.{self.module}.{self.cls}"

    def make(self, client: ClientBase) -> Any:
        """The feature object for ``client``, made now (``<driver>.<module>.<cls>(client)``)."""
        package = client._im_module.__name__.rsplit(".", 1)[0]
        module = importlib.import_module(f"{package}.{self.module}")
        if self.layer is None:
            return getattr(module, self.cls)(client)
        return getattr(getattr(module, self.layer).of(client), self.name)

    def typed(self) -> Feature[Any]:
        """The same feature, for a client class to declare with its own type."""
        return Feature(self.module, self.cls, doc=self.__doc__ or "", layer=self.layer)

    if TYPE_CHECKING:
        @overload
        def __get__(self, instance: None, owner: Optional[type] = None) -> Feature[T]: ...

        @overload
        def __get__(self, instance: object, owner: Optional[type] = None) -> T: ...

        def __get__(self, instance: object, owner: Optional[type] = None) -> Any: ...

        def __set__(self, instance: object, value: NoReturn) -> None: ...  # read-only


class ClientBase(HandlerRegistry):
    """What both clients share.  The options, all keyword-only after ``jid`` and ``password``:

    - ``host``, ``port``: connect there instead of resolving the domain's SRV records;
      ``direct_tls``: TLS from the first byte (XEP-0368) instead of STARTTLS.
    - ``ssl_context`` (or ``ca_file`` and ``verify`` to build one), ``require_tls``,
      ``allow_plain_unencrypted``, ``tls_session_cache`` (a shared pool of TLS sessions
      to resume).
    - ``mechanisms`` (SASL mechanisms allowed, in preference order), ``sasl_cache``,
      ``scram_max_iterations`` (the highest PBKDF2 count a server may ask for; more fails
      with ``SASLError("mechanism-too-weak")``).
    - ``stream_management`` (XEP-0198), ``max_reconnect_attempts``.
    - ``dead_timeout``, ``connect_timeout`` (per endpoint), ``iq_timeout``,
      ``close_timeout`` (how long close() waits for the server's ``</stream:stream>``).
    - ``nameservers``, ``dns_port``: where SRV records are asked (default: the system's).
    """

    __slots__ = (
        "jid", "password", "host", "port", "direct_tls", "ssl_context", "require_tls",
        "allow_plain_unencrypted", "mechanisms", "sasl_cache", "scram_max_iterations",
        "tls_session_cache", "stream_management", "max_reconnect_attempts", "dead_timeout",
        "connect_timeout", "iq_timeout", "close_timeout", "nameservers", "dns_port", "backoff",
        "stream", "bound_jid", "error", "dropped_at_close", "_closing", "_endpoint", "_tls_key",
        "last_login_timings", "_login_marks")

    #: The module with this client's IM feature classes (``fastxmpp.aio.im`` or ``fastxmpp.sync.im``).
    _im_module: Any = None

    def __init__(
        self,
        jid: Union[str, JID],
        password: Optional[str] = None,
        *,
        host: Optional[str] = None,
        port: Optional[int] = None,
        direct_tls: bool = False,
        ssl_context: Optional[ssl.SSLContext] = None,
        ca_file: Optional[str] = None,
        verify: bool = True,
        require_tls: bool = True,
        allow_plain_unencrypted: bool = False,
        mechanisms: Optional[List[str]] = None,
        sasl_cache: Any = None,
        scram_max_iterations: int = DEFAULT_MAX_ITERATIONS,
        tls_session_cache: Optional[TLSSessionCache] = None,
        stream_management: bool = True,
        max_reconnect_attempts: Optional[int] = None,
        dead_timeout: float = 30.0,
        connect_timeout: float = 30.0,
        iq_timeout: float = 60.0,
        close_timeout: float = 2.0,
        nameservers: Optional[List[str]] = None,
        dns_port: int = 53,
    ) -> None:
        self.jid = jid if isinstance(jid, JID) else JID(jid)
        self.password = password
        self.host = host
        self.port = port
        self.direct_tls = direct_tls
        self.ssl_context = ssl_context or make_client_context(ca_file=ca_file, verify=verify)
        self.require_tls = require_tls
        self.allow_plain_unencrypted = allow_plain_unencrypted
        self.mechanisms = mechanisms
        self.sasl_cache = sasl_cache
        self.scram_max_iterations = scram_max_iterations
        #: Shared pool of TLS sessions to resume from (None: always a full handshake).
        self.tls_session_cache = tls_session_cache
        self.stream_management = stream_management
        self.max_reconnect_attempts = max_reconnect_attempts
        self.dead_timeout = dead_timeout
        self.connect_timeout = connect_timeout
        self.iq_timeout = iq_timeout
        #: How long close() waits for the server's </stream:stream> before dropping the connection.
        self.close_timeout = close_timeout
        self.nameservers = nameservers
        self.dns_port = dns_port
        self.backoff = Backoff()
        self.stream: Optional[ClientStream] = None
        self.bound_jid: Optional[JID] = None
        #: Why the connection ended, when it did not end by close().
        self.error: Optional[BaseException] = None
        #: Stanzas that arrived after close() started: not handled, only counted.
        self.dropped_at_close = 0
        self._closing = False
        self._endpoint: Optional[Endpoint] = None
        # (server_hostname, host, port, whether a pooled session was offered)
        self._tls_key: Optional[Tuple[str, str, int, bool]] = None
        #: The phases of the newest login (:class:`~fastxmpp.events.LoginTimings`), set once
        #: per (re)connect before the session listeners run; None before the first login.
        self.last_login_timings: Optional[LoginTimings] = None
        # perf_counter() at [start, TCP connected, TLS done, SASL done] while logging in
        self._login_marks: Optional[List[Optional[float]]] = None
        self._init_handlers()

    # -- The end of connect() ---------------------------------------------------------------------
    def _raise_unless_ready(self, ready: bool, lost: Callable[[str], BaseException]) -> None:
        """connect()'s last step: raise ``lost(why)`` (the driver's ``ConnectionLost``) when
        the session it negotiated is no longer up (``ready`` False).

        The session listeners and ``on_session_started`` run inside connect(), once the session
        is up, and one of them may end it (``abort()``, ``close()``); the connection may drop
        too.  connect() then fails like a connection lost during negotiation, at once (no other
        endpoint is tried: the server was reached and a handler chose), instead of returning as
        though the client were connected.  After ``abort()`` or a loss the raised error
        becomes :attr:`error`, with the error that ended the connection (if one did) as its
        ``__cause__``; after ``close()`` :attr:`error` stays None (closing is not a failure).
        """
        if ready:
            return
        if self._closing:
            raise lost("connection closed by the client (close() was called) before connect() "
                       "returned") from self.error
        cause = self.error
        self.error = lost("the session ended before connect() returned (abort() in a "
                          "session-started handler, or the connection dropped)"
                          + (f": {cause}" if cause is not None else ""))
        raise self.error from cause

    # -- Login phase timings: a few clock reads per login, none on the message path ----------------
    def _login_begin(self) -> None:
        """A connection attempt starts: the clock of its login phases starts."""
        self._login_marks = [time.perf_counter(), None, None, None]

    def _login_mark(self, phase: int) -> None:
        """Phase ``phase`` of the login ended (_CONNECTED, _SECURED, _AUTHENTICATED)."""
        marks = self._login_marks
        if marks is not None:
            marks[phase] = time.perf_counter()

    def _login_done(self, session: SessionStarted) -> None:
        """The session is ready: keep the login's :class:`LoginTimings` and stop its clock."""
        marks, self._login_marks = self._login_marks, None
        if marks is None:
            return
        bound = time.perf_counter()
        started, connected, secured, authenticated = marks
        assert started is not None
        connected = started if connected is None else connected
        self.last_login_timings = LoginTimings(
            started=started, connected=connected, secured=secured,
            authenticated=(secured or connected) if authenticated is None else authenticated,
            bound=bound, resumed=session.resumed)

    # -- The features, made on first access ------------------------------------------------------
    # Declared once here, untyped; each client declares them again with its own classes
    # (``muc: Feature[muc.MUC] = ClientBase.muc.typed()``) for type checkers and the reference.
    roster: Feature[Any] = Feature("im", "Roster", layer="IM", doc="""The roster (RFC 6121), a
        mapping of bare JID to item, with ``fetch()`` (awaitable with asyncio), ``add()``,
        ``update()`` and ``remove()``.""")
    presence: Feature[Any] = Feature("im", "Presence", layer="IM", doc="""Our presence
        (``client.presence.available()``) and every contact's (RFC 6121).""")
    subscriptions: Feature[Any] = Feature("im", "Subscriptions", layer="IM", doc="""Presence
        subscriptions (RFC 6121), with ``subscribe()``, ``approve()``, ``on_request`` and
        ``policy``.""")
    messages: Feature[Any] = Feature("im", "Messages", layer="IM", doc="""Parsed messages for
        ``on_message`` listeners, ``send()`` and ``reply()``.""")
    disco: Feature[Any] = Feature("xep", "Disco", layer="XEP", doc="""Service discovery
        (XEP-0030), with ``info(jid)`` and ``items(jid)`` (awaitable with asyncio), cached for
        the session; from first access the client answers disco requests.""")
    pinger: Feature[Any] = Feature("xep", "Pinger", layer="XEP", doc="""Ping (XEP-0199), whose
        ``send(jid)`` returns the round trip in seconds; from first access the client answers
        pings.""")
    software_version: Feature[Any] = Feature("xep", "SoftwareVersion", layer="XEP", doc="""
        Software version (XEP-0092), whose ``query(jid)`` returns (name, version, os); from
        first access the client answers with ours.""")
    caps: Feature[Any] = Feature("caps", "Caps", doc="""Entity capabilities (XEP-0115), our
        ``ver`` in presence and others' resolved through disco.""")
    receipts: Feature[Any] = Feature("receipts", "Receipts", doc="""Message delivery receipts
        (XEP-0184), requested, answered and correlated.""")
    chat_states: Feature[Any] = Feature("chatstates", "ChatStates", doc="""Chat state
        notifications (XEP-0085), active, composing, paused, inactive and gone.""")
    carbons: Feature[Any] = Feature("carbons", "Carbons", doc="""Message carbons (XEP-0280),
        enabled and disabled, and their unwrapped copies (forged ones refused).""")
    blocking: Feature[Any] = Feature("blocking", "Blocking", doc="""The blocking command
        (XEP-0191), to block and unblock, with the block list and its pushes.""")
    registration: Feature[Any] = Feature("register", "Registration", doc="""In-band
        registration (XEP-0077), to change the password or cancel the account.""")
    muc: Feature[Any] = Feature("muc", "MUC", doc="""Multi-user chat (XEP-0045), to join rooms,
        send, moderate and configure.""")
    mam: Feature[Any] = Feature("mam", "MAM", doc="""Message archive management queries
        (XEP-0313), paged with XEP-0059.""")
