"""The detectors: each one watches a condition and raises or resolves its alerts.

Each has a ``name`` and ``run(hub, now)``. Conditions read from the database
(notices) or from Cin7 (orders) look the same from every process, so their
detectors report their whole view (``hub.settle``) and anything not in it is
resolved; the Cin7 scans run in one process per interval (``claim_run``).
Conditions held in a process's memory (refused credentials, breakers) are
raised by the process that saw them and resolved when that process sees them
clear, so two processes never contradict each other.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ratecalc.alerts.records import Observation, iso

NOTICE_LIMIT = 200
FIRST_SCAN_DELAY = timedelta(minutes=10)  # no Cin7 scan in a process's first minutes
EXPORT_CALLED = "export_called"
STARTED = "alerts_started"


class NoticeFailed:
    """``notice_failed``: a notice failed for good, or has been pending too long."""

    name = "notice_failed"

    def __init__(self, store, pending_minutes: int):
        self.store = store
        self.pending = timedelta(minutes=pending_minutes)

    def run(self, hub, now: datetime) -> None:
        failed = self.store.list_notices(status="failed", limit=NOTICE_LIMIT + 1)
        seen = [self._failed(n) for n in failed[:NOTICE_LIMIT]]
        overdue = [n for status in ("pending", "delivering")
                   for n in self.store.list_notices(status=status, limit=500)
                   if now - n.created_at > self.pending]
        if overdue:
            overdue.sort(key=lambda n: n.id)
            minutes = int((now - overdue[0].created_at).total_seconds() // 60)
            seen.append(Observation(
                "notice_failed", "notice_failed:pending",
                f"{len(overdue)} ship notice(s) pending for more than "
                f"{int(self.pending.total_seconds() // 60)} minutes (the oldest {minutes})",
                {"notices": [{"id": n.id, "order": n.order_number or n.order_id,
                              "attempts": n.attempts, "last_error": n.last_error,
                              "received": iso(n.created_at)} for n in overdue[:50]],
                 "pending_minutes_setting": int(self.pending.total_seconds() // 60)}, bump=0))
        hub.settle("notice_failed", seen, complete=len(failed) <= NOTICE_LIMIT)

    @staticmethod
    def _failed(notice) -> Observation:
        order = notice.order_number or notice.resolved_order_id or notice.order_id
        return Observation(
            "notice_failed", f"notice_failed:{notice.id}",
            f"ship notice {notice.id} for order {order} failed: {notice.last_error}",
            {"notice_id": notice.id, "order": order, "order_id": notice.resolved_order_id,
             "carrier": notice.carrier, "tracking_number": notice.tracking_number,
             "attempts": notice.attempts, "error": notice.last_error,
             "received": iso(notice.created_at)}, bump=0)


class CredentialsRefused:
    """``credentials_refused``: ShipStation or Cin7 answered 401/403 (``upstream_auth``)."""

    name = "credentials_refused"

    def __init__(self, take):
        self.take = take  # ratecalc.upstream.auth_watch.take

    def run(self, hub, now: datetime) -> None:
        states = self.take()
        open_keys = set(hub.tables.open_keys("credentials_refused"))
        for service, state in sorted(states.items()):
            key = f"credentials_refused:{service}"
            if state.refused:
                label = {"shipstation": "ShipStation", "cin7": "Cin7"}.get(service, service)
                hub.observe(Observation(
                    "credentials_refused", key,
                    f"{label} refused the stored credentials (HTTP {state.status})",
                    {"upstream": service, "http_status": state.status,
                     "message": state.message, "refusals": state.refused},
                    bump=state.refused))
            elif key in open_keys and state.last_accepted > state.last_refused:
                hub.resolve_alert("credentials_refused", key)


class CircuitOpen:
    """``circuit_open``: a breaker has not closed for longer than ``minutes``."""

    name = "circuit_open"

    def __init__(self, breakers, minutes: float = 10.0):
        self.breakers = breakers  # () -> {name: CircuitBreaker}
        self.threshold = minutes * 60
        self.raised: set[str] = set()

    def run(self, hub, now: datetime) -> None:
        for name, breaker in sorted(self.breakers().items()):
            seconds = breaker.open_seconds()
            key = f"circuit_open:{name}"
            if seconds > self.threshold:
                hub.observe(Observation(
                    "circuit_open", key,
                    f"the circuit breaker for {name} has been open for "
                    f"{int(seconds // 60)} minutes: calls to it fail at once",
                    {"upstream": name, "open_minutes": int(seconds // 60),
                     "state": breaker.state}, bump=0))
                self.raised.add(name)
            elif seconds == 0 and name in self.raised:
                hub.resolve_alert("circuit_open", key)
                self.raised.discard(name)


class ExportSilent:
    """``export_silent``: no export call for ``hours`` while eligible orders wait."""

    name = "export_silent"

    def __init__(self, waiting, hours: int, every: timedelta = timedelta(minutes=15)):
        self.waiting = waiting  # (now) -> [{"order_id", "reference"}]
        self.silence = timedelta(hours=hours)
        self.every = every

    def run(self, hub, now: datetime) -> None:
        started = hub.tables.mark_once(STARTED, now)
        last = hub.tables.get_mark(EXPORT_CALLED)
        since = last or started
        if now - since < self.silence:
            hub.settle("export_silent", [])
            return
        if not hub.tables.claim_run(self.name, now, self.every):
            return
        waiting = self.waiting(now)
        seen = []
        if waiting:
            hours = int((now - since).total_seconds() // 3600)
            seen.append(Observation(
                "export_silent", "export_silent",
                f"ShipStation has not called the export for {hours} hours while "
                f"{len(waiting)} eligible order(s) wait; auto-import may be off",
                {"last_export_call": iso(last), "silence_hours_setting":
                 int(self.silence.total_seconds() // 3600), "waiting_orders": len(waiting),
                 "orders": [o.get("reference") or o.get("order_id") for o in waiting[:50]]},
                bump=0))
        hub.settle("export_silent", seen)


class OrdersHeld:
    """``orders_held``: one digest of orders held out by a rule for over ``hours``."""

    name = "orders_held"

    def __init__(self, held, hours: int, every: timedelta = timedelta(hours=1)):
        self.held = held  # (now, older_than) -> [{"order_id", "reference", "since", "reasons"}]
        self.older_than = timedelta(hours=hours)
        self.every = every

    def run(self, hub, now: datetime) -> None:
        if now - hub.tables.mark_once(STARTED, now) < FIRST_SCAN_DELAY:
            return
        if not hub.tables.claim_run(self.name, now, self.every):
            return
        orders = self.held(now, self.older_than)
        hours = int(self.older_than.total_seconds() // 3600)
        seen = [Observation(
            "orders_held", "orders_held",
            f"{len(orders)} order(s) in an import stage held out of ShipStation by a rule "
            f"for more than {hours} hours", {"orders": orders[:200], "held": len(orders)},
            bump=0)] if orders else []
        hub.settle("orders_held", seen)


class AutoFreightFailed:
    """``auto_freight_failed``: an order whose latest freight decision failed (its quote
    or its write). Resolved once a later decision for the order is not a failure."""

    name = "auto_freight_failed"

    def __init__(self, store, limit: int = NOTICE_LIMIT):
        self.store = store
        self.limit = limit

    def run(self, hub, now: datetime) -> None:
        if not hasattr(self.store, "freight_records"):
            return  # a store without auto-freight's tables
        failed = self.store.freight_records(action="failed", limit=self.limit + 1)
        latest = self.store.latest_freight([r.order_id for r in failed])
        still = {r.order_id: r for r in failed
                 if latest.get(r.order_id) is not None and latest[r.order_id].id == r.id}
        seen = [Observation(
            "auto_freight_failed", f"auto_freight_failed:{r.order_id}",
            f"freight for Cin7 order {r.reference or r.order_id} failed: "
            f"{r.message or r.reason}",
            {"order_id": r.order_id, "reference": r.reference, "reason": r.reason,
             "message": r.message, "source": r.source,
             "at": iso(r.created_at) if r.created_at else None}, bump=0)
            for r in still.values()]
        hub.settle("auto_freight_failed", seen, complete=len(failed) <= self.limit)
