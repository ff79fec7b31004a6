"""Versioned schema migrations for the shop store, for both engines.

``schema_version`` holds one row per applied migration. :func:`upgrade`
applies the pending ones in order, all in one transaction taken under a
lock -- a PostgreSQL advisory lock, SQLite's ``BEGIN IMMEDIATE`` -- so two
processes starting at once apply each migration exactly once (the second
waits, then finds nothing to do). Both engines have transactional DDL: a
failing migration leaves the schema as it was.

A migration is a list of DDL statements shared by both dialects; the few
column types that differ are written ``{id}``, ``{timestamp}`` and ``{json}``.
Never edit a released migration: append a new one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ratecalc.shop.store_sql import SqlStore, Tx

# pg_advisory_xact_lock key: the bytes of "ratecalc" as a signed 64-bit integer.
ADVISORY_LOCK_KEY = int.from_bytes(b"ratecalc", "big", signed=True)
LOCK_TIMEOUT = "120s"

_TYPES = {
    "sqlite": {
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",  # ids are never reused
        "timestamp": "TEXT",  # ISO-8601, UTC, fixed width: sorts in time order
        "json": "TEXT",
    },
    "postgresql": {
        "id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "timestamp": "TIMESTAMPTZ",
        "json": "JSONB",
    },
}


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


SCHEMA_VERSION_TABLE = """
    CREATE TABLE IF NOT EXISTS schema_version (
        version     INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        applied_at  {timestamp} NOT NULL
    )
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "shop: exported orders and ship notifications", (
        """
        CREATE TABLE shop_exported_orders (
            order_id    BIGINT PRIMARY KEY,
            status      TEXT NOT NULL,
            exported_at {timestamp} NOT NULL
        )
        """,
        """
        CREATE TABLE shop_notices (
            id              {id},
            dedupe_key      TEXT NOT NULL UNIQUE,
            order_id        BIGINT,
            order_number    TEXT,
            carrier         TEXT,
            service         TEXT,
            tracking_number TEXT,
            payload         {json} NOT NULL,
            raw_xml         TEXT NOT NULL,
            status          TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'delivering', 'delivered', 'failed')),
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at {timestamp} NOT NULL,
            last_error      TEXT,
            created_at      {timestamp} NOT NULL,
            delivered_at    {timestamp},
            claimed_by      TEXT,
            lease_until     {timestamp}
        )
        """,
        # claim_due: due pending notices, and deliveries whose lease ran out
        "CREATE INDEX shop_notices_due ON shop_notices (next_attempt_at)"
        " WHERE status = 'pending'",
        "CREATE INDEX shop_notices_lease ON shop_notices (lease_until)"
        " WHERE status = 'delivering'",
        "CREATE INDEX shop_notices_status ON shop_notices (status, id)",
        "CREATE INDEX shop_notices_order_id ON shop_notices (order_id)",
        "CREATE INDEX shop_notices_order_number ON shop_notices (order_number)",
    )),
)

LATEST_VERSION = MIGRATIONS[-1].version


def render(statement: str, engine: str) -> str:
    """A migration statement in the dialect of ``engine``."""
    return statement.format(**_TYPES[engine])


@contextmanager
def _locked(store: SqlStore, op: str) -> Iterator[Tx]:
    """A transaction holding the migration lock, with ``schema_version`` in place."""
    with store._transaction(op, write=True) as tx:  # SQLite: BEGIN IMMEDIATE
        if store.engine == "postgresql":
            tx.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            tx.execute("SELECT pg_advisory_xact_lock(:key)", {"key": ADVISORY_LOCK_KEY})
        tx.execute(render(SCHEMA_VERSION_TABLE, store.engine))
        yield tx


def current_version(store: SqlStore) -> int:
    """The highest applied migration, 0 for an empty database."""
    with _locked(store, "schema version") as tx:
        row = tx.execute("SELECT MAX(version) AS version FROM schema_version").fetchone()
    return int(row["version"] or 0)


def upgrade(store: SqlStore, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply the pending migrations in order; returns the versions applied (often none).

    Raises StoreError if the database cannot be migrated.
    """
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError(f"migration versions must be unique and increasing: {versions}")
    applied: list[int] = []
    with _locked(store, "migrate") as tx:
        done = {int(row["version"])
                for row in tx.execute("SELECT version FROM schema_version").fetchall()}
        for migration in migrations:
            if migration.version in done:
                continue
            for statement in migration.statements:
                tx.execute(render(statement, store.engine))
            tx.execute(
                "INSERT INTO schema_version (version, description, applied_at)"
                " VALUES (:version, :description, :applied_at)",
                {"version": migration.version, "description": migration.description,
                 "applied_at": store._ts(datetime.now(UTC), "applied_at")},
            )
            applied.append(migration.version)
    return applied
