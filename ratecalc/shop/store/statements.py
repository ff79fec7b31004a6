"""The SQL text of the shop store, shared by both engines.

Constant SQL only: every value goes through a ``:named`` parameter. Placeholders
in braces (``{lock}``, ``{ids_match}``, ``{where}``) take constant fragments the
engines supply.
"""
# ruff: noqa: S608 - constant column lists and clauses; values are parameters

NOTICE_COLUMNS = (
    "id, dedupe_key, order_id, order_number, carrier, service, tracking_number, payload, "
    "status, attempts, next_attempt_at, last_error, created_at, delivered_at, claimed_by, "
    "lease_until, resolved_order_id"
)

# Constant SQL fragments only: values always go through :named parameters.
EXPORTED = (
    "SELECT order_id, status, exported_at FROM shop_exported_orders WHERE order_id {ids_match}"
)
MARK_EXPORTED = """
    INSERT INTO shop_exported_orders (order_id, status, exported_at)
    VALUES (:order_id, :status, :now)
    ON CONFLICT (order_id) DO UPDATE
    SET status = excluded.status, exported_at = excluded.exported_at
"""
ADD_NOTICE = f"""
    INSERT INTO shop_notices (dedupe_key, order_id, order_number, carrier, service,
                              tracking_number, payload, raw_xml, status, attempts,
                              next_attempt_at, created_at, resolved_order_id)
    VALUES (:dedupe_key, :order_id, :order_number, :carrier, :service,
            :tracking_number, :payload, :raw_xml, 'pending', 0,
            :now, :now, :resolved_order_id)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING {NOTICE_COLUMNS}
"""
SELECT_NOTICES = f"SELECT {NOTICE_COLUMNS} FROM shop_notices"
NOTICE_BY_KEY = SELECT_NOTICES + " WHERE dedupe_key = :dedupe_key"
NOTICE_BY_ID = SELECT_NOTICES + " WHERE id = :id"
# {where}: "" or "WHERE " + constant conditions joined by AND (see list_notices)
LIST_NOTICES = SELECT_NOTICES + " {where} ORDER BY id DESC LIMIT :limit"
NOTICES_FOR_ORDER = f"""
    SELECT {NOTICE_COLUMNS} FROM shop_notices
    WHERE resolved_order_id = :order_id OR order_id = :order_id
       OR order_number = :order_number
    ORDER BY created_at, id
"""
# ``{lock}`` is "FOR UPDATE SKIP LOCKED" on PostgreSQL; SQLite holds the write lock
# (BEGIN IMMEDIATE) for the whole transaction instead.
CLAIM_DUE = f"""
    UPDATE shop_notices
    SET status = 'delivering', claimed_by = :worker_id, lease_until = :lease_until,
        attempts = attempts + 1
    WHERE id IN (
        SELECT n.id FROM shop_notices n
        WHERE n.resolved_order_id IS NOT NULL
          AND ((n.status = 'pending' AND n.next_attempt_at <= :now)
               OR (n.status = 'delivering' AND n.lease_until <= :now))
          -- One worker per Cin7 order at a time: applying a notice reads and rewrites
          -- the order's comments, so two workers on one order would lose a line. The
          -- resolved id is the order however the notice named it (OrderID or number).
          AND NOT EXISTS (
              SELECT 1 FROM shop_notices busy
              WHERE busy.status = 'delivering' AND busy.lease_until > :now
                AND busy.resolved_order_id = n.resolved_order_id)
        ORDER BY n.created_at, n.id
        LIMIT :limit
        {{lock}}
    )
    RETURNING {NOTICE_COLUMNS}
"""
MARK_DELIVERED = """
    UPDATE shop_notices SET status = 'delivered', delivered_at = :now, lease_until = NULL
    WHERE id = :id AND status = 'delivering' AND claimed_by = :worker_id
"""
MARK_RETRY = """
    UPDATE shop_notices
    SET status = 'pending', last_error = :error, next_attempt_at = :next_attempt_at,
        claimed_by = NULL, lease_until = NULL
    WHERE id = :id AND status = 'delivering' AND claimed_by = :worker_id
"""
MARK_FAILED = """
    UPDATE shop_notices SET status = 'failed', last_error = :error, lease_until = NULL
    WHERE id = :id AND status = 'delivering' AND claimed_by = :worker_id
"""
RETRY = """
    UPDATE shop_notices
    SET status = 'pending', next_attempt_at = :now, claimed_by = NULL, lease_until = NULL
    WHERE id = :id AND status = 'failed'
"""
PENDING_STATS = """
    SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM shop_notices
    WHERE status IN ('pending', 'delivering')
"""
SCHEMA_VERSION = "SELECT MAX(version) AS version FROM schema_version"

# Resolving: notices intake stored without asking Cin7 (Cin7 was unavailable).
UNRESOLVED = "resolved_order_id IS NULL"
UNRESOLVED_DUE = SELECT_NOTICES + f"""
    WHERE {UNRESOLVED}
      AND ((status = 'pending' AND next_attempt_at <= :now)
           OR (status = 'delivering' AND lease_until <= :now))
    ORDER BY created_at, id LIMIT :limit
"""
OTHER_WITH_KEY = "SELECT id FROM shop_notices WHERE dedupe_key = :dedupe_key AND id <> :id"
DROP_DUPLICATE = f"DELETE FROM shop_notices WHERE id = :id AND {UNRESOLVED}"
RESOLVE = f"""
    UPDATE shop_notices
    SET resolved_order_id = :order_id, dedupe_key = :dedupe_key, status = 'pending',
        claimed_by = NULL, lease_until = NULL
    WHERE id = :id AND {UNRESOLVED}
"""
DEFER_UNRESOLVED = f"""
    UPDATE shop_notices
    SET status = 'pending', last_error = :error, next_attempt_at = :next_attempt_at,
        attempts = attempts + 1, claimed_by = NULL, lease_until = NULL
    WHERE id = :id AND {UNRESOLVED}
"""
FAIL_UNRESOLVED = f"""
    UPDATE shop_notices SET status = 'failed', last_error = :error, lease_until = NULL,
        attempts = attempts + 1
    WHERE id = :id AND {UNRESOLVED}
"""
RENEW_LEASE = """
    UPDATE shop_notices SET lease_until = :lease_until
    WHERE id = :id AND status = 'delivering' AND claimed_by = :worker_id
"""
