"""The ShipStation clients on their own: wire mapping, parsing, deadlines.

Calls go over real HTTP to the simulator; the mapping functions are pure.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ratecalc.model import Shipment
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.limits.budget import CallBudget
from ratecalc.upstream.shipstation.v1 import ShipStationV1
from ratecalc.upstream.shipstation.v2 import ShipStationV2
from ratecalc.upstream.transport import Deadline

D = Decimal
SHIPMENT = Shipment(
    from_postal_code="78703", from_country="US", from_city="AUSTIN", from_state="TX",
    to_country="US", to_postal_code="20500", to_state="DC", to_city="WASHINGTON",
    residential=False, weight_grams=D("680.388555"),
    dimensions_cm=(D("17.78"), D("12.7"), D("15.24")), package_code=None,
    confirmation="delivery", service_code=None,
)


@pytest.fixture
def client(shipstation, backend):
    if backend == "v1":
        c = ShipStationV1(shipstation.url, "demo-key", "demo-secret", timeout=5,
                          budget=CallBudget(40))
    else:
        c = ShipStationV2(shipstation.url, "demo-v2-key", timeout=5, budget=CallBudget(200))
    yield c
    c.close()


def test_rates_each_carrier(client):
    results = client.rate(SHIPMENT, ["fedex", "ups"], Deadline(10))
    assert set(results) == {"fedex", "ups"}
    for code, outcome in results.items():
        assert not isinstance(outcome, UpstreamError), outcome
        assert outcome.carrier_code == code and outcome.rates
        assert all(r.carrier_code == code for r in outcome.rates)


def test_lists_the_accounts_carriers(client):
    carriers = client.list_carriers(Deadline(10))
    assert {c.code for c in carriers} == {"stamps_com", "ups", "fedex"}
    assert all(c.name for c in carriers)


def test_an_expired_deadline_is_a_timeout_not_a_crash(client, shipstation):
    """With no time left there is no call to make: upstream_timeout, never a 500."""
    results = client.rate(SHIPMENT, ["fedex"], Deadline(0.0))
    assert isinstance(results["fedex"], UpstreamError)
    assert results["fedex"].code == "upstream_timeout"


def test_v1_request_body_sends_exact_metric_units():
    body = ShipStationV1.request_body(SHIPMENT, "fedex")
    assert body["weight"] == {"value": 680.388555, "units": "grams"}
    assert body["dimensions"] == {"length": 17.78, "width": 12.7, "height": 15.24,
                                  "units": "centimeters"}
    assert body["carrierCode"] == "fedex" and body["confirmation"] == "delivery"
    assert body["residential"] is False
    assert "serviceCode" not in body and "packageCode" not in body  # None is not sent


def test_v1_parse_rates_is_case_insensitive_and_exact():
    parsed = ShipStationV1.parse_rates(
        [{"ServiceName": "Ground", "ServiceCode": "g", "ShipmentCost": 8.25, "OtherCost": 0.33}],
        "fedex")
    rate = parsed.rates[0]
    assert (rate.shipment_cost, rate.other_cost, rate.carrier_cost) == \
        (D("8.25"), D("0.33"), D("8.58"))


@pytest.mark.parametrize("body", [
    {"not": "a list"},
    [{"serviceName": "x"}],
    [{"serviceCode": "x", "shipmentCost": "lots"}],
    [{"serviceCode": "x", "shipmentCost": -1, "otherCost": 0}],
    [{"serviceCode": "x", "shipmentCost": "NaN", "otherCost": 0}],
    [{"serviceCode": "x", "shipmentCost": 1, "otherCost": "-Infinity"}],
])
def test_v1_nonsense_rates_are_upstream_errors(body):
    with pytest.raises(UpstreamError) as info:
        ShipStationV1.parse_rates(body, "fedex")
    assert info.value.code == "upstream_error"


def test_v2_other_costs_add_up():
    grouped = ShipStationV2.parse_rates([{
        "carrier_code": "ups", "service_code": "ups_ground", "service_type": "UPS Ground",
        "shipping_amount": {"currency": "usd", "amount": 10.0},
        "other_amount": {"currency": "usd", "amount": 0.5},
        "insurance_amount": {"currency": "usd", "amount": 0.25},
        "confirmation_amount": {"currency": "usd", "amount": 1.0},
        "error_messages": [],
    }, {
        "carrier_code": "ups", "service_code": "ups_bad", "error_messages": ["no"],
    }], SHIPMENT)
    (rate,) = grouped["ups"]
    assert rate.shipment_cost == D("10.0") and rate.other_cost == D("1.75")
    assert grouped[("currency", "ups")] == "USD"


def test_credentials_are_not_in_error_messages(shipstation, backend):
    if backend == "v1":
        client = ShipStationV1(shipstation.url, "demo-key", "hunter2-secret", timeout=5,
                               budget=CallBudget(40))
    else:
        client = ShipStationV2(shipstation.url, "hunter2-secret", timeout=5,
                               budget=CallBudget(200))
    try:
        with pytest.raises(UpstreamError) as info:
            client.list_carriers(Deadline(5))
    finally:
        client.close()
    assert info.value.code == "upstream_auth"
    assert "hunter2" not in info.value.message and "hunter2" not in repr(info.value)
