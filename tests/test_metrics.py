"""/metrics: Prometheus text with every metric the issue names, moving with traffic."""

from __future__ import annotations

import copy

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import DC_REQUEST

QUOTE = dict(copy.deepcopy(DC_REQUEST), carriers=["fedex", "ups"])
REQUIRED = {
    "ratecalc_quote_requests": "counter",
    "ratecalc_quote_duration_seconds": "histogram",
    "ratecalc_cache_lookups": "counter",
    "ratecalc_upstream_requests": "counter",
    "ratecalc_upstream_duration_seconds": "histogram",
    "ratecalc_shipstation_rate_limit_remaining": "gauge",
}


def scrape(api) -> dict:
    r = api.get("/metrics", auth=False)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def value(families: dict, sample: str, **labels) -> float:
    """The sample's value (0 if it does not exist yet)."""
    for family in families.values():
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


@pytest.fixture
def api(make_api):
    return make_api()


def test_every_metric_is_exposed_with_its_type(api):
    api.post("/v1/rates", json=QUOTE)  # labelled series appear once used
    families = scrape(api)
    for name, kind in REQUIRED.items():
        assert name in families, name
        assert families[name].type == kind, name


def test_metric_labels(api):
    api.post("/v1/rates", json=QUOTE)
    families = scrape(api)
    outcomes = {s.labels["outcome"] for s in families["ratecalc_quote_requests"].samples
                if s.name.endswith("_total")}
    assert "ok" in outcomes
    upstream = [s for s in families["ratecalc_upstream_requests"].samples
                if s.name.endswith("_total")]
    assert {"service", "operation", "status"} <= set(upstream[0].labels)
    assert "shipstation" in {s.labels["service"] for s in upstream}
    lookups = {s.labels["result"] for s in families["ratecalc_cache_lookups"].samples
               if s.name.endswith("_total")}
    assert lookups <= {"hit", "miss"} and "miss" in lookups


def test_metrics_move_with_requests(api, shipstation):
    before = scrape(api)
    assert api.post("/v1/rates", json=QUOTE).headers["X-Cache"] == "MISS"
    assert api.post("/v1/rates", json=QUOTE).headers["X-Cache"] == "HIT"
    bad = dict(QUOTE, carriers=["fedex"], colour="blue")
    assert api.post("/v1/rates", json=bad).status_code == 400
    after = scrape(api)

    def delta(sample, **labels):
        return value(after, sample, **labels) - value(before, sample, **labels)

    assert delta("ratecalc_quote_requests_total", outcome="ok") == 1
    assert delta("ratecalc_quote_requests_total", outcome="cached") == 1
    assert delta("ratecalc_quote_requests_total", outcome="invalid") == 1
    assert delta("ratecalc_quote_duration_seconds_count") == 3
    assert delta("ratecalc_quote_duration_seconds_sum") > 0
    assert delta("ratecalc_cache_lookups_total", result="miss") == 2   # one per carrier
    assert delta("ratecalc_cache_lookups_total", result="hit") == 2
    assert delta("ratecalc_upstream_requests_total", service="shipstation",
                 operation="getrates", status="200") == 2
    assert delta("ratecalc_upstream_duration_seconds_count", service="shipstation",
                 operation="getrates") == 2
    assert delta("ratecalc_upstream_duration_seconds_bucket", service="shipstation",
                 operation="getrates", le="+Inf") == 2
    remaining = value(after, "ratecalc_shipstation_rate_limit_remaining")
    assert remaining == 40 - len(shipstation.calls())


def test_upstream_failures_are_counted_by_status(api, shipstation):
    shipstation.force_status("fedex", 500, times=1)
    before = scrape(api)
    assert api.post("/v1/rates", json=dict(QUOTE, carriers=["fedex"])).status_code == 200
    after = scrape(api)
    for status, count in (("500", 1), ("200", 1)):
        labels = {"service": "shipstation", "operation": "getrates", "status": status}
        assert value(after, "ratecalc_upstream_requests_total", **labels) - \
            value(before, "ratecalc_upstream_requests_total", **labels) == count


def test_error_outcomes_are_counted_by_code(api, shipstation):
    shipstation.force_empty("fedex")
    before = scrape(api)
    r = api.post("/v1/rates", json=dict(QUOTE, carriers=["fedex"]))
    assert r.status_code == 422
    after = scrape(api)
    assert value(after, "ratecalc_quote_requests_total", outcome="no_rates") - \
        value(before, "ratecalc_quote_requests_total", outcome="no_rates") == 1


def test_histogram_buckets_are_cumulative(api):
    api.post("/v1/rates", json=QUOTE)
    family = scrape(api)["ratecalc_quote_duration_seconds"]
    buckets = [(float(s.labels["le"]), s.value) for s in family.samples
               if s.name.endswith("_bucket")]
    counts = [v for _, v in sorted(buckets)]
    assert counts == sorted(counts)
    assert buckets[-1][0] == float("inf")


def test_calls_that_waited_for_budget_are_counted(make_api, shipstation):
    # The simulator allows 2 calls a second and says so in its headers: the third
    # distinct quote waits for the next window instead of causing a 429.
    shipstation.set_rate_limit(2, 1.0)
    api = make_api(CARRIERS="fedex", QUOTE_DEADLINE_SECONDS="5")
    before = value(scrape(api), "ratecalc_rate_limit_waits_total", service="shipstation")
    for n in range(3):
        body = copy.deepcopy(DC_REQUEST)
        body["package"]["weight"]["value"] = 40 + n
        assert api.post("/v1/rates", json=body).status_code == 200
    after = value(scrape(api), "ratecalc_rate_limit_waits_total", service="shipstation")
    assert after >= before + 1
    assert not [r for r in shipstation.requests if r["status"] == 429]
