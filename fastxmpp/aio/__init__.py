"""The asyncio driver: :class:`Client`."""
from .client import Client, ConnectionLost

__all__ = ["Client", "ConnectionLost"]
