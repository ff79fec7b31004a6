"""Real gunicorn, several worker processes: metrics add up, Redis state is shared."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import DC_REQUEST, TOKEN

GETRATES = "/shipments/getrates"
pytestmark = pytest.mark.slow


def post(url: str, body: dict) -> requests.Response:
    return requests.post(url + "/v1/rates", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {TOKEN}"})


def counter_total(url: str, name: str) -> float:
    text = requests.get(url + "/metrics", timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples if sample.name == name)


def test_metrics_add_up_across_workers(gunicorn, shipstation):
    url, metrics_dir = gunicorn(workers=2, threads=18, CARRIERS="fedex")  # slots for 16
    shipstation.set_latency(0.05)
    bodies = [{**DC_REQUEST, "package": {"weight": {"value": 1 + n, "units": "ounces"}}}
              for n in range(12)] * 4
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda b: post(url, b).status_code, bodies))
    assert statuses == [200] * len(bodies)
    pids = {name.rsplit("_", 1)[-1] for name in os.listdir(metrics_dir)
            if name.startswith("counter_")}
    assert len(pids) >= 2, "both workers should have served requests"
    assert counter_total(url, "ratecalc_quote_requests_total") == len(bodies)


def test_workers_share_budget_and_flights_through_redis(gunicorn, shipstation, redis_url):
    url, _ = gunicorn(workers=3, threads=26, REDIS_URL=redis_url, CARRIERS="fedex,ups",
                      SHIPSTATION_REQUESTS_PER_MINUTE="10", QUOTE_DEADLINE_SECONDS="2")
    shipstation.set_latency(0.3, "fedex")
    shipstation.set_latency(0.3, "ups")
    with ThreadPoolExecutor(24) as pool:
        same = list(pool.map(lambda _: post(url, DC_REQUEST).status_code, range(24)))
    assert same == [200] * 24
    assert len(shipstation.calls(GETRATES, "fedex")) == 1
    assert len(shipstation.calls(GETRATES, "ups")) == 1

    distinct = [{**DC_REQUEST, "package": {"weight": {"value": 3 + n, "units": "ounces"}}}
                for n in range(12)]
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda b: post(url, b).status_code, distinct))
    calls = shipstation.calls(GETRATES)
    assert len(calls) <= 10  # 2 above + at most 8 more: the shared budget of 10 a minute
    assert not [c for c in shipstation.requests if c["status"] == 429]
    assert statuses.count(503) >= 1
