"""The metrics contract: every ``ratecalc_*`` series the service exports.

Alert rules and dashboard queries under ``deploy/`` may only reference these
names (histograms also as ``_bucket``/``_sum``/``_count``) and their labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # counter | gauge | histogram
    labels: dict[str, frozenset[str] | None] = field(default_factory=dict)
    # label -> the values it takes, or None when open-ended


OUTCOMES = frozenset(
    {"ok", "cached", "no_rates", "upstream_error", "upstream_timeout", "rate_limited", "invalid"}
)
SHIPNOTIFY_OUTCOMES = frozenset({"stored", "duplicate", "rejected", "delivered", "failed"})
UPSTREAMS = frozenset({"shipstation", "cin7"})
AUTO_FREIGHT_ACTIONS = frozenset({"written", "skipped", "failed"})
# The fixed set of reasons (ratecalc/shop/autofreight/decide.py REASONS).
AUTO_FREIGHT_REASONS = frozenset({
    "no_freight", "fingerprint_changed", "unchanged", "manual_freight", "reprice_off", "void",
    "cancelled", "dispatched", "stage", "branch", "no_address", "no_lines", "missing_weights",
    "too_heavy", "quote_failed", "invalid_request", "cin7_rejected", "cin7_error",
    "manual_write"})

METRICS: tuple[Metric, ...] = (
    Metric("ratecalc_quote_requests_total", "counter", {"outcome": OUTCOMES}),
    Metric("ratecalc_quote_duration_seconds", "histogram"),
    Metric("ratecalc_cache_lookups_total", "counter", {"result": frozenset({"hit", "miss"})}),
    Metric(
        "ratecalc_upstream_requests_total",
        "counter",
        # status: the HTTP status code as a string, or "error" / "timeout"
        {"service": UPSTREAMS, "operation": None, "status": None},
    ),
    Metric(
        "ratecalc_upstream_duration_seconds",
        "histogram",
        {"service": UPSTREAMS, "operation": None},
    ),
    Metric("ratecalc_shipstation_rate_limit_remaining", "gauge"),
    Metric("ratecalc_outbox_pending", "gauge"),
    Metric("ratecalc_outbox_oldest_pending_seconds", "gauge"),
    Metric("ratecalc_shipnotify_total", "counter", {"outcome": SHIPNOTIFY_OUTCOMES}),
    Metric("ratecalc_cin7_daily_budget_remaining", "gauge"),
    Metric("ratecalc_circuit_open", "gauge", {"upstream": UPSTREAMS}),
    Metric("ratecalc_stale_answers_total", "counter"),
    Metric("ratecalc_auto_freight_orders_total", "counter",
           {"action": AUTO_FREIGHT_ACTIONS, "reason": AUTO_FREIGHT_REASONS}),
    Metric("ratecalc_auto_freight_lag_seconds", "gauge"),
    Metric("ratecalc_auto_freight_last_run_timestamp_seconds", "gauge"),
)

BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}

# Labels Prometheus (or the Prometheus Operator) attaches at scrape time, and
# the ``pid`` label prometheus_client adds to gauges in multiprocess mode.
# Not ``service``: the Operator's target label of that name would clash with
# the upstream metrics' own ``service`` label, hence ``honorLabels: true`` in
# deploy/k8s/servicemonitor.yaml.
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "container", "pid"})

# Non-ratecalc series that rules and panels may use.
OTHER_SERIES = frozenset({"up"})


def series_names() -> dict[str, Metric]:
    """Every series name a query may select, mapped to its metric."""
    out: dict[str, Metric] = {}
    for m in METRICS:
        if m.kind == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                out[m.name + suffix] = m
        else:
            out[m.name] = m
    return out


def labels_for(series: str) -> frozenset[str]:
    metric = series_names()[series]
    names = set(metric.labels) | TARGET_LABELS
    if series.endswith("_bucket") and metric.kind == "histogram":
        names.add("le")
    return frozenset(names)
