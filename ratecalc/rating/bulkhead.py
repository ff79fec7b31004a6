"""The bulkhead: how many quotes may wait on ShipStation at once in one process.

A gunicorn gthread worker has ``RATECALC_THREADS`` threads, and a request that
waits on ShipStation holds one for as long as ShipStation takes. Without a cap,
a slow ShipStation lets quotes take every thread, and ``/healthz``, ``/readyz``,
``/metrics`` and the Custom Store endpoint queue behind them (the liveness probe
then restarts a healthy pod). So at most ``RATECALC_THREADS - 2`` quotes may be
on the miss path at once -- calling ShipStation, or waiting on another request's
call for the same shipment (single-flight) -- and two threads stay free.

Past the cap a quote is answered at once with 503 ``busy`` and ``Retry-After``.
It does not wait for a slot: waiting would hold one of the two threads the
bulkhead keeps free, which is the stall it exists to prevent. Cache hits never
need a slot.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ratecalc import metrics

RESERVED_THREADS = 2
RETRY_AFTER_SECONDS = 1
FAN_OUT_PER_SLOT = 3  # carriers a V1 quote rates in parallel, typically: sizes the call pool


class Busy(Exception):
    """Every slot is taken; the caller answers 503 ``busy``."""


class Bulkhead:
    def __init__(self, limit: int | None):
        self.limit = limit  # None: no cap (the CLI, which serves no one else)
        self._in_use = 0
        self._lock = threading.Lock()

    @classmethod
    def for_threads(cls, threads: int) -> Bulkhead:
        return cls(max(1, threads - RESERVED_THREADS))

    @property
    def in_use(self) -> int:
        return self._in_use

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self.limit is not None and self._in_use >= self.limit:
                metrics.quotes_busy.inc()
                raise Busy(f"all {self.limit} quote slots are waiting on ShipStation")
            self._in_use += 1
            metrics.quote_slots_in_use.inc()
        try:
            yield
        finally:
            with self._lock:
                self._in_use -= 1
            metrics.quote_slots_in_use.dec()
