"""XMPP extensions (XEPs), each a small sans-IO module with its namespace constants:
:mod:`~fastxmpp.xep.disco` (XEP-0030 service discovery), :mod:`~fastxmpp.xep.ping`
(XEP-0199) and :mod:`~fastxmpp.xep.version` (XEP-0092).

The clients expose them as ``client.disco``, ``client.pinger`` and
``client.software_version`` (see :mod:`fastxmpp.xep._glue`).
"""
from ._iq import RemoteInvalidResult
from .disco import (NS_DISCO_INFO, NS_DISCO_ITEMS, DiscoCache, DiscoInfo, DiscoItem, DiscoItems,
                    DiscoResponder, Identity, InvalidDiscoResult)
from .ping import NS_PING
from .version import NS_VERSION, InvalidVersionResult, SoftwareVersion

__all__ = [
    "NS_DISCO_INFO", "NS_DISCO_ITEMS", "NS_PING", "NS_VERSION", "DiscoCache", "DiscoInfo",
    "DiscoItem", "DiscoItems", "DiscoResponder", "Identity", "InvalidDiscoResult",
    "InvalidVersionResult", "RemoteInvalidResult", "SoftwareVersion",
]
