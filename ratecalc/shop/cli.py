"""``ratecalc shop ...``, ``ratecalc worker`` and ``ratecalc db upgrade``."""

from __future__ import annotations

import json
import signal
import sys
import threading

from ratecalc.settings import ConfigError, Settings
from ratecalc.shop.store.records import NOTICE_STATUSES


def add_shop_commands(sub) -> None:
    shop = sub.add_parser("shop", help="Custom Store (shop mode) tools",
                          description="Custom Store (shop mode) tools")
    shop_sub = shop.add_subparsers(dest="shop_command", required=True)
    statuses = shop_sub.add_parser(
        "statuses", help="what to type into ShipStation's status fields")
    statuses.set_defaults(handler=cmd_statuses)
    why = shop_sub.add_parser("why", help="why an order is (not) exported to ShipStation")
    why.add_argument("order_id", type=int, help="the Cin7 sales order id")
    why.add_argument("--json", action="store_true", help="print the API's JSON answer")
    why.set_defaults(handler=cmd_why)
    notes = shop_sub.add_parser("notifications", help="list ship notifications")
    notes.add_argument("--failed", action="store_true", help="only failed ones")
    notes.add_argument("--status", choices=NOTICE_STATUSES, help="only notices in this state")
    notes.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    notes.set_defaults(handler=cmd_notifications)
    retry = shop_sub.add_parser("retry", help="retry failed ship notifications")
    retry.add_argument("notice_ids", type=int, nargs="*", help="ids (default: every failed one)")
    retry.set_defaults(handler=cmd_retry)

    worker = sub.add_parser("worker", help="apply ship notifications to Cin7 (no HTTP server)")
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.set_defaults(handler=cmd_worker)

    add_freight_commands(sub)

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
    from ratecalc.shop.export.statuses import StatusMap

    settings = Settings.from_env()
    status_map = StatusMap.parse(settings.status_map)  # validated when settings were read
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
    freight = answer.get("freight_status")
    if freight:
        print(f"  freight: {freight['action']} ({freight['reason']}) {freight['old_fee'] or '-'}"
              f" -> {freight['new_fee'] or '-'} at {freight['at']}")
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
    from ratecalc.shop.store.engines import open_store
    from ratecalc.shop.store.migrations import upgrade
    from ratecalc.shop.store.records import StoreError

    settings = Settings.from_env()
    try:
        store = open_store(settings.resolved_database_url, migrate=False)
        applied = upgrade(store)
    except StoreError as exc:
        raise ConfigError(f"RATECALC_DATABASE_URL: {exc}") from None
    store.close()
    print(f"database is up to date ({applied if applied is not None else 'ok'})")
    return 0


# -- automatic freight -------------------------------------------------------------------
def add_freight_commands(sub) -> None:
    worker = sub.add_parser("freight-worker",
                            help="price Cin7 orders' freight automatically (no HTTP server)")
    worker.add_argument("--once", action="store_true", help="one poll, then exit")
    worker.set_defaults(handler=cmd_freight_worker)
    freight = sub.add_parser("freight", help="the freight audit: what ratecalc wrote, and why")
    freight_sub = freight.add_subparsers(dest="freight_command", required=True)
    history = freight_sub.add_parser("history", help="one order's freight decisions")
    history.add_argument("order_id", type=int, help="the Cin7 sales order id")
    history.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    history.set_defaults(handler=cmd_freight_history)
    runs = freight_sub.add_parser("runs", help="recent freight decisions of every order")
    runs.add_argument("--failed", action="store_true", help="only failed ones")
    runs.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    runs.set_defaults(handler=cmd_freight_runs)


def cmd_freight_worker(args) -> int:
    from ratecalc.app.services import build_services
    from ratecalc.logs import configure_logging
    from ratecalc.shop.autofreight.worker import build_freight_worker

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    if not settings.auto_freight:
        raise ConfigError("RATECALC_AUTO_FREIGHT=on is required to run the freight worker")
    settings.require_complete()
    services = build_services(settings)
    shop = _shop(settings)
    worker = build_freight_worker(settings, shop, services.rating)
    shop.freight_worker = worker
    try:
        if args.once:
            report = worker.run_once()
            print("another worker holds the auto-freight lease; nothing done" if report is None
                  else "auto-freight: " + ", ".join(f"{k} {v}" for k, v in
                                                      report.as_dict().items()))
            return 0
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        worker.start()
        stop.wait()
    finally:
        shop.close()
        services.close()
    return 0


def _freight_store():
    from ratecalc.shop.store.engines import open_store
    from ratecalc.shop.store.records import StoreError

    try:
        return open_store(Settings.from_env().resolved_database_url)
    except StoreError as exc:
        raise ConfigError(f"RATECALC_DATABASE_URL: {exc}") from None


def _print_records(records) -> None:
    from ratecalc.shop.autofreight.audit import record_json

    for r in map(record_json, records):
        fee = f"{r['old_fee'] or '-'} -> {r['new_fee'] or '-'}"
        print(f"{r['at']}  order {r['order_id']} ({r['reference'] or '?'})  "
              f"{r['action']:<8} {r['reason']:<20} {fee}"
              + (f"  {r['carrier']} {r['service']}" if r["service"] else "")
              + (f"  rule {r['pricing_rule']}" if r["pricing_rule"] else "")
              + (f"  ({r['source']})" if r["source"] != "auto" else "")
              + (f"  {r['message']}" if r["message"] else ""))


def cmd_freight_history(args) -> int:
    store = _freight_store()
    try:
        records = store.freight_history(args.order_id, limit=max(1, args.limit))
    finally:
        store.close()
    _print_records(records)
    if not records:
        print(f"no freight decisions for order {args.order_id}")
    return 0


def cmd_freight_runs(args) -> int:
    store = _freight_store()
    try:
        records = store.freight_records("failed" if args.failed else None,
                                        limit=max(1, args.limit))
        state = store.freight_state()
    finally:
        store.close()
    cursor = state.cursor_at.strftime("%Y-%m-%dT%H:%M:%SZ") if state.cursor_at else "none"
    print(f"cursor {cursor}, last run {state.last_run_status or 'never'}")
    _print_records(records)
    if not records:
        print("no failed freight decisions" if args.failed else "no freight decisions")
    return 0
