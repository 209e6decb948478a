"""Reconnect delays: capped exponential backoff with jitter (sans-IO).

:class:`Backoff` only computes delays; the driver sleeps.  The default is
"full jitter" from the AWS Architecture Blog's "Exponential Backoff And
Jitter": the n-th delay (n counting from 0) is drawn uniformly from
``[0, min(maximum, initial * factor**n)]``, which spreads a crowd of clients
that lost the same server.  ``jitter="equal"`` keeps half of that ceiling and
draws the other half; ``jitter="none"`` gives the ceiling itself.

Pass a seeded :class:`random.Random` as ``rng`` for reproducible delays.
"""
from __future__ import annotations

import random
from typing import Optional

__all__ = ["Backoff", "JITTER_MODES"]

JITTER_MODES = ("full", "equal", "none")


class Backoff:
    """Delays for successive reconnect attempts.

    >>> b = Backoff(initial=1.0, maximum=8.0, jitter="none")
    >>> [b.next_delay() for _ in range(5)]
    [1.0, 2.0, 4.0, 8.0, 8.0]
    >>> b.reset(); b.attempts
    0
    """

    __slots__ = ("initial", "maximum", "factor", "jitter", "_rng", "_attempts", "_ceiling")

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 60.0,
        factor: float = 2.0,
        jitter: str = "full",
        rng: Optional[random.Random] = None,
    ) -> None:
        if not initial > 0:
            raise ValueError(f"initial must be > 0, got {initial!r}")
        if not maximum >= initial:
            raise ValueError(f"maximum must be >= initial, got {maximum!r} < {initial!r}")
        if not factor >= 1:
            raise ValueError(f"factor must be >= 1, got {factor!r}")
        if jitter not in JITTER_MODES:
            raise ValueError(f"jitter must be one of {JITTER_MODES}, got {jitter!r}")
        self.initial = float(initial)
        self.maximum = float(maximum)
        self.factor = float(factor)
        self.jitter = jitter
        # the module's shared generator unless the caller seeds one: a Random() is 2.5 KiB
        self._rng = rng if rng is not None else random
        self._attempts = 0
        self._ceiling = self.initial

    @property
    def attempts(self) -> int:
        """How many delays :meth:`next_delay` has given since the last :meth:`reset`."""
        return self._attempts

    def next_delay(self) -> float:
        """The delay in seconds before the next attempt; advances the attempt count."""
        ceiling = self._ceiling
        # grow by multiplication and clamp, so no power ever overflows
        self._ceiling = min(self.maximum, ceiling * self.factor)
        self._attempts += 1
        if self.jitter == "full":
            return self._rng.uniform(0.0, ceiling)
        if self.jitter == "equal":
            half = ceiling / 2.0
            return half + self._rng.uniform(0.0, half)
        return ceiling

    def reset(self) -> None:
        """Start over from ``initial`` (call it once a connection has succeeded)."""
        self._attempts = 0
        self._ceiling = self.initial

    def __repr__(self) -> str:
        return (
            f"Backoff(initial={self.initial!r}, maximum={self.maximum!r}, factor={self.factor!r},"
            f" jitter={self.jitter!r}, attempts={self._attempts})"
        )
