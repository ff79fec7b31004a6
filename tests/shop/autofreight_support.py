"""Helpers of the auto-freight tests: orders without freight, freight PUTs, workers."""

from __future__ import annotations

from ratecalc.simulators.cin7.records import recompute_totals


def no_freight(cin7, *order_ids) -> None:
    """Orders as a web shop sends them: no freight yet (changed in place, not modified)."""
    with cin7._lock:
        for order_id in order_ids or list(cin7.orders):
            order = cin7.orders[order_id]
            order["freightTotal"] = 0.0
            order["freightDescription"] = ""
            recompute_totals(order, products=False)


def freight_puts(cin7, order_id=None) -> list[dict]:
    """Every PUT record that wrote freight (of one order, if given)."""
    out = []
    for call in cin7.calls("PUT", "/v1/SalesOrders"):
        for record in call["json"] or []:
            if "freightTotal" in record and (order_id is None or record["id"] == order_id):
                out.append(record)
    return out


def put(cin7, base_url: str, record: dict) -> None:
    """A person's edit in Cin7, through the simulator's real PUT (moves modifiedDate)."""
    import requests

    response = requests.put(base_url + "/v1/SalesOrders", json=[record],
                            auth=("demo-user", "demo-api-key"), timeout=10)
    assert response.status_code == 200, response.text
    result = {k.lower(): v for k, v in response.json()[0].items()}  # either casing
    assert result["success"], response.json()


def history(api, order_id) -> list[dict]:
    response = api.get(f"/v1/orders/{order_id}/freight/history")
    assert response.status_code == 200, response.text
    return response.json()["history"]


def start(shop_api, **env):
    """A shop API with auto-freight on and its worker driven by the test (``run_once``)."""
    api = shop_api(**{"AUTO_FREIGHT": "on", "FREIGHT_WORKER": "off", **env})
    return api, api.shop.freight_worker
