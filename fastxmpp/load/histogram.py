"""An HDR-style latency histogram: log-linear buckets, fixed memory, mergeable.

Values are non-negative integers in whatever unit the caller picks (the load
runner records microseconds).  The layout is HdrHistogram's: values below
``2**precision_bits`` each get their own bucket; above that, every power of two
is split into ``2**(precision_bits - 1)`` equal sub-buckets.  A bucket is at
most ``2**(1 - precision_bits)`` of its values wide, so with the default 8
bits a reported percentile (the bucket's midpoint) is within 1/256 (0.4 %) of
the true value; counts are exact.

Memory is fixed at construction (an ``array`` of 64-bit counters, about 35 KB
for the defaults: 1 us to 2**40 us, i.e. 12 days).  Values above
``highest_trackable`` are clamped into the last bucket (and counted in
``clamped``); ``max`` stays exact.  Two histograms with the same layout merge
with :meth:`Histogram.merge` (or ``+``), so per-user or per-process histograms
can be summed.
"""
from __future__ import annotations

from array import array
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, TypedDict

__all__ = ["Histogram", "DEFAULT_PERCENTILES"]

DEFAULT_PERCENTILES: Tuple[float, ...] = (50.0, 90.0, 99.0, 99.9)


class _HistogramDictBase(TypedDict):
    highest_trackable: int
    precision_bits: int
    min: Optional[int]
    max: Optional[int]
    total: int
    buckets: List[List[int]]  # [index, count] pairs


class _HistogramDict(_HistogramDictBase, total=False):
    """:meth:`Histogram.to_dict`'s encoding; ``clamped`` may be missing from older dumps."""

    clamped: int


class Histogram:
    """A log-bucketed histogram of non-negative integer values.

    ``Histogram(highest_trackable=2**40, precision_bits=8)``; ``record(v)``,
    ``record(v, count)``, ``percentile(99.0)``, ``merge(other)``, ``summary()``.
    """

    __slots__ = ("precision_bits", "highest_trackable", "_sub", "_half", "_counts",
                 "count", "total", "min", "max", "clamped")

    def __init__(self, highest_trackable: int = 1 << 40, precision_bits: int = 8) -> None:
        if not 2 <= precision_bits <= 16:
            raise ValueError("precision_bits must be between 2 and 16")
        if highest_trackable < 2:
            raise ValueError("highest_trackable must be at least 2")
        self.precision_bits = precision_bits
        self.highest_trackable = int(highest_trackable)
        self._sub = 1 << precision_bits
        self._half = self._sub >> 1
        self._counts = array("q", bytes(8 * (self._index(self.highest_trackable) + 1)))
        self.count = 0
        self.total = 0
        self.min: Optional[int] = None
        self.max: Optional[int] = None
        self.clamped = 0

    # -- layout -----------------------------------------------------------------------
    def _index(self, value: int) -> int:
        shift = value.bit_length() - self.precision_bits
        if shift <= 0:
            return value
        return self._sub + (shift - 1) * self._half + ((value >> shift) - self._half)

    def _bounds(self, index: int) -> Tuple[int, int]:
        """The lowest and highest value that land in bucket ``index``."""
        if index < self._sub:
            return index, index
        shift, offset = divmod(index - self._sub, self._half)
        shift += 1
        low = (self._half + offset) << shift
        return low, low + (1 << shift) - 1

    @property
    def bucket_count(self) -> int:
        """How many buckets the histogram has (fixed by its range and precision)."""
        return len(self._counts)

    # -- recording --------------------------------------------------------------------
    def record(self, value: int, count: int = 1) -> None:
        """Add ``count`` occurrences of ``value`` (an int >= 0; floats are rounded)."""
        if type(value) is not int:
            value = int(round(value))
        if value < 0:
            raise ValueError("histogram values must be >= 0")
        if count <= 0:
            if count == 0:
                return
            raise ValueError("count must be >= 0")
        if value > self.highest_trackable:
            self.clamped += count
            index = len(self._counts) - 1
        else:
            index = self._index(value)
        self._counts[index] += count
        self.count += count
        self.total += value * count
        low, high = self.min, self.max
        if low is None or value < low:
            self.min = value
        if high is None or value > high:
            self.max = value

    def record_many(self, values: Iterable[int]) -> None:
        """Record every value of ``values``."""
        for value in values:
            self.record(value)

    def record_corrected(self, value: int, expected_interval: int, count: int = 1) -> None:
        """Record ``value`` corrected for coordinated omission (HdrHistogram's
        ``recordValueWithExpectedInterval``).

        For the open model, where a request was due every ``expected_interval``
        (same unit as ``value``): a response that took longer held back the
        requests behind it, whose latencies a stalled client never measures.
        They are recorded too, as ``value - expected_interval``,
        ``value - 2 * expected_interval``... down to ``expected_interval``.
        ``expected_interval <= 0`` records ``value`` alone.
        """
        self.record(value, count)
        if expected_interval <= 0 or count == 0:
            return
        if type(value) is not int:
            value = int(round(value))
        missing = value - expected_interval
        while missing >= expected_interval:
            self.record(missing, count)
            missing -= expected_interval

    def corrected(self, expected_interval: int) -> "Histogram":
        """A copy corrected for coordinated omission after the fact (HdrHistogram's
        ``copyCorrectedForCoordinatedOmission``): every bucket is re-recorded with
        :meth:`record_corrected`, taking the bucket's lowest value as its value (the
        exact ``min``/``max`` are kept, the sum is that of the values recorded).
        Prefer :meth:`record_corrected` while recording: it corrects exact values.
        """
        out = Histogram(self.highest_trackable, self.precision_bits)
        if expected_interval <= 0:
            return out.merge(self)
        for index, n in enumerate(self._counts):
            if n:
                low, _ = self._bounds(index)
                out.record_corrected(low, expected_interval, n)
        if self.count:
            out.min = self.min if out.min is None else min(out.min, self.min)  # type: ignore[type-var]
            out.max = self.max if out.max is None else max(out.max, self.max)  # type: ignore[type-var]
        return out

    def merge(self, other: "Histogram") -> "Histogram":
        """Add ``other``'s counts into this histogram (same layout required); returns self."""
        if (other.precision_bits, other.highest_trackable) != (self.precision_bits, self.highest_trackable):
            raise ValueError("cannot merge histograms with different layouts")
        if other.count == 0:
            return self
        counts = self._counts
        for index, n in enumerate(other._counts):
            if n:
                counts[index] += n
        self.count += other.count
        self.total += other.total
        self.clamped += other.clamped
        if self.min is None or (other.min is not None and other.min < self.min):
            self.min = other.min
        if self.max is None or (other.max is not None and other.max > self.max):
            self.max = other.max
        return self

    def __add__(self, other: "Histogram") -> "Histogram":
        return self.copy().merge(other)

    def copy(self) -> "Histogram":
        """A new histogram with the same layout and counts."""
        new = Histogram(self.highest_trackable, self.precision_bits)
        return new.merge(self)

    def reset(self) -> None:
        """Forget every value recorded (the layout stays)."""
        self._counts = array("q", bytes(8 * len(self._counts)))
        self.count = self.total = self.clamped = 0
        self.min = self.max = None

    # -- queries ----------------------------------------------------------------------
    def __len__(self) -> int:
        return self.count

    @property
    def mean(self) -> Optional[float]:
        """The exact mean of the values recorded, or None when there are none."""
        return self.total / self.count if self.count else None

    def percentile(self, p: float) -> Optional[int]:
        """The value at percentile ``p`` (0-100), nearest-rank; None when empty.

        The result is the midpoint of the bucket holding the value of rank
        ``ceil(p / 100 * count)``, clamped to the exact ``min``/``max``; the
        first and last ranks give ``min`` and ``max`` exactly.
        """
        return self.percentiles((p,))[0]

    def percentiles(self, ps: Sequence[float]) -> List[Optional[int]]:
        """Several percentiles in one pass over the buckets."""
        if not self.count:
            return [None] * len(ps)
        for p in ps:
            if not 0.0 <= p <= 100.0:
                raise ValueError("percentiles are between 0 and 100")
        assert self.min is not None and self.max is not None
        order = sorted(range(len(ps)), key=lambda i: ps[i])
        ranks = [max(1, -(-int(round(ps[i] * self.count * 1000)) // 100000)) for i in order]
        out: List[Optional[int]] = [None] * len(ps)
        seen = 0
        j = 0
        for index, n in enumerate(self._counts):
            if not n:
                continue
            seen += n
            while j < len(order) and ranks[j] <= seen:
                rank = ranks[j]
                if rank >= self.count:
                    out[order[j]] = self.max  # the top rank is exact
                elif rank == 1:
                    out[order[j]] = self.min  # and so is the bottom one
                else:
                    low, high = self._bounds(index)
                    out[order[j]] = min(max((low + high) // 2, self.min), self.max)
                j += 1
            if j == len(order):
                break
        for k in range(j, len(order)):  # rounding pushed a rank past the end
            out[order[k]] = self.max
        return out

    def buckets(self) -> Iterator[Tuple[int, int, int]]:
        """``(low, high, count)`` of every non-empty bucket, in value order."""
        for index, n in enumerate(self._counts):
            if n:
                low, high = self._bounds(index)
                yield low, high, n

    def summary(self, ps: Sequence[float] = DEFAULT_PERCENTILES, scale: float = 1.0) -> Dict[str, Optional[float]]:
        """``count``, ``min``, ``mean``, ``pNN`` and ``max`` as a dict, each value divided by ``scale``.

        Keys for percentiles are ``p50``, ``p90``, ``p99``, ``p99.9``...
        """
        def scaled(v: Optional[float]) -> Optional[float]:
            return None if v is None else v / scale

        out: Dict[str, Optional[float]] = {"count": self.count, "min": scaled(self.min), "mean": scaled(self.mean)}
        for p, v in zip(ps, self.percentiles(ps)):
            out["p" + _pct_name(p)] = scaled(v)
        out["max"] = scaled(self.max)
        return out

    def to_dict(self) -> _HistogramDict:
        """A compact, JSON-friendly encoding (non-empty buckets only); see :meth:`from_dict`."""
        return {
            "highest_trackable": self.highest_trackable,
            "precision_bits": self.precision_bits,
            "min": self.min,
            "max": self.max,
            "total": self.total,
            "clamped": self.clamped,
            "buckets": [[i, n] for i, n in enumerate(self._counts) if n],
        }

    @classmethod
    def from_dict(cls, data: _HistogramDict) -> "Histogram":
        """The histogram that :meth:`to_dict` described."""
        h = cls(int(data["highest_trackable"]), int(data["precision_bits"]))
        for index, n in data["buckets"]:
            h._counts[index] += n
            h.count += n
        h.min, h.max = data["min"], data["max"]
        h.total = int(data["total"])
        h.clamped = int(data.get("clamped", 0))
        return h

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if not self.count:
            return "<Histogram empty>"
        p50, p99 = self.percentiles((50.0, 99.0))
        return f"<Histogram count={self.count} min={self.min} p50={p50} p99={p99} max={self.max}>"


def _pct_name(p: float) -> str:
    text = ("%f" % p).rstrip("0").rstrip(".")
    return text
