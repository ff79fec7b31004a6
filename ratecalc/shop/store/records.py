"""Persistence for the ShipStation Custom Store: exported orders and ship notifications.

Two engines implement :class:`ShopStore`:

* SQLite (``sqlite:///relative/path.sqlite3`` or ``sqlite:////absolute/path.sqlite3``,
  the default, embedded) -- :mod:`ratecalc.shop.store.sqlite`;
* PostgreSQL (``postgresql://user:password@host:port/db``, also ``postgres://``)
  -- :mod:`ratecalc.shop.store.postgres`.

The SQL they share lives in :class:`ratecalc.shop.store.sql.SqlStore`; each
engine supplies its transactions, connections and the few places where the
dialects differ (timestamps, JSON, ``FOR UPDATE SKIP LOCKED``, "id in a list").

Ship notifications are a small durable queue. A notice is ``pending`` until a
worker claims it with :meth:`ShopStore.claim_due`, which makes it
``delivering`` under a lease; the worker then marks it ``delivered``, sends it
back to ``pending`` for a later attempt, or marks it ``failed``. A worker that
dies mid-delivery leaves a ``delivering`` notice whose lease expires, and the
next claim takes it over (``attempts`` counts every claim).

Every database problem surfaces as :class:`StoreError`, whose message is one
line and never contains a password (:mod:`ratecalc.shop.store.urls`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

NOTICE_STATUSES = ("pending", "delivering", "delivered", "failed")


class StoreError(Exception):
    """The database cannot be used for this call; the message is one line, password-free."""


@dataclass(frozen=True)
class ExportRecord:
    order_id: int
    status: str
    exported_at: datetime


@dataclass(frozen=True)
class NewNotice:
    dedupe_key: str  # order + tracking + carrier, computed by the caller
    order_id: int | None  # Cin7 id if known from the XML (OrderID)
    order_number: str | None
    carrier: str | None
    service: str | None
    tracking_number: str | None
    payload: dict  # JSON-serialisable parsed notice (items, ship date, cost, notes...)
    raw_xml: str  # the body as received (for audit)
    resolved_order_id: int | None = None  # the Cin7 id, once looked up (None: not yet)


@dataclass(frozen=True)
class StoredNotice:
    id: int
    dedupe_key: str
    order_id: int | None
    order_number: str | None
    carrier: str | None
    service: str | None
    tracking_number: str | None
    payload: dict
    status: str  # 'pending' | 'delivering' | 'delivered' | 'failed'
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    claimed_by: str | None
    lease_until: datetime | None
    resolved_order_id: int | None = None


class ShopStore(Protocol):
    url_for_display: str  # the URL with any password replaced by ***
    engine: str  # 'sqlite' | 'postgresql'

    def close(self) -> None: ...

    def ping(self) -> None:
        """Raise StoreError if the database is unusable (unreachable, read-only, not migrated)."""

    # exported orders
    def exported(self, order_ids: Iterable[int]) -> dict[int, ExportRecord]: ...

    def mark_exported(self, records: Iterable[tuple[int, str]], now: datetime) -> None:
        """Upsert (order_id, status) pairs; exported_at becomes ``now``."""

    # ship notifications
    def add_notice(self, notice: NewNotice, now: datetime) -> tuple[StoredNotice, bool]:
        """(row, created); a duplicate dedupe_key returns the existing row and False."""

    def get_notice(self, notice_id: int) -> StoredNotice | None: ...

    def list_notices(self, status: str | None = None, limit: int = 100,
                     order_id: int | None = None) -> list[StoredNotice]:
        """Newest first."""

    def notices_for_order(self, order_id: int | None,
                          order_number: str | None) -> list[StoredNotice]:
        """All notices matching either key, any status, oldest first."""

    def unresolved_due(self, now: datetime, limit: int = 100) -> list[StoredNotice]:
        """Due notices whose Cin7 order is not yet known (intake could not ask Cin7)."""
    def resolve_notice(self, notice_id: int, order_id: int, dedupe_key: str) -> bool:
        """Record the notice's Cin7 order and its shipment identity. False when another
        notice already has that identity: this one is the same shipment and is removed."""
    def defer_unresolved(self, notice_id: int, error: str, next_attempt_at: datetime) -> bool: ...
    def fail_unresolved(self, notice_id: int, error: str) -> bool: ...
    def claim_due(self, worker_id: str, now: datetime, limit: int = 250,
                  lease_seconds: float = 120) -> list[StoredNotice]:
        """Take due resolved 'pending' notices and 'delivering' ones whose lease expired,
        oldest first, never two workers on one Cin7 order."""

    def renew_lease(self, notice_ids: list[int], worker_id: str, now: datetime,
                    lease_seconds: float) -> set[int]:
        """Extend this worker's leases; the ids it still holds (the others were taken over)."""
    def mark_delivered(self, notice_id: int, worker_id: str, now: datetime) -> bool: ...

    def mark_retry(self, notice_id: int, worker_id: str, error: str,
                   next_attempt_at: datetime) -> bool: ...

    def mark_failed(self, notice_id: int, worker_id: str, error: str) -> bool: ...

    def retry(self, notice_id: int, now: datetime) -> bool: ...

    def pending_stats(self, now: datetime) -> tuple[int, float]: ...


# -- automatic freight (ratecalc.shop.autofreight) ------------------------------------
FREIGHT_ACTIONS = ("written", "skipped", "failed")


@dataclass(frozen=True)
class NewFreightAudit:
    """One freight decision: what ratecalc did to an order's freight, and why."""

    order_id: int
    reference: str | None
    action: str  # 'written' | 'skipped' | 'failed'
    reason: str  # one of ratecalc.shop.autofreight.decide.REASONS
    source: str = "auto"  # 'auto' (the worker) | 'manual' (POST /v1/orders/<id>/freight)
    old_fee: str | None = None  # decimal text, exact
    new_fee: str | None = None
    carrier: str | None = None
    service: str | None = None
    pricing_rule: str | None = None
    fingerprint: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class FreightAudit(NewFreightAudit):
    id: int = 0
    created_at: datetime | None = None


@dataclass(frozen=True)
class FreightState:
    """The poll's cursor (Cin7 ``modifiedDate``), its last run and today's Cin7 calls."""

    cursor_at: datetime | None = None
    last_run_at: datetime | None = None
    last_run_status: str | None = None
    cin7_calls_day: str | None = None  # UTC date, YYYY-MM-DD
    cin7_calls: int = 0
