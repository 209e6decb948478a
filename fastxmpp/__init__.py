"""fastxmpp: a fast, correct XMPP client library.

The core (tokenizer, serializer, JIDs, SASL, the client stream) is sans-IO;
the drivers live in :mod:`fastxmpp.aio` (asyncio) and :mod:`fastxmpp.sync`
(blocking, gevent-friendly).
"""
from .element import Element
from .errors import LocalProtocolError, SASLError, StreamError, XMPPError
from .jid import JID, InvalidJID
from .serializer import serialize, stream_footer, stream_header
from .stanza import iq, message, presence
from .stanza_errors import StanzaError
from .stream import ClientStream
from .tokenizer import Tokenizer
from .tokens import StreamEnd, StreamHeader

__version__ = "0.1.0"

__all__ = [
    "ClientStream",
    "Element",
    "InvalidJID",
    "JID",
    "LocalProtocolError",
    "SASLError",
    "StanzaError",
    "StreamEnd",
    "StreamError",
    "StreamHeader",
    "Tokenizer",
    "XMPPError",
    "iq",
    "message",
    "presence",
    "serialize",
    "stream_footer",
    "stream_header",
]
