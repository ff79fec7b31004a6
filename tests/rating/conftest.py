"""Rating fixtures: every rating API test runs against both ShipStation backends.

``backend`` is ``"v1"`` (one ``POST /shipments/getrates`` per carrier) or ``"v2"``
(one ``POST /v2/rates/estimate`` for all carriers); ``api`` and ``rating_api``
start ratecalc with ``RATECALC_SHIPSTATION_API`` set to it, pointed at the
simulator over real HTTP.
"""

from __future__ import annotations

import json
import socket

import pytest

BACKENDS = ("v1", "v2")
RATE_PATHS = {"v1": "/shipments/getrates", "v2": "/v2/rates/estimate"}
V2_CARRIER_IDS = {"stamps_com": "se-12345", "ups": "se-12347", "fedex": "se-12348"}


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def rating_api(make_api, backend):
    """``rating_api(**env)``: a ratecalc on ``backend`` with extra RATECALC_* settings."""

    def start(**env):
        env.setdefault("SHIPSTATION_API", backend)
        return make_api(**env)

    return start


@pytest.fixture
def api(rating_api):
    return rating_api()


def rate_calls(shipstation, backend: str, carrier_code: str | None = None) -> list[dict]:
    """The rating calls the simulator received (for one carrier, if given)."""
    return shipstation.calls(path=RATE_PATHS[backend], carrier_code=carrier_code)


def crafted_rates(backend: str, carrier_code: str, rows) -> str:
    """A rates body in ``backend``'s wire format: rows of (service_code, shipment, other)."""
    if backend == "v1":
        return json.dumps([{"serviceName": f"Service {code}", "serviceCode": code,
                            "shipmentCost": shipment, "otherCost": other}
                           for code, shipment, other in rows])
    return json.dumps([{
        "rate_id": f"se-{i}", "rate_type": "check",
        "carrier_id": V2_CARRIER_IDS[carrier_code], "carrier_code": carrier_code,
        "service_code": code, "service_type": f"Service {code}",
        "shipping_amount": {"currency": "usd", "amount": shipment},
        "other_amount": {"currency": "usd", "amount": other},
        "insurance_amount": {"currency": "usd", "amount": 0},
        "confirmation_amount": {"currency": "usd", "amount": 0},
        "delivery_days": 3, "error_messages": [],
    } for i, (code, shipment, other) in enumerate(rows)])


def unreachable_url() -> str:
    """A local URL where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
