"""GET /v1/carriers: the carriers ratecalc rate-shops, from ShipStation (cached)."""

from __future__ import annotations

import pytest

from tests.conftest import DC_REQUEST
from tests.rating.conftest import unreachable_url

CARRIERS_PATH = {"v1": "/carriers", "v2": "/v2/carriers"}


def test_lists_the_accounts_carriers(api):
    r = api.get("/v1/carriers")
    assert r.status_code == 200, r.text
    carriers = r.json()["carriers"]
    assert {c["code"] for c in carriers} == {"stamps_com", "ups", "fedex"}
    for c in carriers:
        assert set(c) == {"code", "name", "nickname"}
        assert c["name"]
    fedex = next(c for c in carriers if c["code"] == "fedex")
    assert fedex["name"] == "FedEx" and fedex["nickname"] == "SS"


def test_configured_carriers_only(rating_api):
    api = rating_api(CARRIERS="ups,fedex")
    carriers = api.get("/v1/carriers").json()["carriers"]
    assert [c["code"] for c in carriers] == ["ups", "fedex"]
    assert carriers[1]["name"] == "FedEx"


def test_the_carrier_list_is_cached(api, shipstation, backend):
    api.get("/v1/carriers")
    api.get("/v1/carriers")
    assert api.post("/v1/rates", json=DC_REQUEST).status_code == 200  # rates every carrier
    assert len(shipstation.calls(path=CARRIERS_PATH[backend])) == 1


@pytest.mark.parametrize(("fault", "status", "code"), [
    ("unreachable", 502, "upstream_error"), ("bad_credentials", 502, "upstream_auth"),
])
def test_upstream_failures(rating_api, backend, fault, status, code):
    env = {"SHIPSTATION_BASE_URL": unreachable_url()} if fault == "unreachable" else (
        {"SHIPSTATION_API_SECRET": "nope-nope"} if backend == "v1"
        else {"SHIPSTATION_V2_API_KEY": "nope-nope"})
    api = rating_api(**env)
    r = api.get("/v1/carriers")
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert "nope-nope" not in r.text


def test_timeout_is_504(rating_api, shipstation):
    shipstation.set_latency(1.0)
    api = rating_api(UPSTREAM_TIMEOUT_SECONDS="0.2")
    r = api.get("/v1/carriers")
    assert r.status_code == 504, r.text
    assert r.json()["error"]["code"] == "upstream_timeout"


def test_quote_without_carriers_when_the_list_fails(rating_api, backend):
    secret = {"v1": "SHIPSTATION_API_SECRET", "v2": "SHIPSTATION_V2_API_KEY"}[backend]
    api = rating_api(**{secret: "nope-nope"})
    r = api.post("/v1/rates", json=DC_REQUEST)
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "upstream_auth"
