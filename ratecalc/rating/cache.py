"""The quote cache and single-flight coalescing (in-process implementations).

Both are small interfaces so a shared backend (Redis, for several workers and
replicas) can stand beside them; the rating service only calls ``get``/``set``
and ``claim``.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Protocol

from cachetools import LRUCache, TTLCache

from ratecalc.model import CarrierRates
from ratecalc.rating.packing import pack, unpack


class QuoteCache(Protocol):
    def get(self, key: str) -> CarrierRates | None: ...
    def get_many(self, keys: list[str]) -> list[CarrierRates | None]:
        """One lookup for all of a quote's carriers (one round trip on Redis)."""
    def set(self, key: str, value: CarrierRates) -> None: ...


@lru_cache(maxsize=64)
def _packed(value: CarrierRates) -> bytes:
    """One bytes object per answer, shared by every cache that holds it."""
    return pack(value)


class MemoryQuoteCache:
    """cachetools' TTLCache behind a lock (cachetools caches are not thread-safe).

    Entries are held packed (:mod:`ratecalc.rating.packing`, under 200 bytes for a
    typical carrier answer instead of about 3 KB of objects). The fresh cache and
    the stale copy store the same bytes object for one answer (``_packed``). The
    few hottest entries are also kept decoded (``HOT_ENTRIES``), so the order
    screen's repeated questions skip even the decoding.
    """

    HOT_ENTRIES = 256

    def __init__(self, max_entries: int, ttl_seconds: float, timer=time.monotonic):
        self._cache: TTLCache = TTLCache(maxsize=max_entries, ttl=ttl_seconds, timer=timer)
        self._hot: LRUCache = LRUCache(maxsize=self.HOT_ENTRIES)  # key -> (packed, decoded)
        self._lock = threading.Lock()

    def get(self, key: str) -> CarrierRates | None:
        return self.get_many([key])[0]

    def get_many(self, keys: list[str]) -> list[CarrierRates | None]:
        cache, hot = self._cache, self._hot
        found = []
        with self._lock:
            for key in keys:
                # Indexing, not .get(): cachetools' get() looks each key up twice.
                try:
                    packed = cache[key]
                except KeyError:
                    found.append((key, None, None))
                    continue
                try:
                    found.append((key, packed, hot[key]))
                except KeyError:
                    found.append((key, packed, None))
        answers = []
        for key, packed, hot in found:
            if packed is None:
                answers.append(None)
            elif hot is not None and hot[0] is packed:  # still the entry it was decoded from
                answers.append(hot[1])
            else:
                decoded = unpack(packed)
                with self._lock:
                    self._hot[key] = (packed, decoded)
                answers.append(decoded)
        return answers

    def set(self, key: str, value: CarrierRates) -> None:
        packed = _packed(value)
        with self._lock:
            self._cache[key] = packed

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._hot.clear()


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
