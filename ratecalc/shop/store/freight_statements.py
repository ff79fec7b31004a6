"""The SQL text of automatic freight's tables (migration 4), shared by both engines.

Constant SQL only: every value goes through a ``:named`` parameter; ``{ids_match}``
and ``{where}`` take constant fragments.
"""
# ruff: noqa: S608 - constant column lists and clauses; values are parameters

AUDIT_COLUMNS = (
    "id, order_id, reference, action, reason, source, old_fee, new_fee, carrier, service, "
    "pricing_rule, fingerprint, message, created_at"
)
ADD_AUDIT = f"""
    INSERT INTO shop_freight_audit (order_id, reference, action, reason, source, old_fee,
                                    new_fee, carrier, service, pricing_rule, fingerprint,
                                    message, created_at)
    VALUES (:order_id, :reference, :action, :reason, :source, :old_fee, :new_fee, :carrier,
            :service, :pricing_rule, :fingerprint, :message, :now)
    RETURNING {AUDIT_COLUMNS}
"""
AUDIT_FOR_ORDER = f"""
    SELECT {AUDIT_COLUMNS} FROM shop_freight_audit WHERE order_id = :order_id
    ORDER BY id DESC LIMIT :limit
"""
# {where}: "" or "WHERE action = :action"
LIST_AUDIT = f"SELECT {AUDIT_COLUMNS} FROM shop_freight_audit {{where}} ORDER BY id DESC" \
    " LIMIT :limit"
# The newest record per order, of any action ({action} "") or of one ("AND action = ...").
LATEST_AUDIT = f"""
    SELECT {AUDIT_COLUMNS} FROM shop_freight_audit
    WHERE id IN (SELECT MAX(id) FROM shop_freight_audit
                 WHERE order_id {{ids_match}} {{action}} GROUP BY order_id)
"""
STATE = """
    SELECT cursor_at, last_run_at, last_run_status, cin7_calls_day, cin7_calls
    FROM shop_freight_state WHERE name = :name
"""
ENSURE_STATE = """
    INSERT INTO shop_freight_state (name, cin7_calls) VALUES (:name, 0)
    ON CONFLICT (name) DO NOTHING
"""
SAVE_RUN = """
    UPDATE shop_freight_state
    SET cursor_at = :cursor_at, last_run_at = :now, last_run_status = :status
    WHERE name = :name
"""
SAVE_CALLS = """
    UPDATE shop_freight_state SET cin7_calls_day = :day, cin7_calls = :calls WHERE name = :name
"""
# SQLite's lease row: taken when free, expired, or already ours; renewed by its holder.
TAKE_LEASE = """
    INSERT INTO shop_leases (name, holder, lease_until) VALUES (:name, :holder, :lease_until)
    ON CONFLICT (name) DO UPDATE
    SET holder = excluded.holder, lease_until = excluded.lease_until
    WHERE shop_leases.holder = excluded.holder OR shop_leases.lease_until <= :now
"""
LEASE_HOLDER = "SELECT holder, lease_until FROM shop_leases WHERE name = :name"
DROP_LEASE = "DELETE FROM shop_leases WHERE name = :name AND holder = :holder"
