"""The SQL both store engines share, and :class:`SqlStore`, the operations built on it.

Each engine (:mod:`ratecalc.shop.store_sqlite`, :mod:`ratecalc.shop.store_postgres`)
subclasses :class:`SqlStore` and supplies its transactions and the few places
where the dialects differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ratecalc.shop.store import ExportRecord, NewNotice, StoredNotice, StoreError

NOTICE_COLUMNS = (
    "id, dedupe_key, order_id, order_number, carrier, service, tracking_number, payload, "
    "status, attempts, next_attempt_at, last_error, created_at, delivered_at, claimed_by, "
    "lease_until"
)

# Constant SQL fragments only: values always go through :named parameters.
_SQL_EXPORTED = (
    "SELECT order_id, status, exported_at FROM shop_exported_orders WHERE order_id {ids_match}"
)
_SQL_MARK_EXPORTED = """
    INSERT INTO shop_exported_orders (order_id, status, exported_at)
    VALUES (:order_id, :status, :now)
    ON CONFLICT (order_id) DO UPDATE
    SET status = excluded.status, exported_at = excluded.exported_at
"""
_SQL_ADD_NOTICE = f"""
    INSERT INTO shop_notices (dedupe_key, order_id, order_number, carrier, service,
                              tracking_number, payload, raw_xml, status, attempts,
                              next_attempt_at, created_at)
    VALUES (:dedupe_key, :order_id, :order_number, :carrier, :service,
            :tracking_number, :payload, :raw_xml, 'pending', 0,
            :now, :now)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING {NOTICE_COLUMNS}
"""  # noqa: S608 - constant column list, values are parameters
_SQL_SELECT_NOTICES = f"SELECT {NOTICE_COLUMNS} FROM shop_notices"  # noqa: S608 - constant columns
_SQL_NOTICE_BY_KEY = _SQL_SELECT_NOTICES + " WHERE dedupe_key = :dedupe_key"
_SQL_NOTICE_BY_ID = _SQL_SELECT_NOTICES + " WHERE id = :id"
# {where}: "" or "WHERE " + constant conditions joined by AND (see list_notices)
_SQL_LIST_NOTICES = _SQL_SELECT_NOTICES + " {where} ORDER BY id DESC LIMIT :limit"
_SQL_NOTICES_FOR_ORDER = f"""
    SELECT {NOTICE_COLUMNS} FROM shop_notices
    WHERE order_id = :order_id OR order_number = :order_number
    ORDER BY created_at, id
"""  # noqa: S608 - constant columns
# ``{lock}`` is "FOR UPDATE SKIP LOCKED" on PostgreSQL; SQLite holds the write lock
# (BEGIN IMMEDIATE) for the whole transaction instead.
_SQL_CLAIM_DUE = f"""
    UPDATE shop_notices
    SET status = 'delivering', claimed_by = :worker_id, lease_until = :lease_until,
        attempts = attempts + 1
    WHERE id IN (
        SELECT n.id FROM shop_notices n
        WHERE ((n.status = 'pending' AND n.next_attempt_at <= :now)
               OR (n.status = 'delivering' AND n.lease_until <= :now))
          -- One worker per order at a time: applying a notice reads and rewrites the
          -- order's comments, so two workers on one order would lose a line.
          AND NOT EXISTS (
              SELECT 1 FROM shop_notices busy
              WHERE busy.status = 'delivering' AND busy.lease_until > :now
                AND (busy.order_id = n.order_id
                     OR (busy.order_id IS NULL AND n.order_id IS NULL
                         AND busy.order_number = n.order_number)))
        ORDER BY n.created_at, n.id
        LIMIT :limit
        {{lock}}
    )
    RETURNING {NOTICE_COLUMNS}
"""  # noqa: S608 - constant columns and lock clause
_SQL_MARK_DELIVERED = """
    UPDATE shop_notices SET status = 'delivered', delivered_at = :now, lease_until = NULL
    WHERE id = :id AND status = 'delivering' AND claimed_by = :worker_id
"""
_SQL_MARK_RETRY = """
    UPDATE shop_notices
    SET status = 'pending', last_error = :error, next_attempt_at = :next_attempt_at,
        claimed_by = NULL, lease_until = NULL
    WHERE id = :id AND status = 'delivering' AND claimed_by = :worker_id
"""
_SQL_MARK_FAILED = """
    UPDATE shop_notices SET status = 'failed', last_error = :error, lease_until = NULL
    WHERE id = :id AND status = 'delivering' AND claimed_by = :worker_id
"""
_SQL_RETRY = """
    UPDATE shop_notices
    SET status = 'pending', next_attempt_at = :now, claimed_by = NULL, lease_until = NULL
    WHERE id = :id AND status = 'failed'
"""
_SQL_PENDING_STATS = """
    SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM shop_notices
    WHERE status IN ('pending', 'delivering')
"""
_SQL_SCHEMA_VERSION = "SELECT MAX(version) AS version FROM schema_version"

MAX_ERROR_CHARS = 2000


class Tx(Protocol):
    """One open transaction: ``execute`` takes SQL with ``:named`` parameters."""

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any: ...

    def executemany(self, sql: str, params: Iterable[Mapping[str, Any]]) -> Any: ...


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _clip(error: str) -> str:
    error = str(error)
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 3] + "..."


class SqlStore:
    """The :class:`ShopStore` operations, in SQL both engines understand."""

    engine: str
    url_for_display: str
    _SKIP_LOCKED = ""  # the claim's row-locking clause
    _IDS_MATCH = ""  # "order_id {_IDS_MATCH}" matches the :ids parameter

    # -- supplied by each engine --
    def _transaction(self, op: str, *, write: bool) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _ts_in(self, value: datetime) -> Any:
        raise NotImplementedError

    def _ts_out(self, value: Any) -> datetime:
        raise NotImplementedError

    def _json_in(self, text: str) -> Any:
        raise NotImplementedError

    def _json_out(self, value: Any) -> dict:
        raise NotImplementedError

    def _ids_in(self, ids: list[int]) -> Any:
        raise NotImplementedError

    def _check_writable(self, tx: Tx) -> None:
        """Raise StoreError if this database accepts no writes."""

    def close(self) -> None:
        raise NotImplementedError

    # -- conversions --
    def _ts(self, value: datetime, name: str = "now") -> Any:
        return self._ts_in(_aware(value, name))

    def _ts_opt(self, value: Any) -> datetime | None:
        return None if value is None else self._ts_out(value)

    def _notice(self, row: Mapping[str, Any]) -> StoredNotice:
        return StoredNotice(
            id=int(row["id"]),
            dedupe_key=row["dedupe_key"],
            order_id=None if row["order_id"] is None else int(row["order_id"]),
            order_number=row["order_number"],
            carrier=row["carrier"],
            service=row["service"],
            tracking_number=row["tracking_number"],
            payload=self._json_out(row["payload"]),
            status=row["status"],
            attempts=int(row["attempts"]),
            next_attempt_at=self._ts_out(row["next_attempt_at"]),
            last_error=row["last_error"],
            created_at=self._ts_out(row["created_at"]),
            delivered_at=self._ts_opt(row["delivered_at"]),
            claimed_by=row["claimed_by"],
            lease_until=self._ts_opt(row["lease_until"]),
        )

    # -- health --
    def ping(self) -> None:
        from ratecalc.shop.migrations import LATEST_VERSION

        # A write transaction, so a read-only database fails here (SQLite: BEGIN IMMEDIATE).
        with self._transaction("ping", write=True) as tx:
            version = tx.execute(_SQL_SCHEMA_VERSION).fetchone()["version"] or 0
            self._check_writable(tx)
        if version < LATEST_VERSION:
            raise StoreError(f"database {self.url_for_display} has schema version {version}, "
                             f"this ratecalc needs {LATEST_VERSION}: run the migrations")

    # -- exported orders --
    def exported(self, order_ids: Iterable[int]) -> dict[int, ExportRecord]:
        ids = sorted({int(order_id) for order_id in order_ids})
        if not ids:
            return {}
        sql = _SQL_EXPORTED.format(ids_match=self._IDS_MATCH)
        with self._transaction("exported", write=False) as tx:
            rows = tx.execute(sql, {"ids": self._ids_in(ids)}).fetchall()
        return {
            int(row["order_id"]): ExportRecord(int(row["order_id"]), row["status"],
                                               self._ts_out(row["exported_at"]))
            for row in rows
        }

    def mark_exported(self, records: Iterable[tuple[int, str]], now: datetime) -> None:
        when = self._ts(now)
        params = [{"order_id": int(order_id), "status": str(status), "now": when}
                  for order_id, status in records]
        if not params:
            return
        with self._transaction("mark_exported", write=True) as tx:
            tx.executemany(_SQL_MARK_EXPORTED, params)

    # -- ship notifications --
    def add_notice(self, notice: NewNotice, now: datetime) -> tuple[StoredNotice, bool]:
        try:
            payload = json.dumps(notice.payload, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"notice payload is not JSON-serialisable: {exc}") from exc
        params = {
            "dedupe_key": notice.dedupe_key,
            "order_id": notice.order_id,
            "order_number": notice.order_number,
            "carrier": notice.carrier,
            "service": notice.service,
            "tracking_number": notice.tracking_number,
            "payload": self._json_in(payload),
            "raw_xml": notice.raw_xml,
            "now": self._ts(now),
        }
        with self._transaction("add_notice", write=True) as tx:
            row = tx.execute(_SQL_ADD_NOTICE, params).fetchone()
            created = row is not None
            if row is None:
                row = tx.execute(_SQL_NOTICE_BY_KEY, {"dedupe_key": notice.dedupe_key}).fetchone()
            if row is None:  # only if the winner's row vanished in between
                raise StoreError(f"add_notice failed on {self.url_for_display}: "
                                 "a concurrent duplicate was not visible, try again")
        return self._notice(row), created

    def get_notice(self, notice_id: int) -> StoredNotice | None:
        with self._transaction("get_notice", write=False) as tx:
            row = tx.execute(_SQL_NOTICE_BY_ID, {"id": int(notice_id)}).fetchone()
        return None if row is None else self._notice(row)

    def list_notices(self, status: str | None = None, limit: int = 100,
                     order_id: int | None = None) -> list[StoredNotice]:
        conditions, params = [], {"limit": max(0, int(limit))}
        if status is not None:
            conditions.append("status = :status")
            params["status"] = status
        if order_id is not None:
            conditions.append("order_id = :order_id")
            params["order_id"] = int(order_id)
        where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        with self._transaction("list_notices", write=False) as tx:
            rows = tx.execute(_SQL_LIST_NOTICES.format(where=where), params).fetchall()
        return [self._notice(row) for row in rows]

    def notices_for_order(self, order_id: int | None,
                          order_number: str | None) -> list[StoredNotice]:
        if order_id is None and order_number is None:
            return []
        params = {"order_id": None if order_id is None else int(order_id),
                  "order_number": order_number}
        with self._transaction("notices_for_order", write=False) as tx:
            rows = tx.execute(_SQL_NOTICES_FOR_ORDER, params).fetchall()
        return [self._notice(row) for row in rows]

    def claim_due(self, worker_id: str, now: datetime, limit: int = 250,
                  lease_seconds: float = 120) -> list[StoredNotice]:
        now = _aware(now, "now")
        if limit <= 0:
            return []
        params = {
            "worker_id": worker_id,
            "now": self._ts_in(now),
            "lease_until": self._ts_in(now + timedelta(seconds=lease_seconds)),
            "limit": int(limit),
        }
        with self._transaction("claim_due", write=True) as tx:
            if self._CLAIM_LOCK:
                # Claims take turns, so each sees the others' committed claims and the
                # one-worker-per-order rule holds (SQLite's BEGIN IMMEDIATE does this).
                tx.execute(self._CLAIM_LOCK, {})
            rows = tx.execute(_SQL_CLAIM_DUE.format(lock=self._SKIP_LOCKED), params).fetchall()
        notices = [self._notice(row) for row in rows]
        notices.sort(key=lambda n: (n.created_at, n.id))  # RETURNING has no order
        return notices

    def _update(self, op: str, sql: str, params: dict) -> bool:
        with self._transaction(op, write=True) as tx:
            return tx.execute(sql, params).rowcount == 1

    def mark_delivered(self, notice_id: int, worker_id: str, now: datetime) -> bool:
        return self._update("mark_delivered", _SQL_MARK_DELIVERED,
                            {"id": int(notice_id), "worker_id": worker_id, "now": self._ts(now)})

    def mark_retry(self, notice_id: int, worker_id: str, error: str,
                   next_attempt_at: datetime) -> bool:
        return self._update("mark_retry", _SQL_MARK_RETRY, {
            "id": int(notice_id), "worker_id": worker_id, "error": _clip(error),
            "next_attempt_at": self._ts(next_attempt_at, "next_attempt_at"),
        })

    def mark_failed(self, notice_id: int, worker_id: str, error: str) -> bool:
        return self._update("mark_failed", _SQL_MARK_FAILED,
                            {"id": int(notice_id), "worker_id": worker_id, "error": _clip(error)})

    def retry(self, notice_id: int, now: datetime) -> bool:
        return self._update("retry", _SQL_RETRY, {"id": int(notice_id), "now": self._ts(now)})

    def pending_stats(self, now: datetime) -> tuple[int, float]:
        now = _aware(now, "now")
        with self._transaction("pending_stats", write=False) as tx:
            row = tx.execute(_SQL_PENDING_STATS).fetchone()
        count = int(row["n"] or 0)
        if not count or row["oldest"] is None:
            return 0, 0.0
        return count, max(0.0, (now - self._ts_out(row["oldest"])).total_seconds())

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url_for_display}>"

