"""Automatic freight's store operations (cursor, lease, audit), for both engines.

A mixin of :class:`ratecalc.shop.store.sql.SqlStore`: it uses the engine's
transactions and conversions. The lease here is SQLite's, a row with an expiry
that its holder renews and anyone may take once it has run out (the holder
died); :class:`ratecalc.shop.store.postgres.PostgresStore` replaces it with a
session advisory lock, which PostgreSQL releases the moment the holder's
connection goes away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from ratecalc.shop.store import freight_statements as fq
from ratecalc.shop.store.records import (
    FREIGHT_ACTIONS,
    FreightAudit,
    FreightState,
    NewFreightAudit,
)

MAX_TEXT = 500  # audit text columns are bounded: a Cin7 error can be long
DEFAULT_STATE = "auto"


def _bounded(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


class FreightSql:
    """The freight operations; needs ``_transaction``, ``_ts``, ``_ts_out`` and ``_ids_in``."""

    def _audit(self, row: Mapping[str, Any]) -> FreightAudit:
        values = {k: row[k] for k in (
            "reference", "action", "reason", "source", "old_fee", "new_fee", "carrier",
            "service", "pricing_rule", "fingerprint", "message")}
        return FreightAudit(id=int(row["id"]), order_id=int(row["order_id"]),
                            created_at=self._ts_out(row["created_at"]), **values)

    # -- audit ---------------------------------------------------------------------
    def add_freight_audit(self, record: NewFreightAudit, now: datetime) -> FreightAudit:
        if record.action not in FREIGHT_ACTIONS:
            raise ValueError(f"unknown freight action {record.action!r}")
        params = {k: _bounded(v) for k, v in asdict(record).items()}
        params["order_id"] = int(record.order_id)
        params["now"] = self._ts(now)
        with self._transaction("add_freight_audit", write=True) as tx:
            row = tx.execute(fq.ADD_AUDIT, params).fetchone()
        return self._audit(row)

    def add_freight_audits(self, records: Iterable[NewFreightAudit],
                           now: datetime) -> list[FreightAudit]:
        return [self.add_freight_audit(record, now) for record in records]

    def freight_history(self, order_id: int, limit: int = 100) -> list[FreightAudit]:
        """The order's freight decisions, newest first."""
        params = {"order_id": int(order_id), "limit": max(0, int(limit))}
        with self._transaction("freight_history", write=False) as tx:
            rows = tx.execute(fq.AUDIT_FOR_ORDER, params).fetchall()
        return [self._audit(row) for row in rows]

    def freight_records(self, action: str | None = None, limit: int = 100) -> list[FreightAudit]:
        """Every order's freight decisions (of one action, if given), newest first."""
        params: dict[str, Any] = {"limit": max(0, int(limit))}
        where = ""
        if action is not None:
            where, params["action"] = "WHERE action = :action", action
        with self._transaction("freight_records", write=False) as tx:
            rows = tx.execute(fq.LIST_AUDIT.format(where=where), params).fetchall()
        return [self._audit(row) for row in rows]

    def latest_freight(self, order_ids: Iterable[int],
                       action: str | None = None) -> dict[int, FreightAudit]:
        """Each order's newest decision (of one action, if given)."""
        ids = sorted({int(i) for i in order_ids})
        if not ids:
            return {}
        params: dict[str, Any] = {"ids": self._ids_in(ids)}
        clause = ""
        if action is not None:
            clause, params["action"] = "AND action = :action", action
        sql = fq.LATEST_AUDIT.format(ids_match=self._IDS_MATCH, action=clause)
        with self._transaction("latest_freight", write=False) as tx:
            rows = tx.execute(sql, params).fetchall()
        return {int(row["order_id"]): self._audit(row) for row in rows}

    # -- the poll's state ------------------------------------------------------------
    def freight_state(self, name: str = DEFAULT_STATE) -> FreightState:
        with self._transaction("freight_state", write=False) as tx:
            row = tx.execute(fq.STATE, {"name": name}).fetchone()
        if row is None:
            return FreightState()
        return FreightState(
            cursor_at=self._ts_opt(row["cursor_at"]), last_run_at=self._ts_opt(row["last_run_at"]),
            last_run_status=row["last_run_status"], cin7_calls_day=row["cin7_calls_day"],
            cin7_calls=int(row["cin7_calls"] or 0))

    def save_freight_run(self, cursor_at: datetime | None, status: str, now: datetime,
                         name: str = DEFAULT_STATE) -> None:
        params = {"name": name, "status": _bounded(status), "now": self._ts(now),
                  "cursor_at": None if cursor_at is None else self._ts(cursor_at, "cursor_at")}
        with self._transaction("save_freight_run", write=True) as tx:
            tx.execute(fq.ENSURE_STATE, {"name": name})
            tx.execute(fq.SAVE_RUN, params)

    def save_cin7_calls(self, day: str, calls: int, name: str = DEFAULT_STATE) -> None:
        with self._transaction("save_cin7_calls", write=True) as tx:
            tx.execute(fq.ENSURE_STATE, {"name": name})
            tx.execute(fq.SAVE_CALLS, {"name": name, "day": day, "calls": int(calls)})

    # -- the lease (SQLite; PostgreSQL overrides both) ----------------------------------
    def acquire_lease(self, name: str, holder: str, now: datetime, seconds: float) -> bool:
        """Take or renew the lease; True while ``holder`` has it."""
        params = {"name": name, "holder": holder, "now": self._ts(now),
                  "lease_until": self._ts(now + timedelta(seconds=seconds), "lease_until")}
        with self._transaction("acquire_lease", write=True) as tx:
            tx.execute(fq.TAKE_LEASE, params)
            row = tx.execute(fq.LEASE_HOLDER, {"name": name}).fetchone()
        return row is not None and row["holder"] == holder

    def release_lease(self, name: str, holder: str) -> None:
        with self._transaction("release_lease", write=True) as tx:
            tx.execute(fq.DROP_LEASE, {"name": name, "holder": holder})
