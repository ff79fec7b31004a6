"""A circuit breaker per upstream: stop queueing requests on a dead service.

After ``failures`` consecutive failed calls the circuit *opens*: calls fail at
once with ``upstream_unavailable`` (the rating service then answers stale or
503) instead of waiting for timeouts. After ``reset_seconds`` it *half-opens*
and lets exactly one probe through: success closes it, failure opens it again.

A small piece of our own rather than pybreaker: what counts as a failure
(5xx, connection errors, timeouts — not 4xx, not a 429, not "no services")
is decided call by call inside the clients, and half-open must admit one
probe among many threads; that is a few lines here and awkward there.
"""

from __future__ import annotations

import threading
import time

from ratecalc.upstream.errors import UpstreamError

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(self, name: str, failures: int = 5, reset_seconds: float = 30.0,
                 clock=time.monotonic, on_change=None):
        self.name = name
        self.failures = failures
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state = CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._probe_out = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._current()

    def _current(self) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_seconds:
            self._state = HALF_OPEN
            self._probe_out = False
        return self._state

    def before_call(self) -> None:
        """Raise ``upstream_unavailable`` unless a call may go out now."""
        with self._lock:
            state = self._current()
            if state == CLOSED:
                return
            if state == HALF_OPEN and not self._probe_out:
                self._probe_out = True  # this caller is the one probe
                return
            wait = max(0.0, self.reset_seconds - (self._clock() - self._opened_at))
        raise UpstreamError("upstream_unavailable",
                            f"{self.name} is failing; not called for {wait:.0f}s more",
                            retry_after=max(1.0, wait))

    def record(self, success: bool) -> None:
        with self._lock:
            before = self._state
            if success:
                self._state, self._consecutive, self._probe_out = CLOSED, 0, False
            else:
                self._consecutive += 1
                if self._state == HALF_OPEN or self._consecutive >= self.failures:
                    self._state, self._opened_at, self._probe_out = OPEN, self._clock(), False
            after = self._state
        if after != before and self._on_change:
            self._on_change(self.name, after)

    def release_probe(self) -> None:
        """A probe that ended without a verdict (e.g. a 4xx) lets the next one try."""
        with self._lock:
            self._probe_out = False
