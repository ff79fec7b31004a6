"""Rating state shared by every worker and replica through Redis.

With ``RATECALC_REDIS_URL`` set:

* the quote cache lives in Redis (``SET ... PX ttl``: the TTL stays exact);
* the ShipStation call budget is one budget across all processes, enforced by
  Lua scripts that check and take in one atomic step (never read-then-write),
  still obeying the ``X-Rate-Limit-*`` headers any process sees;
* a V1 quote reserves the calls for all its carriers in one script, or none;
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

from cachetools import LRUCache

from ratecalc.model import CarrierRates
from ratecalc.rating import codec, packing
from ratecalc.rating.cache import Flight, MemoryQuoteCache, SingleFlight
from ratecalc.redis_guard import PREFIX, RedisGuard
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.limits.budget import (
    _RESERVED,
    RESET_MARGIN_SECONDS,
    BudgetExhausted,
    CallBudget,
    Reservation,
    rate_limit_headers,
)

log = logging.getLogger(__name__)
FLIGHT_POLL_SECONDS = 0.02

class RedisQuoteCache:
    def __init__(self, guard: RedisGuard, ttl_seconds: float, fallback: MemoryQuoteCache,
                 namespace: str = "q"):
        self.guard = guard
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        self.fallback = fallback
        # Entries are packed as in process, with their own strings (packing.pack_portable).
        # ":p:" keeps them apart from the JSON entries that earlier versions wrote.
        self.prefix = f"{PREFIX}{namespace}:p:"
        self._decoded_kept: LRUCache = LRUCache(maxsize=self.DECODED_KEPT)
        self._decoded_lock = threading.Lock()

    DECODED_KEPT = 256

    def _decoded(self, key: str, raw: bytes | None) -> CarrierRates | None:
        """``raw`` decoded; the same bytes as last time give the same object, so the
        order screen's repeated quote skips decoding, and the rating service's kept
        whole-hit answer (matched by entry identity) is given again."""
        if not raw:
            return None
        with self._decoded_lock:
            known = self._decoded_kept.get(key)
        if known is not None and known[0] == raw:
            return known[1]
        value = packing.unpack(raw)
        with self._decoded_lock:
            self._decoded_kept[key] = (raw, value)
        return value

    def get(self, key: str) -> CarrierRates | None:
        def action():
            return self._decoded(key, self.guard.client.get(self.prefix + key))

        return self.guard.run("cache", action, lambda: self.fallback.get(key))

    def get_many(self, keys: list[str]) -> list[CarrierRates | None]:
        if not keys:
            return []

        def action():  # MGET: one round trip for every carrier of a quote
            raws = self.guard.client.mget([self.prefix + key for key in keys])
            return [self._decoded(key, raw) for key, raw in zip(keys, raws, strict=True)]

        return self.guard.run("cache", action, lambda: self.fallback.get_many(keys))

    def set(self, key: str, value: CarrierRates) -> None:
        self.guard.run("cache", lambda: self.guard.client.set(
            self.prefix + key, packing.pack_portable(value), px=self.ttl_ms),
            lambda: self.fallback.set(key, value))


# -- the shared call budget ------------------------------------------------------------
# Shared by both scripts: how long until the window (and the upstream's Remaining)
# has room for ``n`` calls; 0 when it has. ``limit``, ``window`` and ``n`` are set first.
_ROOM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local wait = 0
local count = redis.call('ZCARD', KEYS[1])
if count + n > limit then
  -- the newest of the oldest calls that must leave the window before all n fit
  local i = count + n - limit - 1
  local nth = redis.call('ZRANGE', KEYS[1], i, i, 'WITHSCORES')
  wait = tonumber(nth[2]) + window - now
end
local reset_at = tonumber(redis.call('HGET', KEYS[2], 'reset_at') or '0')
local remaining = redis.call('HGET', KEYS[2], 'remaining')
if reset_at > now then
  if remaining and tonumber(remaining) < n then wait = math.max(wait, reset_at - now) end
elseif remaining then
  redis.call('HDEL', KEYS[2], 'remaining', 'reset_at')
  remaining = false
end
"""

_ACQUIRE = """
local limit, window, token, probe_ms = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local n = 1
""" + _ROOM + """
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

# N calls at once, or none: the window must have room for all of them, and so must
# the upstream's Remaining. -1: a probe is out (wait for its answer); -2: nothing is
# known and no probe is out, so nothing is reserved (the calls go one by one and the
# first is the probe, the _ACQUIRE rule: one call only until an answer is known).
_RESERVE = """
local limit, window, token, n = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
""" + _ROOM + """
if wait > 0 then return wait end
if not redis.call('HGET', KEYS[2], 'known') then
  if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
  return -2
end
for j = 1, n do redis.call('ZADD', KEYS[1], now, token .. ':' .. j) end
redis.call('PEXPIRE', KEYS[1], window)
if remaining then redis.call('HINCRBY', KEYS[2], 'remaining', -n) end
redis.call('HINCRBY', KEYS[2], 'inflight', n)
redis.call('PEXPIRE', KEYS[2], 3600000)
return 0
"""

# Reserved calls not made: out of the window and out of flight, back into Remaining.
_GIVE_BACK = """
local k = #ARGV
redis.call('ZREM', KEYS[1], unpack(ARGV))
local inflight = tonumber(redis.call('HINCRBY', KEYS[2], 'inflight', -k))
if inflight < 0 then redis.call('HSET', KEYS[2], 'inflight', 0) end
-- Not after a 429 (Remaining 0 until the reset): the calls would undo the throttle.
-- A reservation that itself took Remaining to 0 then waits for the reset: the safe side.
local remaining = tonumber(redis.call('HGET', KEYS[2], 'remaining') or '0')
if remaining > 0 then
  redis.call('HINCRBY', KEYS[2], 'remaining', k)
end
return 0
"""

# A call taken but never sent (connection refused, no time left): as a give-back, and
# the probe it may have been is over (the next call may probe again).
_UNSENT = """
redis.call('DEL', KEYS[3])
""" + _GIVE_BACK

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
        self._reserve = guard.client.register_script(_RESERVE)
        self._give_back_script = guard.client.register_script(_GIVE_BACK)
        self._unsent = guard.client.register_script(_UNSENT)
        self._local = threading.local()
        self._reserved_lock = threading.Lock()  # pool threads pop one reservation's tokens

    def reserve(self, calls: int, deadline) -> Reservation:
        """Wait for shared budget for ``calls`` calls at once, or raise :class:`BudgetExhausted`.

        One script takes them all or none, so near the end of a window no process spends
        calls on a partial quote. Until an answer has told any process the upstream's
        state, nothing is reserved: the calls go one by one, the first as the probe.
        With Redis down, the reservation is the in-process budget's (and so are its calls).
        """
        calls = max(1, min(int(calls), self.per_window))  # as CallBudget; more go one by one
        while True:
            token = uuid.uuid4().hex
            wait_ms = self.guard.run("budget", lambda t=token: self._reserve(
                keys=list(self.keys), args=[self.per_window, self.window_ms, t, calls]),
                lambda: None)
            if wait_ms is None:  # Redis is down: the in-process share decides
                return self.fallback.reserve(calls, deadline)
            wait_ms = int(wait_ms)
            if wait_ms == 0:
                return Reservation(self, [f"{token}:{j}" for j in range(1, calls + 1)])
            if wait_ms == -2:
                return Reservation(self, [])
            wait = FLIGHT_POLL_SECONDS if wait_ms < 0 else wait_ms / 1000.0
            if wait > deadline.remaining():
                raise BudgetExhausted(wait)
            time.sleep(min(wait, max(0.0, deadline.remaining())))

    def _use_reserved(self, reservation: Reservation) -> bool:
        """Take one of ``reservation``'s calls, if any is left (see :func:`reserved`)."""
        if reservation.budget is self.fallback:  # reserved while Redis was down
            if self.fallback._use_reserved(reservation):
                self._local.via_redis = False
                return True
            return False
        if reservation.budget is not self:
            return False
        with self._reserved_lock:
            if not reservation.left:
                return False
            self._local.token = reservation.left.pop()
        self._local.via_redis = True  # counted in flight by the reservation already
        return True

    def _give_back(self, reservation: Reservation) -> None:
        with self._reserved_lock:
            tokens = list(reservation.left)
            reservation.left.clear()
        if tokens:
            self.guard.run("budget", lambda: self._give_back_script(
                keys=[self.keys[0], self.keys[1]], args=tokens), lambda: None)

    def acquire(self, deadline) -> None:
        reservation = _RESERVED.get()
        if reservation is not None and self._use_reserved(reservation):
            return
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
                self._local.via_redis, self._local.token = True, token
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
        if unsent and headers is None:  # its slot goes back, as in process (once)
            token, self._local.token = getattr(self._local, "token", None), None
            self.guard.run("budget", lambda: self._unsent(keys=list(self.keys),
                                                          args=[token or ""]), lambda: None)
            return None
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
