"""Exponential backoff with full jitter, as pure functions of the attempt number.

The delay before retry ``attempt`` (0 for the first retry) is drawn uniformly
from ``[0, min(cap, base * 2**attempt)]``. Full jitter spreads the retries of many
clients that failed together, so they do not return in lockstep. Nothing here
sleeps or reads a clock: callers wait with their own clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# 2**64 seconds is beyond any cap; stopping the exponent there avoids float overflow.
_MAX_EXPONENT = 64


def ceiling(attempt: int, base: float, cap: float) -> float:
    """Return the upper bound of the delay for ``attempt``: ``min(cap, base * 2**attempt)``."""
    if attempt < 0:
        raise ValueError(f"Backoff attempt must be 0 or more, got {attempt}.")
    return min(cap, base * 2.0 ** min(attempt, _MAX_EXPONENT))


def full_jitter(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Return a delay in seconds drawn uniformly from ``[0, ceiling(attempt, base, cap)]``."""
    return rng.uniform(0.0, ceiling(attempt, base, cap))


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter; ``base`` and ``cap`` in seconds.

    ``rng`` is injectable so tests can draw known delays.
    """

    base: float = 1.0
    cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.base <= 0:
            raise ValueError(f"Backoff base must be above 0 seconds, got {self.base}.")
        if self.cap < self.base:
            raise ValueError(
                f"Backoff cap ({self.cap} s) must be at least its base ({self.base} s)."
            )

    def delay(self, attempt: int) -> float:
        """Return the delay in seconds before retry ``attempt`` (0 for the first retry)."""
        return full_jitter(attempt, self.base, self.cap, self.rng)
