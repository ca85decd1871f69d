"""The one reconnect backoff: full jitter under a ceiling that doubles to its cap, reset on success.

Every draw comes from a seeded ``random.Random``, so each run sees the same waits; nothing
here sleeps or times anything.
"""

from __future__ import annotations

import random

import pytest

from gateway.common.backoff import Backoff


def test_each_wait_lies_between_zero_and_a_ceiling_that_doubles_to_the_cap() -> None:
    backoff = Backoff(0.1, 5.0, rng=random.Random(7))
    ceilings = []
    for _ in range(12):
        delay = backoff.next_delay()
        assert 0.0 <= delay <= backoff.ceiling
        ceilings.append(backoff.ceiling)
    assert ceilings == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0])


def test_the_waits_are_the_draws_of_the_random_source_scaled_to_each_ceiling() -> None:
    backoff = Backoff(1.0, 30.0, rng=random.Random(42))
    same = random.Random(42)
    expected = [same.uniform(0.0, ceiling) for ceiling in (1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0)]
    assert [backoff.next_delay() for _ in range(7)] == expected


def test_a_success_starts_the_ceiling_over() -> None:
    backoff = Backoff(0.5, 8.0, rng=random.Random(3))
    for _ in range(6):
        backoff.next_delay()
    assert backoff.ceiling == 8.0
    backoff.reset()
    assert backoff.ceiling == 0.0
    assert 0.0 <= backoff.next_delay() <= 0.5
    assert backoff.ceiling == 0.5


def test_the_factor_sets_the_growth() -> None:
    backoff = Backoff(1.0, 100.0, factor=3.0, rng=random.Random(0))
    ceilings = []
    for _ in range(6):
        backoff.next_delay()
        ceilings.append(backoff.ceiling)
    assert ceilings == [1.0, 3.0, 9.0, 27.0, 81.0, 100.0]


def test_tills_seeded_apart_do_not_wait_in_lockstep() -> None:
    # A store's tills all lose the broker at once; each draws its own waits.
    tills = [Backoff(1.0, 30.0, rng=random.Random(seed)) for seed in range(20)]
    first_waits = {round(till.next_delay(), 6) for till in tills}
    assert len(first_waits) == len(tills)
    spread = sorted(first_waits)
    assert spread[0] < 0.25 and spread[-1] > 0.75  # spread over the whole first second


def test_a_device_failing_all_night_keeps_its_cap() -> None:
    # Tens of thousands of failures: the ceiling stays at the cap (no overflow of factor ** n).
    backoff = Backoff(0.1, 1.0, rng=random.Random(5))
    for _ in range(50_000):
        assert 0.0 <= backoff.next_delay() <= 1.0
    assert backoff.ceiling == 1.0


def test_impossible_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="initial"):
        Backoff(0.0, 1.0)
    with pytest.raises(ValueError, match="maximum"):
        Backoff(2.0, 1.0)
    with pytest.raises(ValueError, match="factor"):
        Backoff(1.0, 2.0, factor=0.5)
