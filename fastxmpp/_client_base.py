"""The options and state that both clients share, and their IM features: one list, in one place.

:class:`fastxmpp.aio.Client` and :class:`fastxmpp.sync.Client` inherit
:class:`ClientBase`: its ``__init__`` takes the options that mean the same in both (the
account, where and how to connect, TLS, SASL, stream management, timeouts, DNS), and
each client adds its own few (``reconnect``/``keepalive``/... for asyncio,
``keepalive_interval``/``send_timeout``/``max_queued`` for the blocking one).  Adding an
option that both clients understand touches this file only.

The IM features (``roster``, ``presence``, ``subscriptions``, ``messages``) are made on
first access by the client's own ``im`` module (``_im_module``), so a session that never
uses them pays nothing.  So are the XEP features (``disco``, ``pinger``,
``software_version``), by the ``xep`` module beside it (:mod:`fastxmpp.xep`).
"""
from __future__ import annotations

import importlib
import ssl
from typing import Any, List, Optional, Tuple, Union

from .backoff import Backoff
from .connect import Endpoint
from .handlers import HandlerRegistry
from .jid import JID
from .sasl import DEFAULT_MAX_ITERATIONS
from .stream import ClientStream
from .tlsconfig import make_client_context
from .tlssessions import TLSSessionCache

__all__ = ["ClientBase"]


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
        "stream", "bound_jid", "error", "dropped_at_close", "_closing", "_endpoint", "_tls_key")

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
        self._init_handlers()

    # -- IM (RFC 6121), made on first access -----------------------------------------------------
    @property
    def roster(self) -> Any:
        """The roster: ``client.roster.fetch()`` (awaitable with asyncio), ``add()``,
        ``update()``, ``remove()``, and a mapping of bare JID to item."""
        return self._im_module.IM.of(self).roster

    @property
    def presence(self) -> Any:
        """Our presence (``client.presence.available()``) and every contact's."""
        return self._im_module.IM.of(self).presence

    @property
    def subscriptions(self) -> Any:
        """Presence subscriptions: ``subscribe()``, ``approve()``, ``on_request``, ``policy``."""
        return self._im_module.IM.of(self).subscriptions

    @property
    def messages(self) -> Any:
        """Parsed messages for ``on_message`` listeners, ``send()`` and ``reply()``."""
        return self._im_module.IM.of(self).messages

    # -- XEPs (fastxmpp.xep), made on first access ------------------------------------------------
    def _feature(self, module: str, name: str) -> Any:
        """The feature object ``name`` of this client's module ``module`` (``fastxmpp.aio.muc``
        or ``fastxmpp.sync.muc`` for ``"muc"``), made with ``cls(client)`` on first access and
        kept in the instance: a client that never asks for it pays nothing."""
        key = "_feature_" + name
        made = self.__dict__.get(key)
        if made is None:
            package = self._im_module.__name__.rsplit(".", 1)[0]
            made = getattr(importlib.import_module(f"{package}.{module}"), name)(self)
            self.__dict__[key] = made
        return made

    def _xep_layer(self) -> Any:
        """This client's XEP layer, from the ``xep`` module beside its ``im`` module."""
        xep = self.__dict__.get("_xep")
        if xep is None:
            module = importlib.import_module(self._im_module.__name__.rsplit(".", 1)[0] + ".xep")
            xep = module.XEP.of(self)
        return xep

    @property
    def disco(self) -> Any:
        """XEP-0030: ``client.disco.info(jid)`` and ``items(jid)`` (awaitable with asyncio),
        cached for the session; from first access the client answers disco requests."""
        return self._xep_layer().disco

    @property
    def pinger(self) -> Any:
        """XEP-0199: ``client.pinger.send(jid)`` returns the round trip in seconds; from
        first access the client answers pings."""
        return self._xep_layer().pinger

    @property
    def software_version(self) -> Any:
        """XEP-0092: ``client.software_version.query(jid)`` returns (name, version, os);
        from first access the client answers with ours."""
        return self._xep_layer().software_version

    # Each of these is made on first access by the client's own module of that name
    # (fastxmpp.aio.<module> / fastxmpp.sync.<module>, over the sans-IO fastxmpp.xep.<module>).
    @property
    def caps(self) -> Any:
        """XEP-0115 entity capabilities: our ``ver`` in presence, others' resolved through disco."""
        return self._feature("caps", "Caps")

    @property
    def receipts(self) -> Any:
        """XEP-0184 message delivery receipts: request, answer and correlate them."""
        return self._feature("receipts", "Receipts")

    @property
    def chat_states(self) -> Any:
        """XEP-0085 chat state notifications (active, composing, paused, inactive, gone)."""
        return self._feature("chatstates", "ChatStates")

    @property
    def carbons(self) -> Any:
        """XEP-0280 message carbons: enable, disable, and unwrapped copies (forged ones refused)."""
        return self._feature("carbons", "Carbons")

    @property
    def blocking(self) -> Any:
        """XEP-0191 blocking command: block, unblock, the block list and its pushes."""
        return self._feature("blocking", "Blocking")

    @property
    def registration(self) -> Any:
        """XEP-0077 in-band registration: change the password, cancel the account."""
        return self._feature("register", "Registration")

    @property
    def muc(self) -> Any:
        """XEP-0045 multi-user chat: join rooms, send, moderate, configure."""
        return self._feature("muc", "MUC")

    @property
    def mam(self) -> Any:
        """XEP-0313 message archive management queries, paged with XEP-0059."""
        return self._feature("mam", "MAM")
