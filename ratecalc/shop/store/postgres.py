"""The PostgreSQL engine of :class:`ratecalc.shop.store.records.ShopStore` (psycopg 3, no ORM).

Connections come from a small thread-safe pool (autocommit off: every call is
one explicit transaction, committed or rolled back before the connection goes
back). A connection that breaks (server restart, network cut) is dropped
together with the idle ones: the call that hit it raises :class:`StoreError`
and the next call connects afresh. Claims use ``FOR UPDATE SKIP LOCKED`` so
concurrent workers never wait for, nor take, each other's notices.

The URL is handed to libpq as is, so its parameters work
(``?sslmode=require``, ``?options=-csearch_path%3Dmyschema``...); ratecalc only
adds ``application_name=ratecalc`` and ``connect_timeout=10`` when they are
not given.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import conninfo
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ratecalc.shop.store.records import StoreError
from ratecalc.shop.store.sql import SqlStore
from ratecalc.shop.store.urls import first_line, redact_url, url_secrets

POOL_SIZE = 10
ACQUIRE_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 10
IDLE_CHECK_SECONDS = 30.0  # an idle connection older than this is checked before use

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=256)
def pg_sql(sql: str) -> str:
    """``:name`` parameters -> psycopg's ``%(name)s`` (literal ``%`` doubled)."""
    return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


class _Tx:
    __slots__ = ("_conn",)

    def __init__(self, conn: psycopg.Connection):
        self._conn = conn

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> psycopg.Cursor:
        if params is None:
            return self._conn.execute(sql)
        return self._conn.execute(pg_sql(sql), params)

    def executemany(self, sql: str, params: Iterable[Mapping[str, Any]]) -> psycopg.Cursor:
        cursor = self._conn.cursor()
        cursor.executemany(pg_sql(sql), params)
        return cursor


def _usable(conn: psycopg.Connection) -> bool:
    return (not conn.closed and not conn.broken
            and conn.info.transaction_status == TransactionStatus.IDLE)


def _close_quietly(conn: psycopg.Connection) -> None:
    try:
        conn.close()
    except psycopg.Error:
        pass  # it is being discarded because it is already unusable


class _Pool:
    """At most ``size`` connections; idle ones are reused newest first."""

    def __init__(self, connect, size: int, acquire_timeout: float, idle_check: float):
        self._connect = connect
        self._size = size
        self._slots = threading.BoundedSemaphore(size)
        self._acquire_timeout = acquire_timeout
        self._idle_check = idle_check
        self._idle: list[tuple[psycopg.Connection, float]] = []
        self._lock = threading.Lock()
        self.closed = False

    def acquire(self, op: str, display: str) -> psycopg.Connection:
        if self.closed:
            raise StoreError(f"{op} failed: the store for {display} is closed")
        if not self._slots.acquire(timeout=self._acquire_timeout):
            raise StoreError(f"{op} failed: all {self._size} connections to {display} "
                             f"stayed busy for {self._acquire_timeout:.0f} s")
        try:
            while True:
                with self._lock:
                    conn, since = self._idle.pop() if self._idle else (None, 0.0)
                if conn is None:
                    return self._connect(op)
                if _usable(conn) and (time.monotonic() - since < self._idle_check
                                      or self._alive(conn)):
                    return conn
                _close_quietly(conn)
        except BaseException:
            self._slots.release()
            raise

    @staticmethod
    def _alive(conn: psycopg.Connection) -> bool:
        try:
            conn.execute("SELECT 1")
            conn.rollback()
        except psycopg.Error:
            return False
        return True

    def release(self, conn: psycopg.Connection) -> None:
        try:
            if self.closed or not _usable(conn):
                _close_quietly(conn)
                if conn.broken:  # the server went away: the idle ones are dead too
                    self.discard_idle()
            else:
                with self._lock:
                    self._idle.append((conn, time.monotonic()))
        finally:
            self._slots.release()

    def discard_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            _close_quietly(conn)

    def close(self) -> None:
        self.closed = True
        self.discard_idle()


class PostgresStore(SqlStore):
    engine = "postgresql"
    _SKIP_LOCKED = "FOR UPDATE SKIP LOCKED"
    _CLAIM_LOCK = "SELECT pg_advisory_xact_lock(74200017)"
    _IDS_MATCH = "= ANY(:ids)"

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE,
                 acquire_timeout: float = ACQUIRE_TIMEOUT_SECONDS,
                 idle_check: float = IDLE_CHECK_SECONDS):
        self.url_for_display = redact_url(url)
        self._secrets = url_secrets(url)
        try:
            params = conninfo.conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise StoreError(f"invalid database URL {self.url_for_display}: "
                             f"{first_line(exc, self._secrets)}") from None
        params.setdefault("application_name", "ratecalc")
        params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_SECONDS))
        self._conninfo = conninfo.make_conninfo(**params)
        self._pool = _Pool(self._connect, pool_size, acquire_timeout, idle_check)
        self._leases: dict[str, psycopg.Connection] = {}
        self._pool.release(self._pool.acquire("open", self.url_for_display))  # fail now

    def _connect(self, op: str) -> psycopg.Connection:
        try:
            return psycopg.connect(self._conninfo, autocommit=False, row_factory=dict_row)
        except psycopg.Error as exc:
            prefix = "cannot open database" if op == "open" else f"{op} failed: cannot connect to"
            raise StoreError(f"{prefix} {self.url_for_display}: "
                             f"{first_line(exc, self._secrets)}") from None

    @contextmanager
    def _transaction(self, op: str, *, write: bool) -> Iterator[_Tx]:
        conn = self._pool.acquire(op, self.url_for_display)
        try:
            yield _Tx(conn)
            conn.commit()
        except psycopg.Error as exc:
            self._rollback(conn)
            detail = first_line(exc, self._secrets)
            if conn.broken or conn.closed:
                raise StoreError(f"{op} failed: lost the connection to {self.url_for_display} "
                                 f"({detail}); the next call reconnects") from exc
            raise StoreError(f"{op} failed on {self.url_for_display}: {detail}") from exc
        except BaseException:
            self._rollback(conn)
            raise
        finally:
            self._pool.release(conn)

    @staticmethod
    def _rollback(conn: psycopg.Connection) -> None:
        try:
            if not conn.closed:
                conn.rollback()
        except psycopg.Error:
            pass  # the connection is then unusable and release() drops it

    def close(self) -> None:
        for name in list(self._leases):
            self._drop_lease(name)
        self._pool.close()

    # -- the lease: a session advisory lock on a connection of its own --------------------
    # PostgreSQL releases it the moment that connection ends, so a holder that dies
    # (process killed, network cut) hands it over at once; no expiry to wait for.
    # The key is the schema and the lease's name, so databases and schemas sharing a
    # server never contend.
    _LEASE_SQL = ("SELECT pg_try_advisory_lock(74200018, hashtext(current_schema() || ':' "
                  "|| %(name)s)) AS held")

    def acquire_lease(self, name: str, holder: str, now: datetime, seconds: float) -> bool:
        conn = self._leases.get(name)
        if conn is not None:
            try:
                conn.execute("SELECT 1").fetchone()
                return True
            except psycopg.Error:
                self._drop_lease(name)
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, row_factory=dict_row)
        except psycopg.Error as exc:
            raise StoreError(f"acquire_lease failed: cannot connect to {self.url_for_display}: "
                             f"{first_line(exc, self._secrets)}") from None
        try:
            held = conn.execute(self._LEASE_SQL, {"name": name}).fetchone()["held"]
        except psycopg.Error as exc:
            _close_quietly(conn)
            raise StoreError(f"acquire_lease failed on {self.url_for_display}: "
                             f"{first_line(exc, self._secrets)}") from None
        if not held:
            _close_quietly(conn)
            return False
        self._leases[name] = conn
        return True

    def release_lease(self, name: str, holder: str) -> None:
        self._drop_lease(name)

    def _drop_lease(self, name: str) -> None:
        conn = self._leases.pop(name, None)
        if conn is not None:
            _close_quietly(conn)  # ending the session releases its advisory locks

    def _check_writable(self, tx: _Tx) -> None:
        row = tx.execute("SELECT current_setting('transaction_read_only') AS ro").fetchone()
        if row["ro"] == "on":
            raise StoreError(f"database {self.url_for_display} is read-only "
                             "(transaction_read_only=on: a standby?)")

    # -- dialect --
    def _ts_in(self, value: datetime) -> datetime:
        return value

    def _ts_out(self, value: Any) -> datetime:
        return value.astimezone(UTC)

    def _json_in(self, text: str) -> Jsonb:
        return Jsonb(text, dumps=str)  # already serialised (and validated) JSON text

    def _json_out(self, value: Any) -> dict:
        return json.loads(value) if isinstance(value, str | bytes) else value

    def _ids_in(self, ids: list[int]) -> list[int]:
        return ids
