"""``ratecalc shop ...``, ``ratecalc worker`` and ``ratecalc db upgrade``."""

from __future__ import annotations

import json
import signal
import sys
import threading

from ratecalc.settings import ConfigError, Settings


def add_shop_commands(sub) -> None:
    shop = sub.add_parser("shop", help="Custom Store (shop mode) tools")
    shop_sub = shop.add_subparsers(dest="shop_command", required=True)
    statuses = shop_sub.add_parser(
        "statuses", help="what to type into ShipStation's status fields")
    statuses.set_defaults(handler=cmd_statuses)
    why = shop_sub.add_parser("why", help="why an order is (not) exported to ShipStation")
    why.add_argument("order_id", type=int)
    why.add_argument("--json", action="store_true")
    why.set_defaults(handler=cmd_why)
    notes = shop_sub.add_parser("notifications", help="list ship notifications")
    notes.add_argument("--failed", action="store_true", help="only failed ones")
    notes.add_argument("--status", choices=("pending", "delivering", "delivered", "failed"))
    notes.add_argument("--limit", type=int, default=50)
    notes.set_defaults(handler=cmd_notifications)
    retry = shop_sub.add_parser("retry", help="retry failed ship notifications")
    retry.add_argument("notice_ids", type=int, nargs="*", help="ids (default: every failed one)")
    retry.set_defaults(handler=cmd_retry)

    worker = sub.add_parser("worker", help="apply ship notifications to Cin7 (no HTTP server)")
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.set_defaults(handler=cmd_worker)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply pending migrations")
    upgrade.set_defaults(handler=cmd_db_upgrade)


def _shop(settings: Settings | None = None):
    from ratecalc.shop.wiring import build_shop

    settings = settings or Settings.from_env()
    if not settings.cin7_configured:
        raise ConfigError("RATECALC_CIN7_USERNAME and RATECALC_CIN7_API_KEY are required "
                          "for shop commands")
    return build_shop(settings)


def cmd_statuses(args) -> int:
    from ratecalc.shop.statuses import StatusMap

    settings = Settings.from_env()
    try:
        status_map = StatusMap.parse(settings.status_map)
    except ValueError as exc:
        raise ConfigError(f"RATECALC_STATUS_MAP: {exc}") from None
    print("Type these into ShipStation's Custom Store connection form (case-sensitive):")
    for label, value in status_map.connection_fields():
        empty = ("(leave empty: On Hold is not supported)" if label.startswith("On-Hold")
                 else "(leave empty: no Cin7 stage is mapped to it)")
        print(f"  {label + ':':<18} {value or empty}")
    return 0


def cmd_why(args) -> int:
    shop = _shop()
    try:
        answer = shop.why(args.order_id)
    except Exception as exc:  # FreightError (404) or UpstreamError: one line, no traceback
        print(f"ratecalc: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    finally:
        shop.store.close()
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    print(f"order {answer['order_id']} ({answer['reference']}): "
          + ("eligible for export" if answer["eligible"] else "NOT eligible for export"))
    for reason in answer["reasons"]:
        print(f"  - {reason['rule']}: {reason['message']}")
    print(f"  ShipStation status: {answer['status'] or '(unmapped)'}")
    print(f"  last exported: {answer['exported_at'] or 'never'}"
          + (f" as {answer['exported_status']}" if answer.get("exported_status") else ""))
    return 0 if answer["eligible"] else 1


def cmd_notifications(args) -> int:
    from ratecalc.shop.api import notice_json

    shop = _shop()
    try:
        status = "failed" if args.failed else args.status
        notices = shop.store.list_notices(status=status, limit=args.limit)
    finally:
        shop.store.close()
    for n in map(notice_json, notices):
        print(f"{n['id']:>6}  {n['status']:<10} order {n['order_id'] or n['order_number']}"
              f"  {n['carrier'] or ''} {n['tracking_number'] or ''}  attempts {n['attempts']}"
              + (f"  error: {n['last_error']}" if n["last_error"] else ""))
    if not notices:
        print("no ship notifications" + (f" with status {status}" if status else ""))
    return 0


def cmd_retry(args) -> int:
    shop = _shop()
    try:
        ids = args.notice_ids or [n.id for n in shop.store.list_notices("failed", limit=10_000)]
        retried = [i for i in ids if shop.store.retry(i, shop.clock())]
    finally:
        shop.store.close()
    print(f"queued {len(retried)} notification(s) for delivery: "
          + (", ".join(map(str, retried)) or "none"))
    return 0 if len(retried) == len(ids) else 1


def cmd_worker(args) -> int:
    from ratecalc.logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    shop = _shop(settings)
    if args.once:
        handled = shop.worker.run_once()
        print(f"handled {handled} notification(s)")
        shop.store.close()
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    shop.worker.start()
    try:
        stop.wait()
    finally:
        shop.close()
    return 0


def cmd_db_upgrade(args) -> int:
    from ratecalc.shop.migrations import upgrade
    from ratecalc.shop.store import StoreError, open_store

    settings = Settings.from_env()
    try:
        store = open_store(settings.resolved_database_url, migrate=False)
        applied = upgrade(store)
    except StoreError as exc:
        raise ConfigError(f"RATECALC_DATABASE_URL: {exc}") from None
    store.close()
    print(f"database is up to date ({applied if applied is not None else 'ok'})")
    return 0
