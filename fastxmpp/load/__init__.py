"""Load testing with fastxmpp: ``python -m fastxmpp load`` and a Locust user class.

- :mod:`fastxmpp.load.cli`: the command line (``main``).
- :mod:`fastxmpp.load.runner`: :class:`LoadRunner` (many asyncio clients in one loop).
- :mod:`fastxmpp.load.scenarios`: :class:`Scenario` (what each user does; the built-ins and
  your own) and the :class:`User` context it gets.
- :mod:`fastxmpp.load.recorder`: :class:`Recorder` (what a scenario counts) and the stamps.
- :mod:`fastxmpp.load.histogram`: :class:`Histogram`, an HDR-style latency histogram.
- :mod:`fastxmpp.load.report`: the text and JSON reports.
- :mod:`fastxmpp.load.locust`: ``XMPPUser`` for Locust (imports locust when used).
"""
from .histogram import Histogram
from .recorder import Recorder
from .runner import NS_LOAD, SCENARIOS, LoadConfig, LoadRunner, Target, run_load
from .scenarios import Scenario, User

__all__ = ["Histogram", "LoadConfig", "LoadRunner", "Target", "run_load", "NS_LOAD", "SCENARIOS",
           "Recorder", "Scenario", "User"]
