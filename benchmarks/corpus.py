"""Deterministic generator of a realistic server-to-client XMPP stream.

``generate()`` returns the bytes of one stream as a client would receive it
after authentication and resource binding: the stream header (with xml:lang),
then a seeded mix of

* chat messages with a body, a receipt request (XEP-0184) and a chat state
  (XEP-0085); some with xml:lang, a thread, non-ASCII text and characters
  that need escaping;
* delivery receipts and standalone chat-state notifications;
* presences with entity capabilities (XEP-0115), show/status/priority; MUC
  occupant presences (XEP-0045 muc#user);
* one 500-item roster result (RFC 6121) near the start, plus roster pushes;
* MUC groupchat messages with delay (XEP-0203) and stanza-id (XEP-0359);
* disco#info results (XEP-0030) with identities and features.

No stream footer: the stream is "still open", like a live connection.  Top-level
``<proceed/>``/``<success/>`` (which pause a fastxmpp tokenizer) are not used.

``chunks()`` cuts the stream into 4 KiB pieces, as a socket would deliver it
(pieces may split a UTF-8 sequence or a tag; every parser must cope).

Run ``python benchmarks/corpus.py`` to print the size and the stanza mix.
"""
from __future__ import annotations

import random
from functools import lru_cache
from typing import Dict, List, Tuple

__all__ = ["generate", "chunks", "corpus", "SEED", "TARGET_BYTES", "CHUNK_SIZE"]

SEED = 20240601
TARGET_BYTES = 10 * 1024 * 1024
CHUNK_SIZE = 4096

_FIRST = [
    "juliet", "romeo", "mercutio", "benvolio", "tybalt", "nurse", "paris", "balthasar",
    "alice", "bob", "carol", "dave", "eve", "mallory", "trent", "peggy", "victor",
    "jose", "zoe", "soren", "francois", "bjorn", "anais", "noemie", "lukas", "marta",
    "wei", "yuki", "olga", "dmitri", "priya", "ahmed", "fatima", "chen", "kenji",
]
# Display names (roster item names, MUC nicks): some non-ASCII.
_NICKS = [
    "Juliet", "Romeo", "José", "Zoë", "Søren", "François", "Björn", "Anaïs", "Noémie",
    "Łukasz", "Marta", "李雷", "韩梅梅", "ゆき", "Ольга", "Дмитрий", "प्रिया", "أحمد",
    "Fatima", "Chen Wei", "Kenji", "Mallory", "Trent", "Peggy", "Victor", "Dave",
]
_DOMAINS = ["example.org", "jabber.example.net", "chat.example.com", "xmpp.example.de", "im.example.fr"]
_MUC_DOMAINS = ["conference.example.org", "muc.jabber.example.net", "rooms.example.com"]
_ROOMS = ["devs", "lobby", "release-planning", "café", "general", "random", "ops", "support"]
_RESOURCES = ["Conversations.Xk3f", "gajim.P9Q2", "laptop", "phone", "Dino.a1b2", "Monal-iOS.77", "Psi+"]
_LANGS = ["en", "de", "fr", "es", "ru", "ja", "zh-Hans", "pt-BR"]
_WORDS = (
    "the a to and of is in it you that for on are with as was be at this have from or "
    "one had by word but not what all were we when your can said there use an each which "
    "she do how their if will up other about out many then them these so some her would "
    "meeting release build deploy tomorrow tonight lunch coffee server patch review merge "
    "ticket bug fixed ok thanks sure cool see later maybe agreed done ship "
    "café naïve façade déjà-vu über straße smörgåsbord mañana jalapeño "
    "привет спасибо 你好 谢谢 こんにちは ありがとう مرحبا שלום γειά "
    "😀 👍 🎉 ❤️ ✔"
).split()
_ESCAPY = ["<", ">", "&", "\"", "'", "a<b", "x && y", "R&D", "<3", "'quoted'", "\"hi\""]
_CHATSTATES = ["active", "composing", "paused", "inactive", "gone"]
_SHOWS = [None, None, None, "away", "xa", "dnd", "chat"]
_CAPS_NODES = [
    "http://conversations.im", "https://gajim.org", "https://dino.im",
    "https://monal-im.org", "http://psi-im.org", "https://www.pidgin.im/",
]
_FEATURES = [
    "http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info",
    "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc",
    "http://jabber.org/protocol/chatstates", "urn:xmpp:receipts", "urn:xmpp:ping",
    "urn:xmpp:time", "jabber:iq:version", "urn:xmpp:carbons:2", "urn:xmpp:mam:2",
    "urn:xmpp:sid:0", "urn:xmpp:chat-markers:0", "urn:xmpp:message-correct:0",
    "urn:xmpp:jingle:1", "urn:xmpp:jingle:apps:rtp:1", "urn:xmpp:avatar:metadata+notify",
    "http://jabber.org/protocol/nick+notify", "urn:xmpp:bookmarks:1+notify",
    "eu.siacs.conversations.axolotl.devicelist+notify", "urn:xmpp:http:upload:0",
    "jabber:x:conference", "urn:xmpp:blocking", "urn:xmpp:reply:0",
]


def _esc_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _esc_attr(s: str) -> str:
    return _esc_text(s).replace("'", "&apos;").replace('"', "&quot;")


class _Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        r = self.r
        # A stable population of contacts.
        self.contacts: List[str] = []
        seen = set()
        while len(self.contacts) < 600:
            local = "%s%s" % (r.choice(_FIRST), "" if r.random() < 0.3 else str(r.randrange(1, 999)))
            jid = "%s@%s" % (local, r.choice(_DOMAINS))
            if jid not in seen:
                seen.add(jid)
                self.contacts.append(jid)
        self.me = "juliet@example.org"
        self.me_full = self.me + "/balcony.Hx7Q"
        self.rooms = ["%s@%s" % (room, r.choice(_MUC_DOMAINS)) for room in _ROOMS]
        self.caps_ver = {node: self._b64(20) for node in _CAPS_NODES}

    # -- atoms --------------------------------------------------------------
    def _b64(self, n: int) -> str:
        import base64

        return base64.b64encode(bytes(self.r.getrandbits(8) for _ in range(n))).decode()

    def uuid(self) -> str:
        x = self.r.getrandbits(128)
        h = "%032x" % x
        return "%s-%s-4%s-a%s-%s" % (h[:8], h[8:12], h[13:16], h[17:20], h[20:])

    def short_id(self) -> str:
        return "%s-%d" % (self.r.choice(["purple", "gajim", "msg", "dino", "ab"]), self.r.randrange(1, 10**6))

    def full(self, bare: str) -> str:
        return "%s/%s" % (bare, self.r.choice(_RESOURCES))

    def text(self, lo: int = 2, hi: int = 30) -> str:
        r = self.r
        words = [r.choice(_WORDS) for _ in range(r.randint(lo, hi))]
        if r.random() < 0.25:
            words.insert(r.randrange(len(words) + 1), r.choice(_ESCAPY))
        s = " ".join(words)
        return s[0].upper() + s[1:]

    def stamp(self) -> str:
        r = self.r
        return "2024-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
            r.randint(1, 12), r.randint(1, 28), r.randint(0, 23), r.randint(0, 59),
            r.randint(0, 59), r.randrange(1000),
        )

    # -- stanzas -------------------------------------------------------------
    def chat(self) -> Tuple[str, str]:
        r = self.r
        lang = " xml:lang='%s'" % r.choice(_LANGS) if r.random() < 0.3 else ""
        thread = "<thread>%s</thread>" % self.uuid() if r.random() < 0.2 else ""
        return "chat", (
            "<message from='%s' to='%s' type='chat' id='%s'%s>"
            "<body>%s</body>%s"
            "<request xmlns='urn:xmpp:receipts'/>"
            "<active xmlns='http://jabber.org/protocol/chatstates'/>"
            "<origin-id xmlns='urn:xmpp:sid:0' id='%s'/>"
            "</message>"
        ) % (
            _esc_attr(self.full(r.choice(self.contacts))), self.me_full, self.uuid(), lang,
            _esc_text(self.text()), thread, self.uuid(),
        )

    def receipt(self) -> Tuple[str, str]:
        r = self.r
        return "receipt", (
            "<message from='%s' to='%s' id='%s'><received xmlns='urn:xmpp:receipts' id='%s'/></message>"
        ) % (self.full(r.choice(self.contacts)), self.me_full, self.short_id(), self.uuid())

    def chatstate(self) -> Tuple[str, str]:
        r = self.r
        return "chatstate", (
            "<message from='%s' to='%s' type='chat'><%s xmlns='http://jabber.org/protocol/chatstates'/></message>"
        ) % (self.full(r.choice(self.contacts)), self.me_full, r.choice(_CHATSTATES))

    def presence(self) -> Tuple[str, str]:
        r = self.r
        node = r.choice(_CAPS_NODES)
        show = r.choice(_SHOWS)
        parts = ["<presence from='%s' to='%s'>" % (self.full(r.choice(self.contacts)), self.me_full)]
        if show:
            parts.append("<show>%s</show>" % show)
        if r.random() < 0.6:
            lang = " xml:lang='%s'" % r.choice(_LANGS) if r.random() < 0.3 else ""
            parts.append("<status%s>%s</status>" % (lang, _esc_text(self.text(1, 8))))
        parts.append("<priority>%d</priority>" % r.choice([0, 1, 5, 10, 50, -1]))
        parts.append(
            "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='%s' ver='%s'/>"
            % (node, self.caps_ver[node])
        )
        if r.random() < 0.3:
            parts.append("<delay xmlns='urn:xmpp:delay' from='%s' stamp='%s'/>" % (r.choice(_DOMAINS), self.stamp()))
        parts.append("</presence>")
        return "presence", "".join(parts)

    def muc_presence(self) -> Tuple[str, str]:
        r = self.r
        room = r.choice(self.rooms)
        nick = r.choice(_NICKS)
        if nick.isascii() and r.random() < 0.5:  # (digits after RTL text would break the bidi rule)
            nick += str(r.randrange(100))
        node = r.choice(_CAPS_NODES)
        return "muc_presence", (
            "<presence from='%s/%s' to='%s' id='%s'>"
            "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='%s' ver='%s'/>"
            "<x xmlns='http://jabber.org/protocol/muc#user'>"
            "<item affiliation='%s' role='%s' jid='%s'/></x></presence>"
        ) % (
            _esc_attr(room), _esc_attr(nick), self.me_full, self.uuid(), node, self.caps_ver[node],
            r.choice(["none", "member", "member", "admin", "owner"]),
            r.choice(["participant", "participant", "moderator", "visitor"]),
            self.full(r.choice(self.contacts)),
        )

    def groupchat(self) -> Tuple[str, str]:
        r = self.r
        room = r.choice(self.rooms)
        nick = r.choice(_NICKS)
        delay = (
            "<delay xmlns='urn:xmpp:delay' from='%s' stamp='%s'/>" % (_esc_attr(room), self.stamp())
            if r.random() < 0.5 else ""
        )
        lang = " xml:lang='%s'" % r.choice(_LANGS) if r.random() < 0.3 else ""
        return "groupchat", (
            "<message from='%s/%s' to='%s' type='groupchat' id='%s'%s>"
            "<body>%s</body>%s"
            "<stanza-id xmlns='urn:xmpp:sid:0' id='%s' by='%s'/>"
            "<occupant-id xmlns='urn:xmpp:occupant-id:0' id='%s'/>"
            "</message>"
        ) % (
            _esc_attr(room), _esc_attr(nick), self.me_full, self.uuid(), lang,
            _esc_text(self.text(1, 40)), delay, self.uuid(), _esc_attr(room), self._b64(12),
        )

    def disco_info(self) -> Tuple[str, str]:
        r = self.r
        node = r.choice(_CAPS_NODES)
        feats = sorted(r.sample(_FEATURES, r.randint(8, len(_FEATURES))))
        return "disco_info", (
            "<iq from='%s' to='%s' type='result' id='%s'>"
            "<query xmlns='http://jabber.org/protocol/disco#info' node='%s#%s'>"
            "<identity category='client' type='%s' name='%s'/>%s"
            "</query></iq>"
        ) % (
            self.full(r.choice(self.contacts)), self.me_full, self.short_id(), node, self.caps_ver[node],
            r.choice(["pc", "phone"]), _esc_attr(r.choice(["Gajim", "Conversations", "Dino", "Monal", "Psi+"])),
            "".join("<feature var='%s'/>" % f for f in feats),
        )

    def _item(self, jid: str) -> str:
        r = self.r
        name = " name='%s'" % _esc_attr(r.choice(_NICKS)) if r.random() < 0.8 else ""
        sub = r.choice(["both", "both", "both", "to", "from", "none"])
        ask = " ask='subscribe'" if sub in ("none", "from") and r.random() < 0.3 else ""
        groups = "".join(
            "<group>%s</group>" % _esc_text(g)
            for g in r.sample(["Friends", "Work", "Family", "Café crew", "Ξ team", "R&D"], r.randint(0, 2))
        )
        return "<item jid='%s'%s subscription='%s'%s>%s</item>" % (jid, name, sub, ask, groups)

    def roster_result(self, n: int = 500) -> Tuple[str, str]:
        items = "".join(self._item(jid) for jid in self.contacts[:n])
        return "roster_result", (
            "<iq to='%s' type='result' id='roster-1'><query xmlns='jabber:iq:roster' ver='ver%d'>%s</query></iq>"
        ) % (self.me_full, self.r.randrange(10**6), items)

    def roster_push(self) -> Tuple[str, str]:
        return "roster_push", (
            "<iq to='%s' type='set' id='%s'><query xmlns='jabber:iq:roster' ver='ver%d'>%s</query></iq>"
        ) % (self.me_full, self.short_id(), self.r.randrange(10**6), self._item(self.r.choice(self.contacts)))


_HEADER = (
    "<?xml version='1.0'?>"
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "from='example.org' to='juliet@example.org' id='%s' version='1.0' xml:lang='en'>"
)

# (weight, generator method name)
_MIX = [
    (30, "chat"), (12, "receipt"), (10, "chatstate"), (18, "presence"), (6, "muc_presence"),
    (18, "groupchat"), (3, "disco_info"), (1, "roster_push"),
]


def generate(seed: int = SEED, target_bytes: int = TARGET_BYTES) -> Tuple[bytes, int, Dict[str, int]]:
    """Return ``(stream_bytes, stanza_count, count_per_kind)``; deterministic in ``seed``."""
    g = _Gen(seed)
    kinds = [name for _, name in _MIX]
    weights = [w for w, _ in _MIX]
    out: List[str] = [_HEADER % g.uuid()]
    out.append(
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
        "<sm xmlns='urn:xmpp:sm:3'/></stream:features>"
    )
    counts: Dict[str, int] = {"features": 1}
    size = sum(len(s.encode()) for s in out)
    first = [g.roster_result(500), g.presence(), g.disco_info()]
    n = 1
    while size < target_bytes:
        if first:
            kind, s = first.pop(0)
        else:
            kind, s = getattr(g, g.r.choices(kinds, weights)[0])()
        out.append(s)
        counts[kind] = counts.get(kind, 0) + 1
        size += len(s.encode())
        n += 1
    return "".join(out).encode("utf-8"), n, counts


def chunks(data: bytes, size: int = CHUNK_SIZE) -> List[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


@lru_cache(maxsize=None)
def corpus(seed: int = SEED, target_bytes: int = TARGET_BYTES) -> Tuple[Tuple[bytes, ...], int]:
    """Cached ``(chunks, stanza_count)`` for the default corpus (4 KiB chunks).

    The count includes ``<stream:features/>`` (a depth-1 element) and excludes
    the stream header.
    """
    data, n, _ = generate(seed, target_bytes)
    return tuple(chunks(data)), n


if __name__ == "__main__":
    import hashlib
    import time

    t = time.perf_counter()
    data, n, counts = generate()
    dt = time.perf_counter() - t
    print(f"{len(data)} bytes, {n} top-level elements, {len(chunks(data))} chunks of {CHUNK_SIZE}; "
          f"generated in {dt:.2f}s; sha256 {hashlib.sha256(data).hexdigest()[:16]}")
    for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {k:14s} {v}")
