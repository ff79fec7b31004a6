"""Persistence for the ShipStation Custom Store: exported orders and ship notifications.

Two engines implement :class:`ShopStore`:

* SQLite (``sqlite:///relative/path.sqlite3`` or ``sqlite:////absolute/path.sqlite3``,
  the default, embedded) -- :mod:`ratecalc.shop.store_sqlite`;
* PostgreSQL (``postgresql://user:password@host:port/db``, also ``postgres://``)
  -- :mod:`ratecalc.shop.store_postgres`.

The SQL they share lives in :class:`ratecalc.shop.store_sql.SqlStore`; each
engine supplies its transactions, connections and the few places where the
dialects differ (timestamps, JSON, ``FOR UPDATE SKIP LOCKED``, "id in a list").

Ship notifications are a small durable queue. A notice is ``pending`` until a
worker claims it with :meth:`ShopStore.claim_due`, which makes it
``delivering`` under a lease; the worker then marks it ``delivered``, sends it
back to ``pending`` for a later attempt, or marks it ``failed``. A worker that
dies mid-delivery leaves a ``delivering`` notice whose lease expires, and the
next claim takes it over (``attempts`` counts every claim).

Every database problem surfaces as :class:`StoreError`, whose message is one
line and never contains a password (:mod:`ratecalc.shop.store_urls`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from ratecalc.shop.store_urls import first_line as first_line  # re-exported
from ratecalc.shop.store_urls import one_line as one_line  # re-exported
from ratecalc.shop.store_urls import redact_url
from ratecalc.shop.store_urls import url_secrets as url_secrets  # re-exported

if TYPE_CHECKING:
    from ratecalc.shop.store_sql import SqlStore

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

    def claim_due(self, worker_id: str, now: datetime, limit: int = 250,
                  lease_seconds: float = 120) -> list[StoredNotice]:
        """Take due 'pending' notices and 'delivering' ones whose lease expired, oldest first."""

    def mark_delivered(self, notice_id: int, worker_id: str, now: datetime) -> bool: ...

    def mark_retry(self, notice_id: int, worker_id: str, error: str,
                   next_attempt_at: datetime) -> bool: ...

    def mark_failed(self, notice_id: int, worker_id: str, error: str) -> bool: ...

    def retry(self, notice_id: int, now: datetime) -> bool: ...

    def pending_stats(self, now: datetime) -> tuple[int, float]: ...


def open_store(url: str, migrate: bool = True) -> ShopStore:
    """Open the store for ``url`` and, unless ``migrate`` is false, bring its schema up to date.

    Raises StoreError (one line, password-free) if it cannot be opened.
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    store: SqlStore
    if scheme == "sqlite":
        from ratecalc.shop.store_sqlite import SqliteStore

        store = SqliteStore(url)
    elif scheme in ("postgresql", "postgres"):
        from ratecalc.shop.store_postgres import PostgresStore

        store = PostgresStore(url)
    else:
        raise StoreError(f"unsupported database URL {redact_url(url)}: "
                         "expected sqlite:///path or postgresql://user@host:port/db")
    if migrate:
        from ratecalc.shop.migrations import upgrade

        try:
            upgrade(store)
        except BaseException:
            store.close()
            raise
    return store
