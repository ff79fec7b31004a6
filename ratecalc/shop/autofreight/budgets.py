"""What auto-freight may spend: Cin7 calls a day, and half of ShipStation's minute.

* **Cin7.** Cin7 allows 5,000 calls a day per API connection, shared with the
  export, ship notifications and whatever else the merchant runs. Auto-freight
  counts its own calls per UTC day in the store (so a restart does not reset the
  count) and stops for the day at ``RATECALC_AUTO_FREIGHT_MAX_CIN7_CALLS_PER_DAY``;
  the calls still go through the shared Cin7 limiter (3/s, 60/min).
* **ShipStation.** Quotes for the order screen must keep answering, so auto-freight
  takes at most half of the per-minute budget. Before each quote it takes one slot
  per carrier the quote may call (an upper bound: a cached carrier costs nothing),
  and when none is free it *waits* -- it never fails an order for want of budget.
"""

from __future__ import annotations

import threading
from datetime import datetime

from ratecalc.upstream.cin7.client import Cin7Client
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.limits.budget import BudgetExhausted, WindowLimiter
from ratecalc.upstream.transport import Deadline

WAIT_SLICE_SECONDS = 5.0


class DailyBudgetReached(UpstreamError):
    def __init__(self, limit: int):
        super().__init__("rate_limited", f"auto-freight used its {limit} Cin7 calls for today "
                         "(RATECALC_AUTO_FREIGHT_MAX_CIN7_CALLS_PER_DAY)")


class Cin7DayBudget:
    """Auto-freight's Cin7 calls today, persisted in the store's freight state."""

    def __init__(self, store, limit: int, clock):
        self.store = store
        self.limit = limit
        self.clock = clock
        self.day: str | None = None
        self.used = 0
        self._lock = threading.Lock()

    def load(self) -> None:
        state = self.store.freight_state()
        today = self._today()
        self.day = today
        self.used = state.cin7_calls if state.cin7_calls_day == today else 0

    def _today(self) -> str:
        moment: datetime = self.clock()
        return moment.strftime("%Y-%m-%d")

    def take(self) -> None:
        with self._lock:
            today = self._today()
            if today != self.day:
                self.day, self.used = today, 0
            if self.used >= self.limit:
                raise DailyBudgetReached(self.limit)
            self.used += 1

    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def save(self) -> None:
        if self.day is not None:
            self.store.save_cin7_calls(self.day, self.used)


class BudgetedCin7(Cin7Client):
    """The shop's Cin7 client (same session, limiter and breaker), counting every call
    against auto-freight's daily budget before it is made."""

    def __init__(self, base: Cin7Client, budget: Cin7DayBudget):  # shares base's state
        self.__dict__.update(base.__dict__)
        self.day_budget = budget

    def _call(self, method: str, path: str, operation: str, **kwargs):
        self.day_budget.take()
        return super()._call(method, path, operation, **kwargs)


class ShipStationShare:
    """At most ``per_minute`` ShipStation calls in any minute for auto-freight; waits."""

    def __init__(self, per_minute: int, window_seconds: float = 60.0, stop=None):
        self.per_window = max(1, int(per_minute))
        self.window = window_seconds
        self.limiter = WindowLimiter([(self.per_window, window_seconds)])
        self.stop = stop or threading.Event()

    def take(self, calls: int) -> int:
        """Wait until ``calls`` slots are free (fewer if more than the window holds);
        returns how many were taken, 0 when stopped while waiting."""
        calls = max(1, min(int(calls), self.per_window))
        taken = 0
        while taken < calls:
            if self.stop.is_set():
                self.give_back(taken)
                return 0
            try:
                self.limiter.acquire(Deadline(WAIT_SLICE_SECONDS))
            except BudgetExhausted as exc:
                # Under pressure: wait on, in slices, so that a stop is noticed.
                self.stop.wait(min(max(exc.retry_after, 0.05), WAIT_SLICE_SECONDS))
                continue
            taken += 1
        return taken

    def short(self, calls: int) -> bool:
        """Would taking ``calls`` slots wait now?"""
        free = self.limiter.remaining(self.window)
        return free is not None and free < max(1, min(int(calls), self.per_window))

    def give_back(self, taken: int) -> None:
        """The quote is over: its slots count in the window from now on."""
        for _ in range(taken):
            self.limiter.release()
