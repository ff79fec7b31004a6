import copy

from tests.conftest import DC_REQUEST


def test_quote_against_simulator(api, shipstation):
    r = api.post("/v1/rates", json=DC_REQUEST)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["errors"] == []
    assert body["quotes"] and body["selected"] in body["quotes"]
    assert body["selected"]["freight_fee"] == min(q["freight_fee"] for q in body["quotes"])
    assert r.headers["X-Cache"] == "MISS"
    r2 = api.post("/v1/rates", json=copy.deepcopy(DC_REQUEST))
    assert r2.headers["X-Cache"] == "HIT"
