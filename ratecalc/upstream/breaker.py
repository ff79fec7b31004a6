"""A circuit breaker per upstream: stop queueing requests on a dead service.

After ``failures`` consecutive failed calls the circuit *opens*: a call is one
logical call with its retries (:meth:`CircuitBreaker.call`), so a 3-carrier
quote whose carriers all fail counts 3, not 3 x its attempts, and cannot open
the circuit by itself. Then calls fail at
once with ``upstream_unavailable`` (the rating service then answers stale or
503) instead of waiting for timeouts. After ``reset_seconds`` it *half-opens*
and lets exactly one probe through: success closes it, failure opens it again.

A small piece of our own rather than pybreaker: what counts as a failure
(5xx, connection errors, timeouts — not 4xx, not a 429, not "no services")
is decided call by call inside the clients, and half-open must admit one
probe among many threads; that is a few lines here and awkward there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ratecalc import metrics
from ratecalc.settings import Settings
from ratecalc.upstream.errors import UpstreamError

log = logging.getLogger(__name__)

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
        self._local = threading.local()  # the logical call this thread is in
        self._closed_left = None  # when it last left "closed" (None: closed now)

    def open_seconds(self) -> float:
        """How long the circuit has not been closed (open and half-open probes
        that failed alike); 0 while closed. The alert loop's circuit_open."""
        with self._lock:
            if self._state == CLOSED or self._closed_left is None:
                return 0.0
            return max(0.0, self._clock() - self._closed_left)

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
            if state == HALF_OPEN and getattr(self._local, "probe", False):
                return  # the probe's own retry
            if state == HALF_OPEN and not self._probe_out:
                self._probe_out = True  # this caller is the one probe
                self._local.probe = getattr(self._local, "in_call", False)
                return
            wait = max(0.0, self.reset_seconds - (self._clock() - self._opened_at))
        raise UpstreamError("upstream_unavailable",
                            f"{self.name} is failing; not called for {wait:.0f}s more",
                            retry_after=max(1.0, wait))

    @contextmanager
    def call(self) -> Iterator[None]:
        """One logical call: its attempts' verdicts count once, as the last one was."""
        self._local.in_call, self._local.verdict, self._local.probe = True, None, False
        try:
            yield
        finally:
            verdict = self._local.verdict
            self._local.in_call, self._local.verdict, self._local.probe = False, None, False
            if verdict is not None:
                self._count(verdict)

    def record(self, success: bool) -> None:
        """One attempt's verdict: counted now, or at the end of the call it belongs to."""
        if getattr(self._local, "in_call", False):
            self._local.verdict = success
            return
        self._count(success)

    def _count(self, success: bool) -> None:
        with self._lock:
            before = self._state
            if success:
                self._state, self._consecutive, self._probe_out = CLOSED, 0, False
            else:
                self._consecutive += 1
                if self._state == HALF_OPEN or self._consecutive >= self.failures:
                    self._state, self._opened_at, self._probe_out = OPEN, self._clock(), False
            after = self._state
            if after == CLOSED:
                self._closed_left = None
            elif self._closed_left is None:
                self._closed_left = self._clock()
        if after != before and self._on_change:
            self._on_change(self.name, after)

    def release_probe(self) -> None:
        """A probe that ended without a verdict (e.g. a 429) lets the next one try."""
        with self._lock:
            self._probe_out = False
        self._local.probe = False


def breaker_for(settings: Settings, upstream: str) -> CircuitBreaker:
    """The breaker of one upstream, configured from settings, its state in a gauge."""
    def on_change(name: str, state: str) -> None:
        metrics.circuit_open.labels(name).set(0 if state == "closed" else 1)
        log.warning("circuit breaker for %s is now %s", name, state)

    metrics.circuit_open.labels(upstream).set(0)
    return CircuitBreaker(upstream, failures=settings.breaker_failures,
                          reset_seconds=settings.breaker_reset_seconds, on_change=on_change)
