"""deploy/prometheus: scrape config and alert rules (+ promtool when available)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from . import known_metrics
from .helpers import PROMETHEUS, load_yaml, promql_problems, run_tool, which

ALERTS = PROMETHEUS / "alerts.yml"
CONFIG = PROMETHEUS / "prometheus.yml"
UNIT_TESTS = Path(__file__).with_name("alerts_unit.yml")
SEVERITIES = {"critical", "warning", "info"}

# Alerts the service must have, and a metric each must be built on.
REQUIRED_ALERTS = {
    "RatecalcShipStationBudgetExhausted": "ratecalc_shipstation_rate_limit_remaining",
    "RatecalcShipStationRateLimited": "ratecalc_upstream_requests_total",
    "RatecalcUpstreamErrorRatio": "ratecalc_upstream_requests_total",
    "RatecalcQuoteLatencyHigh": "ratecalc_quote_duration_seconds_bucket",
    "RatecalcOutboxStuck": "ratecalc_outbox_oldest_pending_seconds",
    "RatecalcCin7DailyBudgetLow": "ratecalc_cin7_daily_budget_remaining",
    "RatecalcShipNotifyFailed": "ratecalc_shipnotify_total",
    "RatecalcCircuitOpen": "ratecalc_circuit_open",
    "RatecalcTargetDown": "up",
}


def promtool():
    tool = which("promtool")
    if not tool:
        pytest.skip("promtool not on PATH (apt-get install prometheus): rules not checked by it")
    return tool


@pytest.fixture(scope="module")
def rules():
    doc = load_yaml(ALERTS)
    out = []
    for group in doc["groups"]:
        assert group["name"].startswith("ratecalc")
        assert group["rules"], group["name"]
        out.extend(group["rules"])
    return out


def test_alert_rule_structure(rules):
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        for annotation in ("summary", "description"):
            assert rule["annotations"].get(annotation, "").strip(), (rule["alert"], annotation)
        if "for" in rule:
            assert rule["for"][-1] in "smh" and rule["for"][:-1].isdigit(), rule["for"]


def test_required_alerts_present(rules):
    by_name = {r["alert"]: r for r in rules}
    for alert, metric in REQUIRED_ALERTS.items():
        assert alert in by_name, alert
        assert metric in by_name[alert]["expr"], (alert, metric)
    assert by_name["RatecalcShipStationBudgetExhausted"]["for"] == "5m"
    assert by_name["RatecalcUpstreamErrorRatio"]["for"] == "10m"
    assert by_name["RatecalcQuoteLatencyHigh"]["for"] == "10m"
    assert by_name["RatecalcCircuitOpen"]["for"] == "5m"
    assert 'status="429"' in by_name["RatecalcShipStationRateLimited"]["expr"]
    assert "0.95" in by_name["RatecalcQuoteLatencyHigh"]["expr"]
    assert "> 900" in by_name["RatecalcOutboxStuck"]["expr"]
    assert "< 500" in by_name["RatecalcCin7DailyBudgetLow"]["expr"]
    assert 'outcome="failed"' in by_name["RatecalcShipNotifyFailed"]["expr"]


def test_every_expr_uses_known_metrics_and_labels(rules):
    problems = {r["alert"]: promql_problems(r["expr"]) for r in rules}
    assert not {k: v for k, v in problems.items() if v}


def test_scrape_config():
    config = load_yaml(CONFIG)
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    ratecalc = jobs["ratecalc"]
    assert ratecalc.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for sc in ratecalc["static_configs"] for t in sc["targets"]]
    assert targets == ["ratecalc:8000"]
    # alerts key on up{job="ratecalc"}
    assert any('job="ratecalc"' in r["expr"] for g in load_yaml(ALERTS)["groups"]
               for r in g["rules"])


def test_known_metric_names_are_well_formed():
    for metric in known_metrics.METRICS:
        assert metric.name.startswith("ratecalc_")
        if metric.kind == "counter":
            assert metric.name.endswith("_total")


def test_promtool_check_rules():
    result = run_tool(promtool(), "check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_config():
    result = run_tool(promtool(), "check", "config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests(tmp_path):
    """Each alert fires (and stays quiet) on synthetic series; see alerts_unit.yml."""
    tool = promtool()
    doc = load_yaml(ALERTS)
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "alerts.noannotations.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    tested = {
        case["alertname"]
        for test in load_yaml(UNIT_TESTS)["tests"]
        for case in test.get("alert_rule_test", [])
    }
    every_alert = {r["alert"] for g in doc["groups"] for r in g["rules"]}
    assert every_alert <= tested, f"alerts without a unit test: {sorted(every_alert - tested)}"
    result = run_tool(tool, "test", "rules", UNIT_TESTS.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
