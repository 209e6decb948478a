"""Load testing with fastxmpp: ``python -m fastxmpp load`` and a Locust user class.

- :mod:`fastxmpp.load.cli`: the command line (``main``).
- :mod:`fastxmpp.load.runner`: :class:`LoadRunner` (many asyncio clients in one loop).
- :mod:`fastxmpp.load.histogram`: :class:`Histogram`, an HDR-style latency histogram.
- :mod:`fastxmpp.load.report`: the text and JSON reports.
- :mod:`fastxmpp.load.locust`: ``XMPPUser`` for Locust (imports locust when used).
"""
from .histogram import Histogram
from .runner import NS_LOAD, SCENARIOS, LoadConfig, LoadRunner, Target, run_load

__all__ = ["Histogram", "LoadConfig", "LoadRunner", "Target", "run_load", "NS_LOAD", "SCENARIOS"]
