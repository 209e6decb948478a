"""HdrHistogram's formats for the load histogram, and coordinated-omission correction.

What :mod:`fastxmpp.load.hdr` exports is decoded with the ``hdrhistogram`` package
(module ``hdrh``, in the ``[test]`` extra) and must give the same counts and percentiles.
"""
from __future__ import annotations

import io
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastxmpp.load.hdr import (decode_histogram, encode_histogram, format_interval_log,
                               significant_digits, write_interval_log)
from fastxmpp.load.histogram import Histogram

if not os.environ.get("CI"):  # CI installs the [test] extra: there a missing package fails
    pytest.importorskip("hdrh.histogram", reason="pip install hdrhistogram (in the [test] extra)")
from hdrh.histogram import HdrHistogram  # noqa: E402
from hdrh.log import HistogramLogReader  # noqa: E402

values_st = st.lists(st.integers(min_value=0, max_value=(1 << 40) - 1), min_size=1, max_size=300)


def _hdr_buckets(h: "HdrHistogram") -> dict:
    """index -> count of a decoded HdrHistogram."""
    return {i: h.get_count_at_index(i) for i in range(h.counts_len) if h.get_count_at_index(i)}


def _ours(values, **kw) -> Histogram:
    h = Histogram(**kw)
    for v in values:
        h.record(v)
    return h


def test_layouts_that_have_an_hdrhistogram_twin():
    assert [significant_digits(b) for b in (5, 8, 11, 15)] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="no HdrHistogram twin"):
        encode_histogram(Histogram(precision_bits=7))


@settings(max_examples=60, deadline=None)
@given(values_st, st.sampled_from([5, 8, 11]))
def test_export_decodes_with_hdrhistogram_to_the_same_counts(values, bits):
    ours = _ours(values, precision_bits=bits)
    ref = HdrHistogram(1, 1 << 40, significant_digits(bits))
    for v in values:
        ref.record_value(v)
    decoded = HdrHistogram.decode(encode_histogram(ours))
    assert decoded.get_total_count() == ours.count
    assert _hdr_buckets(decoded) == _hdr_buckets(ref) == {
        i: n for i, n in ours.to_dict()["buckets"]}
    for p in (0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0):
        assert decoded.get_value_at_percentile(p) == ref.get_value_at_percentile(p)
    # our own percentile lies in the same bucket as HdrHistogram's for the same rank
    for p in (50.0, 99.0):
        if (int(p) * ours.count) % 100 == 0:  # an exact rank: both rank rules agree
            assert ours._index(ours.percentile(p)) == ours._index(decoded.get_value_at_percentile(p))


@settings(max_examples=60, deadline=None)
@given(values_st)
def test_decode_of_hdrhistograms_own_encoding_and_of_ours(values):
    ours = _ours(values)
    ref = HdrHistogram(1, 1 << 40, 2)
    for v in values:
        ref.record_value(v)
    for blob in (encode_histogram(ours), ref.encode()):
        back = decode_histogram(blob)
        assert back.to_dict()["buckets"] == ours.to_dict()["buckets"]
        assert back.count == ours.count
        low, high = ours._bounds(ours._index(ours.min)), ours._bounds(ours._index(ours.max))
        assert back.min == low[0] and back.max == high[1]


def test_merging_exported_histograms_is_exact():
    rnd = random.Random(16)
    parts = [[int(rnd.lognormvariate(7, 1.2)) for _ in range(2000)] for _ in range(4)]
    whole = _ours([v for p in parts for v in p])
    merged = HdrHistogram(1, 1 << 40, 2)
    for p in parts:
        merged.decode_and_add(encode_histogram(_ours(p)))
    assert _hdr_buckets(merged) == dict(whole.to_dict()["buckets"])
    ours_merged = Histogram()
    for p in parts:
        ours_merged.merge(decode_histogram(encode_histogram(_ours(p))))
    assert ours_merged.to_dict()["buckets"] == whole.to_dict()["buckets"]


def test_large_counts_and_clamped_values_survive():
    h = Histogram(highest_trackable=1000)
    h.record(5, 1 << 60)  # the ninth varint byte
    h.record(10 ** 6)     # clamped into the last bucket
    back = HdrHistogram.decode(encode_histogram(h))
    assert back.get_total_count() == (1 << 60) + 1
    assert decode_histogram(encode_histogram(h)).to_dict()["buckets"] == h.to_dict()["buckets"]


def test_interval_log_read_by_hdrhistogram(tmp_path):
    rnd = random.Random(7)
    t0 = 1_700_000_000.0
    intervals = []
    expect_total = {"login": Histogram(), "latency": Histogram()}
    for second in range(5):
        for tag in ("login", "latency"):
            h = _ours([int(rnd.expovariate(1 / 3000)) for _ in range(rnd.randrange(0, 200))])
            expect_total[tag].merge(h)
            intervals.append((t0 + second, t0 + second + 1, h, tag))
    path = tmp_path / "run.hlog"
    write_interval_log(str(path), intervals, comments=["fastxmpp load test"])
    text = path.read_text()
    assert text.startswith("#[Histogram log format version 1.3]\n#fastxmpp load test\n#[StartTime: 1700000000.000 ")
    buf = io.StringIO()
    write_interval_log(buf, intervals, comments=["fastxmpp load test"])
    assert buf.getvalue() == text
    reader = HistogramLogReader(str(path), HdrHistogram(1, 1 << 40, 2))
    try:
        got = {"login": Histogram(), "latency": Histogram()}
        starts = []
        while True:
            h = reader.get_next_interval_histogram()
            if h is None:
                break
            starts.append(round(h.get_start_time_stamp() / 1000.0 - t0, 3))
            ours = decode_histogram(h.encode())
            got[h.get_tag()].merge(ours)
    finally:
        reader.close()
    assert starts == [float(s) for s in range(5) for _ in range(2)]
    for tag in got:
        assert got[tag].to_dict()["buckets"] == expect_total[tag].to_dict()["buckets"]


def test_interval_log_rejects_bad_tags():
    with pytest.raises(ValueError):
        format_interval_log([(0.0, 1.0, Histogram(), "a,b")])


# ------------------------------------------------------- coordinated omission
def test_record_corrected_fills_in_the_requests_a_stall_held_back():
    h = Histogram()
    h.record_corrected(1000, 100)
    assert sorted(v for v, _, n in h.buckets() for _ in range(n)) == list(range(100, 1001, 100))
    assert h.count == 10 and h.max == 1000 and h.min == 100


def test_record_corrected_matches_hdrhistogram_on_fast_responses_and_counts():
    h = Histogram()
    h.record_corrected(50, 100)      # faster than the interval: recorded alone
    h.record_corrected(250, 100, 3)  # 250, 150 three times each
    h.record_corrected(70, 0)        # no interval: no correction
    ref = HdrHistogram(1, 1 << 40, 2)
    for v, n in ((50, 1), (250, 3), (150, 3), (70, 1)):
        ref.record_value(v, n)
    assert _hdr_buckets(HdrHistogram.decode(encode_histogram(h))) == _hdr_buckets(ref)
    assert h.count == 8 and h.total == 50 + 3 * 400 + 70


def test_corrected_copy_after_the_fact():
    h = Histogram()
    for v in (10, 20, 500):
        h.record(v)
    c = h.corrected(100)
    assert h.count == 3  # the original is untouched
    assert sorted(v for v, _, n in c.buckets() for _ in range(n)) == [10, 20, 100, 200, 300, 400, 500]
    assert h.corrected(0) == h
    assert Histogram().corrected(100).count == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 10 ** 6), min_size=1, max_size=50), st.integers(1, 10 ** 5))
def test_corrected_recording_agrees_with_hdrhistogram(values, interval):
    h = Histogram()
    ref = HdrHistogram(1, 1 << 40, 2)
    for v in values:
        h.record_corrected(v, interval)
        ref.record_value(v)
        missing = v - interval
        while missing >= interval:
            ref.record_value(missing)
            missing -= interval
    assert HdrHistogram.decode(encode_histogram(h)).get_total_count() == h.count == ref.get_total_count()
    assert _hdr_buckets(HdrHistogram.decode(encode_histogram(h))) == _hdr_buckets(ref)
