"""The blocking driver (plain sockets, no threads: gevent- and so Locust-friendly): :class:`Client`."""
from .client import Client, ConnectionLost

__all__ = ["Client", "ConnectionLost"]
