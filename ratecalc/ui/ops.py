"""``/ui/ops``: the state of the service at a glance, refreshed every 15 s.

Each panel is read independently and a failing one says so without taking the
page down. Nothing here shows a URL, a user name or a key: the database is named
by its engine, Redis by whether it answers.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from importlib import metadata

from ratecalc.shop.store.records import StoreError
from ratecalc.ui import sources, words
from ratecalc.ui.samples import metric_value, sparkline
from ratecalc.ui.views import bp, page, services, shop, ui

REFRESH_SECONDS = 15


def version() -> str:
    try:
        return metadata.version("ratecalc")
    except metadata.PackageNotFoundError:
        return "unknown"


def breakers() -> list[dict]:
    return [{"name": name, "state": breaker.state, "words": words.breaker_state(breaker.state)}
            for name, breaker in sorted(services().breakers().items())]


def shipstation_budget() -> dict:
    """ratecalc's own per-minute ceiling, what this process used of it, and what
    ShipStation last said was left (X-Rate-Limit-Remaining), once it has said."""
    samples = ui().samples
    limit = services().settings.shipstation_requests_per_minute
    used = samples.used_last_minute()
    latest = samples.read()
    return {"limit": limit, "used": used, "remaining": max(0, limit - used),
            "upstream_remaining": None if latest.remaining is None else int(latest.remaining),
            "spark": sparkline(samples.per_minute(60))}


def cin7_budget() -> dict | None:
    found = shop()
    if found is None:
        return None
    return {"remaining": found.cin7.daily_remaining(),
            "limit": found.settings.cin7_requests_per_day}


def outbox() -> dict | None:
    found = shop()
    if found is None:
        return None
    try:
        pending, oldest = found.store.pending_stats(found.clock())
        failed = len(found.store.list_notices(status="failed", limit=500))
    except StoreError:
        return {"error": "database unavailable"}
    return {"pending": pending, "failed": failed, "failed_more": failed >= 500,
            "oldest": words.age(oldest) if pending else "—"}


def last_export() -> dict:
    at = ui().last_export_at
    if at is None:
        return {"when": None, "ago": "not since this process started"}
    return {"when": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "ago": words.age(time.time() - at) + " ago"}


def auto_freight() -> dict | None:
    lag = metric_value("ratecalc_auto_freight_lag_seconds")
    last_run = metric_value("ratecalc_auto_freight_last_run_timestamp_seconds")
    if lag is None and last_run is None:
        return None
    return {"lag": words.age(lag), "late": lag is not None and lag > 15 * 60,
            "last_run": words.age(time.time() - last_run) + " ago" if last_run else "—"}


def redis_state() -> str:
    if not services().settings.redis_url:
        return "not configured (cache and budgets are per process)"
    guard = getattr(services().budget, "guard", None)
    if guard is None:
        return "configured"
    try:
        guard.client.ping()
    except Exception:  # noqa: BLE001 - any failure is "not answering"
        return "not answering: ratecalc uses in-process state until it is back"
    return "answering"


def database_state() -> str:
    found = shop()
    if found is None:
        return "not used (shop mode is off)"
    try:
        found.store.ping()
    except StoreError:
        return "unavailable (details in the log)"
    return f"{found.store.engine}: usable"


@bp.get("/ops")
def ops_page():
    return page("ops.html", refresh=REFRESH_SECONDS, breakers=breakers(),
                budget=shipstation_budget(), cin7=cin7_budget(), outbox=outbox(),
                export=last_export(), auto_freight=auto_freight(), redis=redis_state(),
                database=database_state(), version=version(),
                alerts=sources.recent_alerts(),
                now=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
