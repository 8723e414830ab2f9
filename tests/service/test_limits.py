"""The token-bucket rate limiter: limits, and memory that does not grow with every client."""

import pytest

from service.limits import SWEEP_EVERY, RateLimited, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_per_minute_requests_then_waits_for_a_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(2, clock)
    limiter.hit("k")
    limiter.hit("k")
    with pytest.raises(RateLimited) as err:
        limiter.hit("k")
    assert err.value.retry_after == 30
    limiter.check("other")  # other keys are not affected
    clock.now = 30.0
    limiter.hit("k")


def test_checks_remember_nothing_and_refilled_buckets_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(20, clock)
    for i in range(1000):
        limiter.check(f"client-{i}")  # every request checks its address: no state per client
    assert limiter._buckets == {}
    limiter.hit("a")
    assert set(limiter._buckets) == {"a"}
    clock.now = 60.0
    limiter.check("a")  # refilled: forgotten
    assert limiter._buckets == {}
    for i in range(SWEEP_EVERY):
        limiter.hit(f"burst-{i}")
    clock.now = 200.0  # the bursts have refilled
    for i in range(SWEEP_EVERY):
        limiter.hit(f"late-{i}")
    # without sweeps 2 x SWEEP_EVERY buckets would be kept; a sweep dropped the refilled ones
    assert len(limiter._buckets) <= SWEEP_EVERY
    assert not any(k.startswith("burst-") for k in limiter._buckets)
