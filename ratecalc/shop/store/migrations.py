"""Versioned schema migrations for the shop store, for both engines.

``schema_version`` holds one row per applied migration. :func:`upgrade`
applies the pending ones in order, all in one transaction taken under a
lock -- a PostgreSQL advisory lock, SQLite's ``BEGIN IMMEDIATE`` -- so two
processes starting at once apply each migration exactly once (the second
waits, then finds nothing to do). Both engines have transactional DDL: a
failing migration leaves the schema as it was.

The migrations themselves are data, in :mod:`ratecalc.shop.store.schema`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from ratecalc.shop.store.schema import LATEST_VERSION as LATEST_VERSION  # re-exported
from ratecalc.shop.store.schema import MIGRATIONS, SCHEMA_VERSION_TABLE, Migration, render
from ratecalc.shop.store.sql import SqlStore, Tx

# pg_advisory_xact_lock key: the bytes of "ratecalc" as a signed 64-bit integer.
ADVISORY_LOCK_KEY = int.from_bytes(b"ratecalc", "big", signed=True)
LOCK_TIMEOUT = "120s"

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
