"""Prometheus metric definitions, shared by every module.

Under gunicorn with several workers, ``PROMETHEUS_MULTIPROC_DIR`` is set before
the workers start (see ``ratecalc/app/serving.py``) and prometheus-client writes
each process's values to files there; ``/metrics`` then aggregates them. The
gauges declare how to combine processes (``multiprocess_mode``).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30)

quote_requests = Counter(
    "ratecalc_quote_requests", "Quote requests by outcome", ["outcome"]
)
quote_duration = Histogram(
    "ratecalc_quote_duration_seconds", "Time to answer a quote request",
    buckets=LATENCY_BUCKETS,
)
cache_lookups = Counter(
    "ratecalc_cache_lookups", "Quote cache lookups (one per carrier)", ["result"]
)
upstream_requests = Counter(
    "ratecalc_upstream_requests", "Calls to upstream APIs",
    ["service", "operation", "status"],
)
upstream_duration = Histogram(
    "ratecalc_upstream_duration_seconds", "Duration of upstream calls",
    ["service", "operation"], buckets=LATENCY_BUCKETS,
)
shipstation_rate_limit_remaining = Gauge(
    "ratecalc_shipstation_rate_limit_remaining",
    "X-Rate-Limit-Remaining from ShipStation's latest answer",
    multiprocess_mode="mostrecent",
)
rate_limit_waits = Counter(
    "ratecalc_rate_limit_waits", "Upstream calls that waited for rate-limit budget", ["service"]
)
circuit_open = Gauge(
    "ratecalc_circuit_open", "1 while the circuit breaker of an upstream is open or probing",
    ["upstream"], multiprocess_mode="max",
)
quote_slots_in_use = Gauge(
    "ratecalc_quote_slots_in_use", "Quotes waiting on ShipStation now (the bulkhead's slots)",
    multiprocess_mode="livesum",
)
quotes_busy = Counter(
    "ratecalc_quotes_busy", "Quotes answered 503 busy because every slot was taken"
)
stale_answers = Counter(
    "ratecalc_stale_answers", "Quotes answered from stale entries because ShipStation failed"
)
# Shop mode.
export_requests = Counter(
    "ratecalc_export_requests", "Custom Store export requests by outcome", ["outcome"]
)
export_orders = Counter(
    "ratecalc_export_orders", "Orders considered by export", ["result"]
)
export_cin7_calls = Histogram(
    "ratecalc_export_cin7_calls", "Cin7 requests made by one Custom Store export request",
    buckets=(0, 1, 2, 3, 5, 10, 20, 50, 100, 250),
)
order_skips = Counter(
    "ratecalc_order_skips", "Orders not exported, by the first rule they failed", ["rule"]
)
shipnotify = Counter(
    "ratecalc_shipnotify", "Ship notifications by outcome", ["outcome"]
)
outbox_pending = Gauge(
    "ratecalc_outbox_pending", "Ship notifications waiting to be applied to Cin7",
    multiprocess_mode="mostrecent",
)
outbox_oldest_pending = Gauge(
    "ratecalc_outbox_oldest_pending_seconds", "Age of the oldest pending ship notification",
    multiprocess_mode="mostrecent",
)
cin7_daily_budget_remaining = Gauge(
    "ratecalc_cin7_daily_budget_remaining", "Cin7 API calls left in the rolling day",
    multiprocess_mode="mostrecent",
)
auto_freight_orders = Counter(
    "ratecalc_auto_freight_orders", "Auto-freight decisions by action and reason",
    ["action", "reason"],
)
auto_freight_lag = Gauge(
    "ratecalc_auto_freight_lag_seconds", "Now minus the auto-freight poll's cursor",
    multiprocess_mode="mostrecent",
)
auto_freight_last_run = Gauge(
    "ratecalc_auto_freight_last_run_timestamp_seconds", "When auto-freight last polled Cin7",
    multiprocess_mode="mostrecent",
)


def render() -> tuple[bytes, str]:
    """The exposition text for ``/metrics``, across processes when multiprocess."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
