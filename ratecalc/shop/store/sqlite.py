"""The SQLite engine of :class:`ratecalc.shop.store.records.ShopStore` (the embedded default).

``sqlite:///var/ratecalc.sqlite3`` is relative to the working directory,
``sqlite:////var/lib/ratecalc/ratecalc.sqlite3`` is absolute. Every thread
gets its own connection (``timeout=30``, WAL, ``synchronous=NORMAL``); every
write runs in ``BEGIN IMMEDIATE``, so writers queue on SQLite's lock instead
of failing half-way, and a claim is exclusive. Timestamps are stored as
``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` text, which sorts in time order.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from ratecalc.shop.store.records import StoreError
from ratecalc.shop.store.sql import SqlStore
from ratecalc.shop.store.urls import one_line, redact_url

BUSY_TIMEOUT_SECONDS = 30.0

_HINTS = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_READONLY": "the database is read-only: check the permissions of the file "
                       "and of its directory",
    "SQLITE_CANTOPEN": "check that the directory exists and is writable",
    "SQLITE_PERM": "check the permissions of the file and of its directory",
    "SQLITE_BUSY": f"the database stayed locked for {BUSY_TIMEOUT_SECONDS:.0f} s",
    "SQLITE_LOCKED": "the database is locked",
    "SQLITE_IOERR": "is the disk full, or failing?",
    "SQLITE_CORRUPT": "the database file is corrupt",
    "SQLITE_NOTADB": "the file is not a SQLite database",
}


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///path`` URL (three slashes, then the path)."""
    prefix = "sqlite:///"
    if url[: len(prefix)].lower() != prefix or len(url) == len(prefix):
        raise StoreError(f"invalid SQLite URL {redact_url(url)}: expected sqlite:///path/to/file")
    path = url[len(prefix):]
    if path == ":memory:" or path.startswith("file:"):
        raise StoreError(f"invalid SQLite URL {redact_url(url)}: the store needs a file path")
    return path


def describe(exc: BaseException) -> str:
    """A one-line description of a sqlite3 error, with a hint for the usual causes."""
    message = one_line(exc)
    name = getattr(exc, "sqlite_errorname", "") or ""
    base = "_".join(name.split("_")[:2])
    hint = _HINTS.get(base)
    if hint is None and isinstance(exc, sqlite3.ProgrammingError) and "closed" in message:
        hint = "the store is closed"
    return f"{message} ({hint})" if hint else message


class _Connection(sqlite3.Connection):
    """sqlite3.Connection itself cannot be weakly referenced; a subclass can."""


class _Tx:
    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> sqlite3.Cursor:
        return self._conn.execute(sql, params or {})

    def executemany(self, sql: str, params: Iterable[Mapping[str, Any]]) -> sqlite3.Cursor:
        return self._conn.executemany(sql, params)


class SqliteStore(SqlStore):
    engine = "sqlite"
    _SKIP_LOCKED = ""  # BEGIN IMMEDIATE already excludes other writers
    _CLAIM_LOCK = None
    _IDS_MATCH = "IN (SELECT value FROM json_each(:ids))"

    def __init__(self, url: str, *, timeout: float = BUSY_TIMEOUT_SECONDS):
        self.url_for_display = redact_url(url)
        self.path = sqlite_path(url)
        self._timeout = timeout
        self._local = threading.local()
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False
        parent = os.path.dirname(self.path)
        if parent:
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot open database {self.url_for_display}: cannot create "
                                 f"directory {parent}: {exc.strerror or exc}") from None
        self._connection("open")  # fail now, not on the first request

    # -- connections --
    def _connect(self, op: str) -> _Connection:
        conn = None
        try:
            conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None,
                                   check_same_thread=False, factory=_Connection)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            prefix = "cannot open database" if op == "open" else f"{op} failed: cannot open"
            raise StoreError(f"{prefix} {self.url_for_display}: {describe(exc)}") from None
        return conn

    def _connection(self, op: str) -> _Connection:
        if self._closed:
            raise StoreError(f"{op} failed: the store for {self.url_for_display} is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(op)
            with self._lock:
                self._connections.add(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def _transaction(self, op: str, *, write: bool) -> Iterator[_Tx]:
        conn = self._connection(op)
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield _Tx(conn)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(conn)
            raise StoreError(f"{op} failed on {self.url_for_display}: {describe(exc)}") from exc
        except BaseException:
            self._rollback(conn)
            raise

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the original error is what the caller gets; SQLite rolls back on close

    def close(self) -> None:
        self._closed = True
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:
                pass  # closing anyway; nothing is left to commit
        self._local = threading.local()

    def _check_writable(self, tx: _Tx) -> None:
        # BEGIN IMMEDIATE succeeds on a read-only file in WAL mode; a real (rolled back)
        # write does not.
        tx.execute("SAVEPOINT ping_write")
        try:
            tx.execute("UPDATE schema_version SET version = version"
                       " WHERE version = (SELECT MAX(version) FROM schema_version)")
        finally:
            with suppress(sqlite3.Error):  # COMMIT releases the savepoint anyway
                tx.execute("ROLLBACK TO ping_write")

    # -- dialect --
    def _ts_in(self, value: datetime) -> str:
        # isoformat pads the year to 4 digits; fixed microseconds keep the text sortable.
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") \
            + "+00:00"

    def _ts_out(self, value: Any) -> datetime:
        return datetime.fromisoformat(value).astimezone(UTC)

    def _json_in(self, text: str) -> str:
        return text

    def _json_out(self, value: Any) -> dict:
        return json.loads(value)

    def _ids_in(self, ids: list[int]) -> str:
        return json.dumps(ids)
