"""Persistence for the ShipStation Custom Store: exported orders and ship notifications.

Two engines implement :class:`ShopStore`:

* SQLite (``sqlite:///relative/path.sqlite3`` or ``sqlite:////absolute/path.sqlite3``,
  the default, embedded) -- :mod:`ratecalc.shop.store_sqlite`;
* PostgreSQL (``postgresql://user:password@host:port/db``, also ``postgres://``)
  -- :mod:`ratecalc.shop.store_postgres`.

The SQL they share lives here in :class:`SqlStore`; each engine supplies its
transactions, connections and the few places where the dialects differ
(timestamps, JSON, ``FOR UPDATE SKIP LOCKED``, "id in a list").

Ship notifications are a small durable queue. A notice is ``pending`` until a
worker claims it with :meth:`ShopStore.claim_due`, which makes it
``delivering`` under a lease; the worker then marks it ``delivered``, sends it
back to ``pending`` for a later attempt, or marks it ``failed``. A worker that
dies mid-delivery leaves a ``delivering`` notice whose lease expires, and the
next claim takes it over (``attempts`` counts every claim).

Every database problem surfaces as :class:`StoreError`, whose message is one
line and never contains a password.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

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


# --- URLs and messages ---------------------------------------------------------------------

_USERINFO = re.compile(r"(?P<head>://[^:/@?#]*):[^@/?#]*@")


def _is_secret_key(key: str) -> bool:
    return "password" in key.lower()


def redact_url(url: str) -> str:
    """``url`` with any password (in the user info or a ``password=`` parameter) as ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO.sub(r"\g<head>:***@", url)
    redacted = url
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostinfo}"
        redacted = redacted.replace(f"//{parts.netloc}", f"//{netloc}", 1)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if any(_is_secret_key(key) for key, _ in pairs):
        query = urlencode([(key, "***" if _is_secret_key(key) else value) for key, value in pairs],
                          safe="*")
        head, _, _ = redacted.partition("?")
        redacted = f"{head}?{query}" + (f"#{parts.fragment}" if parts.fragment else "")
    return redacted


def url_secrets(url: str) -> tuple[str, ...]:
    """Every spelling of the passwords in ``url``, to scrub them out of driver messages."""
    found: set[str] = set()
    try:
        parts = urlsplit(url)
        userinfo, at, _ = parts.netloc.rpartition("@")
        if at and ":" in userinfo:
            found.add(userinfo.split(":", 1)[1])
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if _is_secret_key(key):
                found.add(value)
    except ValueError:
        match = re.search(r"://[^:/@]*:([^@]*)@", url)
        if match:
            found.add(match.group(1))
    found |= {unquote(secret) for secret in found}
    return tuple(sorted((s for s in found if s), key=len, reverse=True))


def one_line(text: object, secrets: Iterable[str] = (), limit: int = 300) -> str:
    """A driver message as one short line with the given secrets masked."""
    message = str(text)
    for secret in secrets:
        message = message.replace(secret, "***")
    message = " ".join(message.split()) or type(text).__name__
    return message if len(message) <= limit else message[: limit - 3] + "..."


def first_line(text: object, secrets: Iterable[str] = ()) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    return one_line(lines[0] if lines else text, secrets)


# --- shared SQL ------------------------------------------------------------------------------

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

