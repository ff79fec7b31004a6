"""Rating state shared by every worker and replica through Redis.

With ``RATECALC_REDIS_URL`` set:

* the quote cache lives in Redis (``SET ... PX ttl``: the TTL stays exact);
* the ShipStation call budget is one budget across all processes, enforced by
  Lua scripts that check and take in one atomic step (never read-then-write),
  still obeying the ``X-Rate-Limit-*`` headers any process sees;
* single-flight works across processes: the first process to ``SET NX`` a
  flight key calls ShipStation, the others wait for the result it publishes.

When Redis cannot be reached, every piece falls back to in-process state (the
budget to a conservative share), logs once, counts
``ratecalc_redis_fallbacks_total``, and tries Redis again a few seconds later.
No request fails because Redis did.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from ratecalc.model import CarrierRates
from ratecalc.rating import codec
from ratecalc.rating.cache import Flight, MemoryQuoteCache, SingleFlight
from ratecalc.redis_guard import PREFIX, RedisGuard
from ratecalc.upstream.budget import (
    RESET_MARGIN_SECONDS,
    BudgetExhausted,
    CallBudget,
    rate_limit_headers,
)
from ratecalc.upstream.errors import UpstreamError

log = logging.getLogger(__name__)
FLIGHT_POLL_SECONDS = 0.02

class RedisQuoteCache:
    def __init__(self, guard: RedisGuard, ttl_seconds: float, fallback: MemoryQuoteCache,
                 namespace: str = "q"):
        self.guard = guard
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        self.fallback = fallback
        self.prefix = f"{PREFIX}{namespace}:"

    def get(self, key: str) -> CarrierRates | None:
        def action():
            raw = self.guard.client.get(self.prefix + key)
            return codec.loads(raw) if raw else None

        return self.guard.run("cache", action, lambda: self.fallback.get(key))

    def set(self, key: str, value: CarrierRates) -> None:
        self.guard.run("cache", lambda: self.guard.client.set(
            self.prefix + key, codec.dumps(value), px=self.ttl_ms),
            lambda: self.fallback.set(key, value))


# -- the shared call budget ------------------------------------------------------------
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window, token, probe_ms = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local wait = 0
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  wait = tonumber(oldest[2]) + window - now
end
local reset_at = tonumber(redis.call('HGET', KEYS[2], 'reset_at') or '0')
local remaining = redis.call('HGET', KEYS[2], 'remaining')
if reset_at > now then
  if remaining and tonumber(remaining) <= 0 then wait = math.max(wait, reset_at - now) end
elseif remaining then
  redis.call('HDEL', KEYS[2], 'remaining', 'reset_at')
  remaining = false
end
if wait > 0 then return wait end
if not redis.call('HGET', KEYS[2], 'known') then
  if not redis.call('SET', KEYS[3], token, 'NX', 'PX', probe_ms) then return -1 end
end
redis.call('ZADD', KEYS[1], now, token)
redis.call('PEXPIRE', KEYS[1], window)
if remaining then redis.call('HINCRBY', KEYS[2], 'remaining', -1) end
redis.call('HINCRBY', KEYS[2], 'inflight', 1)
redis.call('PEXPIRE', KEYS[2], 3600000)
return 0
"""

_SETTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('DEL', KEYS[2])
local inflight = tonumber(redis.call('HINCRBY', KEYS[1], 'inflight', -1))
if inflight < 0 then redis.call('HSET', KEYS[1], 'inflight', 0); inflight = 0 end
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'known', '1') end
local margin = tonumber(ARGV[7])
local current = tonumber(redis.call('HGET', KEYS[1], 'reset_at') or '0')
if ARGV[2] ~= '' then
  local remaining = tonumber(ARGV[3]) - inflight
  local reset_at = now + tonumber(ARGV[4]) + margin
  if current == 0 or reset_at > current + 500 then
    redis.call('HSET', KEYS[1], 'reset_at', reset_at, 'remaining', remaining)
    current = reset_at
  else
    local known = tonumber(redis.call('HGET', KEYS[1], 'remaining') or remaining)
    redis.call('HSET', KEYS[1], 'remaining', math.min(known, remaining))
  end
  redis.call('HSET', KEYS[1], 'limit', ARGV[2])
end
if ARGV[5] == '1' then
  local until_at = math.max(current, now + tonumber(ARGV[6]) + margin)
  redis.call('HSET', KEYS[1], 'remaining', 0, 'reset_at', until_at)
end
redis.call('PEXPIRE', KEYS[1], 3600000)
return 0
"""


class RedisCallBudget:
    """The :class:`CallBudget` rules, once for every process sharing the key pair."""

    def __init__(self, guard: RedisGuard, per_window: int, account: str, *,
                 window_seconds: float = 60.0, fallback: CallBudget, on_remaining=None):
        self.guard = guard
        self.per_window = per_window
        self.window_ms = int(window_seconds * 1000)
        self.fallback = fallback
        self.on_remaining = on_remaining
        base = f"{PREFIX}budget:{account}:"
        self.keys = (base + "sent", base + "state", base + "probe")
        self._acquire = guard.client.register_script(_ACQUIRE)
        self._settle = guard.client.register_script(_SETTLE)
        self._local = threading.local()

    def acquire(self, deadline) -> None:
        while True:
            token = uuid.uuid4().hex
            wait_ms = self.guard.run("budget", lambda t=token: self._acquire(
                keys=list(self.keys),
                args=[self.per_window, self.window_ms, t, 10_000]), lambda: None)
            if wait_ms is None:  # Redis is down: the in-process share decides
                self._local.via_redis = False
                self.fallback.acquire(deadline)
                return
            wait_ms = int(wait_ms)
            if wait_ms == 0:
                self._local.via_redis = True
                return
            wait = FLIGHT_POLL_SECONDS if wait_ms < 0 else wait_ms / 1000.0
            if wait > deadline.remaining():
                raise BudgetExhausted(wait)
            time.sleep(min(wait, max(0.0, deadline.remaining())))

    def settle(self, headers, *, throttled: bool = False, retry_after: float | None = None,
               unsent: bool = False):
        if not getattr(self._local, "via_redis", False):
            return self.fallback.settle(headers, throttled=throttled, retry_after=retry_after,
                                        unsent=unsent)
        parsed = rate_limit_headers(headers)
        limit, remaining, reset = parsed if parsed else ("", 0, 0.0)
        retry_ms = int(1000 * (retry_after if retry_after is not None else (
            reset if parsed else self.window_ms / 1000)))
        args = ["1" if headers is not None else "0", limit, remaining, int(reset * 1000),
                "1" if throttled else "0", retry_ms, int(RESET_MARGIN_SECONDS * 1000)]
        self.guard.run("budget", lambda: self._settle(keys=[self.keys[1], self.keys[2]],
                                                      args=args), lambda: None)
        if parsed is not None and self.on_remaining is not None:
            self.on_remaining(parsed[1])


# -- single-flight across processes ------------------------------------------------------
class RemoteFlight(Flight):
    """Another process leads this fetch: wait for the result it publishes in Redis."""

    def __init__(self, owner: RedisSingleFlight, key: str, local: Flight):
        super().__init__()
        self.owner = owner
        self.key = key
        self.local = local

    def wait(self, timeout: float):
        result = self.owner.await_remote(self.key, timeout)
        self.owner.local.land(self.key, self.local, result)  # wake this process's waiters
        return result


class RedisSingleFlight:
    def __init__(self, guard: RedisGuard, lock_seconds: float):
        self.guard = guard
        self.local = SingleFlight()
        self.lock_ms = max(1000, int(lock_seconds * 1000))

    def _lock_key(self, key: str) -> str:
        return f"{PREFIX}flight:{key}"

    def _result_key(self, key: str) -> str:
        return f"{PREFIX}flight-result:{key}"

    def claim(self, key: str) -> tuple[Flight, bool]:
        flight, leader = self.local.claim(key)
        if not leader:
            return flight, False
        won = self.guard.run("single_flight", lambda: bool(self.guard.client.set(
            self._lock_key(key), "1", nx=True, px=self.lock_ms)), lambda: True)
        if won:
            # A result left by an earlier flight for this key must not answer this one.
            self.guard.run("single_flight", lambda: self.guard.client.delete(
                self._result_key(key)), lambda: None)
            return flight, True
        return RemoteFlight(self, key, flight), False

    def land(self, key: str, flight: Flight, result) -> None:
        def publish():
            pipe = self.guard.client.pipeline()
            pipe.set(self._result_key(key), codec.dumps(result), px=10_000)
            pipe.delete(self._lock_key(key))
            pipe.execute()

        self.guard.run("single_flight", publish, lambda: None)
        self.local.land(key, flight, result)

    def await_remote(self, key: str, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw, locked = self.guard.run("single_flight", lambda: self.guard.client.pipeline()
                                         .get(self._result_key(key))
                                         .exists(self._lock_key(key)).execute(),
                                         lambda: (None, 0))
            if raw:
                return codec.loads(raw)
            if not locked:
                # The leader vanished without a result (crash, or Redis lost it).
                return UpstreamError("upstream_error", "the coalesced request did not finish")
            time.sleep(FLIGHT_POLL_SECONDS)
        return None
