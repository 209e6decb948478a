"""XEP-0077 in-band registration, sans-IO: the registration form, registering an account,
changing its password and cancelling it.

- :func:`form_request` / :func:`parse_form`: ask for the form and read it
  (:class:`RegistrationForm`: the fields asked, ``<registered/>``, the instructions, and
  the XEP-0004 data form when the server sends one).
- :func:`register_request` (username and password, plus any other fields) or
  :func:`submit_request` (the values of a form received); :func:`change_password_request`;
  :func:`cancel_request` (``<remove/>``); :func:`check_result` reads the answer to any of
  them, raising typed errors (:class:`UsernameTaken` for ``conflict``, else the
  :mod:`~fastxmpp.stanza_errors` class of the condition: ``NotAcceptable`` when a
  required field is missing, ``NotAllowed``, ``BadRequest``...).
- :class:`Registrar`: the negotiation of an unauthenticated stream that registers one
  account (header, STARTTLS, a new header, the registration IQ), driven by bytes in and
  out; ``register_account()`` of :mod:`fastxmpp.sync.register` (a blocking socket) and
  :mod:`fastxmpp.aio.register` (asyncio) drive it.
- :class:`RegistrationBase`: ``client.registration`` of both clients (an authenticated
  session): :mod:`fastxmpp.aio.register` and :mod:`fastxmpp.sync.register` add the
  methods that send (``fields()``, ``change_password(new)``, ``cancel()``).

Bad input from the user raises :class:`InvalidRegistrationInput` (a ``ValueError``).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional, Tuple

from ..element import Element
from ..errors import NotAuthorized, StreamError, XMPPError
from ..events import _opts
from ..jid import JID, JIDLike
from ..serializer import serialize
from ..stanza_errors import Conflict, StanzaError, from_element
from ..tokenizer import StreamEnd, StreamHeader, Tokenizer
from ._iq import NS_CLIENT, result_payload
from .forms import X as DATA_FORM, Form, parse_form as parse_data_form

__all__ = [
    "NS_REGISTER", "QUERY", "NS_FEATURE_REGISTER", "FEATURE", "FIELDS", "RegistrationForm",
    "RegistrationError", "InvalidRegistrationInput", "UsernameTaken", "form_request", "parse_form",
    "register_request", "submit_request", "change_password_request", "cancel_request",
    "check_result", "Registrar", "RegistrationBase",
]

NS_REGISTER = "jabber:iq:register"
QUERY = "{%s}query" % NS_REGISTER
#: The stream feature a server offers for in-band registration before authentication.
NS_FEATURE_REGISTER = "http://jabber.org/features/iq-register"
FEATURE = "{%s}register" % NS_FEATURE_REGISTER
#: The fields XEP-0077 defines (section 14.1), besides instructions, registered and remove.
FIELDS = ("username", "nick", "password", "name", "first", "last", "email", "address", "city",
          "state", "zip", "phone", "url", "date", "misc", "text", "key")
_FIELDS = frozenset(FIELDS)
_NS = "{%s}" % NS_REGISTER
_INSTRUCTIONS = _NS + "instructions"
_REGISTERED = _NS + "registered"
_REMOVE = _NS + "remove"
_OOB_URL = "{jabber:x:oob}x/{jabber:x:oob}url"
_IQ = "{%s}iq" % NS_CLIENT
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
_STREAMS = "{http://etherx.jabber.org/streams}"


class RegistrationError(XMPPError, ConnectionError):
    """Registration could not be carried out: no TLS where it is required, no XEP-0077 on
    the server, the stream closed, a stream error, bad XML."""


class InvalidRegistrationInput(XMPPError, ValueError):
    """A value given to build a registration request that cannot be sent: an empty username
    or password, a field name XEP-0077 does not define, not text."""


if TYPE_CHECKING:  # the stanza error classes are made by a function: mypy sees their base
    _Conflict = StanzaError
else:
    _Conflict = Conflict


class UsernameTaken(_Conflict):
    """``<conflict/>`` answering a registration: the username is already taken."""


@dataclass(**_opts)
class RegistrationForm:
    """The registration form: ``fields``, the XEP-0077 fields asked, in order (``username``,
    ``password``, ``email``...); ``values``, those with a value already (an account's
    username when ``registered``); ``registered``, whether the account we asked for exists
    (``<registered/>``); ``instructions``; ``form``, the XEP-0004 data form when the server
    sent one (it then wins over the fields); ``url``, where to register out of band."""

    fields: Tuple[str, ...] = ()
    values: Mapping[str, str] = field(default_factory=dict)
    registered: bool = False
    instructions: Optional[str] = None
    form: Optional[Form] = None
    url: Optional[str] = None


def _iq(kind: str, to: Optional[JIDLike]) -> Tuple[Element, Element]:
    iq = Element(_IQ, {"type": kind})
    if to is not None:
        iq.set("to", str(to))
    return iq, iq.subelement(QUERY)


def form_request(to: Optional[JIDLike] = None) -> Element:
    """``<iq type='get'><query xmlns='jabber:iq:register'/></iq>`` (to our server when None)."""
    return _iq("get", to)[0]


def parse_form(iq: Element) -> RegistrationForm:
    """The :class:`RegistrationForm` in the answer to :func:`form_request`.  An IQ error raises
    its :class:`~fastxmpp.stanza_errors.StanzaError`; a result without the query, or with a
    malformed data form, raises a :class:`~fastxmpp.xep._iq.RemoteInvalidResult`."""
    query = result_payload(iq, QUERY)
    fields: List[str] = []
    values: Dict[str, str] = {}
    registered, instructions, form = False, None, None
    for child in query:
        tag = child.tag
        if tag == DATA_FORM and form is None:
            form = parse_data_form(child)
        elif not tag.startswith(_NS):
            continue
        elif tag == _REGISTERED:
            registered = True
        elif tag == _INSTRUCTIONS:
            instructions = child.text
        elif tag != _REMOVE:
            name = tag[len(_NS):]
            if name not in values and name not in fields:
                fields.append(name)
            if child.text:
                values[name] = child.text
    return RegistrationForm(fields=tuple(fields), values=values, registered=registered,
                            instructions=instructions, form=form, url=query.findtext(_OOB_URL))


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidRegistrationInput(f"the {name} must be text, not {type(value).__name__}")
    return value


def _legacy(iq: Element, query: Element, values: Mapping[str, Any]) -> Element:
    for name, value in values.items():
        if name not in _FIELDS:
            raise InvalidRegistrationInput(f"XEP-0077 has no field {name!r} (fields: {', '.join(FIELDS)})")
        query.subelement(_NS + name, text=_text(name, value))
    return iq


def register_request(username: str, password: str, *, to: Optional[JIDLike] = None, **extra: str) -> Element:
    """Register ``username`` with ``password`` (and the other XEP-0077 fields in ``extra``,
    e.g. ``email=``): ``<iq type='set'><query><username/><password/>...</query></iq>``."""
    for name, value in (("username", username), ("password", password)):
        if not _text(name, value):
            raise InvalidRegistrationInput(f"the {name} must not be empty")
    iq, query = _iq("set", to)
    return _legacy(iq, query, dict(extra, username=username, password=password))


def submit_request(form: RegistrationForm, values: Mapping[str, Any], *, to: Optional[JIDLike] = None) -> Element:
    """Answer a :class:`RegistrationForm` with ``values`` ({field: value}): a submitted data
    form when the server sent one (values checked by
    :meth:`~fastxmpp.xep.forms.Form.submit`), else the XEP-0077 fields."""
    iq, query = _iq("set", to)
    if form.form is not None:
        query.append(form.form.submit(values).to_element())
        return iq
    return _legacy(iq, query, values)


def change_password_request(account: JIDLike, new_password: str) -> Element:
    """Change the password of ``account`` (an authenticated session's JID) to ``new_password``
    (XEP-0077 section 3.3): the username and the new password, to our server."""
    account = account if isinstance(account, JID) else JID(account)
    if not _text("password", new_password):
        raise InvalidRegistrationInput("the new password must not be empty")
    if account.localpart is None:
        raise InvalidRegistrationInput(f"{account} is not an account (no localpart)")
    iq, query = _iq("set", account.domain)
    return _legacy(iq, query, {"username": account.localpart, "password": new_password})


def cancel_request(to: Optional[JIDLike] = None) -> Element:
    """Cancel the account (XEP-0077 section 3.2): ``<query><remove/></query>``, to our server."""
    iq, query = _iq("set", to)
    query.subelement(_REMOVE)
    return iq


def check_result(iq: Element) -> None:
    """Accept the answer to a registration, password change or cancellation: an IQ result.
    An error raises :class:`UsernameTaken` for ``conflict``, else the
    :class:`~fastxmpp.stanza_errors.StanzaError` of its condition."""
    if iq.get("type") == "result":
        return
    err: StanzaError = from_element(iq)
    if err.condition == "conflict":
        err = UsernameTaken(err.text, type=err.type, stanza=iq, by=err.by)
    raise err


class Registrar:
    """Registers one account on an unauthenticated stream, sans-IO: :meth:`start`, then feed
    :meth:`receive_data` and send :meth:`data_to_send` until :attr:`state` is ``"done"``
    (:attr:`result` is the server's answer, for :func:`check_result`).  When the state is
    ``"tls"`` the driver starts TLS on the socket and calls :meth:`tls_established`.

    STARTTLS is used whenever the server offers it; ``require_tls`` fails a server that does
    not.  ``request`` is the registration IQ (:func:`register_request`).  Failures raise
    :class:`RegistrationError` from :meth:`receive_data` / :meth:`receive_eof`."""

    _ID = "reg1"

    def __init__(self, domain: str, request: Element, *, require_tls: bool = False) -> None:
        self.domain = domain
        self.request = request
        self.require_tls = require_tls
        self.state = "idle"
        self.secure = False
        self.result: Optional[Element] = None
        self._tokens = Tokenizer()
        self._out: List[bytes] = []

    def start(self) -> None:
        """Open the stream."""
        self._open()

    def _open(self) -> None:
        self._out.append(("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                          "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>"
                          % self.domain).encode("utf-8"))
        self.state = "features"

    def data_to_send(self) -> bytes:
        """The bytes to write now."""
        out, self._out = b"".join(self._out), []
        return out

    def tls_established(self) -> None:
        """TLS is up (state ``"tls"``): open a new stream over it."""
        if self.state != "tls":
            raise RegistrationError(f"tls_established() in state {self.state!r}")
        self.secure = True
        self._tokens = Tokenizer()
        self._open()

    def close(self) -> None:
        """Close the stream (once done)."""
        self._out.append(b"</stream:stream>")

    def receive_eof(self) -> None:
        """The server closed the connection."""
        raise RegistrationError("the server closed the connection")

    def receive_data(self, data: bytes) -> None:
        """Bytes from the server."""
        try:
            tokens = self._tokens.feed(data)
        except StreamError as exc:
            raise RegistrationError(f"bad XML from the server: {exc}") from exc
        for token in tokens:
            self._token(token)
            if self.state in ("tls", "done"):
                return  # nothing may follow <proceed/> in the clear

    def _token(self, token: Any) -> None:
        if isinstance(token, StreamHeader):
            return
        if isinstance(token, StreamEnd):
            raise RegistrationError("the server closed the stream")
        tag = token.tag
        if tag == _STREAMS + "error":
            cond = token[0].localname if len(token) else "undefined-condition"
            raise RegistrationError(f"stream error: {cond}")
        if self.state == "features":
            if tag != _STREAMS + "features":
                raise RegistrationError(f"expected stream features, got {tag}")
            self._features(token)
        elif self.state == "starttls":
            if tag != "{%s}proceed" % NS_TLS:
                raise RegistrationError(f"STARTTLS refused: {tag}")
            self.state = "tls"
        elif self.state == "registering" and tag == _IQ and token.get("id") == self._ID:
            self.result = token
            self.state = "done"

    def created(self) -> bool:
        """Once done: True when the account was created, False when the username was taken
        (``conflict``); any other refusal raises its
        :class:`~fastxmpp.stanza_errors.StanzaError`."""
        if self.result is None:
            raise RegistrationError(f"no answer to the registration yet (state {self.state!r})")
        try:
            check_result(self.result)
        except UsernameTaken:
            return False
        return True

    def _features(self, features: Element) -> None:
        if not self.secure:
            if features.find("{%s}starttls" % NS_TLS) is not None:
                self._out.append(serialize(Element("{%s}starttls" % NS_TLS)))
                self.state = "starttls"
                return
            if self.require_tls:
                raise RegistrationError("the server does not offer STARTTLS")
        if features.find(FEATURE) is None:
            raise RegistrationError("the server does not offer in-band registration (XEP-0077)")
        self.request.set("id", self._ID)
        self._out.append(serialize(self.request))
        self.state = "registering"


class RegistrationBase:
    """``client.registration`` for an authenticated session of either client: ``fields()``
    (the form, with ``registered`` and our username), ``change_password(new)`` (the client
    then logs in with the new one when it reconnects) and ``cancel()`` (deletes the
    account; the server then closes the session).  A new account is registered before
    logging in, on a stream of its own: ``register_account()`` of
    :mod:`fastxmpp.aio.register` or :mod:`fastxmpp.sync.register`."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _server(self) -> JID:
        return JID(self.client.jid.domain)

    @contextmanager
    def _cancelling(self) -> Iterator[None]:
        """Around the cancel request: the server may end the session with a
        ``<not-authorized/>`` stream error right after its result, or instead of letting us
        read it (Prosody does): the account is gone either way."""
        try:
            yield
        except NotAuthorized:
            pass

    def _changed(self, new_password: str, result: Element) -> None:
        check_result(result)
        self.client.password = new_password
