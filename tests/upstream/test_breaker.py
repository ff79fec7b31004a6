"""CircuitBreaker state machine, on a fake clock."""

import pytest

from ratecalc.upstream.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from ratecalc.upstream.errors import UpstreamError
from tests.support import FakeClock


def test_opens_after_consecutive_failures_only():
    clock = FakeClock(100.0)
    breaker = CircuitBreaker("x", failures=3, reset_seconds=30, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record(False)
    breaker.record(True)  # a success resets the count
    for _ in range(2):
        breaker.record(False)
    assert breaker.state == CLOSED
    breaker.record(False)
    assert breaker.state == OPEN
    with pytest.raises(UpstreamError) as exc:
        breaker.before_call()
    assert exc.value.code == "upstream_unavailable"
    assert 29 <= exc.value.retry_after <= 30


def test_half_open_admits_one_probe_then_closes_or_reopens():
    clock = FakeClock(100.0)
    changes = []
    breaker = CircuitBreaker("x", failures=1, reset_seconds=10, clock=clock,
                             on_change=lambda name, state: changes.append(state))
    breaker.record(False)
    clock.now += 10
    assert breaker.state == HALF_OPEN
    breaker.before_call()  # the probe
    with pytest.raises(UpstreamError):
        breaker.before_call()  # nobody else while it is out
    breaker.record(False)
    assert breaker.state == OPEN
    clock.now += 10
    breaker.before_call()
    breaker.record(True)
    assert breaker.state == CLOSED
    breaker.before_call()
    assert changes == [OPEN, OPEN, CLOSED][: len(changes)] or changes[-1] == CLOSED


def test_probe_without_verdict_lets_the_next_one_try():
    clock = FakeClock(100.0)
    breaker = CircuitBreaker("x", failures=1, reset_seconds=1, clock=clock)
    breaker.record(False)
    clock.now += 1
    breaker.before_call()
    breaker.release_probe()
    breaker.before_call()  # does not raise


def test_the_attempts_of_one_call_count_once_as_the_last_one_was():
    clock = FakeClock(0.0)
    breaker = CircuitBreaker("x", failures=2, reset_seconds=30, clock=clock)
    with breaker.call():
        for _ in range(3):
            breaker.before_call()
            breaker.record(False)
    assert breaker.state == "closed"  # one failed call, not three
    with breaker.call():
        breaker.record(False)
        breaker.record(True)  # recovered on its retry
    with breaker.call():
        breaker.record(False)
    assert breaker.state == "closed"  # the success in between reset the count
    with breaker.call():
        breaker.record(False)
    assert breaker.state == "open"


def test_the_probe_may_retry_within_its_call():
    clock = FakeClock(0.0)
    breaker = CircuitBreaker("x", failures=1, reset_seconds=10, clock=clock)
    breaker.record(False)
    clock.advance(10)
    with breaker.call():
        breaker.before_call()  # the probe
        breaker.record(False)
        breaker.before_call()  # its retry is let through, not refused as a second probe
        breaker.record(True)
    assert breaker.state == "closed"
