"""``client.muc`` (XEP-0045 multi-user chat) for the asyncio client: the methods that send
and wait, each a line or two over :mod:`fastxmpp.xep.muc` (which builds, reads, keeps the
rooms' state and rejoins them)."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, Mapping, Optional

from ..element import Element
from ..im._types import Text
from ..jid import JID, JIDLike
from ..xep import forms
from ..xep.muc import History, MUCBase, MUCCore, RoomBase, Waiter

__all__ = ["MUC", "Room"]


class Room(RoomBase):
    """A joined room (asyncio): its state (``occupants``, ``me``, ``subject``, ``joined``)
    and what can be done in it."""

    async def send(self, body: Text = None, **kw: Any) -> Element:
        """Send a groupchat message (keywords of :func:`~fastxmpp.im.messages.build_message`)."""
        stanza = self.core.groupchat(self.jid, body, **kw)
        await self.client.send(stanza)
        return stanza

    async def send_private(self, nick: str, body: Text = None, **kw: Any) -> Element:
        """Send a private message to the occupant ``nick``."""
        stanza = self.core.private(self.jid, nick, body, **kw)
        await self.client.send(stanza)
        return stanza

    async def set_subject(self, subject: str) -> None:
        """Set the room's subject (the room echoes it as a :class:`~fastxmpp.xep.muc.SubjectChanged`)."""
        await self.client.send(self.core.subject(self.jid, subject))

    async def change_nick(self, nick: str, *, timeout: Optional[float] = None) -> "Room":
        """Take the nickname ``nick``; returns once the room confirmed it (a refusal raises
        its :class:`~fastxmpp.xep.muc.JoinError`, e.g. NicknameInUse)."""
        waiter = self._expect_nick()
        await self.client.send(self.core.change_nick(self.jid, nick))
        return self.muc._outcome(await self.muc._wait(waiter, timeout))  # type: ignore[no-any-return]

    async def leave(self, status: Optional[str] = None, *, timeout: Optional[float] = None) -> None:
        """Leave the room; returns once the room confirmed it."""
        waiter = self._expect_left()
        await self.client.send(self.core.leave(self.jid, status))
        await self.muc._wait(waiter, timeout)

    async def set_role(self, nick: str, role: str, reason: Optional[str] = None) -> None:
        """Give ``nick`` the role ``role`` (moderator, participant, visitor, none)."""
        await self.client.iq(self.core.set_role(self.jid, nick, role, reason))

    async def kick(self, nick: str, reason: Optional[str] = None) -> None:
        """Kick ``nick`` out of the room (role none)."""
        await self.set_role(nick, "none", reason)

    async def set_affiliation(self, jid: JIDLike, affiliation: str, reason: Optional[str] = None) -> None:
        """Give the bare ``jid`` the affiliation (owner, admin, member, outcast, none)."""
        await self.client.iq(self.core.set_affiliation(self.jid, jid, affiliation, reason))

    async def ban(self, jid: JIDLike, reason: Optional[str] = None) -> None:
        """Ban the bare ``jid`` (affiliation outcast)."""
        await self.set_affiliation(jid, "outcast", reason)

    async def affiliations(self, affiliation: str) -> Dict[JID, str]:
        """The bare JIDs with ``affiliation`` (admins and owners may ask)."""
        return MUCCore.parse_affiliations(await self.client.iq(self.core.affiliations_request(self.jid, affiliation)))

    async def get_config(self) -> forms.Form:
        """The room's configuration form (owners may ask)."""
        return MUCCore.config_form(await self.client.iq(MUCCore.config_request(self.jid)))

    async def configure(self, fields: Optional[Mapping[str, Any]] = None) -> None:
        """Fetch the configuration form, set ``fields`` ({var: value}, ``muc#roomconfig_``
        may be left out of the vars) and submit it."""
        result = await self.client.iq(MUCCore.config_request(self.jid))
        await self.client.iq(self._config_submit(result, fields or {}))

    async def set_up(self) -> None:
        """Unlock a room our join created: submit ``config`` when the join gave one, else
        accept the default configuration (an instant room)."""
        if self.config is None:
            await self.client.iq(MUCCore.owner_submit(self.jid))
        else:
            await self.configure(self.config)

    async def destroy(self, reason: Optional[str] = None, alternate: Optional[JIDLike] = None) -> None:
        """Destroy the room (owners only)."""
        await self.client.iq(MUCCore.destroy_request(self.jid, reason, alternate))


class MUC(MUCBase[Room]):
    """``client.muc`` (asyncio): ``await join(room, nick)`` returns a :class:`Room`;
    ``rooms``, listeners (``on_event``, ``on_message``, ``on_join``, ...), rejoin after a
    new session (see :class:`~fastxmpp.xep.muc.MUCBase`)."""

    room_class = Room
    clock = staticmethod(time.time)

    async def join(self, room: JIDLike, nick: str, *, password: Optional[str] = None,
                   history: Optional[History] = None, config: Optional[Mapping[str, Any]] = None,
                   timeout: Optional[float] = None) -> Room:
        """Join ``room`` as ``nick``; returns the :class:`Room` once the room sent our own
        presence.  A refusal raises its :class:`~fastxmpp.xep.muc.JoinError`.  When the
        join creates the room, it is configured with ``config`` (else as an instant room)."""
        waiter, presence = self._join(room, nick, password=password, history=history, config=config)
        await self.client.send(presence)
        joined: Room = self._outcome(await self._wait(waiter, timeout))
        if joined.created:
            await joined.set_up()
        return joined

    async def _wait(self, waiter: Waiter, timeout: Optional[float]) -> Any:
        if waiter.event is None:
            future = asyncio.get_running_loop().create_future()
            waiter.wake = lambda event: None if future.done() else future.set_result(event)
            try:
                await asyncio.wait_for(future, timeout or self.client.iq_timeout)
            finally:
                self._forget(waiter)
        return waiter.event

    def _send_now(self, stanza: Element) -> None:
        self.client.send_nowait(stanza)
