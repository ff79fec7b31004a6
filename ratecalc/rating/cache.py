"""The quote cache and single-flight coalescing (in-process implementations).

Both are small interfaces so a shared backend (Redis, for several workers and
replicas) can stand beside them; the rating service only calls ``get``/``set``
and ``claim``.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from cachetools import TTLCache

from ratecalc.model import CarrierRates


class QuoteCache(Protocol):
    def get(self, key: str) -> CarrierRates | None: ...
    def set(self, key: str, value: CarrierRates) -> None: ...


class MemoryQuoteCache:
    """cachetools' TTLCache behind a lock (cachetools caches are not thread-safe)."""

    def __init__(self, max_entries: int, ttl_seconds: float, timer=time.monotonic):
        self._cache: TTLCache = TTLCache(maxsize=max_entries, ttl=ttl_seconds, timer=timer)
        self._lock = threading.Lock()

    def get(self, key: str) -> CarrierRates | None:
        with self._lock:
            return self._cache.get(key)

    def set(self, key: str, value: CarrierRates) -> None:
        with self._lock:
            self._cache[key] = value

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


class Flight:
    """One in-progress upstream fetch that other requests can wait on."""

    def __init__(self):
        self._done = threading.Event()
        self._result = None

    def resolve(self, result) -> None:
        self._result = result
        self._done.set()

    def wait(self, timeout: float):
        """The leader's result, or ``None`` if it did not finish in time."""
        if self._done.wait(timeout):
            return self._result
        return None


class SingleFlight:
    """Concurrent identical fetches make one upstream call; the rest wait for it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._flights: dict[str, Flight] = {}

    def claim(self, key: str) -> tuple[Flight, bool]:
        """The flight for ``key`` and whether the caller leads it (must :meth:`land` it)."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = Flight()
            return flight, True

    def land(self, key: str, flight: Flight, result) -> None:
        """Publish the leader's result and let the next request start a new flight."""
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.resolve(result)
