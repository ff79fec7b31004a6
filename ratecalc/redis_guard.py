"""Redis calls that fall back to in-process state while Redis is unreachable.

Shared by the rating state (cache, budget, single-flight) and the Cin7 limiter:
a failure switches to the fallback for a few seconds, is logged once, counted
in ``ratecalc_redis_fallbacks_total{component}``, and Redis is tried again.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)
PREFIX = "ratecalc:"
RETRY_REDIS_AFTER_SECONDS = 5.0

redis_fallbacks = Counter("ratecalc_redis_fallbacks",
                          "Operations served from in-process state because Redis failed",
                          ["component"])
redis_up = Gauge("ratecalc_redis_up", "1 while Redis answers, 0 while ratecalc falls back",
                 multiprocess_mode="mostrecent")


class RedisGuard:
    """Runs Redis calls, switching to a fallback while Redis is unreachable.

    After a failure Redis is tried again ``retry_after_seconds`` later.
    """

    def __init__(self, client: redis.Redis,
                 retry_after_seconds: float = RETRY_REDIS_AFTER_SECONDS):
        self.client = client
        self.retry_after_seconds = retry_after_seconds
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._logged = False

    def run(self, component: str, action, fallback):
        if time.monotonic() < self._down_until:
            redis_fallbacks.labels(component).inc()
            return fallback()
        try:
            result = action()
        except (redis.RedisError, OSError) as exc:
            with self._lock:
                self._down_until = time.monotonic() + self.retry_after_seconds
                if not self._logged:
                    log.warning("Redis unreachable (%s, at a %s call); using in-process state "
                                "until it is back", type(exc).__name__, component)
                    self._logged = True
            redis_up.set(0)
            redis_fallbacks.labels(component).inc()
            return fallback()
        if self._logged:
            with self._lock:
                if self._logged:
                    log.warning("Redis is back; state is shared again")
                    self._logged = False
        redis_up.set(1)
        return result


def connect(url: str, retry_after_seconds: float = RETRY_REDIS_AFTER_SECONDS) -> RedisGuard:
    """A guarded client with short timeouts: a slow Redis must not slow quotes down."""
    return RedisGuard(redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5,
                                           health_check_interval=30),
                      retry_after_seconds=retry_after_seconds)
