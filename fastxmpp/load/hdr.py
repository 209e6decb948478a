"""HdrHistogram's standard formats for :class:`~fastxmpp.load.histogram.Histogram`.

Our histogram's layout *is* HdrHistogram's (lowest discernible value 1, unit
magnitude 0): with ``precision_bits`` p, values below ``2**p`` have a bucket
each and every further power of two is split in ``2**(p - 1)`` buckets, and
bucket ``i`` of ours is counts index ``i`` of an HdrHistogram with the same
sub-bucket count.  HdrHistogram derives that count from its significant
digits d as ``2**ceil(log2(2 * 10**d))``, so p = 5, 8, 11, 15 are d = 1, 2, 3,
4 (the default p = 8 is d = 2), and the export is exact: same counts at the
same indexes, so the same percentiles.  Other p have no HdrHistogram twin and
are refused.

Why export rather than record with the ``hdrhistogram`` package:
``benchmarks/histogram_bench.py`` times one ``record`` per sample on both, and
the package's ``record_value`` (pure Python, several method calls per value)
is slower than ours; see benchmarks/README.md, "Load tester vs Tsung (issue
16)".  So the runner records with ours, and this module writes what HDR
tools read:

- :func:`encode_histogram`: the V2 compressed encoding, base64 (what
  ``HdrHistogram.encode()`` / Java's ``encodeIntoCompressedByteBuffer`` give,
  ``HISTF...``), and :func:`decode_histogram` back.
- :func:`format_interval_log` / :func:`write_interval_log`: the interval log
  (``.hlog``, format 1.3: ``#[StartTime...]``, ``#[BaseTime...]``, the legend,
  then ``[Tag=NAME,]start,length,max,HISTF...`` lines) that Java's
  ``HistogramLogProcessor``/``HistogramLogReader``, HdrHistogram.js and the
  ``hdrhistogram`` package's ``HistogramLogReader`` read.

Values stay in the unit they were recorded in (the load runner records
microseconds); the ``Interval_Max`` column is the interval's max divided by
``max_value_unit_ratio`` (default 1000: microseconds shown as milliseconds;
give Java's ``HistogramLogProcessor`` ``-outputValueUnitRatio 1000`` for
milliseconds in its percentile output).

Encoding (HdrHistogram's ``encodeIntoCompressedByteBuffer``): a big-endian
header, cookie ``0x1c849314``, the length of what follows, then the zlib
deflate of: cookie ``0x1c849313``, payload length, normalizing index offset
(0), significant digits, lowest (1) and highest trackable value (int64), the
integer-to-double ratio (1.0), then the counts up to the last non-zero one as
ZigZag LEB128 varints, a run of k > 1 zero counts written as -k.
"""
from __future__ import annotations

import base64
import math
import struct
import time
import zlib
from typing import IO, Iterable, List, Optional, Sequence, Tuple, Union

from .histogram import Histogram

__all__ = ["encode_histogram", "encode_histogram_raw", "decode_histogram", "significant_digits", "format_interval_log",
           "write_interval_log", "Interval", "LOG_FORMAT_VERSION"]

LOG_FORMAT_VERSION = "1.3"
_ENCODING_COOKIE = 0x1C849303 | 0x10
_COMPRESSION_COOKIE = 0x1C849304 | 0x10
_HEADER = struct.Struct(">iiiiqqd")  # cookie, payload length, offset, digits, lowest, highest, ratio
_LEGEND = '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'

#: One line of an interval log: (start, end, histogram, tag), start and end in Unix seconds.
Interval = Tuple[float, float, Histogram, Optional[str]]


def _digits_to_bits(digits: int) -> int:
    return math.ceil(math.log2(2 * 10 ** digits))


_BITS_TO_DIGITS = {_digits_to_bits(d): d for d in range(1, 6)}


def significant_digits(precision_bits: int) -> int:
    """HdrHistogram's significant digits with the same layout as ``precision_bits``.

    5, 8, 11 and 15 bits are 1, 2, 3 and 4 digits; other widths raise ``ValueError``.
    """
    try:
        return _BITS_TO_DIGITS[precision_bits]
    except KeyError:
        raise ValueError(f"precision_bits={precision_bits} has no HdrHistogram twin "
                         f"(use one of {sorted(b for b in _BITS_TO_DIGITS if b <= 16)})") from None


def _zigzag(value: int, out: bytearray) -> None:
    """Java HdrHistogram's ZigZagEncoding.putLong: LEB128 of the zigzag, 9th byte whole."""
    v = ((value << 1) ^ (value >> 63)) & 0xFFFFFFFFFFFFFFFF
    for _ in range(8):
        if v < 0x80:
            out.append(v)
            return
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)  # the ninth byte carries the last 8 bits


def _unzigzag(data: bytes, pos: int) -> Tuple[int, int]:
    v = 0
    shift = 0
    for i in range(9):
        b = data[pos]
        pos += 1
        if i == 8:
            v |= b << 56
            break
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return (v >> 1) ^ -(v & 1), pos


def encode_histogram(hist: Histogram) -> str:
    """``hist`` in HdrHistogram's V2 compressed encoding, base64 (``HISTF...``).

    Exact: the counts are HdrHistogram's counts at the same indexes.  Raises
    ``ValueError`` when ``hist.precision_bits`` has no HdrHistogram twin.
    """
    return base64.b64encode(encode_histogram_raw(hist)).decode("ascii")


def encode_histogram_raw(hist: Histogram) -> bytes:
    """:func:`encode_histogram` without the base64: the compressed bytes."""
    digits = significant_digits(hist.precision_bits)
    counts = hist._counts
    last = len(counts) - 1
    while last >= 0 and not counts[last]:
        last -= 1
    payload = bytearray()
    i = 0
    limit = last + 1
    while i < limit:
        n = counts[i]
        i += 1
        if n == 0:
            zeros = 1
            while i < limit and counts[i] == 0:
                zeros += 1
                i += 1
            _zigzag(-zeros if zeros > 1 else 0, payload)
        else:
            _zigzag(n, payload)
    header = _HEADER.pack(_ENCODING_COOKIE, len(payload), 0, digits, 1, hist.highest_trackable, 1.0)
    deflated = zlib.compress(header + bytes(payload))
    return struct.pack(">ii", _COMPRESSION_COOKIE, len(deflated)) + deflated


def decode_histogram(data: Union[str, bytes]) -> Histogram:
    """A :class:`Histogram` from HdrHistogram's V2 compressed encoding (base64 as text
    or bytes, or the raw bytes of :func:`encode_histogram_raw`).

    Counts are exact.  The encoding keeps neither the sum nor the exact min and
    max: ``min`` and ``max`` become the lowest and highest value of the first
    and last non-empty bucket, ``total`` the sum of bucket midpoints.  Only
    lowest discernible value 1 (what we and most users write) is read.
    """
    if isinstance(data, str) or data[:4] == b"HIST":  # base64 as text or as bytes
        raw = base64.b64decode(data)
    else:
        raw = bytes(data)
    cookie, length = struct.unpack_from(">ii", raw)
    if cookie & ~0xF0 != 0x1C849304:
        raise ValueError(f"not a compressed HdrHistogram (cookie {cookie:#x})")
    inner = zlib.decompress(raw[8:8 + length])
    cookie, plen, offset, digits, lowest, highest, _ratio = _HEADER.unpack_from(inner)
    if cookie & ~0xF0 != 0x1C849303:
        raise ValueError(f"not a V2 HdrHistogram encoding (cookie {cookie:#x})")
    if lowest != 1 or offset != 0:
        raise ValueError("only histograms with lowest discernible value 1 and no index offset are read")
    hist = Histogram(highest_trackable=highest, precision_bits=_digits_to_bits(digits))
    counts = hist._counts
    pos, end, index = _HEADER.size, _HEADER.size + plen, 0
    while pos < end:
        n, pos = _unzigzag(inner, pos)
        if n < 0:
            index -= n
            continue
        if n:
            if index >= len(counts):
                raise ValueError("count beyond the histogram's highest trackable value")
            counts[index] += n
            hist.count += n
        index += 1
    first = last = None
    for i, n in enumerate(counts):
        if n:
            low, high = hist._bounds(i)
            if first is None:
                first = low
            last = high
            hist.total += n * ((low + high) // 2)
    hist.min, hist.max = first, last
    return hist


def format_interval_log(intervals: Iterable[Interval], *, start_time: Optional[float] = None,
                        max_value_unit_ratio: float = 1000.0,
                        comments: Sequence[str] = ()) -> str:
    """An HdrHistogram interval log (``.hlog``) of ``intervals`` as text.

    Each interval is ``(start, end, histogram, tag)`` with Unix times in seconds;
    lines carry times relative to ``start_time`` (default: the first start),
    which the log gives as both ``StartTime`` and ``BaseTime``.  Empty
    histograms are written too (a second without samples is information).
    """
    items = list(intervals)
    if start_time is None:
        start_time = min((i[0] for i in items), default=time.time())
    stamp = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(start_time))
    lines: List[str] = [f"#[Histogram log format version {LOG_FORMAT_VERSION}]"]
    lines += [f"#{c}" for c in comments]
    lines.append(f"#[StartTime: {start_time:.3f} (seconds since epoch), {stamp}]")
    lines.append(f"#[BaseTime: {start_time:.3f} (seconds since epoch)]")
    lines.append(_LEGEND)
    for start, end, hist, tag in items:
        if tag is not None and (not tag or any(c in tag for c in ", \t\r\n")):
            raise ValueError(f"a tag has no commas or white space: {tag!r}")
        prefix = f"Tag={tag}," if tag else ""
        peak = (hist.max or 0) / max_value_unit_ratio
        lines.append(f"{prefix}{start - start_time:.3f},{end - start:.3f},{peak:.3f},{encode_histogram(hist)}")
    return "\n".join(lines) + "\n"


def write_interval_log(path_or_file: Union[str, IO[str]], intervals: Iterable[Interval], **kwargs: object) -> None:
    """:func:`format_interval_log` written to a path or an open text file."""
    text = format_interval_log(intervals, **kwargs)  # type: ignore[arg-type]
    if isinstance(path_or_file, str):
        with open(path_or_file, "w", encoding="ascii") as f:
            f.write(text)
    else:
        path_or_file.write(text)
