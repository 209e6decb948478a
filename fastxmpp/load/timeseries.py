"""Per-second time series of a load run: counters and interval latency histograms.

:class:`TimeSeries` polls; it adds nothing to the recording path.  Once per
``interval`` (aligned on the wall clock, so that the series of several worker
processes line up) it reads the runner's cumulative counters and the counts
of its cumulative :class:`~fastxmpp.load.histogram.Histogram` objects, and
keeps the difference from the previous sample: counters per interval, and
each interval's histogram in HdrHistogram's compressed encoding (exact counts,
:mod:`fastxmpp.load.hdr`), with its percentiles.  A sample costs a pass over
each histogram's buckets (about 4,400 for the default layout), well under a
millisecond.

Hooking it into a runner (``LoadRunner.run_async`` does this)::

    series = TimeSeries.for_runner(runner)          # or TimeSeries(counters=..., histograms=...)
    task = asyncio.ensure_future(series.run())
    ...                                             # the run
    task.cancel(); await task                        # (catching CancelledError): a last sample
    report.update(series.report_fields())           # "timeseries" and "histograms"

Several processes' series merge exactly with :func:`merge_timeseries`
(counters added, interval histograms added: never an average of percentiles),
and their histograms with :func:`merge_histogram_fields`.
"""
from __future__ import annotations

import asyncio
import math
import time
from array import array
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from .hdr import decode_histogram, encode_histogram
from .histogram import Histogram

__all__ = ["TimeSeries", "merge_timeseries", "merge_histogram_fields", "PERCENTILES"]

#: The percentiles kept per interval (and plotted over time by the HTML report).
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def _interval_summary(hist: Histogram, scale: float = 1000.0) -> Dict[str, Any]:
    out: Dict[str, Any] = {"hdr": encode_histogram(hist)}
    out.update(hist.summary(PERCENTILES, scale=scale))
    return out


class TimeSeries:
    """Samples ``counters()`` (cumulative ints) and ``histograms`` (cumulative) every ``interval`` s.

    Histogram values are taken to be microseconds; the percentiles kept per
    interval are in milliseconds (as in the JSON report).
    """

    def __init__(self, *, counters: Callable[[], Mapping[str, int]],
                 histograms: Optional[Mapping[str, Histogram]] = None, interval: float = 1.0,
                 clock: Callable[[], float] = time.time) -> None:
        if not interval > 0:
            raise ValueError("interval must be > 0")
        self.interval = float(interval)
        self._counters = counters
        self._histograms = dict(histograms or {})
        self._clock = clock
        self.samples: List[Dict[str, Any]] = []
        self.start: Optional[float] = None
        self._last_time = 0.0
        self._last_counters: Dict[str, int] = {}
        self._last_counts: "Dict[str, array[int]]" = {}
        self._last_total: Dict[str, int] = {}

    @classmethod
    def for_runner(cls, runner: Any, interval: float = 1.0, *,
                   clock: Callable[[], float] = time.time) -> "TimeSeries":
        """A series over a :class:`~fastxmpp.load.runner.LoadRunner`'s counters and histograms."""

        def counters() -> Dict[str, int]:
            out = {"logins": runner.login_ok, "login_failures": runner.login_failed,
                   "sent": runner.sent, "received": runner.received}
            errors = getattr(runner, "errors", {})
            out["errors"] = sum(errors.values())
            for kind, n in errors.items():
                out["error:" + kind] = n
            return out

        histograms = {"login": runner.login_latency, "latency": runner.latency}
        for phase, hist in getattr(runner, "login_phases", {}).items():
            histograms["login_" + phase] = hist
        if getattr(getattr(runner, "config", None), "phases", None):
            histograms["login_corrected"] = runner.login_corrected
        return cls(counters=counters, interval=interval, clock=clock, histograms=histograms)

    # -- sampling ---------------------------------------------------------------------
    def begin(self) -> None:
        """Take the baseline: what was counted before now is not in the series."""
        self.start = self._last_time = self._clock()
        self._last_counters = dict(self._counters())
        self._last_counts = {name: array("q", h._counts) for name, h in self._histograms.items()}
        self._last_total = {name: h.count for name, h in self._histograms.items()}

    def sample(self) -> Dict[str, Any]:
        """Close the current interval now and return its sample."""
        if self.start is None:
            self.begin()
        now = self._clock()
        current = dict(self._counters())
        deltas = {k: v - self._last_counters.get(k, 0) for k, v in current.items()}
        self._last_counters = current
        hists: Dict[str, Any] = {}
        for name, hist in self._histograms.items():
            prev = self._last_counts[name]
            counts = hist._counts
            interval = Histogram(hist.highest_trackable, hist.precision_bits)
            if hist.count != self._last_total.get(name):
                icounts = interval._counts
                for i in range(len(counts)):
                    n = counts[i] - prev[i]
                    if n:
                        icounts[i] = n
                        interval.count += n
                        low, high = hist._bounds(i)
                        interval.total += n * ((low + high) // 2)
                        if interval.min is None:
                            interval.min = low
                        interval.max = high
            if interval.count:  # exact extremes where the cumulative ones fall in this interval
                assert interval.min is not None and interval.max is not None
                if hist.max is not None and interval.min <= hist.max <= interval.max:
                    interval.max = min(interval.max, hist.max)
                if hist.min is not None and interval.min <= hist.min <= interval.max:
                    interval.min = max(interval.min, hist.min)
            self._last_counts[name] = array("q", counts)
            self._last_total[name] = hist.count
            hists[name] = _interval_summary(interval)
        sample = {"start": self._last_time, "end": now, "counters": deltas, "histograms": hists}
        self._last_time = now
        self.samples.append(sample)
        return sample

    async def run(self) -> None:
        """Sample every ``interval`` (on wall-clock multiples of it) until cancelled; then a last one."""
        if self.start is None:
            self.begin()
        try:
            while True:
                now = self._clock()
                due = (math.floor(now / self.interval) + 1) * self.interval
                await asyncio.sleep(max(0.0, due - now))
                self.sample()
        except asyncio.CancelledError:
            self.sample()
            raise

    # -- output -----------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """The series as JSON-ready data (interval, start, samples)."""
        return {"interval": self.interval, "start": self.start, "samples": list(self.samples)}

    def report_fields(self) -> Dict[str, Any]:
        """``{"timeseries": ..., "histograms": ...}`` to add to the JSON report: the series and
        each whole-run histogram in HdrHistogram's encoding (for distribution plots and HDR tools)."""
        return {"timeseries": self.to_dict(),
                "histograms": {name: encode_histogram(h) for name, h in self._histograms.items()}}


def merge_timeseries(series: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Several processes' :meth:`TimeSeries.to_dict` as one: samples whose intervals end in
    the same wall-clock ``interval`` slot are added (counters summed, histograms added)."""
    series = [s for s in series if s]
    if not series:
        return {"interval": 1.0, "start": None, "samples": []}
    interval = float(series[0]["interval"])
    slots: Dict[int, Dict[str, Any]] = {}
    hists: Dict[int, Dict[str, Histogram]] = {}
    for s in series:
        for sample in s["samples"]:
            key = math.ceil(sample["end"] / interval - 1e-6)
            slot = slots.get(key)
            if slot is None:
                slot = slots[key] = {"start": sample["start"], "end": sample["end"], "counters": {}}
                hists[key] = {}
            slot["start"] = min(slot["start"], sample["start"])
            slot["end"] = max(slot["end"], sample["end"])
            for k, v in sample["counters"].items():
                slot["counters"][k] = slot["counters"].get(k, 0) + v
            for name, h in sample["histograms"].items():
                decoded = decode_histogram(h["hdr"])
                if name in hists[key]:
                    hists[key][name].merge(decoded)
                else:
                    hists[key][name] = decoded
    samples = []
    for key in sorted(slots):
        slot = slots[key]
        slot["histograms"] = {name: _interval_summary(h) for name, h in hists[key].items()}
        samples.append(slot)
    starts = [s["start"] for s in series if s.get("start") is not None]
    return {"interval": interval, "start": min(starts) if starts else None, "samples": samples}


def merge_histogram_fields(fields: Sequence[Mapping[str, str]]) -> Dict[str, str]:
    """Several reports' ``"histograms"`` (name -> HdrHistogram base64) added name by name."""
    out: Dict[str, Histogram] = {}
    for f in fields:
        for name, blob in f.items():
            h = decode_histogram(blob)
            if name in out:
                out[name].merge(h)
            else:
                out[name] = h
    return {name: encode_histogram(h) for name, h in out.items()}


def interval_log_from_report(report: Mapping[str, Any]) -> Optional[str]:
    """The report's histograms as an HdrHistogram interval log (``.hlog`` text), tagged by
    name (``login``, ``latency``): one line per interval of its time series, or, without a
    series, one line per whole-run histogram.  None when the report has neither."""
    from .hdr import format_interval_log

    series = report.get("timeseries") or {}
    intervals = []
    for sample in series.get("samples") or ():
        for name, h in sample["histograms"].items():
            intervals.append((sample["start"], sample["end"], decode_histogram(h["hdr"]), name))
    if not intervals:
        whole = report.get("histograms") or {}
        if not whole:
            return None
        end = time.time()
        start = end - float(report.get("duration_seconds") or 0.0)
        intervals = [(start, end, decode_histogram(blob), name) for name, blob in whole.items()]
    return format_interval_log(intervals, start_time=series.get("start"),
                               comments=["fastxmpp load: values in microseconds; Interval_Max in ms"])
