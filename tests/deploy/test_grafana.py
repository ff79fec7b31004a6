"""deploy/grafana/ratecalc.json: a loadable dashboard whose queries use known series."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from . import known_metrics
from .helpers import DEPLOY, promql_problems, run_tool, selectors, which

DASHBOARD = DEPLOY / "grafana" / "ratecalc.json"
# Grafana's variables, replaced by plain values to hand the queries to promtool.
VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$job": "ratecalc"}


@pytest.fixture(scope="module")
def dashboard():
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows


def _exprs(dashboard):
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def test_dashboard_model(dashboard):
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["title"] and dashboard["uid"]
    assert dashboard.get("id") is None, "exported dashboards carry no numeric id"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    ds = variables["datasource"]
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    ids = [p["id"] for p in _panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_panels_use_the_datasource_variable(dashboard):
    for panel in _panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"]) == panel["datasource"]


def test_layout_fits_and_does_not_overlap(dashboard):
    cells = set()
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))


def test_every_query_uses_known_metrics(dashboard):
    problems = {}
    for title, expr in _exprs(dashboard):
        found = promql_problems(expr)
        if found:
            problems[title] = found
    assert not problems


def test_every_metric_is_on_the_dashboard(dashboard):
    used = {
        known_metrics.series_names()[s.name].name
        for _, expr in _exprs(dashboard)
        for s in selectors(expr)
        if s.name in known_metrics.series_names()
    }
    missing = {m.name for m in known_metrics.METRICS} - used
    assert not missing


def test_required_panels(dashboard):
    titles = " | ".join(p["title"].lower() for p in _panels(dashboard))
    for words in ("outcome", "latency", "cache hit", "status", "shipstation remaining",
                  "outbox pending", "outbox oldest", "ship notifications", "cin7 daily",
                  "circuit"):
        assert words in titles, words
    latency = next(p for p in _panels(dashboard) if "quote latency" in p["title"].lower())
    quantiles = {re.search(r"histogram_quantile\(([\d.]+)", t["expr"]).group(1)
                 for t in latency["targets"]}
    assert quantiles == {"0.5", "0.95", "0.99"}


def test_queries_parse_with_promtool(dashboard, tmp_path):
    tool = which("promtool")
    if not tool:
        pytest.skip("promtool not on PATH: dashboard PromQL not parsed")
    rules = []
    for n, (_, expr) in enumerate(_exprs(dashboard)):
        for variable, value in VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
        rules.append({"record": f"dashboard:query_{n}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_tool(tool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
