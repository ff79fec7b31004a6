"""A store that (re)opens its database on demand.

If the database is down when ratecalc starts, the process still starts: rating
works, ``/readyz`` answers 503 naming the database, ship notifications get a
503 (so ShipStation sends them again), and the store is opened as soon as the
database answers. Errors after that are the engine's own (it reconnects).
"""

from __future__ import annotations

import logging
import threading
import time

from ratecalc.shop.store.engines import open_store
from ratecalc.shop.store.records import StoreError

log = logging.getLogger(__name__)
RETRY_OPEN_SECONDS = 2.0


class ReconnectingStore:
    def __init__(self, url: str, opener=open_store, clock=time.monotonic):
        self._url = url
        self._opener = opener
        self._clock = clock
        self._store = None
        self._error: str | None = None
        self._next_try = 0.0
        self._lock = threading.Lock()

    def open(self) -> ReconnectingStore:
        """Try once now; log (not raise) when the database is unavailable."""
        try:
            self._get()
        except StoreError as exc:
            log.error("database unavailable at start-up: %s; /readyz answers 503 and ship "
                      "notifications are refused until it is back", exc)
        return self

    def _get(self):
        store = self._store
        if store is not None:
            return store
        with self._lock:
            if self._store is not None:
                return self._store
            if self._clock() < self._next_try:
                raise StoreError(self._error or "database not open yet")
            try:
                self._store = self._opener(self._url)
            except StoreError as exc:
                self._error = str(exc)
                self._next_try = self._clock() + RETRY_OPEN_SECONDS
                raise
            if self._error:
                log.warning("database is reachable again")
            return self._store

    def __getattr__(self, name: str):
        return getattr(self._get(), name)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
