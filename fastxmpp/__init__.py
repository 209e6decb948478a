"""fastxmpp: a fast, correct XMPP client library."""
