import random

import pytest

from handlers.backoff import Backoff, ceiling, full_jitter


def test_ceiling_doubles_then_caps() -> None:
    ceilings = [ceiling(attempt, base=1.0, cap=60.0) for attempt in range(8)]

    assert ceilings == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_ceiling_huge_attempt_stays_at_cap() -> None:
    assert ceiling(10_000, base=1.0, cap=60.0) == 60.0


def test_ceiling_rejects_negative_attempt() -> None:
    with pytest.raises(ValueError, match="-1"):
        ceiling(-1, base=1.0, cap=60.0)


def test_full_jitter_within_bounds() -> None:
    rng = random.Random(7)

    delays = [full_jitter(attempt, 1.0, 60.0, rng) for attempt in range(10) for _ in range(50)]

    assert all(0.0 <= delay <= 60.0 for delay in delays)
    assert min(delays) < 0.5
    assert max(delays) > 30.0


def test_full_jitter_first_retry_below_base() -> None:
    rng = random.Random(1)

    delays = [full_jitter(0, 2.0, 60.0, rng) for _ in range(200)]

    assert all(0.0 <= delay <= 2.0 for delay in delays)


def test_backoff_delay_reproducible_with_seed() -> None:
    first = Backoff(rng=random.Random(42))
    second = Backoff(rng=random.Random(42))

    assert [first.delay(n) for n in range(6)] == [second.delay(n) for n in range(6)]


def test_backoff_defaults() -> None:
    backoff = Backoff()

    assert backoff.base == 1.0
    assert backoff.cap == 60.0
    assert 0.0 <= backoff.delay(3) <= 8.0


@pytest.mark.parametrize(("base", "cap"), [(0.0, 60.0), (-1.0, 60.0), (10.0, 5.0)])
def test_backoff_rejects_bad_settings(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="Backoff"):
        Backoff(base=base, cap=cap)
