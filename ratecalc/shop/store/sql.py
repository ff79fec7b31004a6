"""The SQL both store engines share, and :class:`SqlStore`, the operations built on it.

Each engine (:mod:`ratecalc.shop.store.sqlite`, :mod:`ratecalc.shop.store.postgres`)
subclasses :class:`SqlStore` and supplies its transactions and the few places
where the dialects differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ratecalc.shop.store import statements as q
from ratecalc.shop.store.freight_sql import FreightSql
from ratecalc.shop.store.records import ExportRecord, NewNotice, StoredNotice, StoreError
from ratecalc.shop.store.windows import WindowStore

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


class SqlStore(WindowStore, FreightSql):
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

    def transaction(self, op: str, *, write: bool) -> AbstractContextManager[Tx]:
        """One transaction, for packages keeping their own tables in this database
        (ratecalc.alerts); SQL with ``:named`` parameters, rows as mappings."""
        return self._transaction(op, write=write)

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
            resolved_order_id=None if row["resolved_order_id"] is None
            else int(row["resolved_order_id"]),
        )

    # -- health --
    def ping(self) -> None:
        from ratecalc.shop.store.schema import LATEST_VERSION

        # A write transaction, so a read-only database fails here (SQLite: BEGIN IMMEDIATE).
        with self._transaction("ping", write=True) as tx:
            version = tx.execute(q.SCHEMA_VERSION).fetchone()["version"] or 0
            self._check_writable(tx)
        if version < LATEST_VERSION:
            raise StoreError(f"database {self.url_for_display} has schema version {version}, "
                             f"this ratecalc needs {LATEST_VERSION}: run the migrations")

    # -- exported orders --
    def exported(self, order_ids: Iterable[int]) -> dict[int, ExportRecord]:
        ids = sorted({int(order_id) for order_id in order_ids})
        if not ids:
            return {}
        sql = q.EXPORTED.format(ids_match=self._IDS_MATCH)
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
            tx.executemany(q.MARK_EXPORTED, params)

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
            "resolved_order_id": notice.resolved_order_id,
        }
        with self._transaction("add_notice", write=True) as tx:
            row = tx.execute(q.ADD_NOTICE, params).fetchone()
            created = row is not None
            if row is None:
                row = tx.execute(q.NOTICE_BY_KEY, {"dedupe_key": notice.dedupe_key}).fetchone()
            if row is None:  # only if the winner's row vanished in between
                raise StoreError(f"add_notice failed on {self.url_for_display}: "
                                 "a concurrent duplicate was not visible, try again")
        return self._notice(row), created

    def get_notice(self, notice_id: int) -> StoredNotice | None:
        with self._transaction("get_notice", write=False) as tx:
            row = tx.execute(q.NOTICE_BY_ID, {"id": int(notice_id)}).fetchone()
        return None if row is None else self._notice(row)

    def list_notices(self, status: str | None = None, limit: int = 100,
                     order_id: int | None = None) -> list[StoredNotice]:
        conditions, params = [], {"limit": max(0, int(limit))}
        if status is not None:
            conditions.append("status = :status")
            params["status"] = status
        if order_id is not None:
            conditions.append("(resolved_order_id = :order_id OR order_id = :order_id)")
            params["order_id"] = int(order_id)
        where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        with self._transaction("list_notices", write=False) as tx:
            rows = tx.execute(q.LIST_NOTICES.format(where=where), params).fetchall()
        return [self._notice(row) for row in rows]

    def notices_for_order(self, order_id: int | None,
                          order_number: str | None) -> list[StoredNotice]:
        if order_id is None and order_number is None:
            return []
        params = {"order_id": None if order_id is None else int(order_id),
                  "order_number": order_number}
        with self._transaction("notices_for_order", write=False) as tx:
            rows = tx.execute(q.NOTICES_FOR_ORDER, params).fetchall()
        return [self._notice(row) for row in rows]

    def unresolved_due(self, now: datetime, limit: int = 100) -> list[StoredNotice]:
        params = {"now": self._ts(now), "limit": max(0, int(limit))}
        with self._transaction("unresolved_due", write=False) as tx:
            rows = tx.execute(q.UNRESOLVED_DUE, params).fetchall()
        return [self._notice(row) for row in rows]

    def resolve_notice(self, notice_id: int, order_id: int, dedupe_key: str) -> bool:
        params = {"id": int(notice_id), "order_id": int(order_id), "dedupe_key": dedupe_key}
        with self._transaction("resolve_notice", write=True) as tx:
            if tx.execute(q.OTHER_WITH_KEY, params).fetchone() is not None:
                tx.execute(q.DROP_DUPLICATE, params)  # the same shipment, stored once already
                return False
            return tx.execute(q.RESOLVE, params).rowcount == 1

    def defer_unresolved(self, notice_id: int, error: str, next_attempt_at: datetime) -> bool:
        return self._update("defer_unresolved", q.DEFER_UNRESOLVED, {
            "id": int(notice_id), "error": _clip(error),
            "next_attempt_at": self._ts(next_attempt_at, "next_attempt_at")})

    def fail_unresolved(self, notice_id: int, error: str) -> bool:
        return self._update("fail_unresolved", q.FAIL_UNRESOLVED,
                            {"id": int(notice_id), "error": _clip(error)})

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
            rows = tx.execute(q.CLAIM_DUE.format(lock=self._SKIP_LOCKED), params).fetchall()
        notices = [self._notice(row) for row in rows]
        notices.sort(key=lambda n: (n.created_at, n.id))  # RETURNING has no order
        return notices

    def renew_lease(self, notice_ids: list[int], worker_id: str, now: datetime,
                    lease_seconds: float) -> set[int]:
        lease_until = self._ts(now + timedelta(seconds=lease_seconds), "lease_until")
        held = set()
        with self._transaction("renew_lease", write=True) as tx:
            for notice_id in notice_ids:
                params = {"id": int(notice_id), "worker_id": worker_id, "lease_until": lease_until}
                if tx.execute(q.RENEW_LEASE, params).rowcount == 1:
                    held.add(int(notice_id))
        return held

    def _update(self, op: str, sql: str, params: dict) -> bool:
        with self._transaction(op, write=True) as tx:
            return tx.execute(sql, params).rowcount == 1

    def mark_delivered(self, notice_id: int, worker_id: str, now: datetime) -> bool:
        return self._update("mark_delivered", q.MARK_DELIVERED,
                            {"id": int(notice_id), "worker_id": worker_id, "now": self._ts(now)})

    def mark_retry(self, notice_id: int, worker_id: str, error: str,
                   next_attempt_at: datetime) -> bool:
        return self._update("mark_retry", q.MARK_RETRY, {
            "id": int(notice_id), "worker_id": worker_id, "error": _clip(error),
            "next_attempt_at": self._ts(next_attempt_at, "next_attempt_at"),
        })

    def mark_failed(self, notice_id: int, worker_id: str, error: str) -> bool:
        return self._update("mark_failed", q.MARK_FAILED,
                            {"id": int(notice_id), "worker_id": worker_id, "error": _clip(error)})

    def retry(self, notice_id: int, now: datetime) -> bool:
        return self._update("retry", q.RETRY, {"id": int(notice_id), "now": self._ts(now)})

    def pending_stats(self, now: datetime) -> tuple[int, float]:
        now = _aware(now, "now")
        with self._transaction("pending_stats", write=False) as tx:
            row = tx.execute(q.PENDING_STATS).fetchone()
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

