"""Cin7's limits (3/second, 60/minute, 5,000/day per API connection) shared by
every process through Redis.

The same rules as :class:`~ratecalc.upstream.limits.budget.WindowLimiter`, in one sorted
set per API connection: a call in flight is scored in the future (so it counts
in every window until it ends), and on release it is re-scored at the moment
its answer came back. One Lua script checks every window and takes the slot
atomically. If Redis is unreachable the in-process limiter (with this
process's share) decides, as for the ShipStation budget.
"""

from __future__ import annotations

import threading
import time
import uuid

from ratecalc.upstream.limits.budget import BudgetExhausted, WindowLimiter

IN_FLIGHT_LEASE_MS = 300_000  # a call not released in 5 minutes (a dead process) ages out

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local longest = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
local wait = 0
for i = 4, #ARGV, 2 do
  local limit, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local count = redis.call('ZCOUNT', KEYS[1], now - window, '+inf')
  if count >= limit then
    local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], now - window, '+inf',
                              'WITHSCORES', 'LIMIT', count - limit, 1)
    local score = tonumber(oldest[2])
    if score > now then return -1 end
    wait = math.max(wait, score + window - now)
  end
end
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then wait = math.max(wait, blocked) end
if wait > 0 then return wait end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], longest + tonumber(ARGV[2]))
return 0
"""

_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 0
"""

_COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')
"""


class RedisWindowLimiter:
    """A :class:`WindowLimiter` whose windows every process shares."""

    def __init__(self, guard, connection: str, windows: list[tuple[int, float]], *,
                 fallback: WindowLimiter):
        self.guard = guard
        self.windows = windows
        self.fallback = fallback
        self.key = f"ratecalc:cin7-calls:{connection}"
        self.block_key = f"ratecalc:cin7-blocked:{connection}"
        self._acquire = guard.client.register_script(_ACQUIRE)
        self._release = guard.client.register_script(_RELEASE)
        self._count = guard.client.register_script(_COUNT)
        self._args = [IN_FLIGHT_LEASE_MS, int(max(s for _, s in windows) * 1000)]
        for limit, seconds in windows:
            self._args += [limit, int(seconds * 1000)]
        self._mine = threading.local()

    def acquire(self, deadline) -> None:
        while True:
            token = uuid.uuid4().hex
            wait_ms = self.guard.run("cin7_limiter", lambda t=token: self._acquire(
                keys=[self.key, self.block_key], args=[t, *self._args]), lambda: None)
            if wait_ms is None:  # Redis is down
                self._mine.token = None
                self.fallback.acquire(deadline)
                return
            if int(wait_ms) == 0:
                self._mine.token = token
                return
            wait = 0.05 if int(wait_ms) < 0 else int(wait_ms) / 1000.0
            if wait > deadline.remaining():
                raise BudgetExhausted(wait)
            time.sleep(min(wait, max(0.0, deadline.remaining())))

    def release(self) -> None:
        token = getattr(self._mine, "token", None)
        self._mine.token = None
        if token is None:
            return self.fallback.release()
        self.guard.run("cin7_limiter", lambda: self._release(keys=[self.key], args=[token]),
                       lambda: None)

    def back_off(self, seconds: float) -> None:
        """After a 429: no process calls Cin7 for ``seconds``."""
        self.fallback.back_off(seconds)
        self.guard.run("cin7_limiter", lambda: self.guard.client.set(
            self.block_key, "1", px=max(1, int(seconds * 1000))), lambda: None)

    def remaining(self, window_seconds: float) -> int | None:
        for limit, seconds in self.windows:
            if seconds == window_seconds:
                used = self.guard.run("cin7_limiter", lambda s=seconds: self._count(
                    keys=[self.key], args=[int(s * 1000)]), lambda: None)
                if used is None:
                    return self.fallback.remaining(window_seconds)
                return max(0, limit - int(used))
        return None
