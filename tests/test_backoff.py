from __future__ import annotations

import random

import pytest

from fastxmpp.backoff import Backoff


def test_no_jitter_grows_and_caps():
    b = Backoff(initial=0.5, maximum=10.0, factor=2.0, jitter="none")
    assert [b.next_delay() for _ in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert b.attempts == 8


def test_defaults():
    b = Backoff(rng=random.Random(0))
    assert (b.initial, b.maximum, b.factor, b.jitter) == (0.5, 60.0, 2.0, "full")


@pytest.mark.parametrize("seed", range(5))
def test_full_jitter_bounds(seed):
    b = Backoff(initial=1.0, maximum=30.0, rng=random.Random(seed))
    for n in range(40):
        ceiling = min(30.0, 1.0 * 2.0**n)
        assert 0.0 <= b.next_delay() <= ceiling


@pytest.mark.parametrize("seed", range(5))
def test_equal_jitter_bounds(seed):
    b = Backoff(initial=1.0, maximum=30.0, jitter="equal", rng=random.Random(seed))
    for n in range(40):
        ceiling = min(30.0, 1.0 * 2.0**n)
        assert ceiling / 2 <= b.next_delay() <= ceiling


def test_full_jitter_spreads():
    b = Backoff(initial=1.0, maximum=8.0, rng=random.Random(3))
    for _ in range(3):
        b.next_delay()
    delays = [b.next_delay() for _ in range(2000)]  # all at the cap now
    assert max(delays) <= 8.0 and min(delays) >= 0.0
    assert 3.5 < sum(delays) / len(delays) < 4.5  # uniform on [0, 8]
    assert min(delays) < 0.5 and max(delays) > 7.5


def test_reset():
    b = Backoff(initial=1.0, maximum=100.0, jitter="none")
    for _ in range(5):
        b.next_delay()
    b.reset()
    assert b.attempts == 0
    assert b.next_delay() == 1.0
    assert b.attempts == 1


def test_deterministic_with_seed():
    a = Backoff(rng=random.Random(42))
    b = Backoff(rng=random.Random(42))
    assert [a.next_delay() for _ in range(20)] == [b.next_delay() for _ in range(20)]
    c = Backoff(rng=random.Random(43))
    assert [c.next_delay() for _ in range(20)] != [Backoff(rng=random.Random(42)).next_delay() for _ in range(20)]


def test_many_attempts_do_not_overflow():
    b = Backoff(initial=0.5, maximum=60.0, factor=10.0, jitter="none")
    for _ in range(5000):
        delay = b.next_delay()
    assert delay == 60.0 and b.attempts == 5000


def test_factor_one_is_constant():
    b = Backoff(initial=2.0, maximum=5.0, factor=1.0, jitter="none")
    assert [b.next_delay() for _ in range(3)] == [2.0, 2.0, 2.0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0},
        {"initial": -1},
        {"initial": 5, "maximum": 1},
        {"factor": 0.5},
        {"jitter": "decorrelated"},
        {"initial": float("nan")},
    ],
)
def test_invalid(kwargs):
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_repr():
    assert "attempts=0" in repr(Backoff())
