"""The export's windows in the shop store: every process pages the same list.

ShipStation asks for page 1 of a window, then pages 2..N, and under gunicorn
(or several replicas) each page may reach another process. A window's decision
-- which orders go out, in which order, with which status -- is therefore kept
here, not in a process: ``save_window`` stores it once (the first process to
commit wins; a process that built the same window at the same moment drops its
own and serves the stored one), and a page is a slice of it by position.

The Cin7 orders a window lists are kept once per order (``shop_order_snapshots``),
so a page needs no Cin7 call and an overlapping window can reuse what an earlier
one read. Windows and snapshots older than the reuse horizon are pruned on save.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

# ruff: noqa: S608 - constant SQL; every value is a parameter

_WINDOW_COLUMNS = "id, start_at, end_at, rules, built_at, size, considered"
WINDOW_BY_KEY = (f"SELECT {_WINDOW_COLUMNS} FROM shop_export_windows"
                 " WHERE start_at = :start AND end_at = :end AND rules = :rules")
REUSABLE = (f"SELECT {_WINDOW_COLUMNS} FROM shop_export_windows"
            " WHERE rules = :rules AND start_at <= :start AND built_at >= :since"
            " ORDER BY built_at DESC LIMIT 8")
INSERT_WINDOW = """
    INSERT INTO shop_export_windows (start_at, end_at, rules, built_at, size, considered)
    VALUES (:start, :end, :rules, :built_at, :size, :considered)
    ON CONFLICT (start_at, end_at, rules) DO NOTHING
    RETURNING id
"""
DROP_WINDOW_ORDERS = "DELETE FROM shop_export_window_orders WHERE window_id = :id"
DROP_WINDOW = "DELETE FROM shop_export_windows WHERE id = :id"
INSERT_ENTRY = """
    INSERT INTO shop_export_window_orders (window_id, position, order_id, status)
    VALUES (:window_id, :position, :order_id, :status)
"""
PAGE = """
    SELECT e.position, e.order_id, e.status, s.body
    FROM shop_export_window_orders e
    LEFT JOIN shop_order_snapshots s ON s.order_id = e.order_id
    WHERE e.window_id = :id AND e.position >= :lo AND e.position < :hi
    ORDER BY e.position
"""
UPSERT_SNAPSHOT = """
    INSERT INTO shop_order_snapshots (order_id, modified_at, body, read_at)
    VALUES (:order_id, :modified_at, :body, :read_at)
    ON CONFLICT (order_id) DO UPDATE
    SET modified_at = excluded.modified_at, body = excluded.body, read_at = excluded.read_at
    WHERE excluded.read_at >= shop_order_snapshots.read_at
"""
OLD_WINDOWS = "SELECT id FROM shop_export_windows WHERE built_at < :cutoff ORDER BY id"
PRUNE_SNAPSHOTS = """
    DELETE FROM shop_order_snapshots
    WHERE read_at < :cutoff
      AND order_id NOT IN (SELECT order_id FROM shop_export_window_orders)
"""


@dataclass(frozen=True)
class StoredWindow:
    id: int
    start: datetime
    end: datetime
    rules: str
    built_at: datetime
    size: int  # orders listed
    considered: int  # orders Cin7 returned for the window


@dataclass(frozen=True)
class WindowEntry:
    position: int
    order_id: int
    status: str
    body: dict | None  # the order as last read from Cin7 (None: snapshot pruned)


class WindowStore:
    """Mixed into :class:`ratecalc.shop.store.sql.SqlStore`."""

    def _window(self, row) -> StoredWindow:
        return StoredWindow(int(row["id"]), self._ts_out(row["start_at"]),
                            self._ts_out(row["end_at"]), row["rules"],
                            self._ts_out(row["built_at"]), int(row["size"]),
                            int(row["considered"]))

    def find_window(self, start: datetime, end: datetime, rules: str) -> StoredWindow | None:
        params = {"start": self._ts(start, "start"), "end": self._ts(end, "end"),
                  "rules": rules}
        with self._transaction("find_window", write=False) as tx:
            row = tx.execute(WINDOW_BY_KEY, params).fetchone()
        return None if row is None else self._window(row)

    def reusable_windows(self, start: datetime, rules: str,
                         since: datetime) -> list[StoredWindow]:
        """Windows starting at or before ``start``, built since ``since``, newest first."""
        params = {"start": self._ts(start, "start"), "rules": rules,
                  "since": self._ts(since, "since")}
        with self._transaction("reusable_windows", write=False) as tx:
            rows = tx.execute(REUSABLE, params).fetchall()
        return [self._window(row) for row in rows]

    def window_entries(self, window_id: int, lo: int, hi: int) -> list[WindowEntry]:
        """Positions ``lo`` <= p < ``hi`` of a window, with each order's kept body."""
        params = {"id": int(window_id), "lo": int(lo), "hi": int(hi)}
        with self._transaction("window_entries", write=False) as tx:
            rows = tx.execute(PAGE, params).fetchall()
        return [WindowEntry(int(r["position"]), int(r["order_id"]), r["status"],
                            json.loads(r["body"]) if r["body"] is not None else None)
                for r in rows]

    def save_snapshots(self, orders: Iterable[tuple[int, datetime | None, dict]],
                       read_at: datetime) -> None:
        """Keep each order's body as read now (a later read wins over an earlier one)."""
        when = self._ts(read_at, "read_at")
        params = [{"order_id": int(order_id),
                   "modified_at": None if modified is None else self._ts(modified, "modified"),
                   "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                   "read_at": when}
                  for order_id, modified, body in orders]
        if params:
            with self._transaction("save_snapshots", write=True) as tx:
                tx.executemany(UPSERT_SNAPSHOT, params)

    def save_window(self, start: datetime, end: datetime, rules: str, built_at: datetime,
                    entries: list[tuple[int, str]], considered: int, *,
                    fresh_since: datetime, prune_before: datetime) -> StoredWindow:
        """Store a window's list, unless a window with the same key built since
        ``fresh_since`` is there already: then that one is returned, unchanged."""
        key = {"start": self._ts(start, "start"), "end": self._ts(end, "end"), "rules": rules}
        with self._transaction("save_window", write=True) as tx:
            self._prune(tx, prune_before)
            row = tx.execute(WINDOW_BY_KEY, key).fetchone()
            if row is not None:
                if self._ts_out(row["built_at"]) >= fresh_since:
                    return self._window(row)
                self._drop_window(tx, int(row["id"]))
            inserted = tx.execute(INSERT_WINDOW, {
                **key, "built_at": self._ts(built_at, "built_at"), "size": len(entries),
                "considered": int(considered)}).fetchone()
            if inserted is None:  # another process committed this window meanwhile
                return self._window(tx.execute(WINDOW_BY_KEY, key).fetchone())
            window_id = int(inserted["id"])
            if entries:
                tx.executemany(INSERT_ENTRY, [
                    {"window_id": window_id, "position": n, "order_id": int(order_id),
                     "status": str(status)}
                    for n, (order_id, status) in enumerate(entries)])
            row = tx.execute(WINDOW_BY_KEY, key).fetchone()
        return self._window(row)

    def _drop_window(self, tx, window_id: int) -> None:
        tx.execute(DROP_WINDOW_ORDERS, {"id": window_id})
        tx.execute(DROP_WINDOW, {"id": window_id})

    def _prune(self, tx, cutoff: datetime) -> None:
        when = self._ts(cutoff, "cutoff")
        for row in tx.execute(OLD_WINDOWS, {"cutoff": when}).fetchall():
            self._drop_window(tx, int(row["id"]))
        tx.execute(PRUNE_SNAPSHOTS, {"cutoff": when})
