"""ShipStation API V2 client: every carrier in one ``POST /v2/rates/estimate``.

V2 wants carrier *ids*; ratecalc's settings and API speak carrier *codes*, so
codes are mapped through ``GET /v2/carriers`` (cached for an hour). V2 requires
both ends' city and state (the rating service fills or refuses them before the
call) and a ship date (today, UTC). The estimate cannot filter by package type:
rows of another ``package_type`` than the shipment's are dropped here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import requests

from ratecalc.model import Carrier, CarrierRates, Rate, Shipment
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.limits.budget import CallBudget
from ratecalc.upstream.shipstation.v1 import ShipStationTransport
from ratecalc.upstream.transport import Deadline

NO_RATES_CODES = {"no_rates_returned"}
UNSUPPORTED_CODES = {"confirmation_not_supported"}


def _amount(value) -> Decimal:
    if isinstance(value, dict):
        value = value.get("amount")
    if value is None:
        return Decimal(0)
    return Decimal(str(value))


def _currency(rate: dict) -> str | None:
    amount = rate.get("shipping_amount")
    if isinstance(amount, dict) and amount.get("currency"):
        return str(amount["currency"]).upper()
    return None


class ShipStationV2(ShipStationTransport):
    api_version = "v2"
    credential_settings = "RATECALC_SHIPSTATION_V2_API_KEY"

    def __init__(self, base_url: str, api_key: str, *, timeout: float, budget: CallBudget,
                 ship_from_country: str = "US", session: requests.Session | None = None,
                 breaker=None):
        super().__init__(base_url, timeout=timeout, budget=budget, session=session,
                         breaker=breaker)
        self._headers = {"API-Key": api_key}

    def request_kwargs(self) -> dict:
        return {"headers": self._headers}

    def error_message(self, response: requests.Response) -> str:
        try:
            errors = response.json().get("errors") or []
            messages = [str(e.get("message") or e.get("error_code")) for e in errors
                        if isinstance(e, dict)]
        except (ValueError, AttributeError):
            messages = []
        return "; ".join(messages)[:300] or f"ShipStation answered HTTP {response.status_code}"

    def is_no_rates(self, response: requests.Response, message: str) -> bool:
        return self._has_code(response, NO_RATES_CODES)

    def is_unsupported_option(self, response: requests.Response) -> bool:
        return self._has_code(response, UNSUPPORTED_CODES)

    @staticmethod
    def _has_code(response: requests.Response, codes: set[str]) -> bool:
        try:
            errors = response.json().get("errors") or []
            return any(isinstance(e, dict) and e.get("error_code") in codes for e in errors)
        except (ValueError, AttributeError):
            return False

    # -- carriers --------------------------------------------------------------
    def list_carriers(self, deadline: Deadline) -> list[Carrier]:
        body = self._call("GET", "/v2/carriers", "list_carriers", deadline)
        items = body.get("carriers") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise UpstreamError("upstream_error", "ShipStation /v2/carriers had no carrier list")
        carriers = [
            Carrier(code=str(c["carrier_code"]),
                    name=str(c.get("friendly_name") or c["carrier_code"]),
                    nickname=c.get("nickname"), carrier_id=str(c["carrier_id"]))
            for c in items if isinstance(c, dict) and c.get("carrier_code")
            and c.get("carrier_id")
        ]
        return carriers

    def carrier_ids(self, deadline: Deadline) -> dict[str, list[str]]:
        ids: dict[str, list[str]] = {}
        for carrier in self.account_carriers(deadline):
            ids.setdefault(carrier.code, []).append(carrier.carrier_id)
        return ids

    # -- rates -----------------------------------------------------------------
    def request_body(self, shipment: Shipment, carrier_ids: list[str]) -> dict:
        body = {
            "carrier_ids": carrier_ids,
            "from_country_code": shipment.from_country,
            "from_postal_code": shipment.from_postal_code,
            "from_city_locality": shipment.from_city,
            "from_state_province": shipment.from_state,
            "to_country_code": shipment.to_country,
            "to_postal_code": shipment.to_postal_code,
            "to_city_locality": shipment.to_city,
            "to_state_province": shipment.to_state,
            "weight": {"value": float(shipment.weight_grams), "unit": "gram"},
            "confirmation": shipment.confirmation,
            "address_residential_indicator": "yes" if shipment.residential else "no",
            "ship_date": datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z"),
        }
        if shipment.dimensions_cm:
            length, width, height = shipment.dimensions_cm
            body["dimensions"] = {"unit": "centimeter", "length": float(length),
                                  "width": float(width), "height": float(height)}
        return {k: v for k, v in body.items() if v is not None}

    def rate(self, shipment: Shipment, carrier_codes: list[str],
             deadline: Deadline) -> dict[str, CarrierRates | UpstreamError]:
        try:
            ids = self.carrier_ids(deadline)
        except UpstreamError as exc:
            return {code: exc for code in carrier_codes}
        results: dict[str, CarrierRates | UpstreamError] = {}
        wanted = []
        for code in carrier_codes:
            if code in ids:
                wanted.extend(ids[code])
            else:
                results[code] = UpstreamError(
                    "no_rates", f"{code} is not connected to the ShipStation account")
        if not wanted:
            return results
        try:
            body = self._call("POST", "/v2/rates/estimate", "rates_estimate", deadline,
                              json_body=self.request_body(shipment, wanted))
            grouped = self.parse_rates(body, shipment)
        except UpstreamError as exc:
            results.update({code: exc for code in carrier_codes if code not in results})
            return results
        now = datetime.now(UTC)
        for code in carrier_codes:
            if code in results:
                continue
            rates = grouped.get(code, [])
            if rates:
                results[code] = CarrierRates(code, tuple(rates), now,
                                             currency=grouped.get(("currency", code)))
            else:
                results[code] = UpstreamError("no_rates",
                                              f"{code} has no service for this shipment")
        return results

    @staticmethod
    def parse_rates(body, shipment: Shipment) -> dict:
        if isinstance(body, dict) and "rate_response" in body:
            body = (body["rate_response"] or {}).get("rates")
        if not isinstance(body, list):
            raise UpstreamError("upstream_error", "ShipStation V2 rates were not a list")
        grouped: dict = {}
        for item in body:
            if not isinstance(item, dict) or item.get("error_messages"):
                continue  # a rate with errors is not a price (IQComputing's lesson)
            try:
                code = str(item["carrier_code"])
                rate = Rate(
                    carrier_code=code,
                    service_code=str(item["service_code"]),
                    service_name=str(item.get("service_type") or item["service_code"]),
                    shipment_cost=_amount(item.get("shipping_amount")),
                    other_cost=(_amount(item.get("other_amount"))
                                + _amount(item.get("insurance_amount"))
                                + _amount(item.get("confirmation_amount"))),
                    delivery_days=item.get("delivery_days"),
                    estimated_delivery_date=item.get("estimated_delivery_date"),
                )
            except (KeyError, TypeError, ArithmeticError):
                raise UpstreamError("upstream_error",
                                    "ShipStation V2 answered a rate without service or cost"
                                    ) from None
            if shipment.service_code and rate.service_code != shipment.service_code:
                continue  # estimate cannot filter by service; we do
            if shipment.package_code and item.get("package_type") not in (
                    None, shipment.package_code):
                continue
            if rate.shipment_cost < 0 or rate.other_cost < 0:
                raise UpstreamError("upstream_error", "ShipStation answered a negative cost")
            grouped.setdefault(code, []).append(rate)
            if _currency(item):
                grouped[("currency", code)] = _currency(item)
        return grouped
