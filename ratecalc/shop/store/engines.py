"""Open the shop store for a database URL: pick the engine, then migrate."""

from __future__ import annotations

from ratecalc.shop.store.migrations import upgrade
from ratecalc.shop.store.postgres import PostgresStore
from ratecalc.shop.store.records import ShopStore, StoreError
from ratecalc.shop.store.sql import SqlStore
from ratecalc.shop.store.sqlite import SqliteStore
from ratecalc.shop.store.urls import redact_url


def open_store(url: str, migrate: bool = True) -> ShopStore:
    """Open the store for ``url`` and, unless ``migrate`` is false, bring its schema up to date.

    Raises StoreError (one line, password-free) if it cannot be opened.
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    store: SqlStore
    if scheme == "sqlite":
        store = SqliteStore(url)
    elif scheme in ("postgresql", "postgres"):
        store = PostgresStore(url)
    else:
        raise StoreError(f"unsupported database URL {redact_url(url)}: "
                         "expected sqlite:///path or postgresql://user@host:port/db")
    if migrate:
        try:
            upgrade(store)
        except BaseException:
            store.close()
            raise
    return store
