"""The login limit and ended sessions, shared by every process through Redis.

Why: with several gunicorn workers or replicas, a limit kept in each process lets a
guesser try ten tokens a minute per process, and a logout in one process leaves the
copied cookie good in the others. With RATECALC_REDIS_URL set, both live in Redis;
each process keeps its own record too, so while Redis is down the limit and the
logouts it saw still hold (the RedisGuard falls back, as the quote cache does).
"""

from __future__ import annotations

import hashlib
import time
import uuid

from ratecalc.redis_guard import PREFIX, RedisGuard
from ratecalc.ui.session import (
    LOGIN_ATTEMPTS_PER_MINUTE,
    SESSION_SECONDS,
    EndedSessions,
    LoginLimiter,
)

# A sliding minute per client address: drop what left it, refuse at the limit (the
# milliseconds until the oldest attempt leaves), else count this attempt.
_ATTEMPT = """
local limit, window, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1000, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


def _hashed(value: str) -> str:
    """Keys name a digest, not a client address or a session id."""
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:32]


class RedisLoginLimiter(LoginLimiter):
    """The :class:`LoginLimiter` rule once for every process sharing the Redis."""

    def __init__(self, guard: RedisGuard, per_minute: int = LOGIN_ATTEMPTS_PER_MINUTE):
        super().__init__(per_minute)
        self.guard = guard
        self._script = guard.client.register_script(_ATTEMPT)

    def allow(self, address: str) -> float:
        local = super().allow(address)  # this process's own count, kept for when Redis is down
        key = f"{PREFIX}ui:login:{_hashed(address)}"
        waited = self.guard.run("ui", lambda: self._script(
            keys=[key], args=[self.per_minute, 60_000, uuid.uuid4().hex]), lambda: None)
        if waited is None:  # Redis is down: the process's own limit decides
            return local
        return max(local, int(waited) / 1000.0)


class RedisEndedSessions(EndedSessions):
    """Logged-out session ids, in Redis until they would have expired anyway."""

    def __init__(self, guard: RedisGuard, clock=time.time):
        super().__init__(clock)
        self.guard = guard

    @staticmethod
    def _key(sid: str) -> str:
        return f"{PREFIX}ui:ended:{_hashed(sid)}"

    def add(self, sid: str, issued: float) -> None:
        super().add(sid, issued)
        left_ms = int(1000 * (issued + SESSION_SECONDS - self._clock()))
        if left_ms > 0:
            self.guard.run("ui", lambda: self.guard.client.set(self._key(sid), "1", px=left_ms),
                           lambda: None)

    def __contains__(self, sid: str) -> bool:
        if super().__contains__(sid):
            return True
        return bool(self.guard.run("ui", lambda: self.guard.client.exists(self._key(sid)),
                                   lambda: False))
