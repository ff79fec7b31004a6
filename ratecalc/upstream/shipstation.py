"""ShipStation API V1 client: carriers and rates, one carrier per call.

The request/response mapping lives here and nowhere else; the rating service
sees only :class:`~ratecalc.model.Shipment` in and
:class:`~ratecalc.model.CarrierRates` out.

Retries: 5xx and connection errors at most twice with jittered backoff, 429
after the advertised reset, all within the caller's deadline; other 4xx never.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import requests

from ratecalc.model import Carrier, CarrierRates, Rate, Shipment
from ratecalc.upstream.breaker import CircuitBreaker
from ratecalc.upstream.budget import CallBudget
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.http import (
    BodyTooSlow,
    Deadline,
    make_session,
    read_body,
    run_call,
    timed,
)

SERVICE = "shipstation"
NO_SERVICES = "no applicable services"


def _lower_keys(obj):
    """ShipStation answers camelCase; some middlewares re-case it. Match case-insensitively."""
    return {str(k).lower(): v for k, v in obj.items()} if isinstance(obj, dict) else obj


def _error_message(response: requests.Response) -> str:
    """The useful sentence from an ASP.NET-style error body, without echoing secrets."""
    try:
        body = _lower_keys(response.json())
    except ValueError:
        return f"ShipStation answered HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"ShipStation answered HTTP {response.status_code}"
    parts = [str(body.get("exceptionmessage") or body.get("message") or "").strip()]
    model_state = body.get("modelstate")
    if isinstance(model_state, dict):
        for field, messages in model_state.items():
            text = "; ".join(map(str, messages)) if isinstance(messages, list) else messages
            parts.append(f"{field}: {text}")
    message = " ".join(p for p in parts if p)
    return message[:300] or f"ShipStation answered HTTP {response.status_code}"


class ShipStationTransport:
    """Budgeted, deadline-bound calls with ShipStation's retry rules (V1 and V2)."""

    def __init__(self, base_url: str, *, timeout: float, budget: CallBudget,
                 session: requests.Session | None = None, pool_size: int = 32,
                 breaker: CircuitBreaker | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.budget = budget
        self.breaker = breaker or CircuitBreaker("shipstation", failures=10**9)
        self.session = session or make_session(pool_size=pool_size)

    credential_settings = "RATECALC_SHIPSTATION_API_KEY and _SECRET"

    def request_kwargs(self) -> dict:
        """Authentication for every call."""
        raise NotImplementedError

    def error_message(self, response: requests.Response) -> str:
        return _error_message(response)

    def is_no_rates(self, response: requests.Response, message: str) -> bool:
        return NO_SERVICES in message.lower()

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, path: str, operation: str, deadline: Deadline,
              json_body: dict | None = None):
        return run_call(service="ShipStation", breaker=self.breaker,
                        acquire=self.budget.acquire, deadline=deadline,
                        attempt=lambda _tries: self._attempt(method, path, operation, deadline,
                                                             json_body))

    def _attempt(self, method, path, operation, deadline, json_body):
        """One HTTP request -> ("done", body) | ("retry", error) | ("throttled", None).

        Final errors are raised. Every attempt settles the budget and tells the
        circuit breaker whether ShipStation is alive.
        """
        timeout = deadline.timeout(self.timeout)
        if timeout <= 0:
            # The deadline passed while waiting for budget or backing off. There is
            # no time to call (and requests rejects a zero timeout with ValueError).
            self.budget.settle(None, unsent=True)
            self.breaker.release_probe()
            raise UpstreamError("upstream_timeout",
                                "the quote deadline passed before ShipStation was called")
        with timed(SERVICE, operation) as outcome:
            try:
                response = self.session.request(
                    method, self.base_url + path, json=json_body, timeout=timeout,
                    stream=True, **self.request_kwargs(),
                )
                read_body(response, deadline)
                outcome["status"] = response.status_code
            except BodyTooSlow:
                outcome["status"] = "timeout"
                self.budget.settle(None)
                self.breaker.record(False)
                raise UpstreamError("upstream_timeout", "ShipStation's answer arrived too "
                                    "slowly for the quote deadline") from None
            except requests.exceptions.RequestException as exc:
                unsent = isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
                    exc, requests.exceptions.ReadTimeout)
                self.budget.settle(None, unsent=unsent)
                self.breaker.record(False)
                if isinstance(exc, requests.exceptions.Timeout):
                    outcome["status"] = "timeout"
                if isinstance(exc, requests.exceptions.ReadTimeout):
                    raise UpstreamError(  # not retried: the deadline matters more
                        "upstream_timeout", f"ShipStation did not answer within {timeout:.1f}s"
                    ) from None
                return "retry", UpstreamError("upstream_error" if not isinstance(
                    exc, requests.exceptions.Timeout) else "upstream_timeout",
                    "could not connect to ShipStation")

        status = response.status_code
        if status == 429:
            self.budget.settle(response.headers, throttled=True,
                               retry_after=_retry_after(response))
            self.breaker.release_probe()  # rate limiting is not an outage
            return "throttled", None
        self.budget.settle(response.headers)
        if status in (401, 403):
            self.breaker.record(True)
            raise UpstreamError(
                "upstream_auth",
                f"ShipStation refused the stored API credentials (HTTP {status}); "
                f"check {self.credential_settings}",
                status=status,
            )
        if status >= 400:
            message = self.error_message(response)
            no_rates = self.is_no_rates(response, message)
            self.breaker.record(status < 500 or no_rates)
            if no_rates:
                raise UpstreamError("no_rates", message, status=status)
            if status >= 500:
                return "retry", UpstreamError("upstream_error", message, status=status)
            raise UpstreamError("upstream_error", message, status=status)
        try:
            body = json.loads(response.content)
        except ValueError:
            self.breaker.record(False)  # HTML or half a body: ShipStation is not well
            raise UpstreamError(
                "upstream_error", "ShipStation answered a body that is not JSON"
            ) from None
        self.breaker.record(True)
        return "done", body


class ShipStationV1(ShipStationTransport):
    """Rates through ``POST /shipments/getrates``, fanned out over carriers."""

    api_version = "v1"

    def __init__(self, base_url: str, api_key: str, api_secret: str, *, timeout: float,
                 budget: CallBudget, session: requests.Session | None = None,
                 max_parallel: int = 16, breaker: CircuitBreaker | None = None):
        super().__init__(base_url, timeout=timeout, budget=budget, session=session,
                         pool_size=max_parallel * 2, breaker=breaker)
        self._auth = (api_key, api_secret)
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="ss-v1")

    def request_kwargs(self) -> dict:
        return {"auth": self._auth}

    # -- public API ------------------------------------------------------------
    def list_carriers(self, deadline: Deadline) -> list[Carrier]:
        body = self._call("GET", "/carriers", "list_carriers", deadline)
        if not isinstance(body, list):
            raise UpstreamError("upstream_error", "ShipStation /carriers did not answer a list")
        carriers = []
        for item in map(_lower_keys, body):
            if isinstance(item, dict) and item.get("code"):
                carriers.append(Carrier(code=str(item["code"]), name=str(item.get("name") or ""),
                                        nickname=item.get("nickname")))
        return carriers

    def rate(self, shipment: Shipment, carrier_codes: list[str],
             deadline: Deadline) -> dict[str, CarrierRates | UpstreamError]:
        """Rate every carrier in parallel; each carrier's outcome is independent."""
        futures = {code: self._pool.submit(self._rate_one, shipment, code, deadline)
                   for code in carrier_codes}
        results: dict[str, CarrierRates | UpstreamError] = {}
        for code, future in futures.items():
            try:
                results[code] = future.result()
            except UpstreamError as exc:
                results[code] = exc
        return results

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        super().close()

    # -- mapping ---------------------------------------------------------------
    @staticmethod
    def request_body(shipment: Shipment, carrier_code: str) -> dict:
        body = {
            "carrierCode": carrier_code,
            "serviceCode": shipment.service_code,
            "packageCode": shipment.package_code,
            "fromPostalCode": shipment.from_postal_code,
            "toCountry": shipment.to_country,
            "toPostalCode": shipment.to_postal_code,
            "toState": shipment.to_state,
            "toCity": shipment.to_city,
            # Grams: every unit converts to grams exactly (see rating/units.py).
            "weight": {"value": float(shipment.weight_grams), "units": "grams"},
            "confirmation": shipment.confirmation,
            "residential": shipment.residential,
        }
        if shipment.dimensions_cm:
            length, width, height = shipment.dimensions_cm
            body["dimensions"] = {"length": float(length), "width": float(width),
                                  "height": float(height), "units": "centimeters"}
        return {k: v for k, v in body.items() if v is not None}

    @staticmethod
    def parse_rates(body, carrier_code: str) -> CarrierRates:
        if not isinstance(body, list):
            raise UpstreamError("upstream_error", "ShipStation rates were not a list")
        rates = []
        for item in map(_lower_keys, body):
            try:
                rates.append(Rate(
                    carrier_code=carrier_code,
                    service_code=str(item["servicecode"]),
                    service_name=str(item.get("servicename") or item["servicecode"]),
                    shipment_cost=Decimal(str(item["shipmentcost"])),
                    other_cost=Decimal(str(item.get("othercost") or 0)),
                ))
            except (KeyError, TypeError, ArithmeticError, AttributeError):
                raise UpstreamError(
                    "upstream_error", "ShipStation answered a rate without service or cost"
                ) from None
        for rate in rates:
            if not (rate.shipment_cost.is_finite() and rate.other_cost.is_finite()) \
                    or rate.shipment_cost < 0 or rate.other_cost < 0:
                raise UpstreamError("upstream_error", "ShipStation answered a negative cost")
        return CarrierRates(carrier_code=carrier_code, rates=tuple(rates),
                            quoted_at=datetime.now(UTC))

    # -- transport -------------------------------------------------------------
    def _rate_one(self, shipment: Shipment, carrier_code: str,
                  deadline: Deadline) -> CarrierRates:
        body = self._call("POST", "/shipments/getrates", "getrates", deadline,
                          json_body=self.request_body(shipment, carrier_code))
        rates = self.parse_rates(body, carrier_code)
        if not rates.rates:
            raise UpstreamError("no_rates", f"{carrier_code} has no service for this shipment")
        return rates

def _retry_after(response: requests.Response) -> float | None:
    for name in ("X-Rate-Limit-Reset", "Retry-After"):
        value = response.headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return None
