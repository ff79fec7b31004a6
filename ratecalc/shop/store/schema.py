"""The shop store's schema: its versioned migrations, as data both engines render.

A migration is a list of DDL statements shared by both dialects; the few
column types that differ are written ``{id}``, ``{timestamp}`` and ``{json}``.
Never edit a released migration: append a new one. :mod:`migrations` applies them.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    # A notice names its order by OrderID or OrderNumber; the worker (or intake)
    # resolves it to the Cin7 id once, and everything after -- claiming, the
    # shipment's identity, the order's history -- goes by that id.
    Migration(2, "shop: notices resolved to their Cin7 order", (
        "ALTER TABLE shop_notices ADD COLUMN resolved_order_id BIGINT",
        "UPDATE shop_notices SET resolved_order_id = order_id"
        " WHERE status = 'delivered' AND order_id IS NOT NULL",
        "CREATE INDEX shop_notices_resolved ON shop_notices (resolved_order_id)",
    )),
    # The export's windows, kept where every process sees them: a window's ordered
    # list of (order, status) is built once, and pages 1..N are slices of it whichever
    # process answers. Bodies of the orders read are kept once per order (not per
    # window), so overlapping windows reuse reads and a page needs no Cin7 call.
    Migration(3, "shop: export windows and the Cin7 orders they list", (
        """
        CREATE TABLE shop_export_windows (
            id         {id},
            start_at   {timestamp} NOT NULL,
            end_at     {timestamp} NOT NULL,
            rules      TEXT NOT NULL,
            built_at   {timestamp} NOT NULL,
            size       INTEGER NOT NULL,
            considered INTEGER NOT NULL,
            UNIQUE (start_at, end_at, rules)
        )
        """,
        "CREATE INDEX shop_export_windows_built ON shop_export_windows (built_at)",
        """
        CREATE TABLE shop_export_window_orders (
            window_id BIGINT NOT NULL,
            position  INTEGER NOT NULL,
            order_id  BIGINT NOT NULL,
            status    TEXT NOT NULL,
            PRIMARY KEY (window_id, position)
        )
        """,
        "CREATE INDEX shop_export_window_orders_order ON shop_export_window_orders (order_id)",
        """
        CREATE TABLE shop_order_snapshots (
            order_id    BIGINT PRIMARY KEY,
            modified_at {timestamp},
            body        TEXT NOT NULL,
            read_at     {timestamp} NOT NULL
        )
        """,
        "CREATE INDEX shop_order_snapshots_read ON shop_order_snapshots (read_at)",
    )),
    # Automatic freight (ratecalc.shop.autofreight): the poll's cursor and its Cin7
    # call count, the one-poller lease (a row on SQLite; PostgreSQL uses an advisory
    # lock instead), and the audit of every freight decision. Money is TEXT: exact
    # decimals on both engines. Version 3 belongs to another change; gaps are allowed.
    Migration(4, "shop: automatic freight cursor, lease and audit", (
        """
        CREATE TABLE shop_freight_state (
            name            TEXT PRIMARY KEY,
            cursor_at       {timestamp},
            last_run_at     {timestamp},
            last_run_status TEXT,
            cin7_calls_day  TEXT,
            cin7_calls      INTEGER NOT NULL DEFAULT 0
        )
        """,
        """
        CREATE TABLE shop_leases (
            name        TEXT PRIMARY KEY,
            holder      TEXT NOT NULL,
            lease_until {timestamp} NOT NULL
        )
        """,
        """
        CREATE TABLE shop_freight_audit (
            id           {id},
            order_id     BIGINT NOT NULL,
            reference    TEXT,
            action       TEXT NOT NULL CHECK (action IN ('written', 'skipped', 'failed')),
            reason       TEXT NOT NULL,
            source       TEXT NOT NULL CHECK (source IN ('auto', 'manual')),
            old_fee      TEXT,
            new_fee      TEXT,
            carrier      TEXT,
            service      TEXT,
            pricing_rule TEXT,
            fingerprint  TEXT,
            message      TEXT,
            created_at   {timestamp} NOT NULL
        )
        """,
        "CREATE INDEX shop_freight_audit_order ON shop_freight_audit (order_id, id)",
        "CREATE INDEX shop_freight_audit_action ON shop_freight_audit (action, id)",
    )),
    # Alerts ("Send errors to", ratecalc.alerts): the alerts themselves, an outbox of
    # messages per channel, and named time marks (last export call, detector runs).
    # Their times are fixed-width ISO-8601 UTC text on both engines (they sort in
    # time order), so the alerts package needs nothing engine-specific.
    Migration(5, "alerts: alerts, their outbox and time marks", (
        """
        CREATE TABLE alerts (
            id          {id},
            kind        TEXT NOT NULL,
            alert_key   TEXT NOT NULL,
            severity    TEXT NOT NULL,
            summary     TEXT NOT NULL,
            details     TEXT NOT NULL,
            state       TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
            first_seen  TEXT NOT NULL,
            last_seen   TEXT NOT NULL,
            count       INTEGER NOT NULL DEFAULT 1,
            resolved_at TEXT,
            notified_at TEXT,
            notify_due  TEXT
        )
        """,
        "CREATE UNIQUE INDEX alerts_open_key ON alerts (alert_key) WHERE state = 'open'",
        "CREATE INDEX alerts_state ON alerts (state, id)",
        "CREATE INDEX alerts_due ON alerts (notify_due) WHERE notify_due IS NOT NULL",
        """
        CREATE TABLE alert_messages (
            id              {id},
            channel         TEXT NOT NULL,
            subject         TEXT NOT NULL,
            body            TEXT NOT NULL,
            status          TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'sent', 'dropped')),
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            lease_until     TEXT,
            last_error      TEXT,
            answer          TEXT,
            created_at      TEXT NOT NULL,
            sent_at         TEXT
        )
        """,
        "CREATE INDEX alert_messages_due ON alert_messages (status, next_attempt_at)",
        "CREATE TABLE alert_marks (name TEXT PRIMARY KEY, at TEXT NOT NULL)",
    )),
)

LATEST_VERSION = MIGRATIONS[-1].version


def render(statement: str, engine: str) -> str:
    """A migration statement in the dialect of ``engine``."""
    return statement.format(**_TYPES[engine])
