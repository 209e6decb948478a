"""A check of a client's ``last_login_timings`` shared by the aio and sync client tests."""
from __future__ import annotations

from fastxmpp.events import LoginTimings


def check_login_timings(timings, *, tls, resumed=False):
    """The phases are all there, in order, and add up to no more than the total (no
    thresholds: only the order of the clock readings is checked)."""
    assert isinstance(timings, LoginTimings)
    assert timings.resumed is resumed
    marks = [timings.started, timings.connected]
    if tls:
        assert timings.secured is not None and timings.tls is not None and timings.tls >= 0
        marks.append(timings.secured)
    else:
        assert timings.secured is None and timings.tls is None
    marks += [timings.authenticated, timings.bound]
    assert marks == sorted(marks)
    phases = timings.phases()
    assert list(phases) == ["tcp", "tls", "sasl", "bind"]
    assert all(seconds >= 0 for seconds in phases.values())
    assert sum(phases.values()) <= timings.total + 1e-9
    assert timings.total > 0
