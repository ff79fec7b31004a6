"""Call budgets: never cause a 429 on our own.

ShipStation V1 allows 40 calls a minute per key pair and reports its view of
the window in ``X-Rate-Limit-Limit/Remaining/Reset`` on every answer. A
:class:`CallBudget` enforces both:

* our own ceiling — at most ``per_window`` calls in any sliding window, which
  also keeps any fixed upstream window of that length within the limit; and
* the upstream's word — a lower advertised limit, or a remaining count of 0,
  wins until the advertised reset.

Until the first answer tells us the upstream's state, only one call is in
flight (a probe), so a cold start cannot fire a burst at an upstream whose
limit is lower than ours. A caller that cannot get budget before its deadline
gets :class:`BudgetExhausted` with the wait it would have needed.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from collections.abc import Mapping

#: Added to every advertised reset: ``X-Rate-Limit-Reset`` is whole seconds and
#: may be rounded down, so the window may end a little after "now + reset".
RESET_MARGIN_SECONDS = 0.25


class BudgetExhausted(Exception):
    def __init__(self, retry_after: float):
        super().__init__(f"no call budget for {retry_after:.1f}s")
        self.retry_after = retry_after


def rate_limit_headers(headers: Mapping[str, str] | None) -> tuple[int, int, float] | None:
    """(limit, remaining, reset_seconds) from ``X-Rate-Limit-*`` headers, if all present."""
    if not headers:
        return None
    try:
        return (
            int(headers["X-Rate-Limit-Limit"]),
            int(headers["X-Rate-Limit-Remaining"]),
            float(headers["X-Rate-Limit-Reset"]),
        )
    except (KeyError, ValueError, TypeError):
        return None


class Reservation:
    """Budget taken for several calls at once (:meth:`CallBudget.reserve`)."""

    def __init__(self, budget, sent: list[float]):
        self.budget = budget
        self.left = sent  # the send times of the calls not made yet

    def give_back(self) -> None:
        """Return what was not used (a carrier that failed before calling, say)."""
        if self.left and hasattr(self.budget, "_give_back"):
            self.budget._give_back(self)


_RESERVED: contextvars.ContextVar[Reservation | None] = contextvars.ContextVar(
    "ratecalc_reserved_budget", default=None)


def reserved(reservation: Reservation | None, fn, *args, **kwargs):
    """Run ``fn`` with its budget calls taken from ``reservation`` (in a pool thread)."""
    token = _RESERVED.set(reservation)
    try:
        return fn(*args, **kwargs)
    finally:
        _RESERVED.reset(token)


class CallBudget:
    def __init__(self, per_window: int, window_seconds: float = 60.0, *,
                 reset_margin: float = RESET_MARGIN_SECONDS, clock=time.monotonic,
                 on_remaining=None, min_call_seconds: float = 0.0):
        self.per_window = per_window
        self.window = window_seconds
        self.reset_margin = reset_margin
        # A call granted after a wait needs this much of its deadline left to be
        # worth making; otherwise the budget would be spent on a certain timeout.
        self.min_call_seconds = min_call_seconds
        self._clock = clock
        self._on_remaining = on_remaining
        self._cond = threading.Condition()
        self._sent: deque[float] = deque()
        self._inflight_sent: list[float] = []  # send times of calls not yet answered
        self._reserved_out = 0  # calls reserved (reserve) and not yet made
        self._mine = threading.local()  # the send time of this thread's call
        self._known = False  # has any answer told us the upstream's state?
        self._limit: int | None = None  # the upstream's advertised limit
        self._remaining: int | None = None  # our estimate for the upstream window
        self._reset_at: float | None = None  # when the upstream window ends
        self._lowest_seen = 0  # the lowest Remaining answered in this upstream window

    # -- taking budget -------------------------------------------------------
    def reserve(self, calls: int, deadline) -> Reservation:
        """Wait for budget for ``calls`` calls at once, or raise :class:`BudgetExhausted`.

        A V1 quote rates its carriers with one call each. Taken one at a time, near
        the end of a window some carriers get budget and others do not, and the calls
        made are wasted on a partial quote. Reserved together, a quote gets all its
        calls or waits; the calls then take their reserved budget without waiting
        (:func:`reserved`), and what is left unused is given back.
        """
        calls = max(1, min(int(calls), self.per_window))
        with self._cond:
            self._wait_for(calls, deadline)
            now = self._clock()
            for _ in range(calls):
                self._sent.append(now)
                if self._remaining is not None:
                    self._remaining -= 1
            self._reserved_out += calls  # in flight, for the estimate, until made or returned
            return Reservation(self, [now] * calls)

    def _wait_for(self, calls: int, deadline) -> None:
        while True:
            wait = self._wait_needed(self._clock(), calls)
            if wait == 0.0:
                return
            remaining = deadline.remaining()
            if wait is not None and wait > remaining - self.min_call_seconds:
                raise BudgetExhausted(wait)
            if remaining <= 0:
                raise BudgetExhausted(wait or 1.0)
            # wait None = wait for an answer in flight (settle() notifies).
            self._cond.wait(remaining if wait is None else wait)

    def _use_reserved(self, reservation: Reservation) -> bool:
        with self._cond:
            if not reservation.left:
                return False
            sent_at = reservation.left.pop()
            self._reserved_out -= 1
            self._inflight_sent.append(sent_at)
            self._mine.sent_at = sent_at
            return True

    def _give_back(self, reservation: Reservation) -> None:
        with self._cond:
            for sent_at in reservation.left:
                if sent_at in self._sent:
                    self._sent.remove(sent_at)
                self._count_back()
            self._reserved_out -= len(reservation.left)
            reservation.left.clear()
            self._cond.notify_all()

    def _count_back(self) -> None:
        """A call never made gives its share of the upstream's Remaining back, but not
        after a 429 (Remaining 0 until the reset): that would undo the throttle. A quote
        that itself took Remaining to 0 then waits for the reset too: the safe side, as
        the Redis budget does."""
        if self._remaining is not None and self._remaining > 0:
            self._remaining += 1

    def acquire(self, deadline) -> None:
        """Wait for budget for one call, or raise :class:`BudgetExhausted`."""
        reservation = _RESERVED.get()
        if reservation is not None and reservation.budget is self and \
                self._use_reserved(reservation):
            return
        with self._cond:
            while True:
                wait = self._wait_needed(self._clock())
                if wait == 0.0:
                    self._take(self._clock())
                    return
                remaining = deadline.remaining()
                if wait is not None and wait > remaining - self.min_call_seconds:
                    raise BudgetExhausted(wait)
                if remaining <= 0:
                    raise BudgetExhausted(wait or 1.0)
                # wait None = wait for an answer in flight (settle() notifies).
                self._cond.wait(remaining if wait is None else wait)

    def _wait_needed(self, now: float, calls: int = 1) -> float | None:
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        if self._reset_at is not None and now >= self._reset_at:
            # The upstream window rolled over: its limit is available again,
            # less what is in flight, until an answer tells us more.
            self._reset_at = None
            self._remaining = None if self._limit is None else self._limit - self._inflight
        waits = [0.0]
        if len(self._sent) + calls > self.per_window:
            # the oldest calls that must leave the window before these fit
            waits.append(self._sent[len(self._sent) + calls - self.per_window - 1]
                         + self.window - now)
        if self._remaining is not None and self._remaining < calls:
            if self._reset_at is not None:
                waits.append(self._reset_at - now)
            elif self._inflight:
                return None
        if not self._known and self._inflight:
            return None
        return max(waits)

    @property
    def _inflight(self) -> int:
        return len(self._inflight_sent) + self._reserved_out

    def _take(self, now: float) -> None:
        self._sent.append(now)
        self._inflight_sent.append(now)
        self._mine.sent_at = now
        if self._remaining is not None:
            self._remaining -= 1

    # -- learning from answers ----------------------------------------------
    def settle(self, headers: Mapping[str, str] | None, *, throttled: bool = False,
               retry_after: float | None = None, unsent: bool = False) -> None:
        """Record the answer to this thread's acquired call (``None`` if there was none).

        ``unsent``: the call never reached the upstream (connection refused, or
        no time was left to make it), so the budget it took is given back.
        """
        now = self._clock()
        with self._cond:
            sent_at = getattr(self._mine, "sent_at", None)
            self._mine.sent_at = None
            if sent_at in self._inflight_sent:
                self._inflight_sent.remove(sent_at)
            elif self._inflight_sent:
                self._inflight_sent.pop(0)
            if unsent:
                self._count_back()
                if sent_at is not None and sent_at in self._sent:
                    self._sent.remove(sent_at)
            parsed = rate_limit_headers(headers)
            if headers is not None:
                self._known = True
            if parsed is not None:
                self._observe(now, *parsed)
            if throttled:
                reset = retry_after if retry_after is not None else (
                    parsed[2] if parsed else self.window)
                self._remaining = 0
                self._reset_at = max(self._reset_at or 0.0, now + reset + self.reset_margin)
            self._cond.notify_all()
        if parsed is not None and self._on_remaining is not None:
            # the lowest Remaining of the window: answers to parallel calls arrive in
            # any order, and the last to arrive need not be the latest count
            self._on_remaining(min(parsed[1], self._lowest_seen))

    def _observe(self, now: float, limit: int, remaining: int, reset: float) -> None:
        """Fold one answer's ``X-Rate-Limit-*`` into the estimate.

        The answer with the lowest Remaining in a window came from the call that
        arrived last among those answered, so every answered call (and any other
        program's) is in it; subtracting every call still in flight is then a safe
        estimate, and a fresher one than any before it. Answers with a higher
        Remaining arrived earlier: they add nothing.
        """
        reset_at = now + max(reset, 0.0) + self.reset_margin
        self._limit = limit
        if self._reset_at is None or reset_at > self._reset_at + 0.5:
            # A new upstream window (or the first we hear of).
            self._reset_at = reset_at
            self._lowest_seen = remaining
            self._remaining = remaining - self._inflight
        elif remaining <= self._lowest_seen:
            self._lowest_seen = remaining
            self._remaining = remaining - self._inflight

    def snapshot(self) -> dict:
        with self._cond:
            return {
                "sent_in_window": len(self._sent),
                "inflight": self._inflight,
                "upstream_limit": self._limit,
                "upstream_remaining": self._remaining,
            }


class WindowLimiter:
    """Several sliding windows at once, e.g. Cin7's 3/second, 60/minute, 5,000/day.

    Cin7 counts a call when it arrives, which is some time after we send it. So
    a call counts in every window while it is in flight, and afterwards at the
    moment its answer came back (never earlier than its arrival): a delayed
    request can then never make Cin7 see one call too many in a window.
    A caller waits for the earliest moment every window has room, up to its
    deadline, and must :meth:`release` each acquired call when it ends.
    """

    def __init__(self, windows: list[tuple[int, float]], clock=time.monotonic):
        self.windows = [(limit, seconds) for limit, seconds in windows if limit]
        self._clock = clock
        self._lock = threading.Condition()
        self._done: deque[float] = deque()  # answer times, oldest first
        self._inflight = 0
        self._blocked_until = 0.0
        self._longest = max((s for _, s in self.windows), default=0.0)

    def _wait_needed(self, now: float) -> float | None:
        while self._done and self._done[0] <= now - self._longest:
            self._done.popleft()
        wait = max(0.0, self._blocked_until - now)
        for limit, seconds in self.windows:
            inside = [t for t in self._done if t > now - seconds]
            room = limit - self._inflight - len(inside)
            if room > 0:
                continue
            to_expire = 1 - room  # answers that must age out before one more call fits
            if to_expire > len(inside):
                return None  # calls in flight alone fill the window: wait for one to end
            wait = max(wait, inside[to_expire - 1] + seconds - now)
        return wait

    def acquire(self, deadline) -> None:
        with self._lock:
            while True:
                wait = self._wait_needed(self._clock())
                if wait is not None and wait <= 0:
                    self._inflight += 1
                    return
                remaining = deadline.remaining()
                if wait is not None and wait > remaining:
                    raise BudgetExhausted(wait)
                if remaining <= 0:
                    raise BudgetExhausted(wait or 1.0)
                self._lock.wait(remaining if wait is None else wait)

    def release(self) -> None:
        """The acquired call ended (answered, failed or abandoned)."""
        with self._lock:
            self._inflight = max(0, self._inflight - 1)
            self._done.append(self._clock())
            self._lock.notify_all()

    def back_off(self, seconds: float) -> None:
        """After a 429: no calls for ``seconds``."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def remaining(self, window_seconds: float) -> int | None:
        """Calls left in the window of that length (e.g. 86400 for the day)."""
        with self._lock:
            now = self._clock()
            for limit, seconds in self.windows:
                if seconds == window_seconds:
                    used = self._inflight + sum(1 for t in self._done if t > now - seconds)
                    return max(0, limit - used)
        return None


class ChainedLimiter:
    """Two limiters every call must pass, e.g. the export's share of Cin7's day in
    front of Cin7's own windows. The first is asked first, so a share that is used
    up fails fast (its wait is hours, beyond any deadline) without holding a slot
    of the second."""

    def __init__(self, first, second):
        self.first = first
        self.second = second

    def acquire(self, deadline) -> None:
        self.first.acquire(deadline)
        try:
            self.second.acquire(deadline)
        except BaseException:
            self.first.release()
            raise

    def release(self) -> None:
        self.second.release()
        self.first.release()

    def back_off(self, seconds: float) -> None:
        self.second.back_off(seconds)

    def remaining(self, window_seconds: float) -> int | None:
        return self.second.remaining(window_seconds)
